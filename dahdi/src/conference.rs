//! DAHDI conferences: the kernel's, joined by channels with `DAHDI_SETCONF`
//! and mixed by the driver every millisecond.
//!
//! (The `audio` feature's `dahdi::audio::mixer::Mixer` is
//! the other kind of conference in this crate: one mixed in user space, from
//! frames the caller hands it. Nothing here needs it.)
//!
//! A channel is in at most one conference. Its `confmode` is a *mode* in the
//! low byte (conference, announce, monitor...) plus *flags* in the second
//! byte (talker, listener...). Conference numbers run from 1 to 1024;
//! asking for number -1 makes the kernel pick a free one (counting down
//! from 1023) and write it back. In the monitor modes the "conference
//! number" is the number of the channel to monitor.
//!
//! # Joining cleanly
//!
//! What the kernel does: DAHDI mixes each conference in a *slot* of three
//! sum buffers that rotate every 1 ms chunk (`rotate_sums()` in
//! dahdi-base.c). Each rotation zeroes the slots of the buffer that comes
//! next, but only below `maxconfs`, one above the highest slot in use.
//! When the conference in the highest slot ends, its last sums stay in
//! the three buffers; the next conference to get that slot (the kernel
//! hands out the lowest free one) mixes them into the first chunk its
//! members hear: 8 samples of another call's audio (16 in `CONFMON`).
//! Which of the three buffers comes first depends on the phase of the
//! rotation, so the leak shows in some joins and not others. Span
//! channels hear it on their line, pseudo channels in what they read.
//!
//! What this crate guarantees: [`ChannelFd::join_conference`],
//! [`ChannelFd::create_conference`] and [`ChannelFd::set_conference_of`]
//! (and everything built on them, such as the pump's
//! `DahdiPort::with_far_end`) let a channel hear nothing of an earlier
//! conference. A membership that may take a fresh slot starts silent
//! (mode `CONF` without `TALKER` or `LISTENER`), waits on a
//! `/dev/dahdi/timer` of its own until the kernel has rotated the buffers
//! three times (about 3 ms; every stale sum is then zeroed), and only
//! then takes the requested mode. A pseudo channel's unread audio is
//! discarded at the join too: it was produced before the join (by the
//! channel's previous conference, if any). The raw `DAHDI_SETCONF` of
//! `dahdi-sys` gives none of this.
//!
//! [`ChannelFd::join_conference`]: crate::ChannelFd::join_conference
//! [`ChannelFd::create_conference`]: crate::ChannelFd::create_conference
//! [`ChannelFd::set_conference_of`]: crate::ChannelFd::set_conference_of

use dahdi_sys as sys;

use crate::c_enum::c_enum;

bitflags::bitflags! {
    /// A conference mode and its flags, as the kernel's `confmode`.
    ///
    /// The low byte is one *mode* (an enumeration, not bits: `CONFANN` is
    /// 5, `MONITOR | CONF` would also be 5), so use [`mode`](Self::mode) to
    /// tell modes apart, and the constructors for the usual combinations.
    /// The flags (`LISTENER`, `TALKER`, `PSEUDO_*`) are real bits.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ConfMode: i32 {
        /// Not in a conference.
        const NORMAL = sys::DAHDI_CONF_NORMAL;
        /// Monitor the receive audio of the channel `confno`.
        const MONITOR = sys::DAHDI_CONF_MONITOR;
        /// Monitor the transmit audio of the channel `confno`.
        const MONITORTX = sys::DAHDI_CONF_MONITORTX;
        /// Monitor both directions of the channel `confno`.
        const MONITORBOTH = sys::DAHDI_CONF_MONITORBOTH;
        /// Conference: talk and/or listen as the flags say.
        const CONF = sys::DAHDI_CONF_CONF;
        /// Conference announcer: heard by all, hears nothing.
        const CONFANN = sys::DAHDI_CONF_CONFANN;
        /// Conference monitor: hears all, is not heard.
        const CONFMON = sys::DAHDI_CONF_CONFMON;
        /// Announcer and monitor at once.
        const CONFANNMON = sys::DAHDI_CONF_CONFANNMON;
        /// A span channel in a conference, with a pseudo part (chan_dahdi's
        /// three-way calls).
        const REALANDPSEUDO = sys::DAHDI_CONF_REALANDPSEUDO;
        /// Digital monitor: take the other channel's receive audio as this
        /// channel's transmit (a software cross-connect).
        const DIGITALMON = sys::DAHDI_CONF_DIGITALMON;
        /// Monitor receive audio before the echo canceller.
        const MONITOR_RX_PREECHO = sys::DAHDI_CONF_MONITOR_RX_PREECHO;
        /// Monitor transmit audio before the echo canceller.
        const MONITOR_TX_PREECHO = sys::DAHDI_CONF_MONITOR_TX_PREECHO;
        /// Monitor both directions before the echo canceller.
        const MONITORBOTH_PREECHO = sys::DAHDI_CONF_MONITORBOTH_PREECHO;
        /// The mode byte.
        const MODE_MASK = sys::DAHDI_CONF_MODE_MASK;
        /// Hears the conference.
        const LISTENER = sys::DAHDI_CONF_LISTENER;
        /// Is heard by the conference.
        const TALKER = sys::DAHDI_CONF_TALKER;
        /// The pseudo part listens (REALANDPSEUDO).
        const PSEUDO_LISTENER = sys::DAHDI_CONF_PSEUDO_LISTENER;
        /// The pseudo part talks (REALANDPSEUDO).
        const PSEUDO_TALKER = sys::DAHDI_CONF_PSEUDO_TALKER;
        /// The flag byte.
        const FLAG_MASK = sys::DAHDI_CONF_FLAG_MASK;
    }
}

/// Shows the mode by name (the mode byte is not a set of bits) and the
/// flags, e.g. `ConfMode(Conf | TALKER | LISTENER)`.
impl std::fmt::Debug for ConfMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConfMode({:?}", self.mode())?;
        for (name, flag) in [
            ("TALKER", ConfMode::TALKER),
            ("LISTENER", ConfMode::LISTENER),
            ("PSEUDO_TALKER", ConfMode::PSEUDO_TALKER),
            ("PSEUDO_LISTENER", ConfMode::PSEUDO_LISTENER),
        ] {
            if self.contains(flag) {
                write!(f, " | {name}")?;
            }
        }
        f.write_str(")")
    }
}

c_enum! {
    /// The mode part of a [`ConfMode`] (`DAHDI_CONF_*` below 0x100).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[non_exhaustive]
    pub enum ConfKind {
        /// Not in a conference.
        Normal = DAHDI_CONF_NORMAL,
        /// Monitor receive.
        Monitor = DAHDI_CONF_MONITOR,
        /// Monitor transmit.
        MonitorTx = DAHDI_CONF_MONITORTX,
        /// Monitor both directions.
        MonitorBoth = DAHDI_CONF_MONITORBOTH,
        /// Conference member.
        Conf = DAHDI_CONF_CONF,
        /// Announcer.
        ConfAnn = DAHDI_CONF_CONFANN,
        /// Conference monitor.
        ConfMon = DAHDI_CONF_CONFMON,
        /// Announcer and monitor.
        ConfAnnMon = DAHDI_CONF_CONFANNMON,
        /// Real channel with a pseudo part.
        RealAndPseudo = DAHDI_CONF_REALANDPSEUDO,
        /// Digital monitor.
        DigitalMon = DAHDI_CONF_DIGITALMON,
        /// Monitor receive before the echo canceller.
        MonitorRxPreEcho = DAHDI_CONF_MONITOR_RX_PREECHO,
        /// Monitor transmit before the echo canceller.
        MonitorTxPreEcho = DAHDI_CONF_MONITOR_TX_PREECHO,
        /// Monitor both before the echo canceller.
        MonitorBothPreEcho = DAHDI_CONF_MONITORBOTH_PREECHO,
    }
    unknown
    /// A mode byte this crate does not know.
    Unknown;
}

impl ConfMode {
    /// The usual conference member: talks and listens (MeetMe's default,
    /// `CONF | TALKER | LISTENER`).
    pub const fn conference() -> ConfMode {
        ConfMode::CONF
            .union(ConfMode::TALKER)
            .union(ConfMode::LISTENER)
    }

    /// A member that is heard but hears nothing (`CONF | TALKER`).
    pub const fn talker() -> ConfMode {
        ConfMode::CONF.union(ConfMode::TALKER)
    }

    /// A member that hears but is not heard (`CONF | LISTENER`).
    pub const fn listener() -> ConfMode {
        ConfMode::CONF.union(ConfMode::LISTENER)
    }

    /// MeetMe's listen-only member (`CONFMON | LISTENER`).
    pub const fn conference_monitor() -> ConfMode {
        ConfMode::CONFMON.union(ConfMode::LISTENER)
    }

    /// MeetMe's announcer and recorder (`CONFANN | CONFANNMON`, i.e. mode
    /// `CONFANNMON`).
    pub const fn announcer_monitor() -> ConfMode {
        ConfMode::CONFANNMON
    }

    /// chan_dahdi's three-way mode for the real channel.
    pub const fn real_and_pseudo() -> ConfMode {
        ConfMode::REALANDPSEUDO
            .union(ConfMode::TALKER)
            .union(ConfMode::LISTENER)
            .union(ConfMode::PSEUDO_TALKER)
            .union(ConfMode::PSEUDO_LISTENER)
    }

    /// The mode byte, decoded.
    pub fn mode(self) -> ConfKind {
        ConfKind::from_raw(self.bits() & sys::DAHDI_CONF_MODE_MASK)
    }

    /// The flag byte.
    pub fn flags(self) -> ConfMode {
        self & ConfMode::FLAG_MASK
    }

    /// Whether the mode makes the channel a member of a numbered conference,
    /// which the kernel mixes in one of its conference slots (`CONF`,
    /// `CONFANN`, `CONFMON`, `CONFANNMON`, `REALANDPSEUDO`: the modes for
    /// which `DAHDI_SETCONF` allocates a slot).
    pub fn is_membership(self) -> bool {
        matches!(
            self.mode(),
            ConfKind::Conf
                | ConfKind::ConfAnn
                | ConfKind::ConfMon
                | ConfKind::ConfAnnMon
                | ConfKind::RealAndPseudo
        )
    }

    /// Whether the mode's "conference number" is a channel number (the
    /// monitor modes and DIGITALMON), as the kernel interprets it.
    pub fn targets_a_channel(self) -> bool {
        matches!(
            self.mode(),
            ConfKind::Monitor
                | ConfKind::MonitorTx
                | ConfKind::MonitorBoth
                | ConfKind::DigitalMon
                | ConfKind::MonitorRxPreEcho
                | ConfKind::MonitorTxPreEcho
                | ConfKind::MonitorBothPreEcho
        )
    }
}

/// Conference membership of a channel (`DAHDI_GETCONF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConfInfo {
    /// The channel's number.
    pub channel: i32,
    /// Conference number (or monitored channel), 0 when none.
    pub confno: i32,
    /// The mode.
    pub mode: ConfMode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_match_what_asterisk_uses() {
        assert_eq!(ConfMode::conference().bits(), 4 | 0x100 | 0x200);
        assert_eq!(ConfMode::talker().bits(), 4 | 0x200);
        assert_eq!(ConfMode::conference_monitor().bits(), 6 | 0x100);
        assert_eq!(ConfMode::announcer_monitor().bits(), 7);
        assert_eq!(
            ConfMode::CONFANN | ConfMode::CONFANNMON,
            ConfMode::announcer_monitor()
        );
        assert_eq!(ConfMode::real_and_pseudo().bits(), 8 | 0xf00);
    }

    #[test]
    fn debug_names_the_mode() {
        assert_eq!(
            format!("{:?}", ConfMode::conference()),
            "ConfMode(Conf | TALKER | LISTENER)"
        );
        assert_eq!(
            format!("{:?}", ConfMode::MONITOR_RX_PREECHO),
            "ConfMode(MonitorRxPreEcho)"
        );
    }

    #[test]
    fn modes_are_decoded_from_the_low_byte() {
        assert_eq!(ConfMode::conference().mode(), ConfKind::Conf);
        assert_eq!(ConfMode::CONFANN.mode(), ConfKind::ConfAnn);
        assert_eq!(
            ConfMode::conference().flags(),
            ConfMode::TALKER | ConfMode::LISTENER
        );
        assert_eq!(ConfMode::from_bits_retain(13).mode(), ConfKind::Unknown(13));
        assert!(ConfMode::MONITORBOTH.targets_a_channel());
        assert!(ConfMode::DIGITALMON.targets_a_channel());
        assert!(!ConfMode::conference().targets_a_channel());
    }

    #[test]
    fn memberships_are_the_modes_that_take_a_kernel_slot() {
        // dahdi_ioctl_setconf() calls dahdi_get_conf_alias() for exactly
        // CONF, CONFANN, CONFMON, CONFANNMON and REALANDPSEUDO.
        let members: Vec<i32> = (0..=12)
            .filter(|&m| ConfMode::from_bits_retain(m).is_membership())
            .collect();
        assert_eq!(
            members,
            [
                sys::DAHDI_CONF_CONF,
                sys::DAHDI_CONF_CONFANN,
                sys::DAHDI_CONF_CONFMON,
                sys::DAHDI_CONF_CONFANNMON,
                sys::DAHDI_CONF_REALANDPSEUDO
            ]
        );
        assert!(ConfMode::listener().is_membership());
        assert!(!ConfMode::MONITORBOTH.is_membership());
    }
}
