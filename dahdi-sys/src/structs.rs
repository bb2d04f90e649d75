//! Every struct of `user.h` and `wctdm_user.h`, laid out exactly as the C
//! compiler lays them out on a native 64-bit Linux target.
//!
//! Field names are the C names. Every struct is plain old data: all-zero
//! bytes are a valid value (integers, integer arrays, one raw pointer), so
//! each has a `const fn zeroed()` and a `Default` that returns it.

use libc::{c_char, c_int, c_long, c_uchar, c_uint, c_ushort, c_void};

use crate::consts::{
    DAHDI_MAX_CADENCE, DAHDI_MAX_DTMF_BUF, NUM_INDIRECT_REGS, NUM_REGS, RAD_SERIAL_BUFLEN,
};

/// Gives each listed type `zeroed()` and a `Default` that returns it.
macro_rules! plain_old_data {
    ($($name:ident),* $(,)?) => {$(
        impl $name {
            /// All fields zero (empty strings, null pointer).
            pub const fn zeroed() -> Self {
                // SAFETY: the struct holds only integers, arrays of
                // integers, zero-length arrays and raw pointers, for all
                // of which the all-zero bit pattern is a valid value.
                unsafe { ::std::mem::zeroed() }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::zeroed()
            }
        }
    )*};
}

/// Source and destination codec bitmasks for `DAHDI_TC_ALLOCATE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_transcoder_formats {
    /// Format of the data written to the transcoder.
    pub srcfmt: u32,
    /// Format wanted back.
    pub dstfmt: u32,
}

/// One transcoder, as described by `DAHDI_TC_GETINFO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_transcoder_info {
    /// Index of the transcoder to describe (in), its number (out).
    pub tcnum: u32,
    /// NUL-terminated name.
    pub name: [c_char; 80],
    /// Number of channels it offers.
    pub numchannels: u32,
    /// Bitmask of destination formats.
    pub dstfmts: u32,
    /// Bitmask of source formats.
    pub srcfmts: u32,
}

/// Channel parameters (`DAHDI_GET_PARAMS`, `DAHDI_SET_PARAMS`).
///
/// On `/dev/dahdi/ctl` `channo` selects the channel (OR in
/// [`DAHDI_GET_PARAMS_RETURN_MASTER`](crate::DAHDI_GET_PARAMS_RETURN_MASTER)
/// to get its master); on a channel fd it is ignored. The fields from
/// `sigtype` to `idlebits` are read-only; the timing fields are in
/// milliseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_params {
    /// Global channel number.
    pub channo: c_int,
    /// Span number.
    pub spanno: c_int,
    /// Position of the channel in its span, from 1.
    pub chanpos: c_int,
    /// Configured signalling (`DAHDI_SIG_*`).
    pub sigtype: c_int,
    /// Signalling the hardware can do (`DAHDI_SIG_*` OR-ed).
    pub sigcap: c_int,
    /// Non-zero while the far end is off hook.
    pub rxisoffhook: c_int,
    /// Received CAS bits.
    pub rxbits: c_int,
    /// Transmitted CAS bits.
    pub txbits: c_int,
    /// Transmit hook state (driver-internal encoding).
    pub txhooksig: c_int,
    /// Receive hook state (driver-internal encoding).
    pub rxhooksig: c_int,
    /// Current law, [`DAHDI_LAW_MULAW`](crate::DAHDI_LAW_MULAW) or
    /// [`DAHDI_LAW_ALAW`](crate::DAHDI_LAW_ALAW).
    pub curlaw: c_int,
    /// CAS bits of the idle state.
    pub idlebits: c_int,
    /// NUL-terminated channel name.
    pub name: [c_char; 40],
    /// Delay before a wink.
    pub prewinktime: c_int,
    /// Delay before a flash.
    pub preflashtime: c_int,
    /// Length of a sent wink.
    pub winktime: c_int,
    /// Length of a sent flash.
    pub flashtime: c_int,
    /// Length of a start signal.
    pub starttime: c_int,
    /// Longest received wink.
    pub rxwinktime: c_int,
    /// Longest received flash.
    pub rxflashtime: c_int,
    /// Hook debounce time.
    pub debouncetime: c_int,
    /// Break time of a dial pulse.
    pub pulsebreaktime: c_int,
    /// Make time of a dial pulse.
    pub pulsemaketime: c_int,
    /// Time after the last pulse of a digit.
    pub pulseaftertime: c_int,
    /// Channel alarms (`DAHDI_ALARM_*`).
    pub chan_alarms: u32,
}

/// Span status (`DAHDI_SPANSTAT`).
///
/// The C struct is `__attribute__((packed))` (314 bytes, alignment 1), so
/// this one is `repr(C, packed)`: copy a field out (`let a = s.alarms;`)
/// rather than borrowing it. Set `spanno` before the call.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_spaninfo {
    /// Span to query, or 0 for the span of this channel fd (in); the
    /// span number (out).
    pub spanno: c_int,
    /// NUL-terminated span name.
    pub name: [c_char; 20],
    /// NUL-terminated description.
    pub desc: [c_char; 40],
    /// Span alarms (`DAHDI_ALARM_*`).
    pub alarms: c_int,
    /// Transmit level.
    pub txlevel: c_int,
    /// Current receive level.
    pub rxlevel: c_int,
    /// Bipolar violation count.
    pub bpvcount: c_int,
    /// CRC-4 error count.
    pub crc4count: c_int,
    /// E-bit error count.
    pub ebitcount: c_int,
    /// FAS error count.
    pub fascount: c_int,
    /// Framing error count.
    pub fecount: u32,
    /// Coding violation count.
    pub cvcount: u32,
    /// Bit error count.
    pub becount: u32,
    /// Detected PRBS pattern.
    pub prbs: u32,
    /// Errored seconds.
    pub errsec: u32,
    /// Missed interrupts.
    pub irqmisses: c_int,
    /// Span providing timing, 0 when free-running.
    pub syncsrc: c_int,
    /// Configured channels.
    pub numchans: c_int,
    /// Channels on the span.
    pub totalchans: c_int,
    /// Spans in the system.
    pub totalspans: c_int,
    /// Line build-out.
    pub lbo: c_int,
    /// Framing and coding (`DAHDI_CONFIG_*`).
    pub lineconfig: c_int,
    /// NUL-terminated line build-out text.
    pub lboname: [c_char; 40],
    /// NUL-terminated device location (e.g. PCI address).
    pub location: [c_char; 40],
    /// NUL-terminated manufacturer.
    pub manufacturer: [c_char; 40],
    /// NUL-terminated device type.
    pub devicetype: [c_char; 40],
    /// Device IRQ.
    pub irq: c_int,
    /// Signalling the span supports; 0 for analog spans.
    pub linecompat: c_int,
    /// NUL-terminated span type (`"T1"`, `"E1"`, `"FXS"`, ...).
    pub spantype: [c_char; 6],
}

/// Older span status layout (`DAHDI_SPANSTAT_V1`): not packed, without the
/// `fecount`..`errsec` counters. Kept for old binaries; prefer
/// [`dahdi_spaninfo`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_spaninfo_v1 {
    /// Span to query.
    pub spanno: c_int,
    /// NUL-terminated span name.
    pub name: [c_char; 20],
    /// NUL-terminated description.
    pub desc: [c_char; 40],
    /// Span alarms.
    pub alarms: c_int,
    /// Transmit level.
    pub txlevel: c_int,
    /// Current receive level.
    pub rxlevel: c_int,
    /// Bipolar violation count.
    pub bpvcount: c_int,
    /// CRC-4 error count.
    pub crc4count: c_int,
    /// E-bit error count.
    pub ebitcount: c_int,
    /// FAS error count.
    pub fascount: c_int,
    /// Missed interrupts.
    pub irqmisses: c_int,
    /// Span providing timing, 0 when free-running.
    pub syncsrc: c_int,
    /// Configured channels.
    pub numchans: c_int,
    /// Channels on the span.
    pub totalchans: c_int,
    /// Spans in the system.
    pub totalspans: c_int,
    /// Line build-out.
    pub lbo: c_int,
    /// Framing and coding.
    pub lineconfig: c_int,
    /// NUL-terminated line build-out text.
    pub lboname: [c_char; 40],
    /// NUL-terminated device location.
    pub location: [c_char; 40],
    /// NUL-terminated manufacturer.
    pub manufacturer: [c_char; 40],
    /// NUL-terminated device type.
    pub devicetype: [c_char; 40],
    /// Device IRQ.
    pub irq: c_int,
    /// Signalling the span supports.
    pub linecompat: c_int,
    /// NUL-terminated span type.
    pub spantype: [c_char; 6],
}

/// Maintenance request (`DAHDI_MAINT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_maintinfo {
    /// Span number.
    pub spanno: c_int,
    /// `DAHDI_MAINT_*` command.
    pub command: c_int,
}

/// Alarms to simulate on a dynamic span (`DAHDI_SIMULATE_ALARM`, Debian 13's
/// header only).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_simulate_alarm {
    /// Span number.
    pub spanno: c_int,
    /// `DAHDI_ALARM_*` bits to report, 0 for none.
    pub alarms: c_int,
}

/// Conference membership (`DAHDI_GETCONF`, `DAHDI_SETCONF`,
/// `DAHDI_CONFLINK`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_confinfo {
    /// Channel, 0 for the channel of this fd.
    pub chan: c_int,
    /// Conference number (1..=1024), -1 to allocate a free one (the
    /// kernel writes it back), or a channel number in monitor modes.
    pub confno: c_int,
    /// `DAHDI_CONF_*` mode OR-ed with `DAHDI_CONF_*` flags.
    pub confmode: c_int,
}

/// Per-channel gain tables (`DAHDI_GETGAINS`, `DAHDI_SETGAINS`): each
/// maps an encoded sample to the encoded sample after gain.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_gains {
    /// Channel, 0 for the channel of this fd.
    pub chan: c_int,
    /// Receive table.
    pub rxgain: [c_uchar; 256],
    /// Transmit table.
    pub txgain: [c_uchar; 256],
}

/// Span line configuration (`DAHDI_SPANCONFIG`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_lineconfig {
    /// Span number, 0 to select by `name`.
    pub span: c_int,
    /// NUL-terminated span name.
    pub name: [c_char; 20],
    /// Line build-out.
    pub lbo: c_int,
    /// Framing and coding (`DAHDI_CONFIG_*`).
    pub lineconfig: c_int,
    /// Timing source priority (0 = never a source).
    pub sync: c_int,
}

/// Channel configuration (`DAHDI_CHANCONFIG`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_chanconfig {
    /// Channel number, 0 to select by `name`.
    pub chan: c_int,
    /// NUL-terminated channel name.
    pub name: [c_char; 40],
    /// Signalling (`DAHDI_SIG_*`).
    pub sigtype: c_int,
    /// Default law (`DAHDI_LAW_*`).
    pub deflaw: c_int,
    /// Master channel when `sigtype` is [`DAHDI_SIG_SLAVE`](crate::DAHDI_SIG_SLAVE).
    pub master: c_int,
    /// Idle CAS bits, or the peer channel for DACS.
    pub idlebits: c_int,
    /// NUL-terminated name of the HDLC network device.
    pub netdev_name: [c_char; 16],
}

/// One step of a tone in a tone zone: which tone, how long, what comes
/// next, and the oscillator coefficients that generate it.
///
/// The coefficients follow the header's recipe (8 kHz sampling; `l` level
/// in dBm0, `f1`/`f2` in Hz): `gain = 10^((l - 3.14) / 20) * 32768`,
/// `fac = 2 cos(2π f / 8000) * 32768`, `init_v2 = sin(-4π f / 8000) * gain`,
/// `init_v3 = sin(-2π f / 8000) * gain`, once per frequency.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_tone_def {
    /// Tone id (`DAHDI_TONE_*`).
    pub tone: c_int,
    /// Index of the following step in the zone's list.
    pub next: c_int,
    /// Length of this step in samples.
    pub samples: c_int,
    /// Volume right-shift (2 is typical).
    pub shift: c_int,
    /// Frequency factor of the first oscillator.
    pub fac1: c_int,
    /// Second-to-last sample of the first oscillator.
    pub init_v2_1: c_int,
    /// Last sample of the first oscillator.
    pub init_v3_1: c_int,
    /// Frequency factor of the second oscillator.
    pub fac2: c_int,
    /// Second-to-last sample of the second oscillator.
    pub init_v2_2: c_int,
    /// Last sample of the second oscillator.
    pub init_v3_2: c_int,
    /// Non-zero to modulate the first tone with the second.
    pub modulate: c_int,
}

/// Header of a tone zone for `DAHDI_LOADZONE`.
///
/// The ioctl's size covers only this header: the kernel then reads
/// `count` [`dahdi_tone_def`] records placed *immediately after* it in the
/// same buffer (`tones`, a C flexible array, zero-sized here). Build the
/// request in a buffer of `size_of::<dahdi_tone_def_header>() + count *
/// size_of::<dahdi_tone_def>()` bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_tone_def_header {
    /// Number of `dahdi_tone_def` records that follow.
    pub count: c_int,
    /// Zone number to load (0..`DAHDI_TONE_ZONE_MAX`).
    pub zone: c_int,
    /// Ring cadence in ms, alternating on/off, ended by a 0.
    pub ringcadence: [c_int; DAHDI_MAX_CADENCE as usize],
    /// NUL-terminated zone name.
    pub name: [c_char; 40],
    /// Start of the trailing records (flexible array; no storage here).
    pub tones: [dahdi_tone_def; 0],
}

/// Buffer configuration (`DAHDI_GET_BUFINFO`, `DAHDI_SET_BUFINFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_bufferinfo {
    /// Transmit policy (`DAHDI_POLICY_*`).
    pub txbufpolicy: c_int,
    /// Receive policy (ignored by the kernel: always immediate).
    pub rxbufpolicy: c_int,
    /// Number of buffers per direction.
    pub numbufs: c_int,
    /// Size of one buffer in bytes (the block size).
    pub bufsize: c_int,
    /// Full read buffers (read-only; the kernel reports -1).
    pub readbufs: c_int,
    /// Full write buffers (read-only; the kernel reports -1).
    pub writebufs: c_int,
}

/// Tone lengths for dialling (`DAHDI_GET_DIALPARAMS`,
/// `DAHDI_SET_DIALPARAMS`), in ms.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_dialparams {
    /// MF R1 digit length.
    pub mfv1_tonelen: c_int,
    /// DTMF digit length.
    pub dtmf_tonelen: c_int,
    /// MFC/R2 tone length.
    pub mfr2_tonelen: c_int,
    /// Must be zero.
    pub reserved: [c_int; 3],
}

/// Dial request (`DAHDI_DIAL`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_dialoperation {
    /// `DAHDI_DIAL_OP_*`.
    pub op: c_int,
    /// NUL-terminated dial string; `T`, `P`, `M`, `O`, `R` switch to DTMF,
    /// pulse, MF R1, MFC/R2 forward and backward digits, `W` pauses.
    pub dialstr: [c_char; DAHDI_MAX_DTMF_BUF as usize],
}

/// One named echo-canceller parameter.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_echocanparam {
    /// NUL-terminated parameter name.
    pub name: [c_char; 16],
    /// Parameter value.
    pub value: i32,
}

/// Header of a `DAHDI_ECHOCANCEL_PARAMS` request.
///
/// As with [`dahdi_tone_def_header`], the ioctl's size covers only this
/// header: `param_count` (at most
/// [`DAHDI_MAX_ECHOCANPARAMS`](crate::DAHDI_MAX_ECHOCANPARAMS))
/// [`dahdi_echocanparam`] records must follow it in the same buffer
/// (`params`, a C flexible array, zero-sized here).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_echocanparams {
    /// Tail length in taps (8 taps per ms); 0 disables the canceller.
    pub tap_length: u32,
    /// Number of `dahdi_echocanparam` records that follow.
    pub param_count: u32,
    /// Start of the trailing records (flexible array; no storage here).
    pub params: [dahdi_echocanparam; 0],
}

/// Ring cadence for FXS ports (`DAHDI_SETCADENCE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_ring_cadence {
    /// On/off times in ms, alternating, ended by a 0.
    pub ringcadence: [c_int; DAHDI_MAX_CADENCE as usize],
}

/// Single-frequency signalling configuration (`DAHDI_SFCONFIG`).
///
/// Three fields are C `long`, so the layout depends on the userspace
/// width: 88 bytes here (64-bit). 32-bit processes on a 64-bit kernel are
/// not supported (see the crate documentation).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_sfconfig {
    /// Channel number, 0 to select by `name`.
    pub chan: c_int,
    /// NUL-terminated channel name.
    pub name: [c_char; 40],
    /// Receive tone detector coefficient 1.
    pub rxp1: c_long,
    /// Receive tone detector coefficient 2.
    pub rxp2: c_long,
    /// Receive tone detector coefficient 3.
    pub rxp3: c_long,
    /// Transmit tone frequency factor.
    pub txtone: c_int,
    /// Transmit oscillator initial v2.
    pub tx_v2: c_int,
    /// Transmit oscillator initial v3.
    pub tx_v3: c_int,
    /// `DAHDI_REVERSE_RXTONE` / `DAHDI_REVERSE_TXTONE`.
    pub toneflag: c_int,
}

/// Run a channel ioctl through `/dev/dahdi/ctl` (`DAHDI_INDIRECT`).
///
/// Holds a pointer, so it is 16 bytes on 64-bit (12 on 32-bit).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_indirect_data {
    /// Target channel.
    pub chan: c_int,
    /// Request code of the ioctl to run on it.
    pub op: c_int,
    /// That ioctl's argument.
    pub data: *mut c_void,
}

/// DAHDI version strings (`DAHDI_GETVERSION`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_versioninfo {
    /// NUL-terminated driver version.
    pub version: [c_char; 80],
    /// NUL-terminated description of the built-in echo cancellers.
    pub echo_canceller: [c_char; 80],
}

/// Choose the echo canceller module of a channel (`DAHDI_ATTACH_ECHOCAN`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_attach_echocan {
    /// Channel number.
    pub chan: c_int,
    /// NUL-terminated module name (e.g. `"mg2"`); empty for none.
    pub echocan: [c_char; 16],
}

/// Dynamic span description (`DAHDI_DYNAMIC_CREATE`,
/// `DAHDI_DYNAMIC_DESTROY`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_dynamic_span {
    /// NUL-terminated driver name (`"loc"`, `"eth"`, ...).
    pub driver: [c_char; 20],
    /// NUL-terminated driver-specific address.
    pub addr: [c_char; 40],
    /// Number of channels.
    pub numchans: c_int,
    /// Timing priority.
    pub timing: c_int,
    /// Span number (written back by `DAHDI_DYNAMIC_CREATE`).
    pub spanno: c_int,
}

/// Bit of [`dahdi_hwgain::tx`] holding the C bitfield `tx:1`: set for the
/// transmit path, clear for receive.
///
/// On the little-endian targets this crate supports, GCC places the first
/// bitfield of a storage unit in its least significant bit; the ABI test
/// checks the byte image against C.
pub const DAHDI_HWGAIN_TX: u32 = 1 << 0;

/// Hardware gain request (`DAHDI_SET_HWGAIN`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_hwgain {
    /// Gain in tenths of a dB (-35 is -3.5 dB).
    pub newgain: i32,
    /// The 32-bit storage unit of the C bitfield `__u32 tx:1`. Only
    /// [`DAHDI_HWGAIN_TX`] is meaningful; keep the other bits zero. Use
    /// [`is_tx`](Self::is_tx) / [`set_tx`](Self::set_tx).
    pub tx: u32,
}

impl dahdi_hwgain {
    /// Whether the gain applies to the transmit path.
    pub const fn is_tx(&self) -> bool {
        self.tx & DAHDI_HWGAIN_TX != 0
    }

    /// Select the transmit (`true`) or receive (`false`) path.
    pub fn set_tx(&mut self, tx: bool) {
        if tx {
            self.tx |= DAHDI_HWGAIN_TX;
        } else {
            self.tx &= !DAHDI_HWGAIN_TX;
        }
    }
}

/// Message-waiting indication method (`DAHDI_VMWI_CONFIG`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_vmwi_info {
    /// `DAHDI_VMWI_*` bits.
    pub vmwi_type: c_uint,
}

/// Radio status (`DAHDI_RADIO_GETSTAT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_radio_stat {
    /// CTCSS/DCS code being received, 0 for none.
    pub ctcode_rx: c_ushort,
    /// Class of that code.
    pub ctclass: c_ushort,
    /// CTCSS/DCS code being sent, 0 for none.
    pub ctcode_tx: c_ushort,
    /// `DAHDI_RADSTAT_*` bits.
    pub radstat: c_uchar,
}

/// Radio parameter (`DAHDI_RADIO_GETPARAM`, `DAHDI_RADIO_SETPARAM`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dahdi_radio_param {
    /// `DAHDI_RADPAR_*` parameter id.
    pub radpar: c_ushort,
    /// Tone index, where the parameter has one.
    pub index: c_ushort,
    /// Value.
    pub data: c_int,
    /// Second value.
    pub data2: c_int,
    /// Serial data for remote commands.
    pub buf: [c_uchar; RAD_SERIAL_BUFLEN as usize],
}

/// Line voltages of a TDM FXS/FXO port (`WCTDM_GET_STATS`), in mV.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wctdm_stats {
    /// Tip voltage.
    pub tipvolt: c_int,
    /// Ring voltage.
    pub ringvolt: c_int,
    /// Battery voltage.
    pub batvolt: c_int,
}

/// Register dump of a TDM port (`WCTDM_GET_REGS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wctdm_regs {
    /// Direct registers.
    pub direct: [c_uchar; NUM_REGS as usize],
    /// Indirect registers.
    pub indirect: [c_ushort; NUM_INDIRECT_REGS as usize],
}

/// One register write (`WCTDM_SET_REG`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wctdm_regop {
    /// Non-zero for an indirect register.
    pub indirect: c_int,
    /// Register number.
    pub reg: c_uchar,
    /// Value.
    pub val: c_ushort,
}

/// FXO hybrid balance coefficients (`WCTDM_SET_ECHOTUNE`, used by
/// fxotune).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct wctdm_echo_coefs {
    /// AC impedance setting.
    pub acim: c_uchar,
    /// Coefficient 1.
    pub coef1: c_uchar,
    /// Coefficient 2.
    pub coef2: c_uchar,
    /// Coefficient 3.
    pub coef3: c_uchar,
    /// Coefficient 4.
    pub coef4: c_uchar,
    /// Coefficient 5.
    pub coef5: c_uchar,
    /// Coefficient 6.
    pub coef6: c_uchar,
    /// Coefficient 7.
    pub coef7: c_uchar,
    /// Coefficient 8.
    pub coef8: c_uchar,
}

plain_old_data!(
    dahdi_transcoder_formats,
    dahdi_transcoder_info,
    dahdi_params,
    dahdi_spaninfo,
    dahdi_spaninfo_v1,
    dahdi_maintinfo,
    dahdi_simulate_alarm,
    dahdi_confinfo,
    dahdi_gains,
    dahdi_lineconfig,
    dahdi_chanconfig,
    dahdi_tone_def,
    dahdi_tone_def_header,
    dahdi_bufferinfo,
    dahdi_dialparams,
    dahdi_dialoperation,
    dahdi_echocanparam,
    dahdi_echocanparams,
    dahdi_ring_cadence,
    dahdi_sfconfig,
    dahdi_indirect_data,
    dahdi_versioninfo,
    dahdi_attach_echocan,
    dahdi_dynamic_span,
    dahdi_hwgain,
    dahdi_vmwi_info,
    dahdi_radio_stat,
    dahdi_radio_param,
    wctdm_stats,
    wctdm_regs,
    wctdm_regop,
    wctdm_echo_coefs,
);

/// Copy a string into a fixed C `char` array the way the header's
/// `dahdi_copy_string()` does.
///
/// Copies bytes of `src` up to its first NUL (or its end), truncating so
/// that the result is always NUL-terminated inside `dst`. Bytes after the
/// terminator are left untouched. An empty `dst` is left alone (the C
/// function would write before the buffer).
pub fn dahdi_copy_string(dst: &mut [c_char], src: &[u8]) {
    let Some(room) = dst.len().checked_sub(1) else {
        return;
    };
    let len = src
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(src.len())
        .min(room);
    for (d, &s) in dst.iter_mut().zip(&src[..len]) {
        *d = s as c_char;
    }
    dst[len] = 0;
}
