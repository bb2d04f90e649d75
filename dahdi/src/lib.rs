//! Safe Rust API over DAHDI, the Linux telephony driver.
//!
//! # DAHDI's device model
//!
//! DAHDI (the kernel modules `dahdi`, plus one per board type) exposes
//! telephony lines as character devices under `/dev/dahdi/`:
//!
//! * A **span** is one line interface: a T1/E1 trunk, a group of analog
//!   ports, or a *dynamic* span carried over Ethernet or looped back in
//!   the kernel (`loc`, no hardware at all). A span belongs to a
//!   **device** (a board) and must be *assigned* a span number and a first
//!   channel number before its channels exist; the module parameter
//!   `auto_assign_spans` says whether that happens by itself (Debian sets
//!   it to 0; then [`Sysfs::auto_assign`] or dahdi_span_assignments does
//!   it).
//! * A span carries **channels**, numbered globally from 1. A channel is
//!   unusable until it is given **signalling** (`DAHDI_CHANCONFIG`: FXS/FXO
//!   analog signalling, E&M, CAS, or *clear* for data and plain audio);
//!   that is what dahdi_cfg does from `/etc/dahdi/system.conf`, and what
//!   [`Ctl::configure_channel`] does here. A configured channel is opened
//!   by one file descriptor at a time, as a [`Channel`].
//! * **Pseudo channels** ([`Pseudo`]) need no span: every open of
//!   `/dev/dahdi/pseudo` creates one (numbered from 32768). They carry
//!   audio into and out of **conferences**, which the kernel mixes every
//!   millisecond.
//! * **Timers** ([`Timer`]) are file descriptors that signal `POLLPRI`
//!   at a programmed rate, from DAHDI's timing source.
//! * **`/dev/dahdi/ctl`** ([`Ctl`]) configures spans and channels, creates
//!   dynamic spans, loads tone zones and reports span status and the
//!   driver version.
//!
//! Audio is 8 kHz, stored in the kernel as G.711 (mu-law or A-law) bytes
//! and moved in **blocks** (1024 samples after open; Asterisk uses 160 =
//! 20 ms): one `read` returns one block, one `write` takes one. In
//! *linear* mode ([`ChannelFd::set_linear`]) the kernel converts to and
//! from signed 16-bit samples at the boundary. Signalling (hook changes,
//! dialling complete, alarms...) arrives as [`Event`]s: a pending event
//! makes `read` and `write` fail with `ELAST` before they touch audio, and
//! the channel polls with `POLLPRI`; this crate turns that into
//! [`ReadOutcome::Event`] so no audio is ever lost.
//!
//! The crate follows the devices: [`Ctl`], [`Channel`], [`Pseudo`] and
//! [`Timer`] own their file descriptors and implement `AsFd`/`AsRawFd`
//! (for poll/epoll loops: `POLLIN`, `POLLOUT` and `POLLPRI` map to
//! [`Readiness`]); [`Channel`] and [`Pseudo`] implement `Read`/`Write` in
//! blocks, and each composes a [`ChannelFd`] (the operations the kernel
//! accepts on any channel) and offers what makes sense for its kind;
//! [`Sysfs`] reads the device, span and channel lists. Every failure is an
//! [`Error`] that names the operation (an ioctl by its C name, from
//! dahdi-sys's table), the device and the errno, and says what to do where
//! it can.
//!
//! Every method that issues an ioctl is found in this documentation by the
//! ioctl's C name: search for `DAHDI_SETCONF` and the conference methods
//! come up. The ioctls no method wraps are listed, each with its reason, in
//! [`RAW_ONLY_IOCTLS`].
//!
//! # Cargo features: pay for what you use
//!
//! | feature | what it adds | dependencies it adds |
//! |---|---|---|
//! | *(none: the default)* | the bindings: everything on this page | `dahdi-sys`, `nix` (its `ioctl`, `fs` and `poll` parts), `libc`, `bitflags` |
//! | `serde` | `serde::Serialize` for the reports: [`SpanInfo`], [`ChannelParams`], [`Event`], the [`sysfs`] listings... | `serde` and its derive macros |
//! | `audio` | `dahdi::audio`: G.711 codecs and the mix-minus mixer | none |
//! | `pump` | `dahdi::pump`: the real-time channel pump around the mixer (implies `audio`) | `crossbeam-channel`, `crossbeam-utils`, `memmap2`, `thiserror`, `nix` (`event`, `time`) |
//!
//! **The default is the bindings alone.** A dependency on `dahdi` should
//! mean DAHDI: the mixer and the pump are a second product that shares the
//! crate (more than half its code), useful to some users and dead weight to
//! the one who wants to open a channel. What each set costs to build, from
//! clean, on the project's machine (a debug build of this crate and its
//! dependencies; CPU time, which the shared machine's load disturbs least,
//! with wall time in parentheses; median of three runs, the sets
//! interleaved): the bindings alone 6.1 s (6.2 s), 6 crates; `serde`
//! 13.5 s (12.6 s), 13 crates; `audio` 7.6 s (8.2 s), 6 crates; `pump`
//! 14.5 s (17.1 s), 15 crates; everything 20.9 s (21.5 s), 18 crates.
//!
//! Defaults are also the one thing a library cannot take back from its users:
//! Cargo unifies features, so as soon as one crate in a dependency graph asks
//! for `dahdi` with its default features, every other user of `dahdi` in that
//! graph gets them, `default-features = false` notwithstanding. A small
//! default is the only one every user can live with; the rest is one word
//! away (`features = ["pump"]`). `serde` is off for the same reason: its
//! derive macros cost more build time than the bindings themselves, for
//! reports that most programs print rather than serialize.
//!
//! **Why the mixer is a feature of this crate and not a crate of its own.**
//! A feature that is off compiles nothing, exactly like an absent crate, so a
//! separate crate would save no build time. What the mixer shares with the
//! bindings would be split instead: the pump connects the two ([`Channel`]s
//! and [`Pseudo`] channels as ports, [`Timer`] as its clock), the mixer's
//! G.711 mode reproduces the driver's tables and its roles mirror the
//! kernel's conference modes, and all three are tested together on the real
//! driver. One crate keeps them in one version and one documentation, and
//! keeps the workspace to its five parts (dahdi-sys, dahdi, loader, benches,
//! tests). The one thing a crate of its own would give is the mixer on a
//! system without DAHDI (dahdi-sys builds for 64-bit Linux only); should that
//! be needed, `dahdi::audio` moves out unchanged, since it uses nothing of
//! the bindings.
//!
//! **Two kinds of conference.** A *DAHDI conference* is the kernel's:
//! channels join it with `DAHDI_SETCONF` in a [`ConfMode`]
//! ([`ChannelFd::join_conference`], module [`conference`]) and the driver
//! mixes it every millisecond. The `audio` feature's `Mixer` mixes a
//! conference in user space from frames the caller hands it; the pump runs
//! one for its ports. The names keep them apart: "conference" for the
//! kernel's, "mixer" for the crate's own.
//!
//! # Joining a conference
//!
//! Two pseudo channels in one conference: what one says, the other hears.
//! (Needs the `dahdi` module loaded; see the project's `dahdi-loader`.)
//!
//! ```no_run
//! use dahdi::{ConfMode, Pseudo, ReadOutcome};
//!
//! # fn main() -> dahdi::Result<()> {
//! let mut alice = Pseudo::open()?;
//! let mut bob = Pseudo::open()?;
//! for p in [&mut alice, &mut bob] {
//!     p.set_blocksize(160)?; // 20 ms blocks
//!     p.set_linear(true)?; // i16 samples
//! }
//! // Number -1: the kernel picks a free conference and returns it.
//! let conf = alice.create_conference(ConfMode::conference())?;
//! bob.join_conference(conf, ConfMode::conference())?;
//!
//! let tone: Vec<i16> = (0..160)
//!     .map(|n| (8000.0 * (n as f64 * std::f64::consts::PI / 4.0).sin()) as i16)
//!     .collect(); // 1 kHz
//! let mut heard = [0i16; 160];
//! for _ in 0..50 {
//!     alice.write_samples(&tone)?;
//!     match bob.read_samples(&mut heard)? {
//!         ReadOutcome::Audio(n) => println!("bob heard {n} samples"),
//!         ReadOutcome::Event(e) => println!("event {e:?}; the audio is still there"),
//!     }
//! }
//! alice.leave_conference()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Spans without hardware
//!
//! Two `loc` spans with the same key are wired to each other: what one
//! transmits, the other receives. dahdi_cfg makes two such spans of 24
//! channels, each channel a 64 kbit/s clear channel of its own (a B
//! channel), from this `system.conf`:
//!
//! ```text
//! dynamic=loc,1:0,24,0
//! dynamic=loc,1:1,24,0
//! bchan=1-48
//! ```
//!
//! and this makes the same (the guest suite checks that /proc/dahdi, sysfs
//! and dahdi_scan show the same for both, on the real driver):
//!
//! ```no_run
//! use dahdi::{Channel, Ctl, DynamicSpan, Signalling, Sysfs};
//!
//! # fn main() -> dahdi::Result<()> {
//! let ctl = Ctl::open()?;
//! let sysfs = Sysfs::new();
//! let mut ranges = Vec::new();
//! for id in [0, 1] {
//!     let span = DynamicSpan::local(1, id, 24)?;
//!     let mut spanno = ctl.create_dynamic_span(&span)?;
//!     if spanno == 0 {
//!         // auto_assign_spans=0: assign it ourselves.
//!         let dev = sysfs.device_by_hardware_id(&span.span_name())?.expect("device");
//!         sysfs.auto_assign(&dev.name)?;
//!         spanno = sysfs.device(&dev.name)?.assigned_spans[0] as i32;
//!     }
//!     let first = sysfs.span(spanno as u32)?.basechan.expect("channels");
//!     ranges.push(first..=first + ctl.span_info(spanno)?.total_channels - 1);
//! }
//! // bchan=1-48: every channel clear, each on its own.
//! for channels in &ranges {
//!     ctl.configure_channels(channels.clone(), Signalling::Clear)?;
//! }
//! let mut chan = Channel::open(1)?; // /dev/dahdi/channel + DAHDI_SPECIFY
//! // A clear channel starts in data mode: audio (and linear samples) first
//! // needs audio mode, or set_linear fails with ErrorKind::NotAudioMode.
//! chan.set_audio_mode(true)?;
//! chan.set_linear(true)?;
//! # Ok(())
//! # }
//! ```
//!
//! dahdi_cfg's `clear=1-48` is something else: it *bundles* the channels
//! into one wide clear channel, channel 1 the master and 2 to 48 its
//! slaves, which cannot be opened. [`Ctl::configure_bundle`] does that:
//!
//! ```no_run
//! # fn main() -> dahdi::Result<()> {
//! # let ctl = dahdi::Ctl::open()?;
//! ctl.configure_bundle(1..=48, dahdi::Signalling::Clear)?; // clear=1-48
//! assert_eq!(ctl.channel_params_and_master(30)?.1, 1); // 30's master is 1
//! # Ok(())
//! # }
//! ```
//!
//! # What can be computed without the driver
//!
//! Types, limits and decoding are plain Rust:
//!
//! ```
//! use dahdi::{BufferInfo, BufferPolicy, ConfKind, ConfMode, Event};
//!
//! // MeetMe's member mode, and how the kernel encodes it.
//! let m = ConfMode::conference();
//! assert_eq!(m.bits(), 0x304);
//! assert_eq!(m.mode(), ConfKind::Conf);
//!
//! // The kernel's buffer limits, checked before any call.
//! let ok = BufferInfo { tx_policy: BufferPolicy::Immediate, num_bufs: 32, buf_size: 160 };
//! assert!(ok.validate().is_ok());
//! let too_big = BufferInfo { num_bufs: 8, buf_size: 8192, ..ok };
//! assert!(too_big.validate().is_err()); // 65536 > 32768 bytes
//!
//! // Events as DAHDI_GETEVENT returns them: a pulse-dialled 5.
//! assert_eq!(Event::from_raw((1 << 16) | b'5' as i32), Some(Event::PulseDigit('5')));
//! ```

// Every public fallible function says how it fails.
#![warn(clippy::missing_errors_doc)]

#[cfg(feature = "audio")]
pub mod audio;

mod c_enum;
mod channel;
pub mod conference;
mod ctl;
mod error;
mod event;
mod fd;
mod params;
#[cfg(feature = "pump")]
pub mod pump;
mod raw_only;
mod signalling;
mod span;
pub mod sysfs;
mod timer;
pub mod tonezone;

pub use channel::{Channel, ChannelFd, Pseudo, ReadOutcome, WriteOutcome, FIRST_PSEUDO_CHANNEL};
pub use conference::{ConfInfo, ConfKind, ConfMode};
pub use ctl::{ChanConfig, Ctl, DialParams, DynamicSpan, SpanConfig};
pub use error::{Error, ErrorKind, Op, Result};
pub use event::Event;
pub use fd::Readiness;
pub use params::{
    validate_dial_string, BufferInfo, BufferPolicy, ChannelParams, DialOp, EchoCanParams, Flush,
    Gains, IoMux, RingCadence, Tone, ToneDetect, MAX_BLOCKSIZE, MAX_BUF_SPACE, MAX_NUM_BUFS,
    MIN_BLOCKSIZE,
};
pub use raw_only::RAW_ONLY_IOCTLS;
pub use signalling::{Alarms, Hook, Law, LineConfig, SigCaps, Signalling};
pub use span::{SpanInfo, SpanState, Version};
pub use sysfs::Sysfs;
pub use timer::Timer;
pub use tonezone::ToneZone;
