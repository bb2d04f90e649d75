//! Typed channel configuration: buffers, parameters, gains, echo
//! canceller, ring cadence, tones and dialling.

use std::path::Path;

use dahdi_sys::{self as sys, Ioctl};

use crate::c_enum::c_enum;

use crate::error::{Error, ErrorKind, Result};
use crate::fd::c_string;
use crate::signalling::{Alarms, Law, SigCaps, Signalling};

/// Smallest block size the kernel accepts, in samples.
pub const MIN_BLOCKSIZE: usize = 16;
/// Largest block size the kernel accepts (`DAHDI_MAX_BLOCKSIZE`).
pub const MAX_BLOCKSIZE: usize = sys::DAHDI_MAX_BLOCKSIZE as usize;
/// Most buffers per direction (`DAHDI_MAX_NUM_BUFS`).
pub const MAX_NUM_BUFS: usize = sys::DAHDI_MAX_NUM_BUFS as usize;
/// Largest `bufsize * numbufs` (`DAHDI_MAX_BUF_SPACE`).
pub const MAX_BUF_SPACE: usize = sys::DAHDI_MAX_BUF_SPACE as usize;

pub(crate) fn check_blocksize(samples: usize, op: Ioctl, path: &Path) -> Result<()> {
    if (MIN_BLOCKSIZE..=MAX_BLOCKSIZE).contains(&samples) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidBlocksize(samples as i64),
            op,
            path,
        ))
    }
}

c_enum! {
    /// When the kernel starts sending what is written (`DAHDI_POLICY_*`).
    /// Received audio is always handed over immediately.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    pub enum BufferPolicy {
        /// Send as soon as a block is written (the default).
        Immediate = DAHDI_POLICY_IMMEDIATE,
        /// Start sending once every buffer is full.
        WhenFull = DAHDI_POLICY_WHEN_FULL,
        /// Start sending once half the buffers are full.
        HalfFull = DAHDI_POLICY_HALF_FULL,
    }
}

/// A channel's buffering (`DAHDI_GET_BUFINFO` / `DAHDI_SET_BUFINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BufferInfo {
    /// Transmit policy.
    pub tx_policy: BufferPolicy,
    /// Buffers per direction (2..=32).
    pub num_bufs: usize,
    /// Samples per buffer: the block size (16..=8192).
    pub buf_size: usize,
}

impl BufferInfo {
    /// What every open starts with: 2 buffers of 1024 samples, immediate.
    pub const KERNEL_DEFAULT: BufferInfo = BufferInfo {
        tx_policy: BufferPolicy::Immediate,
        num_bufs: sys::DAHDI_DEFAULT_NUM_BUFS as usize,
        buf_size: sys::DAHDI_DEFAULT_BLOCKSIZE as usize,
    };

    /// Checks the kernel's limits (`DAHDI_SET_BUFINFO` in dahdi-base.c):
    /// `buf_size` 16..=8192, `buf_size * num_bufs` at most 32768. The
    /// kernel would silently clamp `num_bufs` into 2..=32; this crate
    /// refuses such a value instead, so what is set is what was asked.
    ///
    /// # Errors
    ///
    /// The limit that is exceeded, in words.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(MIN_BLOCKSIZE..=MAX_BLOCKSIZE).contains(&self.buf_size) {
            return Err(format!(
                "buf_size {} is outside {MIN_BLOCKSIZE}..={MAX_BLOCKSIZE} samples",
                self.buf_size
            ));
        }
        if !(2..=MAX_NUM_BUFS).contains(&self.num_bufs) {
            return Err(format!(
                "num_bufs {} is outside 2..={MAX_NUM_BUFS}",
                self.num_bufs
            ));
        }
        if self.buf_size * self.num_bufs > MAX_BUF_SPACE {
            return Err(format!(
                "buf_size * num_bufs = {} exceeds {MAX_BUF_SPACE}",
                self.buf_size * self.num_bufs
            ));
        }
        Ok(())
    }

    pub(crate) fn to_raw(self) -> sys::dahdi_bufferinfo {
        let mut b = sys::dahdi_bufferinfo::zeroed();
        b.txbufpolicy = self.tx_policy.to_raw();
        b.rxbufpolicy = sys::DAHDI_POLICY_IMMEDIATE;
        b.numbufs = self.num_bufs as i32;
        b.bufsize = self.buf_size as i32;
        b
    }

    pub(crate) fn from_raw(b: &sys::dahdi_bufferinfo) -> BufferInfo {
        BufferInfo {
            tx_policy: BufferPolicy::from_raw(b.txbufpolicy).unwrap_or(BufferPolicy::Immediate),
            num_bufs: b.numbufs.max(0) as usize,
            buf_size: b.bufsize.max(0) as usize,
        }
    }
}

/// A channel's parameters (`DAHDI_GET_PARAMS`).
///
/// `DAHDI_SET_PARAMS` changes only the timing fields (`prewink_time` to
/// `pulse_after_time`); signalling is changed with
/// [`crate::Ctl::configure_channel`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChannelParams {
    /// Global channel number.
    pub channel: i32,
    /// Span number, 0 for pseudo channels.
    pub span: i32,
    /// Position in the span, from 1.
    pub chanpos: i32,
    /// Configured signalling.
    pub signalling: Signalling,
    /// Signalling the channel can take.
    pub sigcaps: SigCaps,
    /// Whether the far end is off hook.
    pub rx_is_offhook: bool,
    /// Received CAS bits; `None` where the channel has no robbed-bit
    /// signalling (the kernel reports -1).
    pub rx_bits: Option<i32>,
    /// Transmitted CAS bits, as `rx_bits`.
    pub tx_bits: Option<i32>,
    /// Transmit hook state (kernel encoding), `None` when not applicable.
    pub tx_hooksig: Option<i32>,
    /// Receive hook state (kernel encoding), `None` when not applicable.
    pub rx_hooksig: Option<i32>,
    /// Current law.
    pub law: Law,
    /// Idle CAS bits.
    pub idle_bits: i32,
    /// Channel name, e.g. `Pseudo/1` or `DYN/loc/1:0/3`.
    pub name: String,
    /// Delay before a wink, ms.
    pub prewink_time: i32,
    /// Delay before a flash, ms.
    pub preflash_time: i32,
    /// Wink length, ms.
    pub wink_time: i32,
    /// Flash length, ms.
    pub flash_time: i32,
    /// Start signal length, ms.
    pub start_time: i32,
    /// Longest received wink, ms.
    pub rx_wink_time: i32,
    /// Longest received flash, ms.
    pub rx_flash_time: i32,
    /// Hook debounce, ms.
    pub debounce_time: i32,
    /// Dial pulse break, ms.
    pub pulse_break_time: i32,
    /// Dial pulse make, ms.
    pub pulse_make_time: i32,
    /// Pause after a pulse digit, ms.
    pub pulse_after_time: i32,
    /// Channel alarms.
    pub alarms: Alarms,
}

fn opt(v: i32) -> Option<i32> {
    (v != -1).then_some(v)
}

impl ChannelParams {
    pub(crate) fn from_raw(p: &sys::dahdi_params) -> ChannelParams {
        ChannelParams {
            channel: p.channo & 0xffff,
            span: p.spanno,
            chanpos: p.chanpos,
            signalling: Signalling::from_raw(p.sigtype),
            sigcaps: SigCaps(p.sigcap),
            rx_is_offhook: p.rxisoffhook != 0,
            rx_bits: opt(p.rxbits),
            tx_bits: opt(p.txbits),
            tx_hooksig: opt(p.txhooksig),
            rx_hooksig: opt(p.rxhooksig),
            law: if p.curlaw == sys::DAHDI_LAW_ALAW {
                Law::Alaw
            } else {
                Law::Mulaw
            },
            idle_bits: p.idlebits,
            name: c_string(&p.name),
            prewink_time: p.prewinktime,
            preflash_time: p.preflashtime,
            wink_time: p.winktime,
            flash_time: p.flashtime,
            start_time: p.starttime,
            rx_wink_time: p.rxwinktime,
            rx_flash_time: p.rxflashtime,
            debounce_time: p.debouncetime,
            pulse_break_time: p.pulsebreaktime,
            pulse_make_time: p.pulsemaketime,
            pulse_after_time: p.pulseaftertime,
            alarms: Alarms::from_bits_retain(p.chan_alarms),
        }
    }

    pub(crate) fn timing_to_raw(&self) -> sys::dahdi_params {
        let mut p = sys::dahdi_params::zeroed();
        p.channo = self.channel;
        p.prewinktime = self.prewink_time;
        p.preflashtime = self.preflash_time;
        p.winktime = self.wink_time;
        p.flashtime = self.flash_time;
        p.starttime = self.start_time;
        p.rxwinktime = self.rx_wink_time;
        p.rxflashtime = self.rx_flash_time;
        p.debouncetime = self.debounce_time;
        p.pulsebreaktime = self.pulse_break_time;
        p.pulsemaketime = self.pulse_make_time;
        p.pulseaftertime = self.pulse_after_time;
        p
    }
}

/// A channel's gain tables (`DAHDI_GETGAINS` / `DAHDI_SETGAINS`): each
/// maps an encoded (companded) sample to the encoded sample after gain.
#[derive(Clone, PartialEq, Eq)]
pub struct Gains {
    /// Applied to received audio.
    pub rx: [u8; 256],
    /// Applied to transmitted audio.
    pub tx: [u8; 256],
}

impl std::fmt::Debug for Gains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Gains {{ rx identity: {}, tx identity: {} }}",
            self.rx == IDENTITY,
            self.tx == IDENTITY
        )
    }
}

const IDENTITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

impl Gains {
    /// No gain: both tables map every code to itself (the kernel's
    /// `defgain`, what every open starts with).
    pub const fn unity() -> Gains {
        Gains {
            rx: IDENTITY,
            tx: IDENTITY,
        }
    }

    /// Tables computed code by code from a function of the code.
    pub fn from_fn(rx: impl Fn(u8) -> u8, tx: impl Fn(u8) -> u8) -> Gains {
        let mut g = Gains::unity();
        for i in 0..256 {
            g.rx[i] = rx(i as u8);
            g.tx[i] = tx(i as u8);
        }
        g
    }

    /// Whether both tables are the identity.
    pub fn is_unity(&self) -> bool {
        self.rx == IDENTITY && self.tx == IDENTITY
    }
}

impl Default for Gains {
    fn default() -> Self {
        Gains::unity()
    }
}

/// Echo canceller parameters for `DAHDI_ECHOCANCEL_PARAMS`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EchoCanParams {
    /// Tail length in taps (8 per ms): 32, 64, 128, 256, 512 or 1024;
    /// other non-zero values make the kernel use its default (`deftaps`).
    /// 0 disables the canceller.
    pub tap_length: u32,
    /// Named parameters of the canceller module (at most 8, names at
    /// most 15 bytes).
    pub params: Vec<(String, i32)>,
}

impl EchoCanParams {
    /// Checks what the kernel would refuse: more than
    /// `DAHDI_MAX_ECHOCANPARAMS` (8) parameters (`E2BIG`) or names too long.
    ///
    /// # Errors
    ///
    /// What the kernel would refuse, in words.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.params.len() > sys::DAHDI_MAX_ECHOCANPARAMS as usize {
            return Err(format!(
                "{} echo canceller parameters, at most {}",
                self.params.len(),
                sys::DAHDI_MAX_ECHOCANPARAMS
            ));
        }
        for (n, _) in &self.params {
            if n.len() >= 16 || n.contains('\0') {
                return Err(format!("echo canceller parameter name {n:?} too long"));
            }
        }
        Ok(())
    }
}

/// A ring cadence (`DAHDI_SETCADENCE`): alternating on and off times in
/// ms, at most 16 values. A negative *on* time marks where the cadence
/// loops back to after the first pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RingCadence(pub Vec<i32>);

impl RingCadence {
    pub(crate) fn to_raw(&self, op: Ioctl, path: &Path) -> Result<sys::dahdi_ring_cadence> {
        if self.0.len() > sys::DAHDI_MAX_CADENCE as usize {
            return Err(Error::new(
                ErrorKind::InvalidArgument(format!(
                    "ring cadence has {} values, at most {}",
                    self.0.len(),
                    sys::DAHDI_MAX_CADENCE
                )),
                op,
                path,
            ));
        }
        let mut c = sys::dahdi_ring_cadence::zeroed();
        c.ringcadence[..self.0.len()].copy_from_slice(&self.0);
        Ok(c)
    }
}

c_enum! {
    /// A tone of the channel's tone zone for `DAHDI_SENDTONE`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum Tone {
        /// Dial tone.
        DialTone = DAHDI_TONE_DIALTONE,
        /// Busy.
        Busy = DAHDI_TONE_BUSY,
        /// Ring-back.
        RingTone = DAHDI_TONE_RINGTONE,
        /// Congestion (reorder).
        Congestion = DAHDI_TONE_CONGESTION,
        /// Call waiting.
        CallWait = DAHDI_TONE_CALLWAIT,
        /// Dial recall.
        DialRecall = DAHDI_TONE_DIALRECALL,
        /// Recording warning.
        RecordTone = DAHDI_TONE_RECORDTONE,
        /// Special information tone.
        Info = DAHDI_TONE_INFO,
        /// Custom tone 1.
        Cust1 = DAHDI_TONE_CUST1,
        /// Custom tone 2.
        Cust2 = DAHDI_TONE_CUST2,
        /// Stutter dial tone.
        Stutter = DAHDI_TONE_STUTTER,
    }
    extra {
        /// A continuous DTMF digit (`0-9 * # A-D`): `DAHDI_TONE_DTMF_BASE`
        /// plus the digit's index.
        Dtmf(char),
        /// A raw `DAHDI_TONE_*` value.
        Raw(i32),
    }
}

impl Tone {
    /// The `DAHDI_TONE_*` value, `None` for a character that is not a DTMF
    /// digit.
    pub fn to_raw(self) -> Option<i32> {
        match self {
            Tone::Dtmf(c) => Some(sys::DAHDI_TONE_DTMF_BASE + dtmf_index(c)?),
            Tone::Raw(r) => Some(r),
            zone_tone => zone_tone.c_value(),
        }
    }
}

/// Index of a DTMF digit in DAHDI's DTMF tone table (`0-9`, `*`, `#`,
/// `A-D`).
pub(crate) fn dtmf_index(c: char) -> Option<i32> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as i32 - '0' as i32),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(12 + d as i32 - 'A' as i32),
        _ => None,
    }
}

bitflags::bitflags! {
    /// Hardware tone detection (`DAHDI_TONEDETECT`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ToneDetect: i32 {
        /// Report DTMF digits as `DtmfDown`/`DtmfUp` events.
        const ON = sys::DAHDI_TONEDETECT_ON;
        /// Mute the audio while a digit is detected.
        const MUTE = sys::DAHDI_TONEDETECT_MUTE;
    }
}

c_enum! {
    /// How a dial string combines with what is still being dialled
    /// (`DAHDI_DIAL_OP_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum DialOp {
        /// Append to the digits still queued.
        Append = DAHDI_DIAL_OP_APPEND,
        /// Replace the digits still queued.
        Replace = DAHDI_DIAL_OP_REPLACE,
        /// Stop dialling (the string is ignored).
        Cancel = DAHDI_DIAL_OP_CANCEL,
    }
}

/// Checks a dial string: at most 255 bytes of `0-9 * # A-D`, the mode
/// letters `T` (DTMF), `P` (pulse), `M` (MF R1), `O`/`R` (MFC/R2 forward
/// and backward) and `W` (a 500 ms pause); lower case is accepted (the
/// kernel upper-cases).
///
/// # Errors
///
/// The first character or the length that the kernel would not dial, in words.
pub fn validate_dial_string(s: &str) -> std::result::Result<(), String> {
    if s.len() >= sys::DAHDI_MAX_DTMF_BUF as usize {
        return Err(format!(
            "dial string of {} bytes, at most {}",
            s.len(),
            sys::DAHDI_MAX_DTMF_BUF - 1
        ));
    }
    if let Some(bad) = s.chars().find(|c| {
        !matches!(c.to_ascii_uppercase(),
            '0'..='9' | '*' | '#' | 'A'..='F' | 'T' | 'P' | 'M' | 'O' | 'R' | 'W')
    }) {
        return Err(format!("dial string {s:?} contains {bad:?}"));
    }
    Ok(())
}

bitflags::bitflags! {
    /// What `DAHDI_FLUSH` empties.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Flush: i32 {
        /// Received audio not yet read.
        const READ = sys::DAHDI_FLUSH_READ;
        /// Written audio not yet sent.
        const WRITE = sys::DAHDI_FLUSH_WRITE;
        /// The event queue.
        const EVENT = sys::DAHDI_FLUSH_EVENT;
        /// All of the above.
        const ALL = sys::DAHDI_FLUSH_ALL;
    }
}

bitflags::bitflags! {
    /// Conditions for `DAHDI_IOMUX` (the kernel's own select).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct IoMux: i32 {
        /// A block can be read.
        const READ = sys::DAHDI_IOMUX_READ;
        /// A block can be written.
        const WRITE = sys::DAHDI_IOMUX_WRITE;
        /// Everything written has been sent.
        const WRITEEMPTY = sys::DAHDI_IOMUX_WRITEEMPTY;
        /// An event is queued.
        const SIGEVENT = sys::DAHDI_IOMUX_SIGEVENT;
        /// Do not wait: report what is ready now.
        const NOWAIT = sys::DAHDI_IOMUX_NOWAIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bi(num_bufs: usize, buf_size: usize) -> BufferInfo {
        BufferInfo {
            tx_policy: BufferPolicy::Immediate,
            num_bufs,
            buf_size,
        }
    }

    #[test]
    fn buffer_limits_are_the_kernels() {
        assert!(bi(2, 16).validate().is_ok());
        assert!(bi(4, 8192).validate().is_ok()); // 32768 exactly
        assert!(bi(32, 1024).validate().is_ok());
        assert!(bi(2, 15).validate().is_err());
        assert!(bi(2, 8193).validate().is_err());
        assert!(bi(5, 8192)
            .validate()
            .unwrap_err()
            .contains("exceeds 32768"));
        assert!(bi(1, 160).validate().is_err());
        assert!(bi(33, 160).validate().is_err());
        assert!(BufferInfo::KERNEL_DEFAULT.validate().is_ok());
        assert_eq!(BufferInfo::KERNEL_DEFAULT.buf_size, 1024);
    }

    #[test]
    fn blocksize_limits() {
        let p = Path::new("/dev/dahdi/pseudo");
        assert!(check_blocksize(16, sys::ioctl::DAHDI_SET_BLOCKSIZE, p).is_ok());
        assert!(check_blocksize(8192, sys::ioctl::DAHDI_SET_BLOCKSIZE, p).is_ok());
        let e = check_blocksize(8, sys::ioctl::DAHDI_SET_BLOCKSIZE, p).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidBlocksize(8));
        assert!(check_blocksize(8193, sys::ioctl::DAHDI_SET_BLOCKSIZE, p).is_err());
    }

    #[test]
    fn tones_and_digits() {
        assert_eq!(Tone::Dtmf('0').to_raw(), Some(sys::DAHDI_TONE_DTMF_0));
        assert_eq!(Tone::Dtmf('*').to_raw(), Some(sys::DAHDI_TONE_DTMF_s));
        assert_eq!(Tone::Dtmf('#').to_raw(), Some(sys::DAHDI_TONE_DTMF_p));
        assert_eq!(Tone::Dtmf('d').to_raw(), Some(sys::DAHDI_TONE_DTMF_D));
        assert_eq!(Tone::Dtmf('x').to_raw(), None);
        assert_eq!(Tone::Busy.to_raw(), Some(sys::DAHDI_TONE_BUSY));
        assert!(validate_dial_string("T123#*W").is_ok());
        assert!(validate_dial_string("p5").is_ok());
        assert!(validate_dial_string("12x").is_err());
        assert!(validate_dial_string(&"1".repeat(256)).is_err());
        assert!(validate_dial_string(&"1".repeat(255)).is_ok());
    }

    #[test]
    fn gains_and_echo_params() {
        assert!(Gains::unity().is_unity());
        let g = Gains::from_fn(|c| c, |_| 0xff);
        assert!(!g.is_unity());
        assert_eq!(g.tx[3], 0xff);
        let mut e = EchoCanParams {
            tap_length: 128,
            params: vec![("nlp".into(), 1)],
        };
        assert!(e.validate().is_ok());
        e.params = (0..9).map(|i| (format!("p{i}"), i)).collect();
        assert!(e.validate().is_err());
        let e = EchoCanParams {
            tap_length: 128,
            params: vec![("a_very_long_name".into(), 1)],
        };
        assert!(e.validate().is_err());
        let p = Path::new("/x");
        assert!(RingCadence(vec![1000; 17])
            .to_raw(sys::ioctl::DAHDI_SETCADENCE, p)
            .is_err());
        let c = RingCadence(vec![2000, 4000])
            .to_raw(sys::ioctl::DAHDI_SETCADENCE, p)
            .unwrap();
        assert_eq!(&c.ringcadence[..3], &[2000, 4000, 0]);
    }
}
