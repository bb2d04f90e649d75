//! Changing a running pump: the [`PumpHandle`] any thread holds, the commands
//! it queues, and how the pump applies them at a tick boundary.
//!
//! A handle never touches the pump's state: it sends a [`Command`] into one
//! bounded queue, and the pump thread applies the queued commands at the start
//! of its next tick, in the order they were queued, at most
//! [`PumpHandle::COMMANDS_PER_TICK`] per tick. Everything a command needs that
//! takes memory (the boxed port, a subscriber's buffers, a ring's stream list,
//! the answer's slot) is made by the sending thread, so applying it takes no
//! lock another thread could hold and, once the pump's tables have grown to
//! their working size, allocates nothing. Answers go back through a slot that
//! never waits (see `answer.rs`), not through a channel.

use std::time::Duration;

use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::audio::mixer::Role;

use super::answer::{answer_slot, Answer, NoAnswer, Waiting};
use super::port::Port;
use super::shm::ShmWriter;
use super::stats::PumpStats;
use super::tap::{Stream, Subscriber, TapPublisher};
use super::{PortId, Pump, PumpError};

/// One change queued through a [`PumpHandle`].
pub(super) enum Command {
    Add {
        port: Box<dyn Port>,
        role: Role,
        reply: Answer<Result<PortId, PumpError>>,
    },
    Remove {
        id: PortId,
        reply: Answer<Removed>,
    },
    SetRole {
        id: PortId,
        role: Role,
        reply: Answer<Result<(), PumpError>>,
    },
    Subscribe(TapPublisher),
    AddRing {
        writer: ShmWriter,
        streams: Vec<Stream>,
    },
}

/// Why a [`PumpHandle`] request got no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    /// The pump has been dropped: nothing applies the request.
    #[error("the pump is gone")]
    Stopped,
    /// No answer within the time given (the pump is not ticking, or not
    /// running its clock loop, which is what answers statistics requests).
    #[error("no answer from the pump in time")]
    Timeout,
}

/// The answer to a [`PumpHandle`] request, given by the pump thread when it
/// applies the request (at the next tick boundary), with the number of the
/// tick from which the change holds: the first tick that sees it (compare
/// [`Pump::ticks`], [`TapBatch::tick`](super::TapBatch::tick)).
#[derive(Debug)]
#[must_use = "a request is applied whether or not its answer is read; read it to learn the outcome"]
pub struct Reply<T>(Waiting<T>);

impl<T> Reply<T> {
    /// Waits for the answer.
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump was dropped before answering.
    pub fn wait(self) -> Result<T, ControlError> {
        self.wait_with_tick().map(|(_, answer)| answer)
    }

    /// Waits for the answer and the tick from which the change holds.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_with_tick(self) -> Result<(u64, T), ControlError> {
        self.0.wait(None).map_err(ControlError::from)
    }

    /// Waits at most `timeout` for the answer and the tick from which the
    /// change holds.
    ///
    /// # Errors
    ///
    /// [`ControlError::Timeout`], or [`ControlError::Stopped`] as
    /// [`wait`](Self::wait).
    pub fn wait_timeout(self, timeout: Duration) -> Result<(u64, T), ControlError> {
        self.0
            .wait(Some(Instant::now() + timeout))
            .map_err(ControlError::from)
    }

    /// The answer and its tick, if the pump has given them already.
    pub fn try_get(&self) -> Option<(u64, T)> {
        self.0.try_take()
    }
}

/// The answer to a removal: the port given back.
pub type Removed = Result<Box<dyn Port>, PumpError>;

impl From<NoAnswer> for ControlError {
    fn from(e: NoAnswer) -> ControlError {
        match e {
            NoAnswer::Gone => ControlError::Stopped,
            NoAnswer::Timeout => ControlError::Timeout,
        }
    }
}

/// A request's answer: one slot, so that the pump's answer never waits.
fn reply<T>() -> (Answer<T>, Reply<T>) {
    let (answer, waiting) = answer_slot();
    (answer, Reply(waiting))
}

/// Changes a [`Pump`] from any thread while it runs: adds and removes ports,
/// changes roles, subscribes taps, adds rings, reads statistics. Cheap to
/// clone; `Send + Sync`. Get one from [`Pump::handle`].
///
/// Every change takes effect at a tick boundary: the pump applies queued
/// changes at the start of its next tick, in the order they were queued (across
/// all handles), at most [`COMMANDS_PER_TICK`](Self::COMMANDS_PER_TICK) per
/// tick; the rest wait, in order, for the following ticks. At most
/// [`QUEUE`](Self::QUEUE) changes wait at a time: past that, the thread
/// queuing a change blocks until the pump has applied enough (the pump never
/// waits for a handle). While the pump does not tick, changes wait in the queue.
///
/// A port added through the handle joins at a tick boundary: it is heard by
/// the others from its first tick on, and hears the mix of that tick, nothing
/// older. A port that is not [primed](super::Port::primed) when it joins (a
/// [`DahdiPort`](super::DahdiPort), whose queued audio its start drops) primes
/// as before a run's first tick: its input is silence, and the port is not
/// read, until it has its first frame and one tick more; then it is
/// [aligned](super::Port::align) and read every tick, with the one tick of
/// input in hand that keeps it from underrunning. A removed port is out of the mix from the next tick on, and is given
/// back, with nothing of it left in the pump (its engine row is cleared for
/// whoever takes it next, its file descriptor leaves the pump's epoll set).
/// To unsubscribe a tap, drop its [`Subscriber`]; the pump lets go of it at its
/// next tick.
#[derive(Clone, Debug)]
pub struct PumpHandle {
    commands: Sender<Command>,
    stats: Sender<Answer<PumpStats>>,
    block: usize,
}

impl PumpHandle {
    /// Most changes the pump applies in one tick.
    pub const COMMANDS_PER_TICK: usize = 64;
    /// Most changes queued and not yet applied.
    pub const QUEUE: usize = 1024;

    fn send(&self, command: Command) -> Result<(), ControlError> {
        self.commands
            .send(command)
            .map_err(|_| ControlError::Stopped)
    }

    /// Adds a participant backed by `port`, from the next tick on; the reply
    /// is its handle.
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump is gone (the port is dropped).
    pub fn add_port(
        &self,
        port: impl Port + 'static,
        role: Role,
    ) -> Result<Reply<Result<PortId, PumpError>>, ControlError> {
        self.add_boxed(Box::new(port), role)
    }

    /// [`add_port`](Self::add_port) for a boxed port.
    ///
    /// # Errors
    ///
    /// As [`add_port`](Self::add_port).
    pub fn add_boxed(
        &self,
        port: Box<dyn Port>,
        role: Role,
    ) -> Result<Reply<Result<PortId, PumpError>>, ControlError> {
        let (tx, rx) = reply();
        self.send(Command::Add {
            port,
            role,
            reply: tx,
        })?;
        Ok(rx)
    }

    /// Removes a port from the next tick on; the reply gives it back (if the
    /// reply is dropped unread, the pump drops the port).
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump is gone.
    pub fn remove_port(&self, id: PortId) -> Result<Reply<Removed>, ControlError> {
        let (tx, rx) = reply();
        self.send(Command::Remove { id, reply: tx })?;
        Ok(rx)
    }

    /// Changes a port's role (talker, listener, both, muted, monitor) from the
    /// next tick on.
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump is gone.
    pub fn set_role(
        &self,
        id: PortId,
        role: Role,
    ) -> Result<Reply<Result<(), PumpError>>, ControlError> {
        let (tx, rx) = reply();
        self.send(Command::SetRole {
            id,
            role,
            reply: tx,
        })?;
        Ok(rx)
    }

    /// An in-process subscriber to `streams`, fed from the next tick on (see
    /// [`Pump::subscribe`]). Drop it to unsubscribe.
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump is gone.
    pub fn subscribe(&self, streams: &[Stream], depth: usize) -> Result<Subscriber, ControlError> {
        let (tap, sub) = TapPublisher::new(streams, self.block, depth);
        self.send(Command::Subscribe(tap))?;
        Ok(sub)
    }

    /// Publishes `streams` into a shared-memory ring from the next tick on (see
    /// [`Pump::add_ring`]).
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump is gone.
    pub fn add_ring(&self, writer: ShmWriter, streams: &[Stream]) -> Result<(), ControlError> {
        self.send(Command::AddRing {
            writer,
            streams: streams.to_vec(),
        })
    }

    /// A snapshot of the pump's counters, made by the pump thread between ticks
    /// while it runs on a clock ([`Pump::run_for`], [`Pump::run_until`]; never
    /// inside a tick, since the report allocates).
    ///
    /// # Errors
    ///
    /// [`ControlError::Stopped`] when the pump is gone.
    pub fn stats(&self) -> Result<Reply<PumpStats>, ControlError> {
        let (tx, rx) = reply();
        self.stats.send(tx).map_err(|_| ControlError::Stopped)?;
        Ok(rx)
    }
}

/// The pump's end of its handles' queues.
pub(super) struct Controls {
    commands: Receiver<Command>,
    stats: Receiver<Answer<PumpStats>>,
    handle: PumpHandle,
}

impl Controls {
    pub(super) fn new(block: usize) -> Controls {
        let (commands_tx, commands) = crossbeam_channel::bounded(PumpHandle::QUEUE);
        // Statistics requests are answered between ticks, all at once.
        let (stats_tx, stats) = crossbeam_channel::bounded(PumpHandle::QUEUE);
        Controls {
            commands,
            stats,
            handle: PumpHandle {
                commands: commands_tx,
                stats: stats_tx,
                block,
            },
        }
    }
}

impl Pump {
    /// A handle through which other threads change this pump while it runs
    /// (see [`PumpHandle`]).
    pub fn handle(&self) -> PumpHandle {
        self.controls.handle.clone()
    }

    /// Applies the changes queued through handles, oldest first, at most
    /// [`PumpHandle::COMMANDS_PER_TICK`]: the start of every tick.
    ///
    /// Nothing here waits for another thread: answers go into slots that never
    /// wait, and taking a command from the queue is lock-free unless a handle
    /// is blocked on a full queue ([`PumpHandle::QUEUE`] changes waiting),
    /// when the channel takes its waker's lock to wake that thread. Nothing
    /// allocates once the pump's tables have room: ports up to
    /// [`PumpConfig::capacity`](super::PumpConfig::capacity), or as many as the
    /// pump has held before; taps and rings up to as many as it has held
    /// before. (A reply dropped unread drops what it carried here: a removed
    /// port is then freed on the pump's thread.)
    pub(super) fn apply_commands(&mut self) {
        let tick = self.tick;
        for _ in 0..PumpHandle::COMMANDS_PER_TICK {
            let Ok(command) = self.controls.commands.try_recv() else {
                break;
            };
            match command {
                Command::Add { port, role, reply } => {
                    let added = self.add_boxed(port, role);
                    if let Ok(id) = added {
                        self.join_running(id);
                    }
                    reply.send(tick, added);
                }
                Command::Remove { id, reply } => {
                    reply.send(tick, self.remove_port(id));
                }
                Command::SetRole { id, role, reply } => {
                    reply.send(tick, self.set_role(id, role));
                }
                Command::Subscribe(tap) => self.add_tap(tap),
                Command::AddRing { writer, streams } => self.add_ring_streams(writer, streams),
            }
        }
    }

    /// Answers the statistics requests queued through handles (between ticks:
    /// a report allocates).
    pub(super) fn answer_stats(&mut self) {
        while let Ok(reply) = self.controls.stats.try_recv() {
            reply.send(self.tick, self.stats());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_crosses_threads() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<PumpHandle>();
    }
}
