//! One answer from the pump thread to the thread that made a request.
//!
//! The pump answers inside its tick, so giving an answer must never wait for
//! another thread: no lock, no system call, no allocation. A channel does not
//! promise that (a bounded channel's sender takes its waker's mutex to wake a
//! waiting receiver, and always when the last sender is dropped), so the
//! answer is a slot with an atomic state: the pump writes the value and
//! publishes it with one release store; the asking thread polls for it,
//! sleeping between looks (a request is applied at a tick boundary, so a
//! millisecond of polling granularity is below what it waits anyway).

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Nothing yet.
const EMPTY: u8 = 0;
/// The value is written and may be taken.
const READY: u8 = 1;
/// The value has been taken.
const TAKEN: u8 = 2;
/// The pump's side was dropped without answering.
const GONE: u8 = 3;

struct Slot<T> {
    state: AtomicU8,
    value: UnsafeCell<Option<(u64, T)>>,
}

// SAFETY: `value` is written only by the one `Answer` while the state is EMPTY
// and read only by whoever moves the state from READY to TAKEN (one winner of a
// compare-exchange), after the release store that published it; the two never
// touch it at the same time. What crosses threads is a `T`, hence `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

/// The pump's side: answers once, never waits.
pub(super) struct Answer<T> {
    slot: Option<Arc<Slot<T>>>,
}

/// The asking thread's side.
pub(super) struct Waiting<T> {
    slot: Arc<Slot<T>>,
}

/// Why no answer was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoAnswer {
    /// The pump's side is gone without answering, or the answer was taken
    /// already.
    Gone,
    /// The deadline passed first.
    Timeout,
}

/// A new slot: the side the pump answers through, and the side that waits.
pub(super) fn answer_slot<T>() -> (Answer<T>, Waiting<T>) {
    let slot = Arc::new(Slot {
        state: AtomicU8::new(EMPTY),
        value: UnsafeCell::new(None),
    });
    (
        Answer {
            slot: Some(Arc::clone(&slot)),
        },
        Waiting { slot },
    )
}

impl<T> Answer<T> {
    /// Gives the answer: the tick from which it holds, and the value. If the
    /// asking side is gone, the value is dropped here.
    pub(super) fn send(mut self, tick: u64, value: T) {
        let slot = self.slot.take().expect("an answer is given once");
        // SAFETY: the state is EMPTY (only this `Answer` leaves EMPTY, and it
        // does so once), so no reader touches `value` until the store below.
        unsafe { *slot.value.get() = Some((tick, value)) };
        slot.state.store(READY, Ordering::Release);
    }
}

impl<T> Drop for Answer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.state.store(GONE, Ordering::Release);
        }
    }
}

impl<T> Waiting<T> {
    /// The answer, if it has been given and not taken.
    pub(super) fn try_take(&self) -> Option<(u64, T)> {
        self.slot
            .state
            .compare_exchange(READY, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        // SAFETY: this thread won READY -> TAKEN, so it alone reads `value`,
        // and the acquire pairs with the release that published it.
        unsafe { (*self.slot.value.get()).take() }
    }

    /// Waits for the answer until `deadline` (forever if `None`).
    pub(super) fn wait(&self, deadline: Option<Instant>) -> Result<(u64, T), NoAnswer> {
        let mut pause = Duration::from_micros(50);
        loop {
            if let Some(answer) = self.try_take() {
                return Ok(answer);
            }
            match self.slot.state.load(Ordering::Acquire) {
                GONE | TAKEN => return Err(NoAnswer::Gone),
                // Given between the two looks: take it on the next round.
                READY => continue,
                _ => {}
            }
            let now = Instant::now();
            let mut sleep = pause;
            if let Some(deadline) = deadline {
                if now >= deadline {
                    return Err(NoAnswer::Timeout);
                }
                sleep = sleep.min(deadline - now);
            }
            std::thread::sleep(sleep);
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }
}

impl<T> fmt::Debug for Waiting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.slot.state.load(Ordering::Acquire) {
            EMPTY => "waiting",
            READY => "answered",
            TAKEN => "taken",
            _ => "gone",
        };
        f.debug_tuple("Waiting").field(&state).finish()
    }
}

impl<T> fmt::Debug for Answer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_given_on_another_thread_is_taken_once() {
        let (answer, waiting) = answer_slot::<String>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            answer.send(7, "port 3".to_owned());
        });
        assert_eq!(waiting.wait(None), Ok((7, "port 3".to_owned())));
        t.join().unwrap();
        assert_eq!(waiting.try_take(), None, "taken once");
        assert_eq!(waiting.wait(None), Err(NoAnswer::Gone));
    }

    #[test]
    fn a_dropped_answer_ends_the_wait() {
        let (answer, waiting) = answer_slot::<u32>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            drop(answer);
        });
        assert_eq!(waiting.wait(None), Err(NoAnswer::Gone));
        t.join().unwrap();
    }

    #[test]
    fn no_answer_by_the_deadline_is_a_timeout() {
        let (_answer, waiting) = answer_slot::<u32>();
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(waiting.wait(Some(deadline)), Err(NoAnswer::Timeout));
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn an_answer_nobody_reads_is_dropped_once() {
        let value = Arc::new(());
        let (answer, waiting) = answer_slot::<Arc<()>>();
        drop(waiting);
        answer.send(1, Arc::clone(&value));
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "the unread answer was dropped"
        );
    }

    #[test]
    fn many_answers_across_threads() {
        for _ in 0..200 {
            let (answer, waiting) = answer_slot::<Vec<u8>>();
            let t = std::thread::spawn(move || answer.send(9, vec![1, 2, 3]));
            let got = waiting.wait(Some(Instant::now() + Duration::from_secs(10)));
            assert_eq!(got, Ok((9, vec![1, 2, 3])));
            t.join().unwrap();
        }
    }
}
