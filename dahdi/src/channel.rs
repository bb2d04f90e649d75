//! Channels: span channels ([`Channel`]) and pseudo channels ([`Pseudo`]),
//! both built on [`ChannelFd`], which carries every operation the kernel
//! accepts on either. Each of the two composes a `ChannelFd` and offers
//! what makes sense for its kind of channel (a pseudo channel has no span,
//! no line and no ring cadence); [`Pseudo::as_channel_fd`] and
//! [`Channel::as_channel_fd`] hand out the `ChannelFd` itself, for code that
//! serves both.
//!
//! Audio moves in *blocks*: one `read` returns at most one block of
//! `blocksize` samples (bytes in law mode, twice that in linear mode), one
//! `write` takes at most one block.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dahdi_sys::{self as sys, ioctl, Ioctl};
use libc::c_int;
use nix::errno::Errno;

use crate::conference::{ConfInfo, ConfMode};
use crate::error::{classify, Error, ErrorKind, Op, Result};
use crate::event::Event;
use crate::fd::{ioctl, open_node, poll_fd, put_c_string, NodeKind, Readiness};
use crate::params::{
    check_blocksize, validate_dial_string, BufferInfo, ChannelParams, DialOp, EchoCanParams, Flush,
    Gains, IoMux, RingCadence, Tone, ToneDetect,
};
use crate::signalling::{Hook, Law};
use crate::span::SpanInfo;

/// `ELAST` as nix reports it: nix has no name for errno 500 and maps it
/// to `UnknownErrno`, so the raw value is checked before that mapping.
const ELAST: Errno = Errno::UnknownErrno;

/// The result of a raw read/write: the count, or the errno, with errno
/// 500 (`ELAST`, "an event is pending") kept distinct from other unknown
/// errnos.
fn errno_of(r: isize) -> std::result::Result<usize, Errno> {
    if r >= 0 {
        return Ok(r as usize);
    }
    let raw = Errno::last_raw();
    if raw == sys::ELAST {
        Err(ELAST)
    } else {
        match Errno::from_raw(raw) {
            // Some other errno nix does not know: report it as I/O error
            // rather than mistake it for ELAST.
            Errno::UnknownErrno => Err(Errno::EIO),
            e => Err(e),
        }
    }
}

/// Pseudo channels are numbered from here (`FIRST_PSEUDO_CHANNEL`).
pub const FIRST_PSEUDO_CHANNEL: i32 = 0x8000;

/// The kernel's conference sums rotate through three buffers, one 1 ms
/// chunk each (see `ChannelFd::enter_conference`).
const SLOT_BUFFERS: u32 = 3;

/// Samples in one of the kernel's processing chunks (`DAHDI_CHUNKSIZE` in
/// the driver's `include/dahdi/kernel.h`, not part of the user ABI).
const CHUNK_SAMPLES: u32 = 8;

/// How long DAHDI's timing may take to advance a few chunks before a join
/// gives up: a loaded or emulated system stalls for hundreds of
/// milliseconds, never seconds while it works.
const TIMING_WAIT: Duration = Duration::from_secs(5);

/// Waits until DAHDI's timing has processed `chunks` more 1 ms chunks,
/// counted by a timer of its own (`/dev/dahdi/timer`) armed now.
fn wait_for_chunks(chunks: u32) -> Result<()> {
    let timer = crate::Timer::open()?;
    timer.set_interval_samples(chunks * CHUNK_SAMPLES)?;
    if timer.wait(Some(TIMING_WAIT))? {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::TimingStopped, Op::Poll, timer.path()))
    }
}

/// What a block read produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes of audio were read (one block, or less if the
    /// buffer was smaller).
    Audio(usize),
    /// An event was pending: the kernel refused the read with `ELAST`
    /// before touching the audio, and the event has been taken off the
    /// queue. Read again for the audio.
    Event(Event),
}

/// What a block write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// This many bytes were taken (at most one block).
    Written(usize),
    /// An event was pending: nothing was written; write again.
    Event(Event),
}

/// An open channel file descriptor, span or pseudo: blocks of audio,
/// buffering, law, conferencing, events, tones, dialling, gains and
/// parameters; every operation the kernel accepts on both kinds of channel.
///
/// [`Channel`] and [`Pseudo`] are built on it, each offering the part that
/// makes sense for its kind; `as_channel_fd()` on either gives this type,
/// for code that serves both.
#[derive(Debug)]
pub struct ChannelFd {
    fd: OwnedFd,
    path: PathBuf,
    linear: bool,
}

impl ChannelFd {
    fn new(fd: OwnedFd, path: PathBuf) -> ChannelFd {
        ChannelFd {
            fd,
            path,
            linear: false,
        }
    }

    /// The device node this channel was opened through.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn call(&self, op: Ioctl, f: impl FnMut() -> nix::Result<c_int>) -> Result<c_int> {
        ioctl(&self.path, op, None, f)
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn set_int(
        &self,
        op: Ioctl,
        f: unsafe fn(c_int, *const c_int) -> nix::Result<c_int>,
        v: i32,
    ) -> Result<()> {
        // SAFETY: a valid fd and a pointer to a live int, for an ioctl that
        // reads an int.
        self.call(op, || unsafe { f(self.raw(), &v) })?;
        Ok(())
    }

    fn get_int(
        &self,
        op: Ioctl,
        f: unsafe fn(c_int, *mut c_int) -> nix::Result<c_int>,
    ) -> Result<i32> {
        let mut v: c_int = 0;
        // SAFETY: a valid fd and a pointer to a live int the kernel writes.
        self.call(op, || unsafe { f(self.raw(), &mut v) })?;
        Ok(v)
    }

    /// The channel's global number (`DAHDI_CHANNO`); pseudo channels are
    /// numbered from 32768.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_CHANNO`, as an [`Error`] that names it
    /// and carries the errno (only a descriptor that is no channel gets one).
    #[doc(alias = "DAHDI_CHANNO")]
    pub fn number(&self) -> Result<i32> {
        self.get_int(ioctl::DAHDI_CHANNO, sys::dahdi_channo)
    }

    // ---- modes -------------------------------------------------------

    /// Switches between blocking and non-blocking I/O. In non-blocking
    /// mode reads and writes that cannot proceed fail with
    /// [`ErrorKind::WouldBlock`], and hook operations that take time
    /// return at once, finishing with [`Event::HookComplete`].
    ///
    /// # Errors
    ///
    /// `fcntl(2)` failed: [`ErrorKind::Other`] with its errno.
    pub fn set_nonblocking(&self, on: bool) -> Result<()> {
        crate::fd::set_nonblocking(self.raw(), &self.path, on)
    }

    /// Whether the fd is in non-blocking mode.
    pub fn is_nonblocking(&self) -> bool {
        crate::fd::is_nonblocking(&self.fd)
    }

    /// Signed 16-bit linear samples (`true`) or companded bytes (`false`,
    /// the default after open) at the read/write boundary
    /// (`DAHDI_SETLINEAR`). The kernel stores audio companded either way.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotAudioMode`] when the channel carries
    /// data: a clear channel that [`Channel::set_audio_mode`] has not switched to audio, or
    /// an HDLC channel (the kernel takes linear mode on audio channels only, `EINVAL`).
    /// This method does not switch the mode itself: audio mode changes what a clear channel
    /// carries, which is the caller's decision.
    #[doc(alias = "DAHDI_SETLINEAR")]
    pub fn set_linear(&mut self, on: bool) -> Result<()> {
        self.set_int(ioctl::DAHDI_SETLINEAR, sys::dahdi_setlinear, on as i32)?;
        self.linear = on;
        Ok(())
    }

    /// Whether linear mode was set through this handle.
    pub fn is_linear(&self) -> bool {
        self.linear
    }

    /// Sets the companding law until close (`DAHDI_SETLAW`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SETLAW`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_SETLAW")]
    pub fn set_law(&self, law: Law) -> Result<()> {
        self.set_int(ioctl::DAHDI_SETLAW, sys::dahdi_setlaw, law.to_raw())
    }

    /// Block size in samples (`DAHDI_GET_BLOCKSIZE`); 1024 after open.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GET_BLOCKSIZE`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_GET_BLOCKSIZE")]
    pub fn blocksize(&self) -> Result<usize> {
        Ok(self.get_int(ioctl::DAHDI_GET_BLOCKSIZE, sys::dahdi_get_blocksize)? as usize)
    }

    /// Sets the block size in samples, 16..=8192, checked before the call
    /// (`DAHDI_SET_BLOCKSIZE`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidBlocksize`] before the call
    /// for a size outside 16..=8192; otherwise the kernel's refusal of
    /// `DAHDI_SET_BLOCKSIZE`, as an [`Error`] that names it and carries the
    /// errno.
    #[doc(alias = "DAHDI_SET_BLOCKSIZE")]
    pub fn set_blocksize(&self, samples: usize) -> Result<()> {
        check_blocksize(samples, ioctl::DAHDI_SET_BLOCKSIZE, &self.path)?;
        self.set_int(
            ioctl::DAHDI_SET_BLOCKSIZE,
            sys::dahdi_set_blocksize,
            samples as i32,
        )
    }

    /// Bytes in one block as read or written now: the block size, doubled
    /// in linear mode.
    ///
    /// # Errors
    ///
    /// As [`blocksize`](Self::blocksize).
    pub fn block_len(&self) -> Result<usize> {
        Ok(self.blocksize()? * if self.linear { 2 } else { 1 })
    }

    /// Buffer configuration (`DAHDI_GET_BUFINFO`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GET_BUFINFO`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_GET_BUFINFO")]
    pub fn buffer_info(&self) -> Result<BufferInfo> {
        let mut b = sys::dahdi_bufferinfo::zeroed();
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_GET_BUFINFO, || unsafe {
            sys::dahdi_get_bufinfo(self.raw(), &mut b)
        })?;
        Ok(BufferInfo::from_raw(&b))
    }

    /// Sets the buffer configuration, checked against the kernel's limits
    /// first ([`BufferInfo::validate`]); reallocates the buffers, dropping
    /// what they held (`DAHDI_SET_BUFINFO`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidBufferInfo`] before the
    /// call for a configuration outside the kernel's limits; otherwise the kernel's refusal
    /// of `DAHDI_SET_BUFINFO`.
    #[doc(alias = "DAHDI_SET_BUFINFO")]
    pub fn set_buffer_info(&self, info: &BufferInfo) -> Result<()> {
        info.validate().map_err(|why| {
            Error::new(
                ErrorKind::InvalidBufferInfo(why),
                ioctl::DAHDI_SET_BUFINFO,
                &self.path,
            )
        })?;
        let b = info.to_raw();
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_SET_BUFINFO, || unsafe {
            sys::dahdi_set_bufinfo(self.raw(), &b)
        })?;
        Ok(())
    }

    /// Empties buffers and/or the event queue (`DAHDI_FLUSH`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_FLUSH`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_FLUSH")]
    pub fn flush(&self, what: Flush) -> Result<()> {
        self.set_int(ioctl::DAHDI_FLUSH, sys::dahdi_flush, what.bits())
    }

    /// Waits until everything written has been sent (`DAHDI_SYNC`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SYNC`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_SYNC")]
    pub fn sync(&self) -> Result<()> {
        // SAFETY: valid fd, no argument.
        self.call(ioctl::DAHDI_SYNC, || unsafe { sys::dahdi_sync(self.raw()) })?;
        Ok(())
    }

    // ---- audio and events ---------------------------------------------

    /// Reads one block into `buf` (which should hold [`block_len`]
    /// bytes: the kernel drops what does not fit). An event pending in
    /// the kernel is returned instead, without losing audio; `EINTR` is
    /// retried.
    ///
    /// [`block_len`]: Self::block_len
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] in non-blocking mode when no
    /// block is ready; [`ErrorKind::SpanNotAssigned`]
    /// when the channel's span went away (`ENODEV`); a failure of `DAHDI_GETEVENT` while
    /// taking a pending event; any other errno of `read(2)` as
    /// [`ErrorKind::Other`].
    pub fn read_block(&mut self, buf: &mut [u8]) -> Result<ReadOutcome> {
        // SAFETY: a valid fd and a writable buffer of buf.len() bytes.
        let r = self.block_io(Op::Read, |fd| unsafe {
            libc::read(fd, buf.as_mut_ptr().cast(), buf.len())
        })?;
        Ok(r.map_or_else(ReadOutcome::Event, ReadOutcome::Audio))
    }

    /// Writes at most one block from `buf`. A pending event is returned
    /// instead and nothing is written; `EINTR` is retried. Note that on a
    /// span channel a write also stops a tone or dialling in progress (the
    /// kernel's rule).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::WouldBlock`] in non-blocking mode when no
    /// block is ready; [`ErrorKind::SpanNotAssigned`]
    /// when the channel's span went away (`ENODEV`); a failure of `DAHDI_GETEVENT` while
    /// taking a pending event; any other errno of `write(2)` as
    /// [`ErrorKind::Other`].
    pub fn write_block(&mut self, buf: &[u8]) -> Result<WriteOutcome> {
        // SAFETY: a valid fd and a readable buffer of buf.len() bytes.
        let r = self.block_io(Op::Write, |fd| unsafe {
            libc::write(fd, buf.as_ptr().cast(), buf.len())
        })?;
        Ok(r.map_or_else(WriteOutcome::Event, WriteOutcome::Written))
    }

    /// One read or write with the channel's rules: `EINTR` is retried, and a
    /// pending event (`ELAST`) is taken off the queue and returned instead of a
    /// byte count, so no audio is lost; if the event went away meanwhile
    /// (flushed by someone), the call is made again.
    fn block_io(
        &mut self,
        op: Op,
        mut call: impl FnMut(RawFd) -> isize,
    ) -> Result<std::result::Result<usize, Event>> {
        loop {
            match errno_of(call(self.raw())) {
                Ok(n) => return Ok(Ok(n)),
                Err(Errno::EINTR) => continue,
                Err(e) if e == ELAST => {
                    if let Some(ev) = self.event()? {
                        return Ok(Err(ev));
                    }
                }
                Err(e) => {
                    return Err(Error::new(classify(op, e, None), op, &self.path).with_errno(e))
                }
            }
        }
    }

    /// [`read_block`](Self::read_block) for linear mode: `Audio(n)` counts
    /// samples.
    ///
    /// # Errors
    ///
    /// As [`read_block`](Self::read_block).
    pub fn read_samples(&mut self, samples: &mut [i16]) -> Result<ReadOutcome> {
        // SAFETY: an i16 slice viewed as twice as many bytes: same memory,
        // alignment 1 <= 2, every byte pattern valid for both types.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(samples.as_mut_ptr().cast::<u8>(), samples.len() * 2)
        };
        Ok(match self.read_block(bytes)? {
            ReadOutcome::Audio(n) => ReadOutcome::Audio(n / 2),
            other => other,
        })
    }

    /// [`write_block`](Self::write_block) for linear mode:
    /// `Written(n)` counts samples.
    ///
    /// # Errors
    ///
    /// As [`write_block`](Self::write_block).
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<WriteOutcome> {
        // SAFETY: as in read_samples, read-only.
        let bytes =
            unsafe { std::slice::from_raw_parts(samples.as_ptr().cast::<u8>(), samples.len() * 2) };
        Ok(match self.write_block(bytes)? {
            WriteOutcome::Written(n) => WriteOutcome::Written(n / 2),
            other => other,
        })
    }

    /// Takes the oldest queued event (`DAHDI_GETEVENT`), `None` if the
    /// queue is empty.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETEVENT`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_GETEVENT")]
    pub fn event(&self) -> Result<Option<Event>> {
        Ok(Event::from_raw(
            self.get_int(ioctl::DAHDI_GETEVENT, sys::dahdi_getevent)?,
        ))
    }

    /// Waits up to `timeout` (forever with `None`) until the channel is
    /// ready for any of `interest`, with `poll(2)`; returns what is ready
    /// (empty on timeout). The fd itself works with any poll or epoll loop
    /// too: `POLLIN` = [`Readiness::READ`], `POLLOUT` = `WRITE`, `POLLPRI`
    /// = `EVENT`.
    ///
    /// # Errors
    ///
    /// `poll(2)` failed (not for a timeout, which returns an empty set):
    /// [`ErrorKind::Other`] with its errno.
    pub fn poll_readiness(
        &self,
        interest: Readiness,
        timeout: Option<Duration>,
    ) -> Result<Readiness> {
        poll_fd(&self.fd, &self.path, interest, timeout)
    }

    /// DAHDI's own wait (`DAHDI_IOMUX`): blocks until one of the
    /// conditions holds (at once with [`IoMux::NOWAIT`]) and returns those
    /// that do.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_IOMUX`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_IOMUX")]
    pub fn iomux(&self, wait_for: IoMux) -> Result<IoMux> {
        let mut v = wait_for.bits();
        // SAFETY: valid fd and int pointer.
        self.call(ioctl::DAHDI_IOMUX, || unsafe {
            sys::dahdi_iomux(self.raw(), &mut v)
        })?;
        Ok(IoMux::from_bits_retain(v))
    }

    // ---- conferencing ------------------------------------------------

    fn setconf(&self, chan: i32, confno: i32, mode: ConfMode) -> Result<sys::dahdi_confinfo> {
        if mode.targets_a_channel() && confno >= FIRST_PSEUDO_CHANNEL {
            // dahdi_ioctl_setconf() calls dahdi_disable_hw_preechocan() on
            // the target, which dereferences its span: NULL for a pseudo
            // channel. The driver oopses and the caller is killed.
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "{mode:?} of channel {confno}: the target is a pseudo channel, which \
                     this driver cannot monitor (it dereferences the missing span and \
                     oopses); monitor a span channel"
                )),
                ioctl::DAHDI_SETCONF,
                &self.path,
            ));
        }
        let mut ci = sys::dahdi_confinfo {
            chan,
            confno,
            confmode: mode.bits(),
        };
        let subject = if chan != 0 { Some(chan) } else { None };
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, ioctl::DAHDI_SETCONF, subject, || unsafe {
            sys::dahdi_setconf(self.raw(), &mut ci)
        })?;
        Ok(ci)
    }

    /// Joins conference `confno` (1..=1024) in `mode`, or changes this
    /// channel's mode in it; returns the conference number.
    ///
    /// Nothing of an earlier conference is heard (see [the module
    /// documentation](crate::conference#joining-cleanly)): when the join
    /// may give the conference a fresh kernel slot, the channel first
    /// joins silent (neither talking nor listening) and takes `mode` only
    /// after DAHDI's timing has rotated every slot buffer, about 3 ms; a
    /// pseudo channel's unread audio, which came from before the join, is
    /// discarded. A change of mode within the conference the channel is
    /// already in takes effect at once.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a number outside 1..=1024 or a
    /// mode that is not a conference mode; [`ErrorKind::TimingStopped`]
    /// if DAHDI's timing did not advance (the channel is then back where
    /// it was); any error of `DAHDI_SETCONF`, `DAHDI_FLUSH` or
    /// `/dev/dahdi/timer`.
    pub fn join_conference(&self, confno: i32, mode: ConfMode) -> Result<i32> {
        if !(1..=sys::DAHDI_MAX_CONF).contains(&confno) || mode.mode() == crate::ConfKind::Normal {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "conference {confno} in mode {mode:?}: the number must be 1..=1024 and \
                     the mode not NORMAL (use leave_conference)"
                )),
                ioctl::DAHDI_SETCONF,
                &self.path,
            ));
        }
        self.enter_conference(0, confno, mode)
    }

    /// Creates a conference with a free number (`confno = -1`: the kernel
    /// picks the highest free number and writes it back), joins it in
    /// `mode`, and returns its number. As with
    /// [`join_conference`](Self::join_conference), nothing of an earlier
    /// conference that used the same kernel slot is heard.
    ///
    /// # Errors
    ///
    /// As [`join_conference`](Self::join_conference); `EBUSY` from the
    /// kernel when all 1024 conference numbers are taken.
    pub fn create_conference(&self, mode: ConfMode) -> Result<i32> {
        self.enter_conference(0, -1, mode)
    }

    /// Puts channel `chan` (0: this one) into conference `confno` (-1: a
    /// free one) in `mode` so that it hears nothing of an earlier
    /// conference.
    ///
    /// Why a wait, from dahdi-base.c: the kernel mixes each conference in
    /// a *slot* (`_confn`, the lowest free alias) of three rotating sum
    /// buffers (`conf_sums_prev`, `conf_sums`, `conf_sums_next`).
    /// `rotate_sums()` zeroes the slots of the buffer that becomes
    /// `conf_sums_next`, but only those below `maxconfs`, one above the
    /// highest slot in use. When the highest slot is released its three
    /// buffers keep the last sums, and a conference that later gets that
    /// slot mixes them into the first chunk(s) its members hear (one 1 ms
    /// chunk for a pseudo listener, which reads `conf_sums`; two for
    /// `CONFMON`, which reads `conf_sums_prev`). Once the slot is in use,
    /// every rotation zeroes one of its buffers, so after three rotations
    /// no stale sum is left. `/dev/dahdi/timer` counts those rotations:
    /// `process_timers()` runs in the same `_process_masterspan()` pass as
    /// `rotate_sums()`, so a timer armed for three chunks after the silent
    /// join trips after at least three rotations, and the `DAHDI_SETCONF`
    /// that follows waits for `chan_lock` until the pass is over.
    fn enter_conference(&self, chan: i32, confno: i32, mode: ConfMode) -> Result<i32> {
        if !mode.is_membership() {
            return Ok(self.setconf(chan, confno, mode)?.confno);
        }
        let before = self.getconf(chan)?;
        if confno > 0 && before.confno == confno && before.mode.is_membership() {
            // Already a member: the slot is held and clean.
            return Ok(self.setconf(chan, confno, mode)?.confno);
        }
        let joined = self.setconf(chan, confno, ConfMode::CONF)?.confno;
        let settled = wait_for_chunks(SLOT_BUFFERS).and_then(|()| {
            // A pseudo channel reads what it hears; a span channel reads its
            // line, except in the monitor-style modes that read the mix.
            let reads_the_mix = before.channel >= FIRST_PSEUDO_CHANNEL
                || matches!(
                    mode.mode(),
                    crate::ConfKind::ConfMon | crate::ConfKind::ConfAnnMon
                );
            if chan == 0 && reads_the_mix {
                self.flush(Flush::READ)?;
            }
            Ok(())
        });
        if let Err(e) = settled {
            // Leave the channel as it was; the error says why.
            let _ = if before.mode.is_membership() || before.mode.targets_a_channel() {
                self.setconf(chan, before.confno, before.mode)
            } else {
                self.setconf(chan, 0, ConfMode::NORMAL)
            };
            return Err(e);
        }
        Ok(self.setconf(chan, joined, mode)?.confno)
    }

    /// Leaves whatever conference or monitor this channel is in.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SETCONF`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_SETCONF")]
    pub fn leave_conference(&self) -> Result<()> {
        self.setconf(0, 0, ConfMode::NORMAL).map(|_| ())
    }

    /// Monitors channel `channel` in a monitor mode (`MONITOR`,
    /// `MONITORTX`, `MONITORBOTH`, the `*_PREECHO` ones, or `DIGITALMON`):
    /// the kernel takes the "conference number" as a channel number.
    ///
    /// The target must be a span channel: DAHDI 2.11 dereferences the
    /// target's span in `DAHDI_SETCONF`, and a pseudo channel has none (a
    /// kernel oops that kills the caller), so pseudo targets are refused
    /// here with [`ErrorKind::InvalidArgument`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for a mode that is not a monitor mode or a pseudo channel as the target; otherwise
    /// the kernel's refusal of `DAHDI_SETCONF` (`EINVAL` for a channel that does not exist
    /// or is not an audio channel).
    #[doc(alias = "DAHDI_SETCONF")]
    pub fn monitor(&self, channel: i32, mode: ConfMode) -> Result<()> {
        if !mode.targets_a_channel() {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!("{mode:?} is not a monitor mode")),
                ioctl::DAHDI_SETCONF,
                &self.path,
            ));
        }
        self.setconf(0, channel, mode).map(|_| ())
    }

    /// Sets the conference of *another* channel by number (the kernel
    /// allows it from any channel fd); `confno` 0 with `NORMAL` removes it.
    /// A conference membership is entered as cleanly as with
    /// [`join_conference`](Self::join_conference), except that the other
    /// channel's unread audio is not discarded (only its own descriptor
    /// can flush it).
    ///
    /// # Errors
    ///
    /// As [`join_conference`](Self::join_conference).
    pub fn set_conference_of(&self, channel: i32, confno: i32, mode: ConfMode) -> Result<i32> {
        if confno == 0 && mode.mode() == crate::ConfKind::Normal {
            return Ok(self.setconf(channel, 0, mode)?.confno);
        }
        self.enter_conference(channel, confno, mode)
    }

    fn getconf(&self, chan: i32) -> Result<ConfInfo> {
        let mut ci = sys::dahdi_confinfo {
            chan,
            confno: 0,
            confmode: 0,
        };
        let subject = if chan != 0 { Some(chan) } else { None };
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, ioctl::DAHDI_GETCONF, subject, || unsafe {
            sys::dahdi_getconf(self.raw(), &mut ci)
        })?;
        Ok(ConfInfo {
            channel: ci.chan,
            confno: ci.confno,
            mode: ConfMode::from_bits_retain(ci.confmode),
        })
    }

    /// This channel's conference membership (`DAHDI_GETCONF`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETCONF`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_GETCONF")]
    pub fn conference(&self) -> Result<ConfInfo> {
        self.getconf(0)
    }

    /// Another channel's conference membership.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`] when there is no
    /// channel `channel`; any other refusal of `DAHDI_GETCONF`.
    #[doc(alias = "DAHDI_GETCONF")]
    pub fn conference_of(&self, channel: i32) -> Result<ConfInfo> {
        self.getconf(channel)
    }

    /// Mutes (`true`) this channel's contribution to its conference
    /// (`DAHDI_CONFMUTE`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotAudioMode`] for a channel that
    /// carries data; any other refusal of `DAHDI_CONFMUTE`.
    #[doc(alias = "DAHDI_CONFMUTE")]
    pub fn set_conf_mute(&self, muted: bool) -> Result<()> {
        self.set_int(ioctl::DAHDI_CONFMUTE, sys::dahdi_confmute, muted as i32)
    }

    /// Whether the channel is conference-muted (`DAHDI_GETCONFMUTE`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotAudioMode`] for a channel that
    /// carries data; any other refusal of `DAHDI_GETCONFMUTE`.
    #[doc(alias = "DAHDI_GETCONFMUTE")]
    pub fn conf_muted(&self) -> Result<bool> {
        Ok(self.get_int(ioctl::DAHDI_GETCONFMUTE, sys::dahdi_getconfmute)? != 0)
    }

    /// Links conference `src` into conference `dst` (`DAHDI_CONFLINK`):
    /// members of `dst` also hear `src`. Stock DAHDI builds leave this out
    /// ([`ErrorKind::NotCompiledIn`], `CONFIG_DAHDI_CONFLINK`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotCompiledIn`] when the driver was
    /// built without `CONFIG_DAHDI_CONFLINK` (stock builds); any other refusal of
    /// `DAHDI_CONFLINK`.
    #[doc(alias = "DAHDI_CONFLINK")]
    pub fn link_conferences(&self, src: i32, dst: i32) -> Result<()> {
        self.conflink(src, dst, ConfMode::CONF)
    }

    /// Removes a conference link (`DAHDI_CONFLINK` with mode 0); both 0
    /// removes every link.
    ///
    /// # Errors
    ///
    /// As [`link_conferences`](Self::link_conferences).
    #[doc(alias = "DAHDI_CONFLINK")]
    pub fn unlink_conferences(&self, src: i32, dst: i32) -> Result<()> {
        self.conflink(src, dst, ConfMode::NORMAL)
    }

    fn conflink(&self, src: i32, dst: i32, mode: ConfMode) -> Result<()> {
        let ci = sys::dahdi_confinfo {
            chan: src,
            confno: dst,
            confmode: mode.bits(),
        };
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_CONFLINK, || unsafe {
            sys::dahdi_conflink(self.raw(), &ci)
        })?;
        Ok(())
    }

    /// Prints conference `confno` (0: all) to the kernel log
    /// (`DAHDI_CONFDIAG`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_CONFDIAG`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_CONFDIAG")]
    pub fn conf_diag(&self, confno: i32) -> Result<()> {
        self.set_int(ioctl::DAHDI_CONFDIAG, sys::dahdi_confdiag, confno)
    }

    // ---- parameters, gains, span -------------------------------------

    /// The channel's parameters (`DAHDI_GET_PARAMS`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GET_PARAMS`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_GET_PARAMS")]
    pub fn params(&self) -> Result<ChannelParams> {
        let mut p = sys::dahdi_params::zeroed();
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_GET_PARAMS, || unsafe {
            sys::dahdi_get_params(self.raw(), &mut p)
        })?;
        Ok(ChannelParams::from_raw(&p))
    }

    /// Sets the timing fields of `params` (`DAHDI_SET_PARAMS`; the
    /// kernel ignores the others).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SET_PARAMS`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_SET_PARAMS")]
    pub fn set_params(&self, params: &ChannelParams) -> Result<()> {
        let p = params.timing_to_raw();
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_SET_PARAMS, || unsafe {
            sys::dahdi_set_params(self.raw(), &p)
        })?;
        Ok(())
    }

    /// The channel's gain tables (`DAHDI_GETGAINS`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETGAINS`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_GETGAINS")]
    pub fn gains(&self) -> Result<Gains> {
        let mut g = sys::dahdi_gains::zeroed();
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_GETGAINS, || unsafe {
            sys::dahdi_getgains(self.raw(), &mut g)
        })?;
        Ok(Gains {
            rx: g.rxgain,
            tx: g.txgain,
        })
    }

    /// Sets the channel's gain tables (`DAHDI_SETGAINS`); audio channels
    /// only.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SETGAINS`, as an [`Error`] that names
    /// it and carries the errno (`EINVAL` for a channel that is not an audio channel).
    #[doc(alias = "DAHDI_SETGAINS")]
    pub fn set_gains(&self, gains: &Gains) -> Result<()> {
        let mut g = sys::dahdi_gains::zeroed();
        g.rxgain = gains.rx;
        g.txgain = gains.tx;
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_SETGAINS, || unsafe {
            sys::dahdi_setgains(self.raw(), &g)
        })?;
        Ok(())
    }

    /// Status of the span this channel belongs to (`DAHDI_SPANSTAT` with
    /// span 0). Pseudo channels have none (`EINVAL`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SPANSTAT`, as an [`Error`] that names
    /// it and carries the errno (`EINVAL` on a pseudo channel, which has no span).
    #[doc(alias = "DAHDI_SPANSTAT")]
    pub fn span_info(&self) -> Result<SpanInfo> {
        crate::span::spanstat(self.raw(), &self.path, 0)
    }

    /// Prints the channel's state to the kernel log (`DAHDI_CHANDIAG`).
    ///
    /// # Errors
    ///
    /// As [`number`](Self::number); then the kernel's refusal of `DAHDI_CHANDIAG`.
    #[doc(alias = "DAHDI_CHANDIAG")]
    pub fn chan_diag(&self) -> Result<()> {
        let n = self.number()?;
        self.set_int(ioctl::DAHDI_CHANDIAG, sys::dahdi_chandiag, n)
    }

    // ---- tones and dialling ------------------------------------------

    /// Plays a tone of the channel's tone zone (`DAHDI_SENDTONE`);
    /// needs a loaded zone ([`ErrorKind::NoToneZone`] otherwise).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for a DTMF tone of a character that is no digit;
    /// [`ErrorKind::NoToneZone`] when no zone is loaded,
    /// [`ErrorKind::NoSuchTone`] when the zone lacks the
    /// tone.
    #[doc(alias = "DAHDI_SENDTONE")]
    pub fn send_tone(&self, tone: Tone) -> Result<()> {
        let raw = tone.to_raw().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument(format!("{tone:?} is not a tone")),
                ioctl::DAHDI_SENDTONE,
                &self.path,
            )
        })?;
        self.set_int(ioctl::DAHDI_SENDTONE, sys::dahdi_sendtone, raw)
    }

    /// Stops any tone (`DAHDI_SENDTONE` with `DAHDI_TONE_STOP`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SENDTONE`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_SENDTONE")]
    pub fn stop_tone(&self) -> Result<()> {
        self.set_int(
            ioctl::DAHDI_SENDTONE,
            sys::dahdi_sendtone,
            sys::DAHDI_TONE_STOP,
        )
    }

    /// The channel's tone zone number (`DAHDI_GETTONEZONE`), 0 if none.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETTONEZONE`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_GETTONEZONE")]
    pub fn tone_zone(&self) -> Result<i32> {
        self.get_int(ioctl::DAHDI_GETTONEZONE, sys::dahdi_gettonezone)
    }

    /// Uses loaded tone zone `zone` (`DAHDI_SETTONEZONE`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoToneZone`] when zone `zone` is not
    /// loaded; any other refusal of `DAHDI_SETTONEZONE`.
    #[doc(alias = "DAHDI_SETTONEZONE")]
    pub fn set_tone_zone(&self, zone: i32) -> Result<()> {
        self.set_int(ioctl::DAHDI_SETTONEZONE, sys::dahdi_settonezone, zone)
    }

    /// Dials `digits` (`DAHDI_DIAL`), validated first
    /// ([`validate_dial_string`]); an
    /// [`Event::DialComplete`] follows when done. Needs a tone zone.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for a dial string [`validate_dial_string`] refuses;
    /// [`ErrorKind::NoToneZone`] when the channel has no tone
    /// zone; any other refusal of `DAHDI_DIAL`.
    #[doc(alias = "DAHDI_DIAL")]
    pub fn dial(&self, op: DialOp, digits: &str) -> Result<()> {
        let mut d = sys::dahdi_dialoperation::zeroed();
        d.op = op.to_raw();
        if op != DialOp::Cancel {
            validate_dial_string(digits).map_err(|why| {
                Error::new(
                    ErrorKind::InvalidArgument(why),
                    ioctl::DAHDI_DIAL,
                    &self.path,
                )
            })?;
            put_c_string(
                &mut d.dialstr,
                digits,
                "dial string",
                ioctl::DAHDI_DIAL,
                &self.path,
            )?;
        }
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_DIAL, || unsafe {
            sys::dahdi_dial(self.raw(), &d)
        })?;
        Ok(())
    }

    /// Whether digits are still being dialled (`DAHDI_DIALING`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_DIALING`, as an [`Error`] that names it
    /// and carries the errno.
    #[doc(alias = "DAHDI_DIALING")]
    pub fn is_dialing(&self) -> Result<bool> {
        Ok(self.get_int(ioctl::DAHDI_DIALING, sys::dahdi_dialing)? != 0)
    }

    /// Sets the ring cadence (`DAHDI_SETCADENCE`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for more than 16 values; any other refusal of `DAHDI_SETCADENCE`.
    #[doc(alias = "DAHDI_SETCADENCE")]
    pub fn set_ring_cadence(&self, cadence: &RingCadence) -> Result<()> {
        let c = cadence.to_raw(ioctl::DAHDI_SETCADENCE, &self.path)?;
        // SAFETY: valid fd and struct pointer.
        self.call(ioctl::DAHDI_SETCADENCE, || unsafe {
            sys::dahdi_setcadence(self.raw(), &c)
        })?;
        Ok(())
    }

    /// Restores the zone's (or the default) ring cadence
    /// (`DAHDI_SETCADENCE` with a null pointer).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SETCADENCE`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_SETCADENCE")]
    pub fn reset_ring_cadence(&self) -> Result<()> {
        // SAFETY: valid fd; the kernel treats a null argument as "reset".
        self.call(ioctl::DAHDI_SETCADENCE, || unsafe {
            sys::dahdi_setcadence(self.raw(), std::ptr::null())
        })?;
        Ok(())
    }
}

crate::fd::fd_traits!(ChannelFd, fd);

/// So that code taking `impl AsRef<ChannelFd>` serves a `ChannelFd` too.
impl AsRef<ChannelFd> for ChannelFd {
    fn as_ref(&self) -> &ChannelFd {
        self
    }
}

/// As for `AsRef`.
impl AsMut<ChannelFd> for ChannelFd {
    fn as_mut(&mut self) -> &mut ChannelFd {
        self
    }
}

/// `std::io::Read` reads one block per call. A pending event comes back
/// as an `io::Error` of kind `Other` wrapping this crate's [`Error`] with
/// [`ErrorKind::Event`] (see [`Error::event`]): the event has been taken
/// from the queue and no audio was lost, so read again.
impl io::Read for ChannelFd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.read_block(buf)? {
            ReadOutcome::Audio(n) => Ok(n),
            ReadOutcome::Event(e) => {
                Err(Error::new(ErrorKind::Event(e), Op::Read, &self.path).into())
            }
        }
    }
}

/// `std::io::Write` writes at most one block per call, with events
/// reported as for `Read`.
impl io::Write for ChannelFd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.write_block(buf)? {
            WriteOutcome::Written(n) => Ok(n),
            WriteOutcome::Event(e) => {
                Err(Error::new(ErrorKind::Event(e), Op::Write, &self.path).into())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What [`Pseudo`] and [`Channel`] share: the descriptor traits, blocks
/// through `Read`/`Write`, and the composed [`ChannelFd`].
macro_rules! channel_traits {
    ($t:ident) => {
        crate::fd::fd_traits!($t, inner);

        /// One block per call, as [`ChannelFd`]'s `Read`.
        impl io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.inner.read(buf)
            }
        }

        /// At most one block per call, as [`ChannelFd`]'s `Write`.
        impl io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                io::Write::write(&mut self.inner, buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        impl $t {
            /// The channel as a [`ChannelFd`], for code that serves span and
            /// pseudo channels alike.
            pub fn as_channel_fd(&self) -> &ChannelFd {
                &self.inner
            }

            /// Mutable access to the [`ChannelFd`] (linear mode and block
            /// I/O take `&mut`).
            pub fn as_channel_fd_mut(&mut self) -> &mut ChannelFd {
                &mut self.inner
            }
        }

        impl AsRef<ChannelFd> for $t {
            fn as_ref(&self) -> &ChannelFd {
                &self.inner
            }
        }

        impl AsMut<ChannelFd> for $t {
            fn as_mut(&mut self) -> &mut ChannelFd {
                &mut self.inner
            }
        }
    };
}

/// Methods of the composed [`ChannelFd`] that a channel type offers as its
/// own: each line is the method's signature with a summary (and the C
/// names it is found by); the body calls the `ChannelFd` method of the same
/// name, whose documentation is linked, and a method that returns a
/// `Result` gets the `# Errors` section that points there.
macro_rules! forward {
    () => {};
    ($(#[$m:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> Result<$ok:ty>; $($rest:tt)*) => {
        $(#[$m])*
        #[doc = concat!("\n\nSee [`ChannelFd::", stringify!($name), "`].")]
        #[doc = concat!("\n\n# Errors\n\nAs [`ChannelFd::", stringify!($name), "`].")]
        pub fn $name(&self $(, $arg: $ty)*) -> Result<$ok> {
            self.inner.$name($($arg),*)
        }
        forward!($($rest)*);
    };
    ($(#[$m:meta])* fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> Result<$ok:ty>; $($rest:tt)*) => {
        $(#[$m])*
        #[doc = concat!("\n\nSee [`ChannelFd::", stringify!($name), "`].")]
        #[doc = concat!("\n\n# Errors\n\nAs [`ChannelFd::", stringify!($name), "`].")]
        pub fn $name(&mut self $(, $arg: $ty)*) -> Result<$ok> {
            self.inner.$name($($arg),*)
        }
        forward!($($rest)*);
    };
    ($(#[$m:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; $($rest:tt)*) => {
        $(#[$m])*
        #[doc = concat!("\n\nSee [`ChannelFd::", stringify!($name), "`].")]
        pub fn $name(&self $(, $arg: $ty)*) -> $ret {
            self.inner.$name($($arg),*)
        }
        forward!($($rest)*);
    };
}

/// What pseudo and span channels both offer, forwarded to [`ChannelFd`]:
/// modes, buffers, block I/O, events, conferences, gains, tones and
/// dialling.
macro_rules! forward_common {
    () => {
        forward! {
            /// The device node the channel was opened through.
            fn path(&self) -> &Path;
            /// Non-blocking (`true`) or blocking I/O.
            fn set_nonblocking(&self, on: bool) -> Result<()>;
            /// Whether the fd is in non-blocking mode.
            fn is_nonblocking(&self) -> bool;
            /// Signed 16-bit linear samples (`true`) or companded bytes.
            #[doc(alias = "DAHDI_SETLINEAR")]
            fn set_linear(&mut self, on: bool) -> Result<()>;
            /// Whether linear mode was set through this handle.
            fn is_linear(&self) -> bool;
            /// Sets the companding law until close.
            #[doc(alias = "DAHDI_SETLAW")]
            fn set_law(&self, law: Law) -> Result<()>;
            /// Block size in samples.
            #[doc(alias = "DAHDI_GET_BLOCKSIZE")]
            fn blocksize(&self) -> Result<usize>;
            /// Sets the block size in samples (16..=8192).
            #[doc(alias = "DAHDI_SET_BLOCKSIZE")]
            fn set_blocksize(&self, samples: usize) -> Result<()>;
            /// Bytes in one block as read or written now.
            fn block_len(&self) -> Result<usize>;
            /// The buffer configuration.
            #[doc(alias = "DAHDI_GET_BUFINFO")]
            fn buffer_info(&self) -> Result<BufferInfo>;
            /// Sets the buffer configuration, checked first.
            #[doc(alias = "DAHDI_SET_BUFINFO")]
            fn set_buffer_info(&self, info: &BufferInfo) -> Result<()>;
            /// Empties buffers and/or the event queue.
            #[doc(alias = "DAHDI_FLUSH")]
            fn flush(&self, what: Flush) -> Result<()>;
            /// Waits until everything written has been sent.
            #[doc(alias = "DAHDI_SYNC")]
            fn sync(&self) -> Result<()>;
            /// Reads one block, or the event that was pending.
            fn read_block(&mut self, buf: &mut [u8]) -> Result<ReadOutcome>;
            /// Writes at most one block, or returns the event that was pending.
            fn write_block(&mut self, buf: &[u8]) -> Result<WriteOutcome>;
            /// Reads one block of linear samples, or the event that was pending.
            fn read_samples(&mut self, samples: &mut [i16]) -> Result<ReadOutcome>;
            /// Writes at most one block of linear samples, or returns the
            /// event that was pending.
            fn write_samples(&mut self, samples: &[i16]) -> Result<WriteOutcome>;
            /// Takes the oldest queued event.
            #[doc(alias = "DAHDI_GETEVENT")]
            fn event(&self) -> Result<Option<Event>>;
            /// Waits until the channel is ready for any of `interest`.
            fn poll_readiness(&self, interest: Readiness, timeout: Option<Duration>) -> Result<Readiness>;
            /// DAHDI's own wait for the given conditions.
            #[doc(alias = "DAHDI_IOMUX")]
            fn iomux(&self, wait_for: IoMux) -> Result<IoMux>;
            /// Joins DAHDI conference `confno`, hearing nothing of an
            /// earlier one.
            #[doc(alias = "DAHDI_SETCONF")]
            fn join_conference(&self, confno: i32, mode: ConfMode) -> Result<i32>;
            /// Creates a DAHDI conference with a free number and joins it.
            #[doc(alias = "DAHDI_SETCONF")]
            fn create_conference(&self, mode: ConfMode) -> Result<i32>;
            /// Leaves whatever conference or monitor the channel is in.
            #[doc(alias = "DAHDI_SETCONF")]
            fn leave_conference(&self) -> Result<()>;
            /// Monitors span channel `channel` in a monitor mode.
            #[doc(alias = "DAHDI_SETCONF")]
            fn monitor(&self, channel: i32, mode: ConfMode) -> Result<()>;
            /// Sets the conference of another channel by number.
            #[doc(alias = "DAHDI_SETCONF")]
            fn set_conference_of(&self, channel: i32, confno: i32, mode: ConfMode) -> Result<i32>;
            /// This channel's conference membership.
            #[doc(alias = "DAHDI_GETCONF")]
            fn conference(&self) -> Result<ConfInfo>;
            /// Another channel's conference membership.
            #[doc(alias = "DAHDI_GETCONF")]
            fn conference_of(&self, channel: i32) -> Result<ConfInfo>;
            /// Mutes (`true`) the channel's contribution to its conference.
            #[doc(alias = "DAHDI_CONFMUTE")]
            fn set_conf_mute(&self, muted: bool) -> Result<()>;
            /// Whether the channel is conference-muted.
            #[doc(alias = "DAHDI_GETCONFMUTE")]
            fn conf_muted(&self) -> Result<bool>;
            /// Links conference `src` into conference `dst`.
            #[doc(alias = "DAHDI_CONFLINK")]
            fn link_conferences(&self, src: i32, dst: i32) -> Result<()>;
            /// Removes a conference link.
            #[doc(alias = "DAHDI_CONFLINK")]
            fn unlink_conferences(&self, src: i32, dst: i32) -> Result<()>;
            /// Prints conference `confno` (0: all) to the kernel log.
            #[doc(alias = "DAHDI_CONFDIAG")]
            fn conf_diag(&self, confno: i32) -> Result<()>;
            /// The channel's parameters.
            #[doc(alias = "DAHDI_GET_PARAMS")]
            fn params(&self) -> Result<ChannelParams>;
            /// The channel's gain tables.
            #[doc(alias = "DAHDI_GETGAINS")]
            fn gains(&self) -> Result<Gains>;
            /// Sets the channel's gain tables.
            #[doc(alias = "DAHDI_SETGAINS")]
            fn set_gains(&self, gains: &Gains) -> Result<()>;
            /// Prints the channel's state to the kernel log.
            #[doc(alias = "DAHDI_CHANDIAG")]
            fn chan_diag(&self) -> Result<()>;
            /// Plays a tone of the channel's tone zone.
            #[doc(alias = "DAHDI_SENDTONE")]
            fn send_tone(&self, tone: Tone) -> Result<()>;
            /// Stops any tone.
            #[doc(alias = "DAHDI_SENDTONE")]
            fn stop_tone(&self) -> Result<()>;
            /// The channel's tone zone number.
            #[doc(alias = "DAHDI_GETTONEZONE")]
            fn tone_zone(&self) -> Result<i32>;
            /// Uses loaded tone zone `zone`.
            #[doc(alias = "DAHDI_SETTONEZONE")]
            fn set_tone_zone(&self, zone: i32) -> Result<()>;
            /// Dials `digits`, validated first.
            #[doc(alias = "DAHDI_DIAL")]
            fn dial(&self, op: DialOp, digits: &str) -> Result<()>;
            /// Whether digits are still being dialled.
            #[doc(alias = "DAHDI_DIALING")]
            fn is_dialing(&self) -> Result<bool>;
        }
    };
}

/// A pseudo channel: every open of `/dev/dahdi/pseudo` creates one, with
/// no span or hardware behind it, numbered from 32768. Pseudo channels
/// carry audio into and out of conferences, play tones, and are paced in
/// real time by DAHDI's timing source.
#[derive(Debug)]
pub struct Pseudo {
    inner: ChannelFd,
}

channel_traits!(Pseudo);

/// A pseudo channel has no span: [`ChannelFd`]'s span information,
/// timing parameters and ring cadence do not apply, so they are not here.
impl Pseudo {
    forward_common!();

    /// The pseudo channel's number, 32768 and up (`DAHDI_CHANNO`).
    ///
    /// # Errors
    ///
    /// As [`ChannelFd::number`].
    #[doc(alias = "DAHDI_CHANNO")]
    pub fn number(&self) -> Result<i32> {
        self.inner.number()
    }
}

impl Pseudo {
    /// Opens a new pseudo channel, blocking mode.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ModuleNotLoaded`] when
    /// `/dev/dahdi/pseudo` is missing,
    /// [`ErrorKind::PermissionDenied`],
    /// [`ErrorKind::OutOfResources`] beyond the module's
    /// `max_pseudo_channels`.
    pub fn open() -> Result<Pseudo> {
        Self::open_with(false)
    }

    /// Opens a new pseudo channel in non-blocking mode.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ModuleNotLoaded`] when
    /// `/dev/dahdi/pseudo` is missing,
    /// [`ErrorKind::PermissionDenied`],
    /// [`ErrorKind::OutOfResources`] beyond the module's
    /// `max_pseudo_channels`.
    pub fn open_nonblocking() -> Result<Pseudo> {
        Self::open_with(true)
    }

    fn open_with(nonblocking: bool) -> Result<Pseudo> {
        let path = PathBuf::from(sys::DAHDI_PSEUDO_PATH);
        let fd = open_node(&path, nonblocking, NodeKind::Fixed)?;
        Ok(Pseudo {
            inner: ChannelFd::new(fd, path),
        })
    }
}

/// A span channel (a timeslot of a line, an analog port, a channel of a
/// dynamic span). Only one file descriptor may have a channel open at a
/// time, and the channel must have signalling configured.
#[derive(Debug)]
pub struct Channel {
    inner: ChannelFd,
    number: i32,
}

channel_traits!(Channel);

/// What a span channel shares with a pseudo channel, plus what needs a
/// span: its parameters' timing fields, its span's status and its ring
/// cadence.
impl Channel {
    forward_common!();

    forward! {
        /// Sets the timing fields of the channel's parameters.
        #[doc(alias = "DAHDI_SET_PARAMS")]
        fn set_params(&self, params: &ChannelParams) -> Result<()>;
        /// Status of the span this channel belongs to.
        #[doc(alias = "DAHDI_SPANSTAT")]
        fn span_info(&self) -> Result<SpanInfo>;
        /// Sets the ring cadence.
        #[doc(alias = "DAHDI_SETCADENCE")]
        fn set_ring_cadence(&self, cadence: &RingCadence) -> Result<()>;
        /// Restores the zone's (or the default) ring cadence.
        #[doc(alias = "DAHDI_SETCADENCE")]
        fn reset_ring_cadence(&self) -> Result<()>;
    }
}

impl Channel {
    /// Opens channel `number` the way chan_dahdi does: `/dev/dahdi/channel`
    /// then `DAHDI_SPECIFY` (blocking mode).
    ///
    /// Errors: [`ErrorKind::NoSuchChannel`], [`ErrorKind::ChannelNotConfigured`],
    /// [`ErrorKind::ChannelBusy`], [`ErrorKind::ModuleNotLoaded`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`],
    /// [`ErrorKind::ChannelNotConfigured`] (no
    /// signalling), [`ErrorKind::ChannelBusy`] (open
    /// elsewhere, or a slave of a bundle),
    /// [`ErrorKind::ModuleNotLoaded`],
    /// [`ErrorKind::PermissionDenied`].
    #[doc(alias = "DAHDI_SPECIFY")]
    pub fn open(number: i32) -> Result<Channel> {
        Self::open_specify(number, false)
    }

    /// As [`open`](Self::open), in non-blocking mode (as chan_dahdi opens).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`],
    /// [`ErrorKind::ChannelNotConfigured`] (no
    /// signalling), [`ErrorKind::ChannelBusy`] (open
    /// elsewhere, or a slave of a bundle),
    /// [`ErrorKind::ModuleNotLoaded`],
    /// [`ErrorKind::PermissionDenied`].
    #[doc(alias = "DAHDI_SPECIFY")]
    pub fn open_nonblocking(number: i32) -> Result<Channel> {
        Self::open_specify(number, true)
    }

    fn open_specify(number: i32, nonblocking: bool) -> Result<Channel> {
        let path = PathBuf::from(sys::DAHDI_CHANNEL_PATH);
        if number <= 0 {
            return Err(Error::new(
                ErrorKind::NoSuchChannel(number),
                ioctl::DAHDI_SPECIFY,
                &path,
            ));
        }
        let fd = open_node(&path, nonblocking, NodeKind::Fixed)?;
        let raw = fd.as_raw_fd();
        // SAFETY: valid fd and pointer to a live int.
        ioctl(&path, ioctl::DAHDI_SPECIFY, Some(number), || unsafe {
            sys::dahdi_specify(raw, &number)
        })?;
        Ok(Channel {
            inner: ChannelFd::new(fd, path),
            number,
        })
    }

    /// The node of channel `chanpos` of span `span`:
    /// `/dev/dahdi/chan/SSS/CCC` (three digits each).
    pub fn node_path(span: u32, chanpos: u32) -> PathBuf {
        PathBuf::from(format!("{}/{span:03}/{chanpos:03}", sys::DAHDI_CHAN_DIR))
    }

    /// Opens a channel through its own node, `/dev/dahdi/chan/SSS/CCC`
    /// (created by udev or devtmpfs for every registered channel of an
    /// assigned span).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`] when the node does not
    /// exist, [`ErrorKind::ChannelNotConfigured`],
    /// [`ErrorKind::ChannelBusy`],
    /// [`ErrorKind::PermissionDenied`]; then the
    /// kernel's refusal of `DAHDI_CHANNO`.
    pub fn open_by_position(span: u32, chanpos: u32) -> Result<Channel> {
        Self::open_path(Self::node_path(span, chanpos), false)
    }

    /// Opens a channel node by path (`/dev/dahdi/chan/SSS/CCC`, or a
    /// legacy `/dev/dahdi/N`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`] when the node does not
    /// exist, [`ErrorKind::ChannelNotConfigured`],
    /// [`ErrorKind::ChannelBusy`],
    /// [`ErrorKind::PermissionDenied`]; then the
    /// kernel's refusal of `DAHDI_CHANNO`.
    pub fn open_path(path: impl Into<PathBuf>, nonblocking: bool) -> Result<Channel> {
        let path = path.into();
        let fd = open_node(&path, nonblocking, NodeKind::Channel(0))?;
        let mut c = Channel {
            inner: ChannelFd::new(fd, path),
            number: 0,
        };
        c.number = c.inner.number()?;
        Ok(c)
    }

    /// The channel's number (known at open).
    pub fn channel_number(&self) -> i32 {
        self.number
    }

    fn set_int(
        &self,
        op: Ioctl,
        f: unsafe fn(c_int, *const c_int) -> nix::Result<c_int>,
        v: i32,
    ) -> Result<()> {
        self.inner.set_int(op, f, v)
    }

    /// A hook operation (`DAHDI_HOOK`) on an FXS/FXO/E&M channel. In
    /// blocking mode `Wink` and `Flash` wait until done; in non-blocking
    /// mode `Start`, `Ring`, `Wink` and `Flash` return at once (the kernel
    /// says `EINPROGRESS`, which is success here) and finish with
    /// [`Event::HookComplete`] where the kernel sends one. `Ring` and
    /// `Start` need a tone zone.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for an operation
    /// the channel's signalling does not have (`EINVAL`: clear or CAS channels) or that its
    /// hook state does not allow now (`EBUSY`);
    /// [`ErrorKind::NoToneZone`] for `Ring` or `Start`
    /// without a tone zone; any other refusal of `DAHDI_HOOK`.
    #[doc(alias = "DAHDI_HOOK")]
    pub fn hook(&self, op: Hook) -> Result<()> {
        let v = op.to_raw();
        let raw = self.inner.raw();
        match ioctl(
            &self.inner.path,
            ioctl::DAHDI_HOOK,
            Some(self.number),
            || {
                // SAFETY: valid fd and int pointer.
                unsafe { sys::dahdi_hook(raw, &v) }
            },
        ) {
            Err(e) if e.errno() == Some(Errno::EINPROGRESS) => Ok(()),
            Err(e) if e.errno() == Some(Errno::EBUSY) => Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "{op:?} is not possible in the channel's current hook state"
                )),
                ioctl::DAHDI_HOOK,
                &self.inner.path,
            )
            .with_errno(Errno::EBUSY)),
            Err(e) if e.errno() == Some(Errno::EINVAL) => Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "{op:?} needs FXS, FXO or E&M signalling (not clear or CAS)"
                )),
                ioctl::DAHDI_HOOK,
                &self.inner.path,
            )
            .with_errno(Errno::EINVAL)),
            other => other.map(|_| ()),
        }
    }

    /// Sets the transmitted CAS bits (`DAHDI_SETTXBITS`, CAS channels).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SETTXBITS`, as an [`Error`] that names
    /// it and carries the errno (`EINVAL` unless the channel has CAS signalling).
    #[doc(alias = "DAHDI_SETTXBITS")]
    pub fn set_tx_bits(&self, bits: u8) -> Result<()> {
        self.set_int(ioctl::DAHDI_SETTXBITS, sys::dahdi_settxbits, bits as i32)
    }

    /// The received CAS bits (`DAHDI_GETRXBITS`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETRXBITS`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_GETRXBITS")]
    pub fn rx_bits(&self) -> Result<u8> {
        Ok(self
            .inner
            .get_int(ioctl::DAHDI_GETRXBITS, sys::dahdi_getrxbits)? as u8)
    }

    /// Switches a clear channel between audio (`true`) and data mode
    /// (`DAHDI_AUDIOMODE`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_AUDIOMODE`, as an [`Error`] that names
    /// it and carries the errno (`EINVAL` unless the channel's signalling is clear).
    #[doc(alias = "DAHDI_AUDIOMODE")]
    pub fn set_audio_mode(&self, audio: bool) -> Result<()> {
        self.set_int(ioctl::DAHDI_AUDIOMODE, sys::dahdi_audiomode, audio as i32)
    }

    /// Enables the echo canceller with `taps` taps (0 disables)
    /// (`DAHDI_ECHOCANCEL`). Needs an echo canceller attached with
    /// [`crate::Ctl::attach_echocan`].
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_ECHOCANCEL`, as an [`Error`] that names
    /// it and carries the errno (`EINVAL` without an echo canceller attached).
    #[doc(alias = "DAHDI_ECHOCANCEL")]
    pub fn set_echo_cancel(&self, taps: u32) -> Result<()> {
        self.set_int(ioctl::DAHDI_ECHOCANCEL, sys::dahdi_echocancel, taps as i32)
    }

    /// Enables the echo canceller with parameters
    /// (`DAHDI_ECHOCANCEL_PARAMS`), validated first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for parameters [`EchoCanParams::validate`] refuses; any other refusal of
    /// `DAHDI_ECHOCANCEL_PARAMS`.
    #[doc(alias = "DAHDI_ECHOCANCEL_PARAMS")]
    pub fn set_echo_cancel_params(&self, params: &EchoCanParams) -> Result<()> {
        let op = ioctl::DAHDI_ECHOCANCEL_PARAMS;
        params
            .validate()
            .map_err(|why| Error::new(ErrorKind::InvalidArgument(why), op, &self.inner.path))?;
        #[repr(C)]
        struct Req {
            head: sys::dahdi_echocanparams,
            params: [sys::dahdi_echocanparam; sys::DAHDI_MAX_ECHOCANPARAMS as usize],
        }
        let mut req = Req {
            head: sys::dahdi_echocanparams::zeroed(),
            params: [sys::dahdi_echocanparam::zeroed(); sys::DAHDI_MAX_ECHOCANPARAMS as usize],
        };
        req.head.tap_length = params.tap_length;
        req.head.param_count = params.params.len() as u32;
        for (slot, (name, value)) in req.params.iter_mut().zip(&params.params) {
            put_c_string(&mut slot.name, name, "parameter name", op, &self.inner.path)?;
            slot.value = *value;
        }
        let raw = self.inner.raw();
        // SAFETY: the header is followed in memory by param_count records,
        // as the kernel reads them.
        ioctl(&self.inner.path, op, None, || unsafe {
            sys::dahdi_echocancel_params(raw, &req.head)
        })?;
        Ok(())
    }

    /// Starts echo canceller training after `ms` ms (`DAHDI_ECHOTRAIN`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_ECHOTRAIN`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_ECHOTRAIN")]
    pub fn echo_train(&self, ms: u32) -> Result<()> {
        self.set_int(ioctl::DAHDI_ECHOTRAIN, sys::dahdi_echotrain, ms as i32)
    }

    /// Puts the echo canceller in fax mode (`DAHDI_ECHOCANCEL_FAX_MODE`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_ECHOCANCEL_FAX_MODE`, as an [`Error`]
    /// that names it and carries the errno.
    #[doc(alias = "DAHDI_ECHOCANCEL_FAX_MODE")]
    pub fn set_echocan_fax_mode(&self, fax: bool) -> Result<()> {
        self.set_int(
            ioctl::DAHDI_ECHOCANCEL_FAX_MODE,
            sys::dahdi_echocancel_fax_mode,
            fax as i32,
        )
    }

    /// Loops received audio back to transmit (`DAHDI_LOOPBACK`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_LOOPBACK`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_LOOPBACK")]
    pub fn set_loopback(&self, on: bool) -> Result<()> {
        self.set_int(ioctl::DAHDI_LOOPBACK, sys::dahdi_loopback, on as i32)
    }

    /// Enables [`Event::ReadOverrun`]/[`Event::WriteUnderrun`]
    /// (`DAHDI_BUFFER_EVENTS`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_BUFFER_EVENTS`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_BUFFER_EVENTS")]
    pub fn set_buffer_events(&self, on: bool) -> Result<()> {
        self.set_int(
            ioctl::DAHDI_BUFFER_EVENTS,
            sys::dahdi_buffer_events,
            on as i32,
        )
    }

    /// Freezes (`true`) signalling changes (`DAHDI_SETSIGFREEZE`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SETSIGFREEZE`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_SETSIGFREEZE")]
    pub fn set_sig_freeze(&self, on: bool) -> Result<()> {
        self.set_int(
            ioctl::DAHDI_SETSIGFREEZE,
            sys::dahdi_setsigfreeze,
            on as i32,
        )
    }

    /// Whether signalling is frozen (`DAHDI_GETSIGFREEZE`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETSIGFREEZE`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_GETSIGFREEZE")]
    pub fn sig_freeze(&self) -> Result<bool> {
        Ok(self
            .inner
            .get_int(ioctl::DAHDI_GETSIGFREEZE, sys::dahdi_getsigfreeze)?
            != 0)
    }

    /// Hardware DTMF detection (`DAHDI_TONEDETECT`), implemented by some
    /// span drivers only ([`ErrorKind::NotSupported`] elsewhere).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotSupported`] from drivers without
    /// hardware tone detection; any other refusal of `DAHDI_TONEDETECT`.
    #[doc(alias = "DAHDI_TONEDETECT")]
    pub fn set_tone_detect(&self, mode: ToneDetect) -> Result<()> {
        self.set_int(ioctl::DAHDI_TONEDETECT, sys::dahdi_tonedetect, mode.bits())
    }

    /// Line polarity, reversed (`true`) or forward (`DAHDI_SETPOLARITY`,
    /// driver-implemented).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotSupported`] from drivers that do not
    /// implement it; any other refusal of `DAHDI_SETPOLARITY`.
    #[doc(alias = "DAHDI_SETPOLARITY")]
    pub fn set_polarity(&self, reverse: bool) -> Result<()> {
        self.set_int(
            ioctl::DAHDI_SETPOLARITY,
            sys::dahdi_setpolarity,
            reverse as i32,
        )
    }

    /// On-hook transfer for `ms` ms (`DAHDI_ONHOOKTRANSFER`,
    /// driver-implemented).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotSupported`] from drivers that do not
    /// implement it; any other refusal of `DAHDI_ONHOOKTRANSFER`.
    #[doc(alias = "DAHDI_ONHOOKTRANSFER")]
    pub fn onhook_transfer(&self, ms: u32) -> Result<()> {
        self.set_int(
            ioctl::DAHDI_ONHOOKTRANSFER,
            sys::dahdi_onhooktransfer,
            ms as i32,
        )
    }
}
