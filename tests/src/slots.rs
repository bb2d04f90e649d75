//! Guest-side helper for the conference-reuse tests: leaves the kernel's
//! conference slots holding another conference's audio, the state in which
//! DAHDI replays old sums to the next conference given such a slot (see
//! `dahdi::conference`, "Joining cleanly").

use std::time::Duration;

use dahdi::{BufferInfo, BufferPolicy, ConfMode, Pseudo, Timer, WriteOutcome};

/// The level the stale talkers wrote.
pub const STALE_LEVEL: i16 = 6000;

/// Leaves slots 1..=`n` (the lowest free ones, which the next conferences
/// get) holding a loud talker's sums after their conferences ended.
///
/// Each slot gets a talker of its own, a pseudo channel in `REALANDPSEUDO`
/// with `PSEUDO_TALKER`: every chunk it adds what it writes to
/// `conf_sums_next` (`__dahdi_process_getaudio_chunk`), so all three of its
/// slot's rotating buffers hold its audio. The conferences end from the
/// highest slot down, so each slot is the highest in use when it is
/// released and `rotate_sums()` stops zeroing it. Must run with no other
/// conference open (each guest test is a process of its own).
pub fn leave_stale_sums(n: usize) {
    let mut talkers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut p = Pseudo::open().expect("open a pseudo channel");
        p.set_buffer_info(&BufferInfo {
            tx_policy: BufferPolicy::Immediate,
            num_bufs: 32,
            buf_size: 160,
        })
        .expect("set_buffer_info");
        p.set_linear(true).expect("set_linear");
        // 600 ms queued: still talking when the conference ends.
        for _ in 0..30 {
            loop {
                match p.write_samples(&[STALE_LEVEL; 160]).expect("write") {
                    WriteOutcome::Written(_) => break,
                    WriteOutcome::Event(_) => continue,
                }
            }
        }
        let mode = ConfMode::REALANDPSEUDO | ConfMode::TALKER | ConfMode::PSEUDO_TALKER;
        p.create_conference(mode).expect("create a conference");
        talkers.push(p);
    }
    // Ten chunks of talking, counted by DAHDI's own timing.
    let t = Timer::open().expect("open /dev/dahdi/timer");
    t.set_interval_samples(80).expect("arm the timer");
    assert!(
        t.wait(Some(Duration::from_secs(5)))
            .expect("poll the timer"),
        "DAHDI's timer did not expire within 5 s"
    );
    // Slots were handed out lowest first: end the conferences highest first.
    for p in talkers.iter().rev() {
        p.leave_conference().expect("leave the conference");
    }
}
