//! The [`Port`] trait: where a participant's audio comes from and goes to.

use std::any::Any;
use std::os::fd::BorrowedFd;

use crate::fd::Readiness;

use super::stats::PortStats;

/// Why a port's read, write or service failed. The pump counts it in the port's
/// [`PortStats::errors`], keeps the message, and carries on: one broken port
/// never stops a conference.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A DAHDI call failed.
    #[error(transparent)]
    Dahdi(#[from] crate::Error),
    /// A file (WAV) operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An error of the port's own kind: a shared-memory ring's
    /// [`ShmError`](super::ShmError), a WAV file's
    /// [`WavError`](super::WavError), or one of a port outside this crate
    /// (downcast to tell which).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// A port's frames for one tick, lent in place (see [`Port::lend`]).
#[derive(Debug, Default)]
pub struct LentFrames<'a> {
    /// This tick's input frame (one block), where it lies; `None` when the port
    /// has none this tick.
    pub input: Option<&'a [i16]>,
    /// Where this tick's output goes (one block); `None` when the port has no
    /// room for it.
    pub output: Option<&'a mut [i16]>,
}

/// One participant's audio endpoint, driven by the [`Pump`](super::Pump) once per
/// tick.
///
/// Every tick the pump calls [`read`](Self::read) on every port, mixes, then
/// calls [`write`](Self::write) on every port with what that participant hears
/// (silence for a talk-only participant). Both are called whatever the
/// participant's role, so that a muted or listen-only port still drains its
/// source and never piles up input. A port whose frames already lie in memory
/// (a queue slot) can [lend](Self::lend) them instead: the pump then calls
/// `lend` and, after the tick, [`commit`](Self::commit), and copies nothing.
///
/// Ports must never block: a port that has no frame ready delivers silence and
/// counts an underrun; a sink that cannot take a frame drops it and counts a
/// drop. A port backed by a file descriptor (a DAHDI channel) returns it from
/// [`fd`](Self::fd): the pump then watches it with epoll and calls
/// [`service`](Self::service) whenever it is ready, so the port can move data
/// between the kernel and its own queue between ticks.
///
/// A port is [`Any`]: the pump knows its own [`MemoryPort`](super::MemoryPort)s
/// by their type (it lends all the ports it holds of one bank in a single pass),
/// and a port given back by [`Pump::remove_port`](super::Pump::remove_port) can
/// be downcast to what it was.
pub trait Port: Send + Any {
    /// A short description for statistics ("pseudo 32771", "memory",
    /// "wav /tmp/a.wav").
    fn name(&self) -> String;

    /// Fills `frame` (one block) with this tick's input. `frame` is where the
    /// pump wants the input: the mixer's input buffer, or a
    /// subscriber's batch when this port's input is tapped. What it holds
    /// before the call is unspecified, so a port writes every sample; one
    /// without input this tick writes silence.
    ///
    /// # Errors
    ///
    /// A [`PortError`]: the pump counts it in the port's statistics and delivers silence
    /// instead.
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError>;

    /// Takes this tick's output (one block): what the participant hears.
    ///
    /// # Errors
    ///
    /// A [`PortError`]: the pump counts it in the port's statistics and drops the frame.
    fn write(&mut self, frame: &[i16]) -> Result<(), PortError>;

    /// Whether this port lends its frames in place (see [`lend`](Self::lend))
    /// when the pump's blocks are `block` samples; `false` (the default) means
    /// the pump copies through [`read`](Self::read) and [`write`](Self::write).
    /// Asked once, when the port is added to the pump.
    fn lends(&self, block: usize) -> bool {
        let _ = block;
        false
    }

    /// Lends this tick's frames in place, instead of [`read`](Self::read) and
    /// [`write`](Self::write) copying them: the input where it already lies and
    /// the slot where the output should go (a queue slot, say), each one block
    /// long. The engine then mixes straight from and into them
    /// ([`Mixer::mix_lent`]). Called instead of `read` and `write` when
    /// [`lends`](Self::lends) is true, and followed by [`commit`](Self::commit)
    /// once the tick is done with the frames.
    ///
    /// A lent input of `None` is an underrun (the participant is silent this
    /// tick), a lent output of `None` a drop; the port counts both in `commit`.
    ///
    /// [`Mixer::mix_lent`]: crate::audio::mixer::Mixer::mix_lent
    fn lend(&mut self) -> LentFrames<'_> {
        LentFrames::default()
    }

    /// Ends a tick in which the port [lent](Self::lend) its frames: the lent
    /// input has been consumed and the lent output filled.
    fn commit(&mut self) {}

    /// The port's counters.
    fn stats(&self) -> PortStats;

    /// A file descriptor to watch, and for what; `None` (the default) for
    /// ports that need no servicing between ticks.
    fn fd(&self) -> Option<(BorrowedFd<'_>, Readiness)> {
        None
    }

    /// Called when [`fd`](Self::fd) is ready; moves what is available without
    /// blocking.
    ///
    /// # Errors
    ///
    /// A [`PortError`], counted by the pump.
    fn service(&mut self, _ready: Readiness) -> Result<(), PortError> {
        Ok(())
    }

    /// Called once when the pump starts running with a clock, before the first
    /// tick: e.g. discard stale buffered audio.
    ///
    /// # Errors
    ///
    /// A [`PortError`]: the pump does not start.
    fn start(&mut self) -> Result<(), PortError> {
        Ok(())
    }

    /// Whether the port has received its first input and so can keep up from
    /// now on. The pump's first tick waits until every port is primed (ports
    /// whose source is not paced by the clock, like memory and file ports,
    /// are always primed); a port that joins a running pump unprimed is not
    /// read until it is primed and one tick more (its input is silence).
    fn primed(&self) -> bool {
        true
    }

    /// Called once, when every port is primed, just before the first tick
    /// (or, for a port joining a running pump, once it is primed): discard
    /// queued input older than the newest frame, so that every port starts
    /// with the shortest latency it can sustain.
    fn align(&mut self) {}
}
