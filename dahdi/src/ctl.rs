//! The control device, `/dev/dahdi/ctl`: version, span status, and the
//! configuration dahdi_cfg applies (dynamic spans, span lines, channel
//! signalling, echo cancellers, tone zones, start-up and shut-down).

use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use dahdi_sys::{self as sys, ioctl, Ioctl};
use libc::c_int;

use crate::error::{Error, ErrorKind, Result};
use crate::fd::{ioctl, open_node, put_c_string, NodeKind};
use crate::params::{ChannelParams, Gains};
use crate::signalling::{Alarms, Law, LineConfig, Signalling};
use crate::span::{spanstat, SpanInfo, Version};
use crate::tonezone::ToneZone;

/// Channel configuration for `DAHDI_CHANCONFIG` (one `system.conf` channel
/// line of dahdi_cfg).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanConfig {
    /// Channel number.
    pub channel: i32,
    /// Signalling to configure (`Signalling::None` unconfigures).
    pub signalling: Signalling,
    /// Default law of the channel (`Law::Default`: the span's).
    pub law: Law,
    /// Master channel, for `Signalling::Slave` (see
    /// [`Ctl::configure_bundle`]).
    pub master: i32,
    /// Idle CAS bits for `Signalling::Cas`, or the peer channel for the
    /// DACS types.
    pub idle_bits: i32,
}

impl ChanConfig {
    /// Channel `channel` with `signalling` and the span's law.
    pub fn new(channel: i32, signalling: Signalling) -> ChanConfig {
        ChanConfig {
            channel,
            signalling,
            law: Law::Default,
            master: 0,
            idle_bits: 0,
        }
    }

    /// Channel `channel` as a slave of channel `master`: bundled with it
    /// into one wider clear or HDLC channel (what dahdi_cfg makes of every
    /// channel of a `clear=` range after the first). The kernel records the
    /// slave with its master's signalling.
    pub fn slave(channel: i32, master: i32) -> ChanConfig {
        ChanConfig {
            master,
            ..ChanConfig::new(channel, Signalling::Slave)
        }
    }
}

/// The signalling that dahdi_cfg bundles: its keywords `clear`, `rawhdlc`,
/// `fcshdlc` and `nethdlc` make the first channel of a range the master
/// and the others its slaves (`chanconfig()` in dahdi_cfg.c).
const BUNDLED: [Signalling; 4] = [
    Signalling::Clear,
    Signalling::HdlcRaw,
    Signalling::HdlcFcs,
    Signalling::HdlcNet,
];

/// Span line configuration for `DAHDI_SPANCONFIG` (a `span=` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanConfig {
    /// Span number.
    pub span: i32,
    /// Timing priority (0: never a timing source).
    pub sync: i32,
    /// Line build-out (0..=7).
    pub lbo: i32,
    /// Framing and coding; must be within the span's `line_compat`.
    pub line_config: LineConfig,
}

/// A dynamic span for `DAHDI_DYNAMIC_CREATE`/`DESTROY` (a `dynamic=` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicSpan {
    /// Driver: `loc`, `eth`, `ethmf`.
    pub driver: String,
    /// Driver-specific address.
    pub address: String,
    /// Channels (1 or more).
    pub channels: i32,
    /// Timing priority (0: never a timing source).
    pub timing: i32,
}

impl DynamicSpan {
    /// A local loopback span of `dahdi_dynamic_loc` (no hardware): address
    /// `<key>:<id>`, each a single hex digit. Two spans with the same key
    /// are connected to each other: what one transmits, the other
    /// receives.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a key or id
    /// above 15.
    pub fn local(key: u8, id: u8, channels: i32) -> Result<DynamicSpan> {
        if key > 15 || id > 15 {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "loc address {key}:{id}: key and id are single hex digits (0..=15)"
                )),
                ioctl::DAHDI_DYNAMIC_CREATE,
                sys::DAHDI_CTL_PATH,
            ));
        }
        Ok(DynamicSpan {
            driver: "loc".into(),
            address: format!("{key:x}:{id:x}"),
            channels,
            timing: 0,
        })
    }

    /// A `loc` span that receives a copy of what span `<key>:<monitored>`
    /// receives (address `<key>:<id>:<monitored>`).
    ///
    /// # Errors
    ///
    /// As [`local`](Self::local), and for a monitored id above 15.
    pub fn local_monitor(key: u8, id: u8, monitored: u8, channels: i32) -> Result<DynamicSpan> {
        let mut d = DynamicSpan::local(key, id, channels)?;
        if monitored > 15 {
            return Err(Error::new(
                ErrorKind::InvalidArgument("monitored id is a single hex digit".into()),
                ioctl::DAHDI_DYNAMIC_CREATE,
                sys::DAHDI_CTL_PATH,
            ));
        }
        d.address.push_str(&format!(":{monitored:x}"));
        Ok(d)
    }

    /// The span name the kernel gives it: `DYN/<driver>/<address>` (also
    /// the device's `hardware_id` in sysfs).
    pub fn span_name(&self) -> String {
        format!("DYN/{}/{}", self.driver, self.address)
    }

    fn to_raw(&self, op: Ioctl, path: &Path) -> Result<sys::dahdi_dynamic_span> {
        let mut d = sys::dahdi_dynamic_span::zeroed();
        put_c_string(&mut d.driver, &self.driver, "driver", op, path)?;
        put_c_string(&mut d.addr, &self.address, "address", op, path)?;
        d.numchans = self.channels;
        d.timing = self.timing;
        Ok(d)
    }
}

/// Global dialling tone lengths (`DAHDI_GET/SET_DIALPARAMS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialParams {
    /// MF R1 digit length.
    pub mfv1_tonelen: i32,
    /// DTMF digit length.
    pub dtmf_tonelen: i32,
    /// MFC/R2 tone length.
    pub mfr2_tonelen: i32,
}

/// `/dev/dahdi/ctl`.
#[derive(Debug)]
pub struct Ctl {
    fd: OwnedFd,
    path: PathBuf,
}

impl Ctl {
    /// Opens `/dev/dahdi/ctl`; [`ErrorKind::ModuleNotLoaded`] if it is
    /// missing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ModuleNotLoaded`] when the node is
    /// missing, [`ErrorKind::PermissionDenied`].
    pub fn open() -> Result<Ctl> {
        Self::open_path(sys::DAHDI_CTL_PATH)
    }

    /// Opens a control node at another path.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ModuleNotLoaded`] when the node is
    /// missing, [`ErrorKind::PermissionDenied`].
    pub fn open_path(path: impl Into<PathBuf>) -> Result<Ctl> {
        let path = path.into();
        let fd = open_node(&path, false, NodeKind::Fixed)?;
        Ok(Ctl { fd, path })
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn set_int(
        &self,
        op: Ioctl,
        subject: Option<i32>,
        f: unsafe fn(c_int, *const c_int) -> nix::Result<c_int>,
        v: i32,
    ) -> Result<()> {
        // SAFETY: valid fd and int pointer.
        ioctl(&self.path, op, subject, || unsafe { f(self.raw(), &v) })?;
        Ok(())
    }

    /// The driver version and its echo cancellers (`DAHDI_GETVERSION`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GETVERSION`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_GETVERSION")]
    pub fn version(&self) -> Result<Version> {
        let mut v = sys::dahdi_versioninfo::zeroed();
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, ioctl::DAHDI_GETVERSION, None, || unsafe {
            sys::dahdi_getversion(self.raw(), &mut v)
        })?;
        Ok(Version::from_raw(&v))
    }

    /// Status of span `span` (`DAHDI_SPANSTAT`); [`ErrorKind::NoSuchSpan`]
    /// if there is none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchSpan`] when there is no span
    /// `span`; any other refusal of `DAHDI_SPANSTAT`.
    #[doc(alias = "DAHDI_SPANSTAT")]
    pub fn span_info(&self, span: i32) -> Result<SpanInfo> {
        if span <= 0 {
            return Err(Error::new(
                ErrorKind::NoSuchSpan(span),
                ioctl::DAHDI_SPANSTAT,
                &self.path,
            ));
        }
        spanstat(self.raw(), &self.path, span)
    }

    /// Status of every assigned span, probing numbers 1..128 as
    /// dahdi_scan does.
    ///
    /// # Errors
    ///
    /// Any refusal of `DAHDI_SPANSTAT` other than "no such span".
    #[doc(alias = "DAHDI_SPANSTAT")]
    pub fn spans(&self) -> Result<Vec<SpanInfo>> {
        let mut v = Vec::new();
        for n in 1..sys::DAHDI_MAX_SPANS {
            match spanstat(self.raw(), &self.path, n) {
                Ok(s) => v.push(s),
                Err(e) if matches!(e.kind(), ErrorKind::NoSuchSpan(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(v)
    }

    /// Parameters of channel `channel` (`DAHDI_GET_PARAMS` on ctl);
    /// [`ErrorKind::NoSuchChannel`] if there is none.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`] when there is no
    /// channel `channel`; any other refusal of `DAHDI_GET_PARAMS`.
    #[doc(alias = "DAHDI_GET_PARAMS")]
    pub fn channel_params(&self, channel: i32) -> Result<ChannelParams> {
        Ok(self.channel_params_and_master(channel)?.0)
    }

    /// Parameters of channel `channel` and the number of its master
    /// channel (itself unless it is a slave), as dahdi_cfg asks
    /// (`DAHDI_GET_PARAMS_RETURN_MASTER`).
    ///
    /// # Errors
    ///
    /// As [`channel_params`](Self::channel_params).
    #[doc(alias = "DAHDI_GET_PARAMS")]
    pub fn channel_params_and_master(&self, channel: i32) -> Result<(ChannelParams, i32)> {
        if channel <= 0 || channel > 0xffff {
            return Err(Error::new(
                ErrorKind::NoSuchChannel(channel),
                ioctl::DAHDI_GET_PARAMS,
                &self.path,
            ));
        }
        let mut p = sys::dahdi_params::zeroed();
        p.channo = channel | sys::DAHDI_GET_PARAMS_RETURN_MASTER;
        // SAFETY: valid fd and struct pointer.
        ioctl(
            &self.path,
            ioctl::DAHDI_GET_PARAMS,
            Some(channel),
            || unsafe { sys::dahdi_get_params(self.raw(), &mut p) },
        )?;
        let master = (p.channo >> 16) & 0xffff;
        Ok((ChannelParams::from_raw(&p), master))
    }

    /// Gain tables of channel `channel` (`DAHDI_GETGAINS` on ctl).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchChannel`] when there is no
    /// channel `channel`; any other refusal of `DAHDI_GETGAINS`.
    #[doc(alias = "DAHDI_GETGAINS")]
    pub fn channel_gains(&self, channel: i32) -> Result<Gains> {
        let mut g = sys::dahdi_gains::zeroed();
        g.chan = channel;
        // SAFETY: valid fd and struct pointer.
        ioctl(
            &self.path,
            ioctl::DAHDI_GETGAINS,
            Some(channel),
            || unsafe { sys::dahdi_getgains(self.raw(), &mut g) },
        )?;
        Ok(Gains {
            rx: g.rxgain,
            tx: g.txgain,
        })
    }

    /// Configures a span's line (`DAHDI_SPANCONFIG`). The framing and
    /// coding must be among the span's `line_compat` (`EINVAL` otherwise).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchSpan`]; `EINVAL` for framing and
    /// coding outside the span's `line_compat`; any other refusal of `DAHDI_SPANCONFIG`.
    #[doc(alias = "DAHDI_SPANCONFIG")]
    pub fn configure_span(&self, cfg: &SpanConfig) -> Result<()> {
        let mut lc = sys::dahdi_lineconfig::zeroed();
        lc.span = cfg.span;
        lc.lbo = cfg.lbo;
        lc.lineconfig = cfg.line_config.bits() as i32;
        lc.sync = cfg.sync;
        // SAFETY: valid fd and struct pointer.
        ioctl(
            &self.path,
            ioctl::DAHDI_SPANCONFIG,
            Some(cfg.span),
            || unsafe { sys::dahdi_spanconfig(self.raw(), &lc) },
        )?;
        Ok(())
    }

    /// Configures a channel's signalling and law (`DAHDI_CHANCONFIG`).
    /// Configuring also hangs the channel up.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a channel that
    /// does not exist or cannot take the signalling (`EINVAL`, also for a slave whose
    /// master does not exist);
    /// [`ErrorKind::NotCompiledIn`] for HDLC network
    /// channels without `CONFIG_DAHDI_NET`; any other refusal of `DAHDI_CHANCONFIG`.
    #[doc(alias = "DAHDI_CHANCONFIG")]
    pub fn configure_channel(&self, cfg: &ChanConfig) -> Result<()> {
        let mut cc = sys::dahdi_chanconfig::zeroed();
        cc.chan = cfg.channel;
        cc.sigtype = cfg.signalling.to_raw();
        cc.deflaw = cfg.law.to_raw();
        cc.master = cfg.master;
        cc.idlebits = cfg.idle_bits;
        // SAFETY: valid fd and struct pointer.
        ioctl(
            &self.path,
            ioctl::DAHDI_CHANCONFIG,
            Some(cfg.channel),
            || unsafe { sys::dahdi_chanconfig(self.raw(), &cc) },
        )?;
        Ok(())
    }

    /// Gives each channel of `channels` the signalling `signalling`, each a
    /// channel of its own (`DAHDI_CHANCONFIG` per channel, in order): what
    /// dahdi_cfg does for `bchan=first-last` with [`Signalling::Clear`]
    /// (each a 64 kbit/s B channel), and for the other per-channel keywords
    /// (`fxsks=`, `fxoks=`, `e&m=`, `cas=`..., `dchan=` with
    /// [`Signalling::HdlcFcs`]). dahdi_cfg's `clear=` is not this: it
    /// bundles the channels, as [`configure_bundle`](Self::configure_bundle)
    /// does. Configuring a slave on its own takes it out of its bundle.
    ///
    /// dahdi_cfg also opens every channel once afterwards (to set its HDLC
    /// rate), and opening a channel sets its timing parameters
    /// ([`ChannelParams`]' wink, flash, debounce... times) to the kernel's
    /// defaults; until a channel is first opened they read 0. Nothing else
    /// differs.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for an empty range or channel numbers
    /// below 1 (before any call), or [`Signalling::Slave`] (a slave needs a
    /// master: see [`configure_bundle`](Self::configure_bundle)); then as
    /// [`configure_channel`](Self::configure_channel), for the first
    /// channel that fails (those before it keep their new signalling).
    #[doc(alias = "DAHDI_CHANCONFIG")]
    pub fn configure_channels(
        &self,
        channels: RangeInclusive<i32>,
        signalling: Signalling,
    ) -> Result<()> {
        self.check_range(&channels)?;
        if signalling == Signalling::Slave {
            return Err(Error::new(
                ErrorKind::InvalidArgument(
                    "a slave needs a master: bundle channels with configure_bundle".into(),
                ),
                ioctl::DAHDI_CHANCONFIG,
                &self.path,
            ));
        }
        for channel in channels {
            self.configure_channel(&ChanConfig::new(channel, signalling))?;
        }
        Ok(())
    }

    /// Bundles `channels` into one channel, as dahdi_cfg does for
    /// `clear=first-last` (and `rawhdlc=`, `fcshdlc=`, `nethdlc=` with the
    /// HDLC signalling): the first channel becomes the master, with
    /// `signalling`, and every other one its slave
    /// ([`ChanConfig::slave`]), in that order. The kernel records the
    /// slaves with the master's signalling; only the master can be opened
    /// (a slave is [`ErrorKind::ChannelBusy`]), and
    /// [`channel_params_and_master`](Self::channel_params_and_master) reports
    /// the master of each. The kernel links into the master's data path
    /// only the slaves of the master's own span; a range that crosses spans
    /// (`clear=1-48` over two spans of 24) still makes the later span's
    /// channels slaves of the first, as dahdi_cfg does.
    ///
    /// To undo a bundle, give its channels signalling of their own with
    /// [`configure_channels`](Self::configure_channels).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for an empty range, channel numbers
    /// below 1, or a signalling dahdi_cfg does not bundle (only clear and
    /// the HDLC kinds), before any call; then as
    /// [`configure_channel`](Self::configure_channel), for the first
    /// channel that fails (those before it keep their new configuration).
    #[doc(alias = "DAHDI_CHANCONFIG")]
    pub fn configure_bundle(
        &self,
        channels: RangeInclusive<i32>,
        signalling: Signalling,
    ) -> Result<()> {
        self.check_range(&channels)?;
        if !BUNDLED.contains(&signalling) {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "{signalling:?} channels are not bundled; dahdi_cfg bundles Clear, HdlcRaw, \
                     HdlcFcs and HdlcNet only (use configure_channels)"
                )),
                ioctl::DAHDI_CHANCONFIG,
                &self.path,
            ));
        }
        let master = *channels.start();
        self.configure_channel(&ChanConfig::new(master, signalling))?;
        for channel in master + 1..=*channels.end() {
            self.configure_channel(&ChanConfig::slave(channel, master))?;
        }
        Ok(())
    }

    fn check_range(&self, channels: &RangeInclusive<i32>) -> Result<()> {
        if channels.is_empty() || *channels.start() < 1 {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "channels {}..={}: the range must hold channel numbers from 1",
                    channels.start(),
                    channels.end()
                )),
                ioctl::DAHDI_CHANCONFIG,
                &self.path,
            ));
        }
        Ok(())
    }

    /// Starts span `span` (`DAHDI_STARTUP`): marks it running and hangs up
    /// its channels. Starting a running span does nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchSpan`]; any other refusal of
    /// `DAHDI_STARTUP`.
    #[doc(alias = "DAHDI_STARTUP")]
    pub fn startup(&self, span: i32) -> Result<()> {
        self.set_int(ioctl::DAHDI_STARTUP, Some(span), sys::dahdi_startup, span)
    }

    /// Shuts span `span` down (`DAHDI_SHUTDOWN`): unconfigures every
    /// channel's signalling and clears the running flag.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchSpan`]; any other refusal of
    /// `DAHDI_SHUTDOWN`.
    #[doc(alias = "DAHDI_SHUTDOWN")]
    pub fn shutdown(&self, span: i32) -> Result<()> {
        self.set_int(ioctl::DAHDI_SHUTDOWN, Some(span), sys::dahdi_shutdown, span)
    }

    /// Creates a dynamic span (`DAHDI_DYNAMIC_CREATE`) and returns its span
    /// number, which is 0 when the driver leaves spans unassigned
    /// (`auto_assign_spans=0`, Debian's default): assign it through
    /// [`crate::Sysfs`] then.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for fewer than one
    /// channel, a driver or address too long, or what the driver refuses (`EINVAL`);
    /// [`ErrorKind::DynamicNotLoaded`];
    /// [`ErrorKind::SpanExists`].
    #[doc(alias = "DAHDI_DYNAMIC_CREATE")]
    pub fn create_dynamic_span(&self, span: &DynamicSpan) -> Result<i32> {
        let op = ioctl::DAHDI_DYNAMIC_CREATE;
        if span.channels < 1 {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "a dynamic span needs at least 1 channel, not {}",
                    span.channels
                )),
                op,
                &self.path,
            ));
        }
        let mut d = span.to_raw(op, &self.path)?;
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, op, None, || unsafe {
            sys::dahdi_dynamic_create(self.raw(), &mut d)
        })
        .map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EINVAL) {
                Error::new(
                    ErrorKind::InvalidArgument(format!(
                        "driver {:?} refused address {:?} (unknown driver, bad address, \
                         duplicate id or too many channels)",
                        span.driver, span.address
                    )),
                    op,
                    &self.path,
                )
                .with_errno(nix::errno::Errno::EINVAL)
            } else {
                e
            }
        })?;
        Ok(d.spanno)
    }

    /// Destroys a dynamic span (`DAHDI_DYNAMIC_DESTROY`), found by driver
    /// and address. [`ErrorKind::InUse`] while its channels are open.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InUse`] while its channels are open;
    /// [`ErrorKind::InvalidArgument`] when no such span
    /// exists; [`ErrorKind::DynamicNotLoaded`].
    #[doc(alias = "DAHDI_DYNAMIC_DESTROY")]
    pub fn destroy_dynamic_span(&self, span: &DynamicSpan) -> Result<()> {
        let op = ioctl::DAHDI_DYNAMIC_DESTROY;
        let d = span.to_raw(op, &self.path)?;
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, op, None, || unsafe {
            sys::dahdi_dynamic_destroy(self.raw(), &d)
        })?;
        Ok(())
    }

    /// Makes dynamic span `span` report `alarms` as if its line did
    /// (`DAHDI_SIMULATE_ALARM`); an empty set takes the simulated alarms
    /// back. The span's own alarms stay; channels and readers see the
    /// change as they see a real one (span status, `ALARM`/`NOALARM` events).
    ///
    /// Only DAHDI 3.1 as Debian 13 ships it has this ioctl (Debian 12's 2.11
    /// and upstream 3.4 do not). That driver returns from it with the RCU
    /// read lock still held by the calling thread (`simulate_alarm()` in
    /// dahdi_dynamic.c never unlocks), which would stall every RCU grace
    /// period (destroying a dynamic span among them) for as long as the
    /// thread lives; so the ioctl is issued on a short-lived thread of its
    /// own, whose exit releases the lock (`exit_rcu()`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoSuchSpan`] when `span` is not a dynamic span;
    /// [`ErrorKind::DynamicNotLoaded`]; [`ErrorKind::NotSupported`] from a
    /// driver without the ioctl.
    #[doc(alias = "DAHDI_SIMULATE_ALARM")]
    pub fn simulate_alarm(&self, span: i32, alarms: Alarms) -> Result<()> {
        let op = ioctl::DAHDI_SIMULATE_ALARM;
        let dsa = sys::dahdi_simulate_alarm {
            spanno: span,
            alarms: alarms.bits() as c_int,
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: valid fd and struct pointer.
                ioctl(&self.path, op, Some(span), || unsafe {
                    sys::dahdi_simulate_alarm(self.raw(), &dsa)
                })
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        Ok(())
    }

    /// Chooses channel `channel`'s echo canceller module by name (`"mg2"`,
    /// `"kb1"`...; its module must be loaded), or none with `""`
    /// (`DAHDI_ATTACH_ECHOCAN`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] for a name too
    /// long, no channel `channel` or no such echo canceller loaded; any other refusal of
    /// `DAHDI_ATTACH_ECHOCAN`.
    #[doc(alias = "DAHDI_ATTACH_ECHOCAN")]
    pub fn attach_echocan(&self, channel: i32, name: &str) -> Result<()> {
        let op = ioctl::DAHDI_ATTACH_ECHOCAN;
        let mut ae = sys::dahdi_attach_echocan::zeroed();
        ae.chan = channel;
        put_c_string(&mut ae.echocan, name, "echo canceller name", op, &self.path)?;
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, op, Some(channel), || unsafe {
            sys::dahdi_attach_echocan(self.raw(), &ae)
        })
        .map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EINVAL) {
                Error::new(
                    ErrorKind::InvalidArgument(format!(
                        "no channel {channel}, or no echo canceller {name:?} \
                         (is dahdi_echocan_{} loaded?)",
                        name.to_lowercase()
                    )),
                    op,
                    &self.path,
                )
                .with_errno(nix::errno::Errno::EINVAL)
            } else {
                e
            }
        })?;
        Ok(())
    }

    /// Loads a tone zone (`DAHDI_LOADZONE`). Channels pick up the default
    /// zone (the first loaded, or the one made default) when opened.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the call
    /// for a zone the kernel would refuse, or from it (`EINVAL`) for a zone number already
    /// loaded; any other refusal of `DAHDI_LOADZONE`.
    #[doc(alias = "DAHDI_LOADZONE")]
    pub fn load_tone_zone(&self, zone: &ToneZone) -> Result<()> {
        let op = ioctl::DAHDI_LOADZONE;
        let buf = zone
            .to_request()
            .map_err(|why| Error::new(ErrorKind::InvalidArgument(why), op, &self.path))?;
        // SAFETY: `buf` holds the header followed by `count` tone records,
        // as the kernel reads them; u64 storage keeps it aligned.
        ioctl(&self.path, op, None, || unsafe {
            sys::dahdi_loadzone(self.raw(), buf.as_ptr().cast())
        })
        .map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EINVAL) {
                Error::new(
                    ErrorKind::InvalidArgument(format!(
                        "zone {} refused: a zone with this number is already loaded, or a \
                         tone definition is invalid",
                        zone.number
                    )),
                    op,
                    &self.path,
                )
                .with_errno(nix::errno::Errno::EINVAL)
            } else {
                e
            }
        })?;
        Ok(())
    }

    /// Unloads tone zone `zone` (`DAHDI_FREEZONE`); channels using it keep
    /// it until closed. Freeing a zone that is not loaded is not an error.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_FREEZONE`, as an [`Error`] that names
    /// it and carries the errno.
    #[doc(alias = "DAHDI_FREEZONE")]
    pub fn free_tone_zone(&self, zone: i32) -> Result<()> {
        self.set_int(ioctl::DAHDI_FREEZONE, None, sys::dahdi_freezone, zone)
    }

    /// Makes loaded zone `zone` the default (`DAHDI_DEFAULTZONE`).
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_DEFAULTZONE`, as an [`Error`] that
    /// names it and carries the errno (`EINVAL` when zone `zone` is not loaded).
    #[doc(alias = "DAHDI_DEFAULTZONE")]
    pub fn set_default_zone(&self, zone: i32) -> Result<()> {
        self.set_int(ioctl::DAHDI_DEFAULTZONE, None, sys::dahdi_defaultzone, zone)
    }

    /// The global dialling tone lengths (`DAHDI_GET_DIALPARAMS`). Beware:
    /// until the first `DAHDI_SET_DIALPARAMS` the kernel reports its
    /// defaults in samples (800 = 100 ms); after one, in ms as set.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_GET_DIALPARAMS`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_GET_DIALPARAMS")]
    pub fn dial_params(&self) -> Result<DialParams> {
        let mut d = sys::dahdi_dialparams::zeroed();
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, ioctl::DAHDI_GET_DIALPARAMS, None, || unsafe {
            sys::dahdi_get_dialparams(self.raw(), &mut d)
        })?;
        Ok(DialParams {
            mfv1_tonelen: d.mfv1_tonelen,
            dtmf_tonelen: d.dtmf_tonelen,
            mfr2_tonelen: d.mfr2_tonelen,
        })
    }

    /// Sets the global dialling tone lengths in ms (`DAHDI_SET_DIALPARAMS`);
    /// the kernel ignores values outside 10..=4000.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of `DAHDI_SET_DIALPARAMS`, as an [`Error`] that
    /// names it and carries the errno.
    #[doc(alias = "DAHDI_SET_DIALPARAMS")]
    pub fn set_dial_params(&self, p: &DialParams) -> Result<()> {
        let mut d = sys::dahdi_dialparams::zeroed();
        d.mfv1_tonelen = p.mfv1_tonelen;
        d.dtmf_tonelen = p.dtmf_tonelen;
        d.mfr2_tonelen = p.mfr2_tonelen;
        // SAFETY: valid fd and struct pointer.
        ioctl(&self.path, ioctl::DAHDI_SET_DIALPARAMS, None, || unsafe {
            sys::dahdi_set_dialparams(self.raw(), &d)
        })?;
        Ok(())
    }
}

crate::fd::fd_traits!(Ctl, fd);

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges and signalling are checked before any ioctl: on /dev/null,
    /// which has none, every call here fails before reaching the kernel.
    #[test]
    fn bundles_and_ranges_are_checked_first() {
        let ctl = Ctl::open_path("/dev/null").unwrap();
        let invalid = |r: Result<()>| {
            let e = r.unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::InvalidArgument(_)), "{e}");
            assert_eq!(e.errno(), None, "refused before the call: {e}");
        };
        #[allow(clippy::reversed_empty_ranges)]
        invalid(ctl.configure_bundle(5..=4, Signalling::Clear));
        invalid(ctl.configure_bundle(0..=4, Signalling::Clear));
        invalid(ctl.configure_bundle(1..=4, Signalling::FxsKs));
        invalid(ctl.configure_channels(1..=2, Signalling::Slave));
        // A valid request reaches the kernel: /dev/null has no ioctls.
        let e = ctl
            .configure_bundle(1..=2, Signalling::HdlcFcs)
            .unwrap_err();
        assert_eq!(e.errno(), Some(nix::errno::Errno::ENOTTY));
        assert_eq!(e.ioctl(), Some(ioctl::DAHDI_CHANCONFIG));
        let s = ChanConfig::slave(7, 3);
        assert_eq!(
            (s.channel, s.signalling, s.master),
            (7, Signalling::Slave, 3)
        );
    }

    #[test]
    fn loc_addresses() {
        let d = DynamicSpan::local(1, 0, 24).unwrap();
        assert_eq!(d.address, "1:0");
        assert_eq!(d.span_name(), "DYN/loc/1:0");
        assert_eq!(DynamicSpan::local(10, 15, 4).unwrap().address, "a:f");
        assert!(DynamicSpan::local(16, 0, 4).is_err());
        assert_eq!(
            DynamicSpan::local_monitor(1, 2, 0, 24).unwrap().address,
            "1:2:0"
        );
        let raw = d
            .to_raw(ioctl::DAHDI_DYNAMIC_CREATE, Path::new("/x"))
            .unwrap();
        assert_eq!(raw.numchans, 24);
        assert_eq!(crate::fd::c_string(&raw.driver), "loc");
        assert_eq!(crate::fd::c_string(&raw.addr), "1:0");
        let long = DynamicSpan {
            driver: "x".repeat(20),
            ..d
        };
        assert!(long
            .to_raw(ioctl::DAHDI_DYNAMIC_CREATE, Path::new("/x"))
            .is_err());
    }
}
