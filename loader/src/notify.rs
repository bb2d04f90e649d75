//! Telling systemd what the loader is doing (`sd_notify`): `STATUS=` while a long step runs,
//! so that `systemctl status dahdi-loader` says "building DAHDI ... with DKMS" during a
//! boot that waits for a build; `EXTEND_TIMEOUT_USEC=` when a build starts, so that the
//! unit's start timeout never kills a build the configuration still allows; `READY=1` when
//! `ensure` is done, which is when `dahdi-loader.service` (`Type=notify`) counts as
//! started and the units ordered after it (asterisk) start.
//!
//! Everything is a no-op unless systemd set `NOTIFY_SOCKET`. A message that cannot be sent
//! is said on stderr (the journal), never an error: telephony must come up even if the
//! service manager does not listen. The sending is the `sd-notify` crate's (a datagram to
//! the socket, abstract `@` names included), rather than a hand-written copy of it.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::journal::{log, Priority};

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        log(
            Priority::Warning,
            &format!("could not tell systemd how far the loader is (NOTIFY_SOCKET): {e}"),
        );
    }
}

/// `STATUS=text`: what the loader is doing now.
pub fn status(text: &str) {
    send(&[NotifyState::Status(&one_line(text))]);
}

/// `STATUS=text` and `EXTEND_TIMEOUT_USEC=`: a step that may take up to `limit` starts, and
/// the unit's start timeout must not end it first (systemd never shortens a timeout for
/// this, it only extends it to at least `limit` from now).
pub fn status_for(text: &str, limit: Duration) {
    // Written out rather than the crate's ExtendTimeoutUsec, which takes a u32 (71 minutes
    // at most): build-timeout may be longer.
    let extend = format!("EXTEND_TIMEOUT_USEC={}", limit.as_micros());
    send(&[
        NotifyState::Status(&one_line(text)),
        NotifyState::Custom(&extend),
    ]);
}

/// `READY=1` with a last `STATUS=text`: the work is done and DAHDI is up.
pub fn ready(text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(&one_line(text))]);
}

/// A status is one line of the message (the protocol's fields are separated by newlines).
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
