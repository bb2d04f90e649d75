//! Every object-like `#define` and `enum` constant of `user.h` and
//! `wctdm_user.h`, plus the fixed device minors of `kernel.h` and the device
//! paths the driver creates.
//!
//! A C macro such as `#define DAHDI_CONF_CONF 4` is an `int` expression, so
//! every constant here is a [`c_int`] unless stated otherwise: that is the
//! type the C compiler gives it, and the ABI test checks size and
//! signedness as well as the value. Cast at the use site when a field is
//! unsigned (`chan_alarms`, `vmwi_type`, `radstat`, ...).

use libc::c_int;

// ---------------------------------------------------------------------------
// Errno
// ---------------------------------------------------------------------------

/// Errno returned by `read()`/`write()` on a channel while an event is
/// queued: fetch it with `DAHDI_GETEVENT`, then retry the I/O.
///
/// The header only defines it when the libc does not (glibc does not).
pub const ELAST: c_int = 500;

// ---------------------------------------------------------------------------
// Span line configuration (`dahdi_lineconfig::lineconfig`,
// `dahdi_spaninfo::lineconfig`, `dahdi_spaninfo::txlevel`)
// ---------------------------------------------------------------------------

/// Mask of the transmit level (line build-out) bits, bits 0..=2.
pub const DAHDI_CONFIG_TXLEVEL: c_int = 7;
/// T1: D4 (superframe) framing.
pub const DAHDI_CONFIG_D4: c_int = 1 << 4;
/// T1: extended superframe framing.
pub const DAHDI_CONFIG_ESF: c_int = 1 << 5;
/// T1/E1: AMI line coding.
pub const DAHDI_CONFIG_AMI: c_int = 1 << 6;
/// T1: B8ZS line coding.
pub const DAHDI_CONFIG_B8ZS: c_int = 1 << 7;
/// E1: common channel signalling (ISDN) rather than CAS.
pub const DAHDI_CONFIG_CCS: c_int = 1 << 8;
/// E1: HDB3 line coding.
pub const DAHDI_CONFIG_HDB3: c_int = 1 << 9;
/// E1: CRC-4 multiframe.
pub const DAHDI_CONFIG_CRC4: c_int = 1 << 10;
/// BRI: network-termination (NT) mode when set, TE mode when clear.
pub const DAHDI_CONFIG_NTTE: c_int = 1 << 11;
/// BRI: enable the line termination resistor.
pub const DAHDI_CONFIG_TERM: c_int = 1 << 12;
/// Span is configured as not opened (line disabled).
pub const DAHDI_CONFIG_NOTOPEN: c_int = 1 << 16;

// ---------------------------------------------------------------------------
// Signalling types (`sigtype`, `sigcap`)
// ---------------------------------------------------------------------------

/// Port failed to initialise or is broken.
pub const DAHDI_SIG_BROKEN: c_int = 1 << 31;
/// Building block of the FXO signalling values; not a signalling type on
/// its own.
pub const __DAHDI_SIG_FXO: c_int = 1 << 12;
/// Building block of the FXS signalling values; not a signalling type on
/// its own.
pub const __DAHDI_SIG_FXS: c_int = 1 << 13;
/// Building block of the DACS (cross-connect) values; not a signalling
/// type on its own.
pub const __DAHDI_SIG_DACS: c_int = 1 << 16;
/// Channel is not configured.
pub const DAHDI_SIG_NONE: c_int = 0;
/// FXS signalling (talks to an FXO port), loop start.
pub const DAHDI_SIG_FXSLS: c_int = (1 << 0) | __DAHDI_SIG_FXS;
/// FXS signalling, ground start.
pub const DAHDI_SIG_FXSGS: c_int = (1 << 1) | __DAHDI_SIG_FXS;
/// FXS signalling, kewl start (loop start with disconnect supervision).
pub const DAHDI_SIG_FXSKS: c_int = (1 << 2) | __DAHDI_SIG_FXS;
/// FXO signalling (talks to an FXS port), loop start.
pub const DAHDI_SIG_FXOLS: c_int = (1 << 3) | __DAHDI_SIG_FXO;
/// FXO signalling, ground start.
pub const DAHDI_SIG_FXOGS: c_int = (1 << 4) | __DAHDI_SIG_FXO;
/// FXO signalling, kewl start.
pub const DAHDI_SIG_FXOKS: c_int = (1 << 5) | __DAHDI_SIG_FXO;
/// E&M (ear and mouth) signalling.
pub const DAHDI_SIG_EM: c_int = 1 << 6;
/// Clear channel: raw bearer data, no signalling.
pub const DAHDI_SIG_CLEAR: c_int = 1 << 7;
/// Clear channel carrying HDLC frames without FCS handling.
pub const DAHDI_SIG_HDLCRAW: c_int = (1 << 8) | DAHDI_SIG_CLEAR;
/// HDLC with the FCS computed and checked by DAHDI.
pub const DAHDI_SIG_HDLCFCS: c_int = (1 << 9) | DAHDI_SIG_HDLCRAW;
/// HDLC exposed as a network device.
pub const DAHDI_SIG_HDLCNET: c_int = (1 << 10) | DAHDI_SIG_HDLCFCS;
/// Slave of another channel (see `dahdi_chanconfig::master`).
pub const DAHDI_SIG_SLAVE: c_int = 1 << 11;
/// Single-frequency tone signalling, no signalling bits.
pub const DAHDI_SIG_SF: c_int = 1 << 14;
/// Channel-associated signalling: the raw A/B/C/D bits are handed to the
/// user.
pub const DAHDI_SIG_CAS: c_int = 1 << 15;
/// Digital cross-connect to another channel.
pub const DAHDI_SIG_DACS: c_int = __DAHDI_SIG_DACS | DAHDI_SIG_CLEAR;
/// E1 variant of E&M.
pub const DAHDI_SIG_EM_E1: c_int = 1 << 17;
/// Cross-connect that also passes robbed-bit signalling.
pub const DAHDI_SIG_DACS_RBS: c_int = (1 << 18) | __DAHDI_SIG_DACS;
/// HDLC done by the hardware.
pub const DAHDI_SIG_HARDHDLC: c_int = (1 << 19) | DAHDI_SIG_CLEAR;
/// SS7 MTP2 (HDLC with bit stuffing and FCS).
pub const DAHDI_SIG_MTP2: c_int = (1 << 20) | DAHDI_SIG_HDLCFCS;

// ---------------------------------------------------------------------------
// Single-frequency tone flags (`dahdi_sfconfig::toneflag`)
// ---------------------------------------------------------------------------

/// Invert the sense of the received SF tone.
pub const DAHDI_REVERSE_RXTONE: c_int = 1;
/// Invert the sense of the transmitted SF tone.
pub const DAHDI_REVERSE_TXTONE: c_int = 2;

// ---------------------------------------------------------------------------
// CAS signalling bits (`DAHDI_GETRXBITS`, `DAHDI_SETTXBITS`, `idlebits`)
// ---------------------------------------------------------------------------

/// The A bit.
pub const DAHDI_ABIT: c_int = 1 << 3;
/// The B bit.
pub const DAHDI_BBIT: c_int = 1 << 2;
/// The C bit.
pub const DAHDI_CBIT: c_int = 1 << 1;
/// The D bit.
pub const DAHDI_DBIT: c_int = 1 << 0;
/// A, B, C and D bits.
pub const DAHDI_BITS_ABCD: c_int = DAHDI_ABIT | DAHDI_BBIT | DAHDI_CBIT | DAHDI_DBIT;
/// A, B and D bits.
pub const DAHDI_BITS_ABD: c_int = DAHDI_ABIT | DAHDI_BBIT | DAHDI_DBIT;
/// A, C and D bits.
pub const DAHDI_BITS_ACD: c_int = DAHDI_ABIT | DAHDI_CBIT | DAHDI_DBIT;
/// B, C and D bits.
pub const DAHDI_BITS_BCD: c_int = DAHDI_BBIT | DAHDI_CBIT | DAHDI_DBIT;
/// A and C bits.
pub const DAHDI_BITS_AC: c_int = DAHDI_ABIT | DAHDI_CBIT;
/// B and D bits.
pub const DAHDI_BITS_BD: c_int = DAHDI_BBIT | DAHDI_DBIT;

// ---------------------------------------------------------------------------
// Device numbers and paths
// ---------------------------------------------------------------------------

/// Character major of the fixed DAHDI nodes (`/dev/dahdi/ctl`, `timer`,
/// `channel`, `pseudo`, `transcode`, legacy `/dev/dahdi/N`).
///
/// The per-channel nodes `/dev/dahdi/chan/SSS/CCC` use a *dynamically
/// allocated* major instead; read it from the node, never assume 196.
pub const DAHDI_MAJOR: c_int = 196;

/// Minor of `/dev/dahdi/ctl`.
///
/// Not part of `user.h`: the five fixed minors live in the kernel-only
/// header `dahdi/kernel.h`, which userspace cannot include. They are
/// repeated here because the kernel ABI fixes them; the ABI test reads
/// them from `kernel.h` and compares.
pub const DAHDI_CTL: c_int = 0;
/// Minor of `/dev/dahdi/transcode` (from `kernel.h`, see [`DAHDI_CTL`]).
pub const DAHDI_TRANSCODE: c_int = 250;
/// Minor of `/dev/dahdi/timer` (from `kernel.h`, see [`DAHDI_CTL`]).
pub const DAHDI_TIMER: c_int = 253;
/// Minor of `/dev/dahdi/channel` (from `kernel.h`, see [`DAHDI_CTL`]).
pub const DAHDI_CHANNEL: c_int = 254;
/// Minor of `/dev/dahdi/pseudo` (from `kernel.h`, see [`DAHDI_CTL`]).
pub const DAHDI_PSEUDO: c_int = 255;

/// Directory holding every DAHDI node.
///
/// The paths below are not in any header: they follow from the kernel
/// device names (`dahdi!ctl`, ...; `!` becomes `/` under devtmpfs and
/// udev). The ABI test checks them against the driver sources when those
/// are installed.
pub const DAHDI_DEV_DIR: &str = "/dev/dahdi";
/// Control node: span/channel configuration, tone zones, dynamic spans.
pub const DAHDI_CTL_PATH: &str = "/dev/dahdi/ctl";
/// Transcoder node (needs the `dahdi_transcode` module).
pub const DAHDI_TRANSCODE_PATH: &str = "/dev/dahdi/transcode";
/// Timer node: each open is an independent timer.
pub const DAHDI_TIMER_PATH: &str = "/dev/dahdi/timer";
/// Unbound channel node; bind the fd to a channel with `DAHDI_SPECIFY`.
pub const DAHDI_CHANNEL_PATH: &str = "/dev/dahdi/channel";
/// Pseudo channel node: each open allocates a new pseudo channel.
pub const DAHDI_PSEUDO_PATH: &str = "/dev/dahdi/pseudo";
/// Directory of the per-channel nodes `chan/SSS/CCC` (span number and
/// position in span, three digits each, zero-padded).
pub const DAHDI_CHAN_DIR: &str = "/dev/dahdi/chan";

// ---------------------------------------------------------------------------
// Buffers
// ---------------------------------------------------------------------------

/// Largest accepted block size, in samples.
pub const DAHDI_MAX_BLOCKSIZE: c_int = 8192;
/// Number of buffers a channel gets when opened.
pub const DAHDI_DEFAULT_NUM_BUFS: c_int = 2;
/// Largest number of buffers per direction.
pub const DAHDI_MAX_NUM_BUFS: c_int = 32;
/// Largest total of `bufsize * numbufs`, in bytes.
pub const DAHDI_MAX_BUF_SPACE: c_int = 32768;
/// Block size a channel gets when opened, in samples (Asterisk then sets
/// 160).
pub const DAHDI_DEFAULT_BLOCKSIZE: c_int = 1024;
/// Misspelled duplicate of [`DAHDI_DEFAULT_MTU_MRU`] kept by the header.
pub const DAHDI_DEFAULT_MTR_MRU: c_int = 2048;
/// Default MTU/MRU of an HDLC network channel, in bytes.
pub const DAHDI_DEFAULT_MTU_MRU: c_int = 2048;

/// Buffer policy: start playing/recording at once.
pub const DAHDI_POLICY_IMMEDIATE: c_int = 0;
/// Buffer policy: start only once every buffer is full.
pub const DAHDI_POLICY_WHEN_FULL: c_int = 1;
/// Buffer policy: start once half the buffers are full (transmit only).
pub const DAHDI_POLICY_HALF_FULL: c_int = 2;

/// OR into `dahdi_params::channo` for `DAHDI_GET_PARAMS` to get the
/// parameters of the channel's master instead of the channel itself.
pub const DAHDI_GET_PARAMS_RETURN_MASTER: c_int = 0x4000_0000;

// ---------------------------------------------------------------------------
// Tone zones and tones (`DAHDI_SENDTONE`, `dahdi_tone_def::tone`)
// ---------------------------------------------------------------------------

/// Number of tone zones the kernel holds.
pub const DAHDI_TONE_ZONE_MAX: c_int = 128;
/// Zone number meaning "the default zone" (`DAHDI_SETTONEZONE`).
pub const DAHDI_TONE_ZONE_DEFAULT: c_int = -1;

/// `DAHDI_SENDTONE` argument: stop the current tone.
pub const DAHDI_TONE_STOP: c_int = -1;
/// Dial tone.
pub const DAHDI_TONE_DIALTONE: c_int = 0;
/// Busy tone.
pub const DAHDI_TONE_BUSY: c_int = 1;
/// Ringback tone.
pub const DAHDI_TONE_RINGTONE: c_int = 2;
/// Congestion (reorder) tone.
pub const DAHDI_TONE_CONGESTION: c_int = 3;
/// Call waiting tone.
pub const DAHDI_TONE_CALLWAIT: c_int = 4;
/// Dial recall (stutter after flash) tone.
pub const DAHDI_TONE_DIALRECALL: c_int = 5;
/// Recording warning tone.
pub const DAHDI_TONE_RECORDTONE: c_int = 6;
/// Special information tone.
pub const DAHDI_TONE_INFO: c_int = 7;
/// First zone-defined custom tone.
pub const DAHDI_TONE_CUST1: c_int = 8;
/// Second zone-defined custom tone.
pub const DAHDI_TONE_CUST2: c_int = 9;
/// Stutter dial tone.
pub const DAHDI_TONE_STUTTER: c_int = 10;
/// Number of call-progress tone slots in a zone.
pub const DAHDI_TONE_MAX: c_int = 16;

/// First DTMF digit tone ([`DAHDI_TONE_DTMF_0`]).
pub const DAHDI_TONE_DTMF_BASE: c_int = 64;
/// First MF R1 digit tone ([`DAHDI_TONE_MFR1_0`]).
pub const DAHDI_TONE_MFR1_BASE: c_int = 80;
/// First MFC/R2 forward tone ([`DAHDI_TONE_MFR2_FWD_1`]).
pub const DAHDI_TONE_MFR2_FWD_BASE: c_int = 96;
/// First MFC/R2 backward tone ([`DAHDI_TONE_MFR2_REV_1`]).
pub const DAHDI_TONE_MFR2_REV_BASE: c_int = 112;

/// DTMF `0`.
pub const DAHDI_TONE_DTMF_0: c_int = DAHDI_TONE_DTMF_BASE;
/// DTMF `1`.
pub const DAHDI_TONE_DTMF_1: c_int = DAHDI_TONE_DTMF_BASE + 1;
/// DTMF `2`.
pub const DAHDI_TONE_DTMF_2: c_int = DAHDI_TONE_DTMF_BASE + 2;
/// DTMF `3`.
pub const DAHDI_TONE_DTMF_3: c_int = DAHDI_TONE_DTMF_BASE + 3;
/// DTMF `4`.
pub const DAHDI_TONE_DTMF_4: c_int = DAHDI_TONE_DTMF_BASE + 4;
/// DTMF `5`.
pub const DAHDI_TONE_DTMF_5: c_int = DAHDI_TONE_DTMF_BASE + 5;
/// DTMF `6`.
pub const DAHDI_TONE_DTMF_6: c_int = DAHDI_TONE_DTMF_BASE + 6;
/// DTMF `7`.
pub const DAHDI_TONE_DTMF_7: c_int = DAHDI_TONE_DTMF_BASE + 7;
/// DTMF `8`.
pub const DAHDI_TONE_DTMF_8: c_int = DAHDI_TONE_DTMF_BASE + 8;
/// DTMF `9`.
pub const DAHDI_TONE_DTMF_9: c_int = DAHDI_TONE_DTMF_BASE + 9;
/// DTMF `*` ("s" for star).
#[allow(non_upper_case_globals)]
pub const DAHDI_TONE_DTMF_s: c_int = DAHDI_TONE_DTMF_BASE + 10;
/// DTMF `#` ("p" for pound).
#[allow(non_upper_case_globals)]
pub const DAHDI_TONE_DTMF_p: c_int = DAHDI_TONE_DTMF_BASE + 11;
/// DTMF `A`.
pub const DAHDI_TONE_DTMF_A: c_int = DAHDI_TONE_DTMF_BASE + 12;
/// DTMF `B`.
pub const DAHDI_TONE_DTMF_B: c_int = DAHDI_TONE_DTMF_BASE + 13;
/// DTMF `C`.
pub const DAHDI_TONE_DTMF_C: c_int = DAHDI_TONE_DTMF_BASE + 14;
/// DTMF `D`.
pub const DAHDI_TONE_DTMF_D: c_int = DAHDI_TONE_DTMF_BASE + 15;
/// Last DTMF tone.
pub const DAHDI_TONE_DTMF_MAX: c_int = DAHDI_TONE_DTMF_D;

/// MF R1 `0`.
pub const DAHDI_TONE_MFR1_0: c_int = DAHDI_TONE_MFR1_BASE;
/// MF R1 `1`.
pub const DAHDI_TONE_MFR1_1: c_int = DAHDI_TONE_MFR1_BASE + 1;
/// MF R1 `2`.
pub const DAHDI_TONE_MFR1_2: c_int = DAHDI_TONE_MFR1_BASE + 2;
/// MF R1 `3`.
pub const DAHDI_TONE_MFR1_3: c_int = DAHDI_TONE_MFR1_BASE + 3;
/// MF R1 `4`.
pub const DAHDI_TONE_MFR1_4: c_int = DAHDI_TONE_MFR1_BASE + 4;
/// MF R1 `5`.
pub const DAHDI_TONE_MFR1_5: c_int = DAHDI_TONE_MFR1_BASE + 5;
/// MF R1 `6`.
pub const DAHDI_TONE_MFR1_6: c_int = DAHDI_TONE_MFR1_BASE + 6;
/// MF R1 `7`.
pub const DAHDI_TONE_MFR1_7: c_int = DAHDI_TONE_MFR1_BASE + 7;
/// MF R1 `8`.
pub const DAHDI_TONE_MFR1_8: c_int = DAHDI_TONE_MFR1_BASE + 8;
/// MF R1 `9`.
pub const DAHDI_TONE_MFR1_9: c_int = DAHDI_TONE_MFR1_BASE + 9;
/// MF R1 KP (start of pulsing).
pub const DAHDI_TONE_MFR1_KP: c_int = DAHDI_TONE_MFR1_BASE + 10;
/// MF R1 ST (end of pulsing).
pub const DAHDI_TONE_MFR1_ST: c_int = DAHDI_TONE_MFR1_BASE + 11;
/// MF R1 STP.
pub const DAHDI_TONE_MFR1_STP: c_int = DAHDI_TONE_MFR1_BASE + 12;
/// MF R1 ST2P.
pub const DAHDI_TONE_MFR1_ST2P: c_int = DAHDI_TONE_MFR1_BASE + 13;
/// MF R1 ST3P.
pub const DAHDI_TONE_MFR1_ST3P: c_int = DAHDI_TONE_MFR1_BASE + 14;
/// Last MF R1 tone.
pub const DAHDI_TONE_MFR1_MAX: c_int = DAHDI_TONE_MFR1_ST3P;

/// MFC/R2 forward signal 1.
pub const DAHDI_TONE_MFR2_FWD_1: c_int = DAHDI_TONE_MFR2_FWD_BASE;
/// MFC/R2 forward signal 2.
pub const DAHDI_TONE_MFR2_FWD_2: c_int = DAHDI_TONE_MFR2_FWD_BASE + 1;
/// MFC/R2 forward signal 3.
pub const DAHDI_TONE_MFR2_FWD_3: c_int = DAHDI_TONE_MFR2_FWD_BASE + 2;
/// MFC/R2 forward signal 4.
pub const DAHDI_TONE_MFR2_FWD_4: c_int = DAHDI_TONE_MFR2_FWD_BASE + 3;
/// MFC/R2 forward signal 5.
pub const DAHDI_TONE_MFR2_FWD_5: c_int = DAHDI_TONE_MFR2_FWD_BASE + 4;
/// MFC/R2 forward signal 6.
pub const DAHDI_TONE_MFR2_FWD_6: c_int = DAHDI_TONE_MFR2_FWD_BASE + 5;
/// MFC/R2 forward signal 7.
pub const DAHDI_TONE_MFR2_FWD_7: c_int = DAHDI_TONE_MFR2_FWD_BASE + 6;
/// MFC/R2 forward signal 8.
pub const DAHDI_TONE_MFR2_FWD_8: c_int = DAHDI_TONE_MFR2_FWD_BASE + 7;
/// MFC/R2 forward signal 9.
pub const DAHDI_TONE_MFR2_FWD_9: c_int = DAHDI_TONE_MFR2_FWD_BASE + 8;
/// MFC/R2 forward signal 10.
pub const DAHDI_TONE_MFR2_FWD_10: c_int = DAHDI_TONE_MFR2_FWD_BASE + 9;
/// MFC/R2 forward signal 11.
pub const DAHDI_TONE_MFR2_FWD_11: c_int = DAHDI_TONE_MFR2_FWD_BASE + 10;
/// MFC/R2 forward signal 12.
pub const DAHDI_TONE_MFR2_FWD_12: c_int = DAHDI_TONE_MFR2_FWD_BASE + 11;
/// MFC/R2 forward signal 13.
pub const DAHDI_TONE_MFR2_FWD_13: c_int = DAHDI_TONE_MFR2_FWD_BASE + 12;
/// MFC/R2 forward signal 14.
pub const DAHDI_TONE_MFR2_FWD_14: c_int = DAHDI_TONE_MFR2_FWD_BASE + 13;
/// MFC/R2 forward signal 15.
pub const DAHDI_TONE_MFR2_FWD_15: c_int = DAHDI_TONE_MFR2_FWD_BASE + 14;
/// Last MFC/R2 forward tone.
pub const DAHDI_TONE_MFR2_FWD_MAX: c_int = DAHDI_TONE_MFR2_FWD_15;

/// MFC/R2 backward signal 1.
pub const DAHDI_TONE_MFR2_REV_1: c_int = DAHDI_TONE_MFR2_REV_BASE;
/// MFC/R2 backward signal 2.
pub const DAHDI_TONE_MFR2_REV_2: c_int = DAHDI_TONE_MFR2_REV_BASE + 1;
/// MFC/R2 backward signal 3.
pub const DAHDI_TONE_MFR2_REV_3: c_int = DAHDI_TONE_MFR2_REV_BASE + 2;
/// MFC/R2 backward signal 4.
pub const DAHDI_TONE_MFR2_REV_4: c_int = DAHDI_TONE_MFR2_REV_BASE + 3;
/// MFC/R2 backward signal 5.
pub const DAHDI_TONE_MFR2_REV_5: c_int = DAHDI_TONE_MFR2_REV_BASE + 4;
/// MFC/R2 backward signal 6.
pub const DAHDI_TONE_MFR2_REV_6: c_int = DAHDI_TONE_MFR2_REV_BASE + 5;
/// MFC/R2 backward signal 7.
pub const DAHDI_TONE_MFR2_REV_7: c_int = DAHDI_TONE_MFR2_REV_BASE + 6;
/// MFC/R2 backward signal 8.
pub const DAHDI_TONE_MFR2_REV_8: c_int = DAHDI_TONE_MFR2_REV_BASE + 7;
/// MFC/R2 backward signal 9.
pub const DAHDI_TONE_MFR2_REV_9: c_int = DAHDI_TONE_MFR2_REV_BASE + 8;
/// MFC/R2 backward signal 10.
pub const DAHDI_TONE_MFR2_REV_10: c_int = DAHDI_TONE_MFR2_REV_BASE + 9;
/// MFC/R2 backward signal 11.
pub const DAHDI_TONE_MFR2_REV_11: c_int = DAHDI_TONE_MFR2_REV_BASE + 10;
/// MFC/R2 backward signal 12.
pub const DAHDI_TONE_MFR2_REV_12: c_int = DAHDI_TONE_MFR2_REV_BASE + 11;
/// MFC/R2 backward signal 13.
pub const DAHDI_TONE_MFR2_REV_13: c_int = DAHDI_TONE_MFR2_REV_BASE + 12;
/// MFC/R2 backward signal 14.
pub const DAHDI_TONE_MFR2_REV_14: c_int = DAHDI_TONE_MFR2_REV_BASE + 13;
/// MFC/R2 backward signal 15.
pub const DAHDI_TONE_MFR2_REV_15: c_int = DAHDI_TONE_MFR2_REV_BASE + 14;
/// Last MFC/R2 backward tone.
pub const DAHDI_TONE_MFR2_REV_MAX: c_int = DAHDI_TONE_MFR2_REV_15;

// ---------------------------------------------------------------------------
// Companding law (`DAHDI_SETLAW`, `curlaw`, `deflaw`)
// ---------------------------------------------------------------------------

/// The span's default law (μ-law for pseudo channels).
pub const DAHDI_LAW_DEFAULT: c_int = 0;
/// G.711 μ-law.
pub const DAHDI_LAW_MULAW: c_int = 1;
/// G.711 A-law.
pub const DAHDI_LAW_ALAW: c_int = 2;

// ---------------------------------------------------------------------------
// Dialling (`dahdi_dialoperation::op`)
// ---------------------------------------------------------------------------

/// Append the digits to the ones still queued.
pub const DAHDI_DIAL_OP_APPEND: c_int = 1;
/// Replace the queued digits.
pub const DAHDI_DIAL_OP_REPLACE: c_int = 2;
/// Stop dialling and drop the queued digits.
pub const DAHDI_DIAL_OP_CANCEL: c_int = 3;
/// Size of `dahdi_dialoperation::dialstr` (queued digits, NUL included).
pub const DAHDI_MAX_DTMF_BUF: c_int = 256;

/// Number of entries in a ring cadence (`ringcadence` arrays).
pub const DAHDI_MAX_CADENCE: c_int = 16;

/// `DAHDI_TONEDETECT` flag: report detected tones as events.
pub const DAHDI_TONEDETECT_ON: c_int = 1 << 0;
/// `DAHDI_TONEDETECT` flag: also mute the received audio while a tone is
/// present.
pub const DAHDI_TONEDETECT_MUTE: c_int = 1 << 1;

/// Depth of a channel's event queue.
pub const DAHDI_MAX_EVENTSIZE: c_int = 64;

// ---------------------------------------------------------------------------
// Hook operations (`DAHDI_HOOK` argument)
// ---------------------------------------------------------------------------

/// Go on hook.
pub const DAHDI_ONHOOK: c_int = 0;
/// Go off hook.
pub const DAHDI_OFFHOOK: c_int = 1;
/// Send a wink (brief off-hook).
pub const DAHDI_WINK: c_int = 2;
/// Send a flash (brief on-hook).
pub const DAHDI_FLASH: c_int = 3;
/// Start the line (seize).
pub const DAHDI_START: c_int = 4;
/// Ring the line (FXO-signalled ports).
pub const DAHDI_RING: c_int = 5;
/// Stop ringing.
pub const DAHDI_RINGOFF: c_int = 6;

// ---------------------------------------------------------------------------
// Flush flags (`DAHDI_FLUSH` argument)
// ---------------------------------------------------------------------------

/// Flush the receive buffers.
pub const DAHDI_FLUSH_READ: c_int = 1;
/// Flush the transmit buffers.
pub const DAHDI_FLUSH_WRITE: c_int = 2;
/// Flush both directions.
pub const DAHDI_FLUSH_BOTH: c_int = DAHDI_FLUSH_READ | DAHDI_FLUSH_WRITE;
/// Drop queued events.
pub const DAHDI_FLUSH_EVENT: c_int = 4;
/// Flush buffers and events.
pub const DAHDI_FLUSH_ALL: c_int = DAHDI_FLUSH_BOTH | DAHDI_FLUSH_EVENT;

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// Number of span slots.
pub const DAHDI_MAX_SPANS: c_int = 128;
/// Number of (non-pseudo) channel slots.
pub const DAHDI_MAX_CHANNELS: c_int = 1024;
/// Number of conference slots.
pub const DAHDI_MAX_CONF: c_int = 1024;
/// Largest `dahdi_echocanparams::param_count`.
pub const DAHDI_MAX_ECHOCANPARAMS: c_int = 8;

// ---------------------------------------------------------------------------
// Conferencing (`dahdi_confinfo::confmode`)
// ---------------------------------------------------------------------------

/// Mask of the mode part of `confmode`.
pub const DAHDI_CONF_MODE_MASK: c_int = 0xFF;
/// Not in a conference.
pub const DAHDI_CONF_NORMAL: c_int = 0;
/// Hear the receive audio of channel `confno`.
pub const DAHDI_CONF_MONITOR: c_int = 1;
/// Hear the transmit audio of channel `confno`.
pub const DAHDI_CONF_MONITORTX: c_int = 2;
/// Hear both directions of channel `confno`.
pub const DAHDI_CONF_MONITORBOTH: c_int = 3;
/// Member of conference `confno` (combine with talker/listener flags).
pub const DAHDI_CONF_CONF: c_int = 4;
/// Conference announcer: talks to the conference, hears nothing.
pub const DAHDI_CONF_CONFANN: c_int = 5;
/// Conference monitor: hears the conference, is not heard.
pub const DAHDI_CONF_CONFMON: c_int = 6;
/// Announcer and monitor at once.
pub const DAHDI_CONF_CONFANNMON: c_int = 7;
/// Real channel and its pseudo both in the conference (chan_dahdi 3-way).
pub const DAHDI_CONF_REALANDPSEUDO: c_int = 8;
/// Pass channel `confno`'s data through without decoding.
pub const DAHDI_CONF_DIGITALMON: c_int = 9;
/// Like [`DAHDI_CONF_MONITOR`], before echo cancellation.
pub const DAHDI_CONF_MONITOR_RX_PREECHO: c_int = 10;
/// Like [`DAHDI_CONF_MONITORTX`], before echo cancellation.
pub const DAHDI_CONF_MONITOR_TX_PREECHO: c_int = 11;
/// Like [`DAHDI_CONF_MONITORBOTH`], before echo cancellation.
pub const DAHDI_CONF_MONITORBOTH_PREECHO: c_int = 12;
/// Mask of the flag part of `confmode`.
pub const DAHDI_CONF_FLAG_MASK: c_int = 0xFF00;
/// The channel hears the conference.
pub const DAHDI_CONF_LISTENER: c_int = 0x100;
/// The channel is heard by the conference.
pub const DAHDI_CONF_TALKER: c_int = 0x200;
/// The pseudo side hears the conference ([`DAHDI_CONF_REALANDPSEUDO`]).
pub const DAHDI_CONF_PSEUDO_LISTENER: c_int = 0x400;
/// The pseudo side is heard ([`DAHDI_CONF_REALANDPSEUDO`]).
pub const DAHDI_CONF_PSEUDO_TALKER: c_int = 0x800;

// ---------------------------------------------------------------------------
// Alarms (`dahdi_spaninfo::alarms`, `dahdi_params::chan_alarms`)
// ---------------------------------------------------------------------------

/// No alarm.
pub const DAHDI_ALARM_NONE: c_int = 0;
/// Recovering from an alarm.
pub const DAHDI_ALARM_RECOVER: c_int = 1 << 0;
/// Span is in loopback.
pub const DAHDI_ALARM_LOOPBACK: c_int = 1 << 1;
/// Yellow alarm (remote alarm indication).
pub const DAHDI_ALARM_YELLOW: c_int = 1 << 2;
/// Red alarm (loss of signal or framing).
pub const DAHDI_ALARM_RED: c_int = 1 << 3;
/// Blue alarm (all-ones, AIS).
pub const DAHDI_ALARM_BLUE: c_int = 1 << 4;
/// Span or channel is not open.
pub const DAHDI_ALARM_NOTOPEN: c_int = 1 << 5;
/// Detail: loss of signal.
pub const DAHDI_ALARM_LOS: c_int = 1 << 8;
/// Detail: loss of frame alignment.
pub const DAHDI_ALARM_LFA: c_int = 1 << 9;
/// Detail: loss of multiframe alignment.
pub const DAHDI_ALARM_LMFA: c_int = 1 << 10;

// ---------------------------------------------------------------------------
// Maintenance commands (`dahdi_maintinfo::command`)
// ---------------------------------------------------------------------------

/// Leave maintenance mode.
pub const DAHDI_MAINT_NONE: c_int = 0;
/// Local loopback.
pub const DAHDI_MAINT_LOCALLOOP: c_int = 1;
/// Remote (line) loopback.
pub const DAHDI_MAINT_REMOTELOOP: c_int = 2;
/// Network line loopback (same value as [`DAHDI_MAINT_REMOTELOOP`]).
pub const DAHDI_MAINT_NETWORKLINELOOP: c_int = 2;
/// Send the loop-up code.
pub const DAHDI_MAINT_LOOPUP: c_int = 3;
/// Send the loop-down code.
pub const DAHDI_MAINT_LOOPDOWN: c_int = 4;
/// Insert a frame alignment signal defect.
pub const DAHDI_MAINT_FAS_DEFECT: c_int = 6;
/// Insert a multiframe defect.
pub const DAHDI_MAINT_MULTI_DEFECT: c_int = 7;
/// Insert a CRC defect.
pub const DAHDI_MAINT_CRC_DEFECT: c_int = 8;
/// Insert a CAS defect.
pub const DAHDI_MAINT_CAS_DEFECT: c_int = 9;
/// Insert a PRBS defect.
pub const DAHDI_MAINT_PRBS_DEFECT: c_int = 10;
/// Insert a bipolar violation.
pub const DAHDI_MAINT_BIPOLAR_DEFECT: c_int = 11;
/// Start the PRBS generator/monitor.
pub const DAHDI_MAINT_PRBS: c_int = 12;
/// Network payload loopback.
pub const DAHDI_MAINT_NETWORKPAYLOADLOOP: c_int = 13;
/// Clear the span's error counters (a maintenance command despite its
/// name lacking `MAINT_`).
pub const DAHDI_RESET_COUNTERS: c_int = 14;
/// Simulate alarms.
pub const DAHDI_MAINT_ALARM_SIM: c_int = 15;

// ---------------------------------------------------------------------------
// I/O multiplexing (`DAHDI_IOMUX` argument and result)
// ---------------------------------------------------------------------------

/// Wait until a read buffer is ready.
pub const DAHDI_IOMUX_READ: c_int = 1;
/// Wait until a write buffer is free.
pub const DAHDI_IOMUX_WRITE: c_int = 2;
/// Wait until every write buffer has been sent.
pub const DAHDI_IOMUX_WRITEEMPTY: c_int = 4;
/// Wait until an event is queued.
pub const DAHDI_IOMUX_SIGEVENT: c_int = 8;
/// Return at once if nothing is ready.
pub const DAHDI_IOMUX_NOWAIT: c_int = 0x100;

// ---------------------------------------------------------------------------
// Events (`DAHDI_GETEVENT` result)
// ---------------------------------------------------------------------------

/// No event pending.
pub const DAHDI_EVENT_NONE: c_int = 0;
/// Far end went on hook.
pub const DAHDI_EVENT_ONHOOK: c_int = 1;
/// Far end went off hook, or ringing was detected.
pub const DAHDI_EVENT_RINGOFFHOOK: c_int = 2;
/// Wink or flash received.
pub const DAHDI_EVENT_WINKFLASH: c_int = 3;
/// Alarm raised.
pub const DAHDI_EVENT_ALARM: c_int = 4;
/// Alarm cleared.
pub const DAHDI_EVENT_NOALARM: c_int = 5;
/// HDLC abort received.
pub const DAHDI_EVENT_ABORT: c_int = 6;
/// HDLC frame overrun.
pub const DAHDI_EVENT_OVERRUN: c_int = 7;
/// HDLC frame with a bad FCS.
pub const DAHDI_EVENT_BADFCS: c_int = 8;
/// Queued digits have all been dialled.
pub const DAHDI_EVENT_DIALCOMPLETE: c_int = 9;
/// Ringer started.
pub const DAHDI_EVENT_RINGERON: c_int = 10;
/// Ringer stopped.
pub const DAHDI_EVENT_RINGEROFF: c_int = 11;
/// A requested hook state change finished.
pub const DAHDI_EVENT_HOOKCOMPLETE: c_int = 12;
/// Received CAS bits changed.
pub const DAHDI_EVENT_BITSCHANGED: c_int = 13;
/// Start of a dial pulse train.
pub const DAHDI_EVENT_PULSE_START: c_int = 14;
/// Timer fd: the configured interval elapsed.
pub const DAHDI_EVENT_TIMER_EXPIRED: c_int = 15;
/// Timer fd: a ping queued with `DAHDI_TIMERPING` is ready.
pub const DAHDI_EVENT_TIMER_PING: c_int = 16;
/// Line polarity reversed.
pub const DAHDI_EVENT_POLARITY: c_int = 17;
/// Start of ringing detected.
pub const DAHDI_EVENT_RINGBEGIN: c_int = 18;
/// The echo canceller was disabled (e.g. by a fax/modem tone).
pub const DAHDI_EVENT_EC_DISABLED: c_int = 19;
/// The channel went away; close the fd.
pub const DAHDI_EVENT_REMOVED: c_int = 20;
/// Neon message-waiting pulses detected.
pub const DAHDI_EVENT_NEONMWI_ACTIVE: c_int = 21;
/// Neon message-waiting pulses stopped.
pub const DAHDI_EVENT_NEONMWI_INACTIVE: c_int = 22;
/// Fax CED tone detected in the transmit direction.
pub const DAHDI_EVENT_TX_CED_DETECTED: c_int = 23;
/// Fax CED tone detected in the receive direction.
pub const DAHDI_EVENT_RX_CED_DETECTED: c_int = 24;
/// Fax CNG tone detected in the transmit direction.
pub const DAHDI_EVENT_TX_CNG_DETECTED: c_int = 25;
/// Fax CNG tone detected in the receive direction.
pub const DAHDI_EVENT_RX_CNG_DETECTED: c_int = 26;
/// The echo canceller's non-linear processor was turned off.
pub const DAHDI_EVENT_EC_NLP_DISABLED: c_int = 27;
/// The echo canceller's non-linear processor was turned on.
pub const DAHDI_EVENT_EC_NLP_ENABLED: c_int = 28;
/// Receive buffers overflowed (only with `DAHDI_BUFFER_EVENTS` on).
pub const DAHDI_EVENT_READ_OVERRUN: c_int = 29;
/// Transmit buffers ran dry (only with `DAHDI_BUFFER_EVENTS` on).
pub const DAHDI_EVENT_WRITE_UNDERRUN: c_int = 30;
/// Flag: a pulse-dialled digit; the low bits hold the digit character.
pub const DAHDI_EVENT_PULSEDIGIT: c_int = 1 << 16;
/// Flag: a DTMF key went down; the low bits hold the digit character.
pub const DAHDI_EVENT_DTMFDOWN: c_int = 1 << 17;
/// Flag: a DTMF key went up; the low bits hold the digit character.
pub const DAHDI_EVENT_DTMFUP: c_int = 1 << 18;

// ---------------------------------------------------------------------------
// Ioctl magic numbers
// ---------------------------------------------------------------------------

/// Ioctl "type" byte of every DAHDI ioctl except the transcoder's (it was
/// `'J'` in Zaptel).
pub const DAHDI_CODE: c_int = 0xDA;
/// Ioctl "type" byte of the transcoder ioctls on `/dev/dahdi/transcode`.
pub const DAHDI_TC_CODE: c_int = b'T' as c_int;

// ---------------------------------------------------------------------------
// Visual message-waiting indication (`dahdi_vmwi_info::vmwi_type`)
// ---------------------------------------------------------------------------

/// Indicate by line reversal.
pub const DAHDI_VMWI_LREV: c_int = 1 << 0;
/// Indicate with high-voltage DC.
pub const DAHDI_VMWI_HVDC: c_int = 1 << 1;
/// Indicate with high-voltage AC (neon lamp).
pub const DAHDI_VMWI_HVAC: c_int = 1 << 2;

// ---------------------------------------------------------------------------
// Radio interfaces (`dahdi_radio_stat::radstat`, `dahdi_radio_param`)
// ---------------------------------------------------------------------------

/// Receiving.
pub const DAHDI_RADSTAT_RX: c_int = 1;
/// Transmitting.
pub const DAHDI_RADSTAT_TX: c_int = 2;
/// Receiving the configured continuous tone.
pub const DAHDI_RADSTAT_RXCT: c_int = 4;
/// Carrier-operated relay active (whether or not it is ignored).
pub const DAHDI_RADSTAT_RXCOR: c_int = 8;
/// COR is being ignored.
pub const DAHDI_RADSTAT_IGNCOR: c_int = 16;
/// CTCSS/DCS decoding is being ignored.
pub const DAHDI_RADSTAT_IGNCT: c_int = 32;
/// CTCSS/DCS encoding is blocked.
pub const DAHDI_RADSTAT_NOENCODE: c_int = 64;

/// Parameter: invert COR (0/1).
pub const DAHDI_RADPAR_INVERTCOR: c_int = 1;
/// Parameter: ignore COR (0/1).
pub const DAHDI_RADPAR_IGNORECOR: c_int = 2;
/// Parameter: ignore CTCSS/DCS decode (0/1).
pub const DAHDI_RADPAR_IGNORECT: c_int = 3;
/// Parameter: block CTCSS/DCS encode (0/1).
pub const DAHDI_RADPAR_NOENCODE: c_int = 4;
/// Parameter: COR threshold (0..=7).
pub const DAHDI_RADPAR_CORTHRESH: c_int = 5;
/// Parameter: external tone decoder selection (0 internal, 1/2 via UIOA).
pub const DAHDI_RADPAR_EXTRXTONE: c_int = 6;
/// Parameter (read): highest tone index.
pub const DAHDI_RADPAR_NUMTONES: c_int = 7;
/// Parameter: reset every tone index to "no tone".
pub const DAHDI_RADPAR_INITTONE: c_int = 8;
/// Parameter: receive CTCSS/DCS tone for `index`.
pub const DAHDI_RADPAR_RXTONE: c_int = 9;
/// Parameter: receive tone class for `index`.
pub const DAHDI_RADPAR_RXTONECLASS: c_int = 10;
/// Parameter: transmit CTCSS/DCS tone for `index`.
pub const DAHDI_RADPAR_TXTONE: c_int = 11;
/// Parameter: receive debounce time, ms.
pub const DAHDI_RADPAR_DEBOUNCETIME: c_int = 12;
/// Parameter: transmit tail without tone, ms.
pub const DAHDI_RADPAR_BURSTTIME: c_int = 13;
/// Parameter: UIOA/UIOB data bits.
pub const DAHDI_RADPAR_UIODATA: c_int = 14;
/// Parameter: UIOA/UIOB direction (0..=3).
pub const DAHDI_RADPAR_UIOMODE: c_int = 15;
/// Parameter: remote control data mode (`DAHDI_RADPAR_REM_*`).
pub const DAHDI_RADPAR_REMMODE: c_int = 16;
/// Remote mode: none.
pub const DAHDI_RADPAR_REM_NONE: c_int = 0;
/// Remote mode: RBI-1.
pub const DAHDI_RADPAR_REM_RBI1: c_int = 1;
/// Remote mode: binary serial, 9600 bit/s.
pub const DAHDI_RADPAR_REM_SERIAL: c_int = 2;
/// Remote mode: ASCII serial, 9600 bit/s.
pub const DAHDI_RADPAR_REM_SERIAL_ASCII: c_int = 3;
/// Parameter: send `buf` to the remote and run the command.
pub const DAHDI_RADPAR_REMCOMMAND: c_int = 17;
/// Parameter: audio de-emphasis on/off.
pub const DAHDI_RADPAR_DEEMP: c_int = 18;
/// Parameter: audio pre-emphasis on/off.
pub const DAHDI_RADPAR_PREEMP: c_int = 19;
/// Parameter: receive audio gain.
pub const DAHDI_RADPAR_RXGAIN: c_int = 20;
/// Parameter: transmit audio gain.
pub const DAHDI_RADPAR_TXGAIN: c_int = 21;
/// Size of `dahdi_radio_param::buf`.
pub const RAD_SERIAL_BUFLEN: c_int = 128;

// ---------------------------------------------------------------------------
// wctdm_user.h
// ---------------------------------------------------------------------------

/// Number of direct registers in `wctdm_regs::direct`.
pub const NUM_REGS: c_int = 109;
/// Number of indirect registers in `wctdm_regs::indirect`.
pub const NUM_INDIRECT_REGS: c_int = 105;
