//! ABI test that cannot drift: dahdi-sys against the real C header.
//!
//! 1. Finds the DAHDI headers of both supported platforms: Debian 12's
//!    installed ones (`$DAHDI_INCLUDE_DIR`, else `/usr/src/dahdi-*/include`)
//!    and Debian 13's (`$DAHDI_DEBIAN13_INCLUDE_DIR`, which scripts/test.sh
//!    sets from the test bed's trixie stage), and parses `dahdi/user.h` and
//!    `dahdi/wctdm_user.h` for every object-like `#define`, `enum`
//!    constant, ioctl macro, struct (with its fields) and inline function.
//! 2. Generates a C program from those names, compiles it against the
//!    header and runs it: it prints sizeof/alignof of every struct, offset,
//!    size, signedness and array length of every field, the byte image of
//!    every bitfield, and the value, size and signedness of every constant
//!    and ioctl.
//! 3. Computes the same from dahdi-sys and compares. No expected value is
//!    written here: the only hand-written lists are *names* (Rust needs
//!    them at compile time), and those lists are themselves checked against
//!    the header and against dahdi-sys's sources, in both directions, so
//!    nothing can be added on either side without this test noticing.
//!
//! Every item of each platform's headers must be in dahdi-sys with the same
//! ABI; every item of dahdi-sys must be in at least one platform's headers
//! (Debian 13's adds `DAHDI_SIMULATE_ALARM`), and the report names what only
//! one platform has.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use dahdi_sys::*;

// ---------------------------------------------------------------------------
// Rust side: what dahdi-sys says
// ---------------------------------------------------------------------------

/// Facts about a field type that C can also report.
trait AbiType {
    /// Signedness of the integer (or of the array element); `None` for
    /// pointers and structs.
    const SIGNED: Option<bool>;
    /// Element count for arrays, `None` for scalars.
    const ARRAY_LEN: Option<usize> = None;
}

macro_rules! int_abi {
    ($($t:ty => $signed:expr),*) => {$(
        impl AbiType for $t {
            const SIGNED: Option<bool> = Some($signed);
        }
    )*};
}
int_abi!(i8 => true, u8 => false, i16 => true, u16 => false, i32 => true, u32 => false,
         i64 => true, u64 => false);

impl<T> AbiType for *mut T {
    const SIGNED: Option<bool> = None;
}

impl<T: AbiType, const N: usize> AbiType for [T; N] {
    const SIGNED: Option<bool> = T::SIGNED;
    const ARRAY_LEN: Option<usize> = Some(N);
}

#[derive(Debug, Clone, PartialEq)]
struct FieldFacts {
    offset: usize,
    size: usize,
    signed: Option<bool>,
    array_len: Option<usize>,
}

#[derive(Debug)]
struct StructFacts {
    size: usize,
    align: usize,
    fields: BTreeMap<&'static str, FieldFacts>,
}

/// Size, signedness and array length of the type of a field, found from a
/// never-called projection closure (works for packed structs too).
fn field_type_facts<S, T: AbiType>(_project: fn(S) -> T) -> (usize, Option<bool>, Option<usize>) {
    (std::mem::size_of::<T>(), T::SIGNED, T::ARRAY_LEN)
}

/// Lists the dahdi-sys structs and their fields by name; everything else
/// is computed.
macro_rules! rust_structs {
    ($($s:ident { $($f:ident),* $(,)? })*) => {
        $(impl AbiType for $s {
            const SIGNED: Option<bool> = None;
        })*

        fn rust_structs() -> BTreeMap<&'static str, StructFacts> {
            let mut all = BTreeMap::new();
            $(
                let mut fields = BTreeMap::new();
                $(
                    let (size, signed, array_len) = field_type_facts(|s: $s| s.$f);
                    fields.insert(stringify!($f), FieldFacts {
                        offset: std::mem::offset_of!($s, $f),
                        size,
                        signed,
                        array_len,
                    });
                )*
                all.insert(stringify!($s), StructFacts {
                    size: std::mem::size_of::<$s>(),
                    align: std::mem::align_of::<$s>(),
                    fields,
                });
            )*
            all
        }
    };
}

rust_structs! {
    dahdi_transcoder_formats { srcfmt, dstfmt }
    dahdi_transcoder_info { tcnum, name, numchannels, dstfmts, srcfmts }
    dahdi_params {
        channo, spanno, chanpos, sigtype, sigcap, rxisoffhook, rxbits, txbits, txhooksig,
        rxhooksig, curlaw, idlebits, name, prewinktime, preflashtime, winktime, flashtime,
        starttime, rxwinktime, rxflashtime, debouncetime, pulsebreaktime, pulsemaketime,
        pulseaftertime, chan_alarms,
    }
    dahdi_spaninfo {
        spanno, name, desc, alarms, txlevel, rxlevel, bpvcount, crc4count, ebitcount, fascount,
        fecount, cvcount, becount, prbs, errsec, irqmisses, syncsrc, numchans, totalchans,
        totalspans, lbo, lineconfig, lboname, location, manufacturer, devicetype, irq,
        linecompat, spantype,
    }
    dahdi_spaninfo_v1 {
        spanno, name, desc, alarms, txlevel, rxlevel, bpvcount, crc4count, ebitcount, fascount,
        irqmisses, syncsrc, numchans, totalchans, totalspans, lbo, lineconfig, lboname,
        location, manufacturer, devicetype, irq, linecompat, spantype,
    }
    dahdi_maintinfo { spanno, command }
    dahdi_simulate_alarm { spanno, alarms }
    dahdi_confinfo { chan, confno, confmode }
    dahdi_gains { chan, rxgain, txgain }
    dahdi_lineconfig { span, name, lbo, lineconfig, sync }
    dahdi_chanconfig { chan, name, sigtype, deflaw, master, idlebits, netdev_name }
    dahdi_tone_def {
        tone, next, samples, shift, fac1, init_v2_1, init_v3_1, fac2, init_v2_2, init_v3_2,
        modulate,
    }
    dahdi_tone_def_header { count, zone, ringcadence, name, tones }
    dahdi_bufferinfo { txbufpolicy, rxbufpolicy, numbufs, bufsize, readbufs, writebufs }
    dahdi_dialparams { mfv1_tonelen, dtmf_tonelen, mfr2_tonelen, reserved }
    dahdi_dialoperation { op, dialstr }
    dahdi_echocanparam { name, value }
    dahdi_echocanparams { tap_length, param_count, params }
    dahdi_ring_cadence { ringcadence }
    dahdi_sfconfig { chan, name, rxp1, rxp2, rxp3, txtone, tx_v2, tx_v3, toneflag }
    dahdi_indirect_data { chan, op, data }
    dahdi_versioninfo { version, echo_canceller }
    dahdi_attach_echocan { chan, echocan }
    dahdi_dynamic_span { driver, addr, numchans, timing, spanno }
    dahdi_hwgain { newgain, tx }
    dahdi_vmwi_info { vmwi_type }
    dahdi_radio_stat { ctcode_rx, ctclass, ctcode_tx, radstat }
    dahdi_radio_param { radpar, index, data, data2, buf }
    wctdm_stats { tipvolt, ringvolt, batvolt }
    wctdm_regs { direct, indirect }
    wctdm_regop { indirect, reg, val }
    wctdm_echo_coefs { acim, coef1, coef2, coef3, coef4, coef5, coef6, coef7, coef8 }
}

/// Byte image of a zeroed struct with the given C bitfield set to all
/// ones, as dahdi-sys models it. C prints the same from the header.
fn rust_bitfield_image(strukt: &str, field: &str) -> Option<Vec<u8>> {
    match (strukt, field) {
        ("dahdi_hwgain", "tx") => {
            let mut g = dahdi_hwgain::zeroed();
            g.set_tx(true);
            Some(bytes_of(&g))
        }
        _ => None,
    }
}

fn bytes_of<T: Copy>(value: &T) -> Vec<u8> {
    // SAFETY: only used on dahdi-sys structs without padding bytes that
    // could be uninitialised (checked: dahdi_hwgain is two u32s).
    unsafe {
        std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
    }
    .to_vec()
}

/// Value, size and signedness of an integer constant.
trait ConstFacts {
    fn facts(self) -> (i128, usize, bool);
}

macro_rules! const_facts {
    ($($t:ty),*) => {$(
        impl ConstFacts for $t {
            fn facts(self) -> (i128, usize, bool) {
                (self as i128, std::mem::size_of::<$t>(), <$t>::MIN != 0)
            }
        }
    )*};
}
const_facts!(i8, u8, i16, u16, i32, u32, i64, u64);

macro_rules! rust_consts {
    ($($c:ident),* $(,)?) => {
        fn rust_consts() -> BTreeMap<&'static str, (i128, usize, bool)> {
            BTreeMap::from([$((stringify!($c), ConstFacts::facts($c))),*])
        }
    };
}

rust_consts! {
    ELAST,
    DAHDI_CONFIG_TXLEVEL, DAHDI_CONFIG_D4, DAHDI_CONFIG_ESF, DAHDI_CONFIG_AMI, DAHDI_CONFIG_B8ZS,
    DAHDI_CONFIG_CCS, DAHDI_CONFIG_HDB3, DAHDI_CONFIG_CRC4, DAHDI_CONFIG_NOTOPEN,
    DAHDI_CONFIG_NTTE, DAHDI_CONFIG_TERM,
    DAHDI_SIG_BROKEN, __DAHDI_SIG_FXO, __DAHDI_SIG_FXS, __DAHDI_SIG_DACS, DAHDI_SIG_NONE,
    DAHDI_SIG_FXSLS, DAHDI_SIG_FXSGS, DAHDI_SIG_FXSKS, DAHDI_SIG_FXOLS, DAHDI_SIG_FXOGS,
    DAHDI_SIG_FXOKS, DAHDI_SIG_EM, DAHDI_SIG_CLEAR, DAHDI_SIG_HDLCRAW, DAHDI_SIG_HDLCFCS,
    DAHDI_SIG_HDLCNET, DAHDI_SIG_SLAVE, DAHDI_SIG_SF, DAHDI_SIG_CAS, DAHDI_SIG_DACS,
    DAHDI_SIG_EM_E1, DAHDI_SIG_DACS_RBS, DAHDI_SIG_HARDHDLC, DAHDI_SIG_MTP2,
    DAHDI_REVERSE_RXTONE, DAHDI_REVERSE_TXTONE,
    DAHDI_ABIT, DAHDI_BBIT, DAHDI_CBIT, DAHDI_DBIT, DAHDI_BITS_ABCD, DAHDI_BITS_ABD,
    DAHDI_BITS_ACD, DAHDI_BITS_BCD, DAHDI_BITS_AC, DAHDI_BITS_BD,
    DAHDI_MAJOR, DAHDI_CTL, DAHDI_TRANSCODE, DAHDI_TIMER, DAHDI_CHANNEL, DAHDI_PSEUDO,
    DAHDI_MAX_BLOCKSIZE, DAHDI_DEFAULT_NUM_BUFS, DAHDI_MAX_NUM_BUFS, DAHDI_MAX_BUF_SPACE,
    DAHDI_DEFAULT_BLOCKSIZE, DAHDI_DEFAULT_MTR_MRU, DAHDI_DEFAULT_MTU_MRU,
    DAHDI_POLICY_IMMEDIATE, DAHDI_POLICY_WHEN_FULL, DAHDI_POLICY_HALF_FULL,
    DAHDI_GET_PARAMS_RETURN_MASTER,
    DAHDI_TONE_ZONE_MAX, DAHDI_TONE_ZONE_DEFAULT, DAHDI_TONE_STOP, DAHDI_TONE_DIALTONE,
    DAHDI_TONE_BUSY, DAHDI_TONE_RINGTONE, DAHDI_TONE_CONGESTION, DAHDI_TONE_CALLWAIT,
    DAHDI_TONE_DIALRECALL, DAHDI_TONE_RECORDTONE, DAHDI_TONE_INFO, DAHDI_TONE_CUST1,
    DAHDI_TONE_CUST2, DAHDI_TONE_STUTTER, DAHDI_TONE_MAX, DAHDI_TONE_DTMF_BASE,
    DAHDI_TONE_MFR1_BASE, DAHDI_TONE_MFR2_FWD_BASE, DAHDI_TONE_MFR2_REV_BASE,
    DAHDI_TONE_DTMF_0, DAHDI_TONE_DTMF_1, DAHDI_TONE_DTMF_2, DAHDI_TONE_DTMF_3,
    DAHDI_TONE_DTMF_4, DAHDI_TONE_DTMF_5, DAHDI_TONE_DTMF_6, DAHDI_TONE_DTMF_7,
    DAHDI_TONE_DTMF_8, DAHDI_TONE_DTMF_9, DAHDI_TONE_DTMF_s, DAHDI_TONE_DTMF_p,
    DAHDI_TONE_DTMF_A, DAHDI_TONE_DTMF_B, DAHDI_TONE_DTMF_C, DAHDI_TONE_DTMF_D,
    DAHDI_TONE_DTMF_MAX,
    DAHDI_TONE_MFR1_0, DAHDI_TONE_MFR1_1, DAHDI_TONE_MFR1_2, DAHDI_TONE_MFR1_3,
    DAHDI_TONE_MFR1_4, DAHDI_TONE_MFR1_5, DAHDI_TONE_MFR1_6, DAHDI_TONE_MFR1_7,
    DAHDI_TONE_MFR1_8, DAHDI_TONE_MFR1_9, DAHDI_TONE_MFR1_KP, DAHDI_TONE_MFR1_ST,
    DAHDI_TONE_MFR1_STP, DAHDI_TONE_MFR1_ST2P, DAHDI_TONE_MFR1_ST3P, DAHDI_TONE_MFR1_MAX,
    DAHDI_TONE_MFR2_FWD_1, DAHDI_TONE_MFR2_FWD_2, DAHDI_TONE_MFR2_FWD_3,
    DAHDI_TONE_MFR2_FWD_4, DAHDI_TONE_MFR2_FWD_5, DAHDI_TONE_MFR2_FWD_6,
    DAHDI_TONE_MFR2_FWD_7, DAHDI_TONE_MFR2_FWD_8, DAHDI_TONE_MFR2_FWD_9,
    DAHDI_TONE_MFR2_FWD_10, DAHDI_TONE_MFR2_FWD_11, DAHDI_TONE_MFR2_FWD_12,
    DAHDI_TONE_MFR2_FWD_13, DAHDI_TONE_MFR2_FWD_14, DAHDI_TONE_MFR2_FWD_15,
    DAHDI_TONE_MFR2_FWD_MAX,
    DAHDI_TONE_MFR2_REV_1, DAHDI_TONE_MFR2_REV_2, DAHDI_TONE_MFR2_REV_3,
    DAHDI_TONE_MFR2_REV_4, DAHDI_TONE_MFR2_REV_5, DAHDI_TONE_MFR2_REV_6,
    DAHDI_TONE_MFR2_REV_7, DAHDI_TONE_MFR2_REV_8, DAHDI_TONE_MFR2_REV_9,
    DAHDI_TONE_MFR2_REV_10, DAHDI_TONE_MFR2_REV_11, DAHDI_TONE_MFR2_REV_12,
    DAHDI_TONE_MFR2_REV_13, DAHDI_TONE_MFR2_REV_14, DAHDI_TONE_MFR2_REV_15,
    DAHDI_TONE_MFR2_REV_MAX,
    DAHDI_LAW_DEFAULT, DAHDI_LAW_MULAW, DAHDI_LAW_ALAW,
    DAHDI_DIAL_OP_APPEND, DAHDI_DIAL_OP_REPLACE, DAHDI_DIAL_OP_CANCEL,
    DAHDI_MAX_CADENCE, DAHDI_TONEDETECT_ON, DAHDI_TONEDETECT_MUTE, DAHDI_MAX_DTMF_BUF,
    DAHDI_MAX_EVENTSIZE,
    DAHDI_ONHOOK, DAHDI_OFFHOOK, DAHDI_WINK, DAHDI_FLASH, DAHDI_START, DAHDI_RING,
    DAHDI_RINGOFF,
    DAHDI_FLUSH_READ, DAHDI_FLUSH_WRITE, DAHDI_FLUSH_BOTH, DAHDI_FLUSH_EVENT, DAHDI_FLUSH_ALL,
    DAHDI_MAX_SPANS, DAHDI_MAX_CHANNELS, DAHDI_MAX_CONF,
    DAHDI_CONF_MODE_MASK, DAHDI_CONF_NORMAL, DAHDI_CONF_MONITOR, DAHDI_CONF_MONITORTX,
    DAHDI_CONF_MONITORBOTH, DAHDI_CONF_CONF, DAHDI_CONF_CONFANN, DAHDI_CONF_CONFMON,
    DAHDI_CONF_CONFANNMON, DAHDI_CONF_REALANDPSEUDO, DAHDI_CONF_DIGITALMON,
    DAHDI_CONF_MONITOR_RX_PREECHO, DAHDI_CONF_MONITOR_TX_PREECHO,
    DAHDI_CONF_MONITORBOTH_PREECHO, DAHDI_CONF_FLAG_MASK, DAHDI_CONF_LISTENER,
    DAHDI_CONF_TALKER, DAHDI_CONF_PSEUDO_LISTENER, DAHDI_CONF_PSEUDO_TALKER,
    DAHDI_ALARM_NONE, DAHDI_ALARM_RECOVER, DAHDI_ALARM_LOOPBACK, DAHDI_ALARM_YELLOW,
    DAHDI_ALARM_RED, DAHDI_ALARM_BLUE, DAHDI_ALARM_NOTOPEN, DAHDI_ALARM_LOS, DAHDI_ALARM_LFA,
    DAHDI_ALARM_LMFA,
    DAHDI_MAINT_NONE, DAHDI_MAINT_LOCALLOOP, DAHDI_MAINT_REMOTELOOP,
    DAHDI_MAINT_NETWORKLINELOOP, DAHDI_MAINT_LOOPUP, DAHDI_MAINT_LOOPDOWN,
    DAHDI_MAINT_FAS_DEFECT, DAHDI_MAINT_MULTI_DEFECT, DAHDI_MAINT_CRC_DEFECT,
    DAHDI_MAINT_CAS_DEFECT, DAHDI_MAINT_PRBS_DEFECT, DAHDI_MAINT_BIPOLAR_DEFECT,
    DAHDI_MAINT_PRBS, DAHDI_MAINT_NETWORKPAYLOADLOOP, DAHDI_RESET_COUNTERS,
    DAHDI_MAINT_ALARM_SIM,
    DAHDI_IOMUX_READ, DAHDI_IOMUX_WRITE, DAHDI_IOMUX_WRITEEMPTY, DAHDI_IOMUX_SIGEVENT,
    DAHDI_IOMUX_NOWAIT,
    DAHDI_EVENT_NONE, DAHDI_EVENT_ONHOOK, DAHDI_EVENT_RINGOFFHOOK, DAHDI_EVENT_WINKFLASH,
    DAHDI_EVENT_ALARM, DAHDI_EVENT_NOALARM, DAHDI_EVENT_ABORT, DAHDI_EVENT_OVERRUN,
    DAHDI_EVENT_BADFCS, DAHDI_EVENT_DIALCOMPLETE, DAHDI_EVENT_RINGERON,
    DAHDI_EVENT_RINGEROFF, DAHDI_EVENT_HOOKCOMPLETE, DAHDI_EVENT_BITSCHANGED,
    DAHDI_EVENT_PULSE_START, DAHDI_EVENT_TIMER_EXPIRED, DAHDI_EVENT_TIMER_PING,
    DAHDI_EVENT_POLARITY, DAHDI_EVENT_RINGBEGIN, DAHDI_EVENT_EC_DISABLED,
    DAHDI_EVENT_REMOVED, DAHDI_EVENT_NEONMWI_ACTIVE, DAHDI_EVENT_NEONMWI_INACTIVE,
    DAHDI_EVENT_TX_CED_DETECTED, DAHDI_EVENT_RX_CED_DETECTED, DAHDI_EVENT_TX_CNG_DETECTED,
    DAHDI_EVENT_RX_CNG_DETECTED, DAHDI_EVENT_EC_NLP_DISABLED, DAHDI_EVENT_EC_NLP_ENABLED,
    DAHDI_EVENT_READ_OVERRUN, DAHDI_EVENT_WRITE_UNDERRUN, DAHDI_EVENT_PULSEDIGIT,
    DAHDI_EVENT_DTMFDOWN, DAHDI_EVENT_DTMFUP,
    DAHDI_MAX_ECHOCANPARAMS, DAHDI_CODE, DAHDI_TC_CODE,
    DAHDI_VMWI_LREV, DAHDI_VMWI_HVDC, DAHDI_VMWI_HVAC,
    DAHDI_RADSTAT_RX, DAHDI_RADSTAT_TX, DAHDI_RADSTAT_RXCT, DAHDI_RADSTAT_RXCOR,
    DAHDI_RADSTAT_IGNCOR, DAHDI_RADSTAT_IGNCT, DAHDI_RADSTAT_NOENCODE,
    DAHDI_RADPAR_INVERTCOR, DAHDI_RADPAR_IGNORECOR, DAHDI_RADPAR_IGNORECT,
    DAHDI_RADPAR_NOENCODE, DAHDI_RADPAR_CORTHRESH, DAHDI_RADPAR_EXTRXTONE,
    DAHDI_RADPAR_NUMTONES, DAHDI_RADPAR_INITTONE, DAHDI_RADPAR_RXTONE,
    DAHDI_RADPAR_RXTONECLASS, DAHDI_RADPAR_TXTONE, DAHDI_RADPAR_DEBOUNCETIME,
    DAHDI_RADPAR_BURSTTIME, DAHDI_RADPAR_UIODATA, DAHDI_RADPAR_UIOMODE, DAHDI_RADPAR_REMMODE,
    DAHDI_RADPAR_REM_NONE, DAHDI_RADPAR_REM_RBI1, DAHDI_RADPAR_REM_SERIAL,
    DAHDI_RADPAR_REM_SERIAL_ASCII, DAHDI_RADPAR_REMCOMMAND, DAHDI_RADPAR_DEEMP,
    DAHDI_RADPAR_PREEMP, DAHDI_RADPAR_RXGAIN, DAHDI_RADPAR_TXGAIN, RAD_SERIAL_BUFLEN,
    NUM_REGS, NUM_INDIRECT_REGS,
}

/// Constants `kernel.h` defines (userspace cannot include it): their
/// `#define` lines are copied from it into the C program.
const KERNEL_H_CONSTS: &[&str] = &[
    "DAHDI_CTL",
    "DAHDI_TRANSCODE",
    "DAHDI_TIMER",
    "DAHDI_CHANNEL",
    "DAHDI_PSEUDO",
];

/// Public constants of dahdi-sys that have no C counterpart, and how each
/// is checked instead.
const RUST_ONLY_CONSTS: &[(&str, &str)] = &[
    (
        "DAHDI_HWGAIN_TX",
        "bit of the dahdi_hwgain::tx bitfield, checked by byte image",
    ),
    (
        "DAHDI_DEV_DIR",
        "device path, checked against the driver sources",
    ),
    (
        "DAHDI_CTL_PATH",
        "device path, checked against the driver sources",
    ),
    (
        "DAHDI_TRANSCODE_PATH",
        "device path, checked against the driver sources",
    ),
    (
        "DAHDI_TIMER_PATH",
        "device path, checked against the driver sources",
    ),
    (
        "DAHDI_CHANNEL_PATH",
        "device path, checked against the driver sources",
    ),
    (
        "DAHDI_PSEUDO_PATH",
        "device path, checked against the driver sources",
    ),
    (
        "DAHDI_CHAN_DIR",
        "device path, checked against the driver sources",
    ),
    (
        "IOCTLS",
        "table of the ioctl constants, each checked as an ioctl",
    ),
];

/// Public structs of dahdi-sys that are not C types, and why.
const RUST_ONLY_STRUCTS: &[(&str, &str)] = &[(
    "Ioctl",
    "an ioctl's C name and request code (the ioctl::* table); each ioctl is checked as an \
     ioctl",
)];

/// Inline functions of the header that dahdi-sys reimplements; the C and
/// Rust versions are run on the same inputs.
const HELPER_FUNCTIONS: &[&str] = &["dahdi_copy_string"];

/// Inputs for the `dahdi_copy_string` comparison: (destination size,
/// source string).
const COPY_STRING_CASES: &[(usize, &str)] = &[
    (1, ""),
    (1, "a"),
    (4, ""),
    (4, "ab"),
    (4, "abc"),
    (4, "abcd"),
    (4, "abcdefgh"),
    (8, "x"),
];

// ---------------------------------------------------------------------------
// Finding and parsing the header
// ---------------------------------------------------------------------------

/// The include directory of Debian 12's DAHDI (the host's dahdi-dkms).
fn debian12_include_dir() -> PathBuf {
    const HELP: &str = "install the DAHDI headers with `apt-get install dahdi-dkms` \
        (they land in /usr/src/dahdi-<version>/include), or set DAHDI_INCLUDE_DIR to a \
        directory that contains dahdi/user.h";
    if let Some(dir) = std::env::var_os("DAHDI_INCLUDE_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("dahdi/user.h").is_file(),
            "DAHDI_INCLUDE_DIR={} has no dahdi/user.h: {HELP}",
            dir.display()
        );
        return dir;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/src")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("dahdi-"))
        .map(|e| e.path().join("include"))
        .filter(|inc| inc.join("dahdi/user.h").is_file())
        .collect();
    found.sort();
    match found.pop() {
        Some(dir) => dir,
        None => {
            panic!("DAHDI C header not found (no /usr/src/dahdi-*/include/dahdi/user.h): {HELP}")
        }
    }
}

/// The include directory of Debian 13's DAHDI, from the test bed's trixie
/// stage (this host is Debian 12, where Debian 13's dahdi-dkms does not install).
fn debian13_include_dir() -> PathBuf {
    const HELP: &str = "scripts/test.sh sets it; by hand (as root, it builds the test \
        bed's cached Debian 13 stage the first time): `export DAHDI_DEBIAN13_INCLUDE_DIR=$(cargo \
        run -q --release -p dahdi-tests --bin vm-platform -- include-dir debian13)`";
    let Some(dir) = std::env::var_os("DAHDI_DEBIAN13_INCLUDE_DIR") else {
        panic!(
            "DAHDI_DEBIAN13_INCLUDE_DIR is not set: the ABI test checks dahdi-sys against \
             Debian 13's DAHDI header too. {HELP}"
        );
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("dahdi/user.h").is_file(),
        "DAHDI_DEBIAN13_INCLUDE_DIR={} has no dahdi/user.h; {HELP}",
        dir.display()
    );
    dir
}

/// `wctdm_user.h` sits next to `user.h` in the DAHDI tree; look there, then
/// anywhere in the source tree the include directory belongs to.
fn find_wctdm_header(include: &Path) -> PathBuf {
    let direct = include.join("dahdi/wctdm_user.h");
    if direct.is_file() {
        return direct;
    }
    fn walk(dir: &Path, depth: usize) -> Option<PathBuf> {
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "wctdm_user.h") {
                return Some(path);
            }
            if depth > 0 && path.is_dir() {
                if let Some(found) = walk(&path, depth - 1) {
                    return Some(found);
                }
            }
        }
        None
    }
    include
        .parent()
        .and_then(|root| walk(root, 4))
        .unwrap_or_else(|| panic!("wctdm_user.h not found in or near {}", include.display()))
}

#[derive(Debug, Clone)]
struct CField {
    name: String,
    is_array: bool,
    is_bitfield: bool,
    /// Pointer or struct type: no signedness to compare.
    non_integer: bool,
}

#[derive(Debug, Clone)]
struct CStruct {
    name: String,
    fields: Vec<CField>,
    file: String,
}

#[derive(Debug, Default)]
struct Header {
    /// Object-like macros that are not ioctls, and enum constants.
    consts: Vec<(String, String)>,
    /// Ioctl macros, with the header file they come from.
    ioctls: Vec<(String, String)>,
    structs: Vec<CStruct>,
    inline_functions: Vec<String>,
    /// `CONFIG_*` options the header tests with `#ifdef`.
    config_options: BTreeSet<String>,
}

/// Removes comments, keeping line breaks, and joins continued lines.
fn clean_source(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' | '\'' => {
                out.push(c);
                let mut escaped = false;
                for d in chars.by_ref() {
                    out.push(d);
                    if !escaped && d == c {
                        break;
                    }
                    escaped = d == '\\' && !escaped;
                }
            }
            _ => out.push(c),
        }
    }
    out.replace("\\\n", " ")
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits a leading identifier off `s`.
fn take_ident(s: &str) -> (&str, &str) {
    let end = s.find(|c| !is_ident_char(c)).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Finds the body of the brace block starting at `open` (which must be a
/// `{`); returns the body and the index just past the closing brace.
fn brace_block(text: &str, open: usize) -> (&str, usize) {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (&text[open + 1..open + i], open + i + 1);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in header");
}

/// Positions of `word` in `text` as a whole word.
fn word_positions<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

fn parse_field(decl: &str, strukt: &str) -> CField {
    assert!(
        !decl.contains(','),
        "{strukt}: several declarators in `{decl}` are not supported by this parser"
    );
    let (decl, is_bitfield) = match decl.split_once(':') {
        Some((d, _width)) => (d.trim(), true),
        None => (decl, false),
    };
    let (decl, is_array) = match decl.find('[') {
        Some(i) => (decl[..i].trim_end(), true),
        None => (decl, false),
    };
    let name_start = decl.rfind(|c| !is_ident_char(c)).map_or(0, |i| i + 1);
    let (ty, name) = (decl[..name_start].trim(), &decl[name_start..]);
    assert!(
        !name.is_empty() && !ty.is_empty(),
        "{strukt}: cannot parse field `{decl}`"
    );
    let non_integer = ty.contains('*') || ty.starts_with("struct") || ty.starts_with("union");
    CField {
        name: name.to_string(),
        is_array,
        is_bitfield,
        non_integer,
    }
}

fn parse_header(text: &str, file: &str, out: &mut Header) {
    let text = clean_source(text);
    let mut code = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let Some(directive) = trimmed.strip_prefix('#') else {
            code.push_str(line);
            code.push('\n');
            continue;
        };
        let directive = directive.trim_start();
        if let Some(rest) = directive.strip_prefix("ifdef") {
            let option = rest.trim();
            if option.starts_with("CONFIG_") {
                out.config_options.insert(option.to_string());
            }
        }
        let Some(rest) = directive.strip_prefix("define") else {
            continue;
        };
        let (name, value) = take_ident(rest.trim_start());
        assert!(
            !value.starts_with('('),
            "{file}: function-like macro {name} is not handled by this test"
        );
        let value = value.trim();
        if value.is_empty() {
            continue; // include guards and feature flags
        }
        let is_ioctl = value.starts_with("_IO")
            && take_ident(value)
                .0
                .trim_start_matches("_IO")
                .chars()
                .all(|c| c == 'R' || c == 'W');
        if is_ioctl {
            out.ioctls.push((name.to_string(), file.to_string()));
        } else {
            out.consts.push((name.to_string(), value.to_string()));
        }
    }

    for pos in word_positions(&code, "struct") {
        let rest = code[pos + "struct".len()..].trim_start();
        let (name, after) = take_ident(rest);
        let after_trimmed = after.trim_start();
        if name.is_empty() || !after_trimmed.starts_with('{') {
            continue;
        }
        let open = code.len() - after_trimmed.len();
        let (body, _) = brace_block(&code, open);
        let fields = body
            .split(';')
            .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|d| !d.is_empty())
            .map(|d| parse_field(&d, name))
            .collect();
        out.structs.push(CStruct {
            name: name.to_string(),
            fields,
            file: file.to_string(),
        });
    }

    for pos in word_positions(&code, "enum") {
        let rest = code[pos + "enum".len()..].trim_start();
        let (_tag, after) = take_ident(rest);
        let after_trimmed = after.trim_start();
        if !after_trimmed.starts_with('{') {
            continue;
        }
        let open = code.len() - after_trimmed.len();
        let (body, _) = brace_block(&code, open);
        for item in body.split(',') {
            let (name, value) = take_ident(item.trim());
            if !name.is_empty() {
                out.consts.push((
                    name.to_string(),
                    value.trim().trim_start_matches('=').trim().to_string(),
                ));
            }
        }
    }

    for pos in word_positions(&code, "inline") {
        let rest = &code[pos..];
        let Some(paren) = rest.find('(') else {
            continue;
        };
        let signature = rest[..paren].trim_end();
        let name_start = signature.rfind(|c| !is_ident_char(c)).map_or(0, |i| i + 1);
        out.inline_functions
            .push(signature[name_start..].to_string());
    }
}

/// The `#define` lines of the fixed minors in `kernel.h`.
fn kernel_h_defines(include: &Path) -> Vec<String> {
    let path = include.join("dahdi/kernel.h");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} for the fixed minors: {e}", path.display()));
    let text = clean_source(&text);
    KERNEL_H_CONSTS
        .iter()
        .map(|name| {
            text.lines()
                .map(str::trim)
                .find(|l| {
                    l.strip_prefix('#')
                        .and_then(|d| d.trim_start().strip_prefix("define"))
                        .is_some_and(|r| take_ident(r.trim_start()).0 == *name)
                })
                .unwrap_or_else(|| panic!("{} does not define {name}", path.display()))
                .to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The C program
// ---------------------------------------------------------------------------

fn c_program(header: &Header, kernel_defines: &[String]) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <string.h>\n\
         #include <dahdi/user.h>\n#include <dahdi/wctdm_user.h>\n\n\
         /* fixed minors, copied from dahdi/kernel.h */\n",
    );
    for line in kernel_defines {
        writeln!(c, "{line}").unwrap();
    }
    c.push_str(
        "\nstatic void image(const char *s, const char *f, const void *p, size_t n) {\n\
         \tconst unsigned char *b = p;\n\tprintf(\"BITFIELD %s %s \", s, f);\n\
         \tfor (size_t i = 0; i < n; i++) printf(\"%02x\", b[i]);\n\tprintf(\"\\n\");\n}\n\n\
         int main(void) {\n",
    );
    for (name, _) in &header.ioctls {
        writeln!(
            c,
            "\tprintf(\"IOCTL {name} %llu\\n\", (unsigned long long)({name}));"
        )
        .unwrap();
    }
    let consts = header
        .consts
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(KERNEL_H_CONSTS.iter().copied());
    for name in consts {
        writeln!(
            c,
            "\tprintf(\"CONST {name} %lld %zu %d\\n\", (long long)({name}), sizeof({name}), \
             (int)((__typeof__({name}))-1 < 0));"
        )
        .unwrap();
    }
    for s in &header.structs {
        let n = &s.name;
        writeln!(
            c,
            "\tprintf(\"STRUCT {n} %zu %zu\\n\", sizeof(struct {n}), _Alignof(struct {n}));"
        )
        .unwrap();
        for f in &s.fields {
            let fname = &f.name;
            if f.is_bitfield {
                writeln!(
                    c,
                    "\t{{ struct {n} s; memset(&s, 0, sizeof s); s.{fname} = ~0ull; \
                     image(\"{n}\", \"{fname}\", &s, sizeof s); }}"
                )
                .unwrap();
                continue;
            }
            let elem = if f.is_array {
                format!("s.{fname}[0]")
            } else {
                format!("s.{fname}")
            };
            let signed = if f.non_integer {
                "-1".to_string()
            } else {
                format!("(int)((__typeof__({elem}))-1 < 0)")
            };
            let len = if f.is_array {
                format!("(long)(sizeof(s.{fname}) / sizeof({elem}))")
            } else {
                "-1L".into()
            };
            writeln!(
                c,
                "\t{{ struct {n} s; (void)s; printf(\"FIELD {n} {fname} %zu %zu %d %ld\\n\", \
                 offsetof(struct {n}, {fname}), sizeof(s.{fname}), {signed}, {len}); }}"
            )
            .unwrap();
        }
    }
    for (i, (size, src)) in COPY_STRING_CASES.iter().enumerate() {
        writeln!(
            c,
            "\t{{ char d[{size}]; memset(d, 'x', sizeof d); dahdi_copy_string(d, \"{src}\", sizeof d); \
             printf(\"COPY {i} \"); for (size_t i = 0; i < sizeof d; i++) printf(\"%02x\", (unsigned char)d[i]); \
             printf(\"\\n\"); }}"
        )
        .unwrap();
    }
    c.push_str("\treturn 0;\n}\n");
    c
}

fn target_triple() -> String {
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    };
    format!(
        "{}-unknown-{}-{env}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Compiles and runs the program; returns its standard output.
fn compile_and_run(source: &str, include: &Path, defines: &BTreeSet<String>) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dahdi-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("abi.c");
    let exe = dir.join("abi");
    std::fs::write(&src, source).unwrap();

    let target = target_triple();
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .target(&target)
        .host(&target)
        .opt_level(0)
        .debug(false)
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.arg("-std=gnu11").arg("-I").arg(include);
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.arg("-o").arg(&exe).arg(&src);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {:?}: {e}", compiler.path()));
    assert!(
        out.status.success(),
        "compiling the generated ABI program {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("run the ABI program");
    assert!(
        run.status.success(),
        "the ABI program failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(run.stdout).unwrap()
}

// ---------------------------------------------------------------------------
// What the Rust sources declare (to catch items nobody listed above)
// ---------------------------------------------------------------------------

struct RustDecls {
    consts: BTreeSet<String>,
    struct_fields: BTreeMap<String, Vec<String>>,
}

fn rust_declarations() -> RustDecls {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut decls = RustDecls {
        consts: BTreeSet::new(),
        struct_fields: BTreeMap::new(),
    };
    for entry in std::fs::read_dir(&src_dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let mut current: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("pub const ") {
                let (name, after) = take_ident(rest);
                if !name.is_empty() && after.starts_with(':') {
                    decls.consts.insert(name.to_string());
                }
            } else if let Some(rest) = line.strip_prefix("pub struct ") {
                let (name, after) = take_ident(rest);
                if after.trim() == "{" {
                    decls.struct_fields.insert(name.to_string(), Vec::new());
                    current = Some(name.to_string());
                }
            } else if line == "}" {
                current = None;
            } else if let (Some(s), Some(rest)) = (&current, line.strip_prefix("pub ")) {
                let (field, after) = take_ident(rest);
                if after.starts_with(':') {
                    decls
                        .struct_fields
                        .get_mut(s)
                        .unwrap()
                        .push(field.to_string());
                }
            }
        }
    }
    decls
}

// ---------------------------------------------------------------------------
// The safe crate's tables of C enumerations
// ---------------------------------------------------------------------------

/// Which header constants belong to a C enumeration: `(name, value)`.
type Membership = Box<dyn Fn(&str, i128) -> bool>;

/// A `c_enum!` table of the `dahdi` crate: its Rust type and its
/// `(C constant, value)` rows.
struct CEnumRows {
    rust: &'static str,
    rows: &'static [(&'static str, i32)],
}

macro_rules! table {
    ($t:ident) => {
        CEnumRows {
            rust: dahdi::$t::C_TABLE.rust,
            rows: dahdi::$t::C_TABLE.rows,
        }
    };
}

/// Every table the `dahdi` crate writes with `c_enum!`, with the rule that
/// picks its family of constants out of the header (the table must hold
/// each of them) and what the rule leaves out on purpose.
fn c_enum_families(user_h: &str) -> Vec<(CEnumRows, Membership, &'static str)> {
    let prefix = |p: &'static str| -> Membership { Box::new(move |n: &str, _| n.starts_with(p)) };
    // The hook operations have no common prefix; the header introduces each
    // with a comment "Value for DAHDI_HOOK, ...".
    let hooks: BTreeSet<String> = {
        let mut set = BTreeSet::new();
        let mut introduced = false;
        for line in user_h.lines().map(str::trim) {
            if line.starts_with("/*") && line.contains("Value for DAHDI_HOOK") {
                introduced = true;
            } else if let Some(rest) = line.strip_prefix("#define ").filter(|_| introduced) {
                set.insert(take_ident(rest.trim()).0.to_string());
                introduced = false;
            }
        }
        set
    };
    let tone_max = user_h
        .lines()
        .find_map(|l| l.trim().strip_prefix("#define DAHDI_TONE_MAX"))
        .and_then(|v| v.split_whitespace().next()?.parse::<i128>().ok())
        .expect("DAHDI_TONE_MAX in user.h");
    vec![
        (
            table!(Signalling),
            Box::new(|n: &str, _| n.starts_with("DAHDI_SIG_") && n != "DAHDI_SIG_BROKEN"),
            "DAHDI_SIG_BROKEN, a flag of sigcap that no channel is configured with",
        ),
        (table!(Law), prefix("DAHDI_LAW_"), ""),
        (
            table!(Hook),
            Box::new(move |n: &str, _| hooks.contains(n)),
            "",
        ),
        (table!(BufferPolicy), prefix("DAHDI_POLICY_"), ""),
        (table!(DialOp), prefix("DAHDI_DIAL_OP_"), ""),
        (
            table!(ConfKind),
            Box::new(|n: &str, v| {
                n.starts_with("DAHDI_CONF_") && !n.ends_with("_MASK") && v < 0x100
            }),
            "the masks, and the flags of the second byte (ConfMode's bits)",
        ),
        (
            table!(Event),
            Box::new(|n: &str, _| {
                n.starts_with("DAHDI_EVENT_")
                    && !matches!(
                        n,
                        "DAHDI_EVENT_NONE"
                            | "DAHDI_EVENT_PULSEDIGIT"
                            | "DAHDI_EVENT_DTMFDOWN"
                            | "DAHDI_EVENT_DTMFUP"
                    )
            }),
            "DAHDI_EVENT_NONE (no event: Event::from_raw gives None), and the digit flags \
             (Event's digit variants carry them with the digit)",
        ),
        (
            table!(Tone),
            Box::new(move |n: &str, v| n.starts_with("DAHDI_TONE_") && (0..tone_max).contains(&v)),
            "the DTMF and MF digit tones (Tone::Dtmf carries them by digit)",
        ),
    ]
}

/// The kernel's name of every `DAHDI_SIG_*` value, from `sigstr()` in the
/// driver sources, or `None` when the sources are not next to the headers.
fn driver_sigstr(include: &Path) -> Option<BTreeMap<String, String>> {
    let base = include.parent()?.join("drivers/dahdi/dahdi-base.c");
    let text = std::fs::read_to_string(base).ok()?;
    let body = &text[text.find("const char *sigstr(int sig)")?..];
    let mut names = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    for line in body.lines().skip(1).map(str::trim) {
        if line == "}" {
            break;
        }
        if let Some(rest) = line.strip_prefix("case ") {
            pending.push(take_ident(rest).0.to_string());
        } else if let Some(rest) = line.strip_prefix("return \"") {
            let name = rest.split('"').next()?.to_string();
            for c in pending.drain(..) {
                names.insert(c, name.clone());
            }
        }
    }
    Some(names)
}

// ---------------------------------------------------------------------------
// Device paths, from the driver sources when they are installed
// ---------------------------------------------------------------------------

/// Expected device paths derived from the kernel device names in the
/// driver sources, or `None` when the sources are not next to the headers.
fn driver_device_paths(include: &Path) -> Option<BTreeMap<&'static str, String>> {
    let drivers = include.parent()?.join("drivers/dahdi");
    let sysfs = std::fs::read_to_string(drivers.join("dahdi-sysfs-chan.c")).ok()?;
    let transcode = std::fs::read_to_string(drivers.join("dahdi_transcode.c")).ok()?;
    // "dahdi!ctl" is created as /dev/dahdi/ctl by devtmpfs/udev.
    let node = |kernel_name: &str| format!("/dev/{}", kernel_name.replace('!', "/"));
    let quoted_after = |text: &str, key: &str| -> Option<String> {
        let line = text.lines().find(|l| l.contains(key))?;
        let start = line.find('"')? + 1;
        let end = start + line[start..].find('"')?;
        Some(line[start..end].to_string())
    };
    let mut paths = BTreeMap::new();
    for (minor, rust_name) in [
        ("DAHDI_CTL,", "DAHDI_CTL_PATH"),
        ("DAHDI_TIMER,", "DAHDI_TIMER_PATH"),
        ("DAHDI_CHANNEL,", "DAHDI_CHANNEL_PATH"),
        ("DAHDI_PSEUDO,", "DAHDI_PSEUDO_PATH"),
    ] {
        paths.insert(rust_name, node(&quoted_after(&sysfs, minor)?));
    }
    let prefix = quoted_after(&sysfs, "DAHDI_STRING =")?;
    let tc_name = quoted_after(&transcode, ".name =")?;
    paths.insert("DAHDI_TRANSCODE_PATH", node(&format!("{prefix}{tc_name}")));
    let chan = quoted_after(&sysfs, "dahdi!chan!")?;
    let chan_dir = chan.split("!%").next()?;
    paths.insert("DAHDI_CHAN_DIR", node(chan_dir));
    paths.insert("DAHDI_DEV_DIR", node(prefix.trim_end_matches('!')));
    Some(paths)
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

/// "offset C 4, dahdi-sys 8; signed C no, dahdi-sys yes" for the facts
/// that differ.
fn field_difference(c: &FieldFacts, r: &FieldFacts) -> String {
    let sign = |s: Option<bool>| match s {
        None => "n/a",
        Some(true) => "signed",
        Some(false) => "unsigned",
    };
    let len = |l: Option<usize>| l.map_or("scalar".to_string(), |n| format!("[{n}]"));
    let mut parts = Vec::new();
    if c.offset != r.offset {
        parts.push(format!("offset C {}, dahdi-sys {}", c.offset, r.offset));
    }
    if c.size != r.size {
        parts.push(format!("size C {}, dahdi-sys {}", c.size, r.size));
    }
    if c.signed != r.signed {
        parts.push(format!(
            "type C {}, dahdi-sys {}",
            sign(c.signed),
            sign(r.signed)
        ));
    }
    if c.array_len != r.array_len {
        parts.push(format!(
            "length C {}, dahdi-sys {}",
            len(c.array_len),
            len(r.array_len)
        ));
    }
    parts.join("; ")
}

fn hex(code: u128) -> String {
    format!("{code:#x}")
}

#[test]
fn abi_matches_debian12_and_debian13_headers() {
    let platforms = [
        ("debian12", debian12_include_dir()),
        ("debian13", debian13_include_dir()),
    ];
    let mut errors = Vec::new();
    // What dahdi-sys has and a platform's headers lack, by platform.
    let mut absent: Vec<(&str, BTreeSet<String>)> = Vec::new();
    for (platform, include) in &platforms {
        let check = check_against(include);
        errors.extend(check.errors.iter().map(|e| format!("{platform}: {e}")));
        absent.push((platform, check.absent));
    }
    let mut in_no_header: BTreeSet<String> = absent[0].1.clone();
    for (_, a) in &absent[1..] {
        in_no_header = in_no_header.intersection(a).cloned().collect();
    }
    for item in &in_no_header {
        errors.push(format!("{item}: in dahdi-sys but in no platform's headers"));
    }
    for (platform, a) in &absent {
        let others: Vec<&String> = a.difference(&in_no_header).collect();
        if !others.is_empty() {
            println!("not in {platform}'s headers (in another platform's): {others:?}");
        }
    }
    assert!(
        errors.is_empty(),
        "{} ABI mismatch(es):\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
}

/// The outcome of comparing dahdi-sys with one platform's headers.
struct Check {
    /// Differences, and header items dahdi-sys lacks.
    errors: Vec<String>,
    /// Items of dahdi-sys these headers do not have (an error only if no
    /// platform's headers have them).
    absent: BTreeSet<String>,
}

fn check_against(include: &Path) -> Check {
    let include = include.to_owned();
    let mut absent = BTreeSet::new();
    let user_h = include.join("dahdi/user.h");
    let wctdm_h = find_wctdm_header(&include);

    let mut header = Header::default();
    parse_header(
        &std::fs::read_to_string(&user_h).unwrap(),
        "user.h",
        &mut header,
    );
    parse_header(
        &std::fs::read_to_string(&wctdm_h).unwrap(),
        "wctdm_user.h",
        &mut header,
    );
    let kernel_defines = kernel_h_defines(&include);

    let program = c_program(&header, &kernel_defines);
    let output = compile_and_run(&program, &include, &header.config_options);

    let mut c_ioctls = BTreeMap::new();
    let mut c_consts = BTreeMap::new();
    let mut c_structs: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut c_fields: BTreeMap<(String, String), FieldFacts> = BTreeMap::new();
    let mut c_bitfields: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    let mut c_copies: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    let parse_hex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    for line in output.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "IOCTL" => {
                c_ioctls.insert(w[1].to_string(), w[2].parse::<u128>().unwrap());
            }
            "CONST" => {
                let v = (
                    w[2].parse::<i128>().unwrap(),
                    w[3].parse::<usize>().unwrap(),
                    w[4] == "1",
                );
                c_consts.insert(w[1].to_string(), v);
            }
            "STRUCT" => {
                c_structs.insert(
                    w[1].to_string(),
                    (w[2].parse().unwrap(), w[3].parse().unwrap()),
                );
            }
            "FIELD" => {
                let facts = FieldFacts {
                    offset: w[3].parse().unwrap(),
                    size: w[4].parse().unwrap(),
                    signed: match w[5] {
                        "-1" => None,
                        s => Some(s == "1"),
                    },
                    array_len: w[6]
                        .parse::<i64>()
                        .ok()
                        .filter(|&n| n >= 0)
                        .map(|n| n as usize),
                };
                c_fields.insert((w[1].to_string(), w[2].to_string()), facts);
            }
            "BITFIELD" => {
                c_bitfields.insert((w[1].to_string(), w[2].to_string()), parse_hex(w[3]));
            }
            "COPY" => {
                c_copies.insert(w[1].parse().unwrap(), parse_hex(w[2]));
            }
            other => panic!("unexpected line from the ABI program: {other}"),
        }
    }

    let mut errors: Vec<String> = Vec::new();

    // --- ioctls -----------------------------------------------------------
    let rust_ioctls: BTreeMap<&str, u128> = IOCTLS.iter().map(|&(n, v)| (n, v as u128)).collect();
    let mut ioctls_compared = 0;
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, file) in &header.ioctls {
        *per_file.entry(file).or_default() += 1;
        let c = c_ioctls[name];
        match rust_ioctls.get(name.as_str()) {
            None => errors.push(format!(
                "{name}: ioctl of {file} missing from dahdi-sys (C {})",
                hex(c)
            )),
            Some(&r) if r != c => {
                errors.push(format!("{name}: C {}, dahdi-sys {}", hex(c), hex(r)))
            }
            Some(_) => ioctls_compared += 1,
        }
    }
    for name in rust_ioctls.keys() {
        if !c_ioctls.contains_key(*name) {
            absent.insert(format!("ioctl {name}"));
        }
    }

    // --- constants ----------------------------------------------------------
    let rust_consts = rust_consts();
    let mut consts_compared = 0;
    for (name, &(cv, csize, csigned)) in &c_consts {
        match rust_consts.get(name.as_str()) {
            None => errors.push(format!("{name}: constant missing from dahdi-sys (C {cv})")),
            Some(&(rv, rsize, rsigned)) => {
                if rv != cv {
                    errors.push(format!(
                        "{name}: C {cv} ({}), dahdi-sys {rv} ({})",
                        hex(cv as u128),
                        hex(rv as u128)
                    ));
                } else if (rsize, rsigned) != (csize, csigned) {
                    let ty = |size, signed: bool| {
                        format!("{}{}", if signed { "i" } else { "u" }, size * 8)
                    };
                    errors.push(format!(
                        "{name}: C type {}, dahdi-sys type {}",
                        ty(csize, csigned),
                        ty(rsize, rsigned)
                    ));
                } else {
                    consts_compared += 1;
                }
            }
        }
    }
    for name in rust_consts.keys() {
        if !c_consts.contains_key(*name) {
            absent.insert(format!("constant {name}"));
        }
    }

    // --- the dahdi crate's tables of C enumerations -----------------------
    let user_h_text = std::fs::read_to_string(&user_h).unwrap();
    let mut enum_rows_compared = 0;
    for (table, member, excluded) in c_enum_families(&user_h_text) {
        let rows: BTreeMap<&str, i32> = table.rows.iter().copied().collect();
        for (&name, &value) in &rows {
            match c_consts.get(name) {
                None => errors.push(format!(
                    "dahdi::{}: row {name} is not a constant of the headers",
                    table.rust
                )),
                Some(&(cv, _, _)) if cv != value as i128 => errors.push(format!(
                    "dahdi::{}: row {name} is {value}, the header says {cv}",
                    table.rust
                )),
                Some(_) => enum_rows_compared += 1,
            }
        }
        for (name, &(cv, _, _)) in &c_consts {
            if member(name, cv) && !rows.contains_key(name.as_str()) {
                errors.push(format!(
                    "dahdi::{}: {name} ({cv}) of the header is missing from the table{}",
                    table.rust,
                    if excluded.is_empty() {
                        String::new()
                    } else {
                        format!(" (the family's rule leaves out only {excluded})")
                    }
                ));
            }
        }
        if rows.len() != table.rows.len() {
            errors.push(format!("dahdi::{}: a constant is listed twice", table.rust));
        }
    }
    let sigstr_report = match driver_sigstr(&include) {
        Some(names) => {
            for &sig in dahdi::Signalling::all() {
                let c_name = sig.c_name().unwrap();
                let kernel = names.get(c_name).map(String::as_str);
                if kernel != Some(sig.kernel_name()) {
                    errors.push(format!(
                        "dahdi::Signalling::{sig:?}: kernel name {:?}, sigstr() returns {kernel:?} \
                         for {c_name}",
                        sig.kernel_name()
                    ));
                }
            }
            format!(
                "{} kernel names of dahdi::Signalling against sigstr()",
                dahdi::Signalling::all().len()
            )
        }
        None => "kernel names not checked (no driver sources next to the headers)".to_string(),
    };

    // --- structs and fields -------------------------------------------------
    let rust_structs = rust_structs();
    let (mut structs_compared, mut fields_compared, mut bitfields_compared) = (0, 0, 0);
    for cs in &header.structs {
        let Some(rs) = rust_structs.get(cs.name.as_str()) else {
            errors.push(format!(
                "struct {} of {} missing from dahdi-sys",
                cs.name, cs.file
            ));
            continue;
        };
        let (csize, calign) = c_structs[&cs.name];
        if (rs.size, rs.align) != (csize, calign) {
            errors.push(format!(
                "struct {}: C size {csize} align {calign}, dahdi-sys size {} align {}",
                cs.name, rs.size, rs.align
            ));
        } else {
            structs_compared += 1;
        }
        for f in &cs.fields {
            let key = (cs.name.clone(), f.name.clone());
            if !rs.fields.contains_key(f.name.as_str()) {
                errors.push(format!(
                    "{}.{}: field missing from dahdi-sys",
                    cs.name, f.name
                ));
                continue;
            }
            if f.is_bitfield {
                match rust_bitfield_image(&cs.name, &f.name) {
                    None => errors.push(format!(
                        "{}.{}: C bitfield with no dahdi-sys model",
                        cs.name, f.name
                    )),
                    Some(image) if image != c_bitfields[&key] => errors.push(format!(
                        "{}.{}: bitfield byte image C {:02x?}, dahdi-sys {:02x?}",
                        cs.name, f.name, c_bitfields[&key], image
                    )),
                    Some(_) => bitfields_compared += 1,
                }
                continue;
            }
            let c = &c_fields[&key];
            let r = &rs.fields[f.name.as_str()];
            if c != r {
                errors.push(format!(
                    "{}.{}: {}",
                    cs.name,
                    f.name,
                    field_difference(c, r)
                ));
            } else {
                fields_compared += 1;
            }
        }
        for name in rs.fields.keys() {
            if !cs.fields.iter().any(|f| f.name == *name) {
                errors.push(format!(
                    "{}.{name}: field in dahdi-sys but not in C",
                    cs.name
                ));
            }
        }
    }
    for name in rust_structs.keys() {
        if !header.structs.iter().any(|s| s.name == *name) {
            absent.insert(format!("struct {name}"));
        }
    }

    // --- nothing in dahdi-sys's sources escapes the lists above -----------
    let decls = rust_declarations();
    for name in &decls.consts {
        let known = rust_consts.contains_key(name.as_str())
            || rust_ioctls.contains_key(name.as_str())
            || RUST_ONLY_CONSTS.iter().any(|(n, _)| n == name);
        if !known {
            errors.push(format!(
                "{name}: public constant of dahdi-sys that this test does not check"
            ));
        }
    }
    for (s, fields) in &decls.struct_fields {
        if RUST_ONLY_STRUCTS.iter().any(|(n, _)| n == s) {
            continue;
        }
        match rust_structs.get(s.as_str()) {
            None => errors.push(format!(
                "struct {s}: declared in dahdi-sys but not checked by this test"
            )),
            Some(rs) => {
                let listed: BTreeSet<&str> = rs.fields.keys().copied().collect();
                let declared: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
                if listed != declared {
                    errors.push(format!(
                        "struct {s}: fields declared {declared:?}, checked {listed:?}"
                    ));
                }
            }
        }
    }

    // --- inline helpers -----------------------------------------------------
    for f in &header.inline_functions {
        if !HELPER_FUNCTIONS.contains(&f.as_str()) {
            errors.push(format!(
                "{f}: inline function of the header with no dahdi-sys counterpart"
            ));
        }
    }
    for (i, &(size, src)) in COPY_STRING_CASES.iter().enumerate() {
        let mut buf = vec![b'x' as libc::c_char; size];
        dahdi_copy_string(&mut buf, src.as_bytes());
        let rust: Vec<u8> = buf.iter().map(|&b| b as u8).collect();
        if rust != c_copies[&i] {
            errors.push(format!(
                "dahdi_copy_string(size {size}, {src:?}): C {:02x?}, dahdi-sys {rust:02x?}",
                c_copies[&i]
            ));
        }
    }

    // --- device paths -------------------------------------------------------
    let rust_paths: BTreeMap<&str, &str> = BTreeMap::from([
        ("DAHDI_DEV_DIR", DAHDI_DEV_DIR),
        ("DAHDI_CTL_PATH", DAHDI_CTL_PATH),
        ("DAHDI_TRANSCODE_PATH", DAHDI_TRANSCODE_PATH),
        ("DAHDI_TIMER_PATH", DAHDI_TIMER_PATH),
        ("DAHDI_CHANNEL_PATH", DAHDI_CHANNEL_PATH),
        ("DAHDI_PSEUDO_PATH", DAHDI_PSEUDO_PATH),
        ("DAHDI_CHAN_DIR", DAHDI_CHAN_DIR),
    ]);
    let paths_report = match driver_device_paths(&include) {
        Some(expected) => {
            for (name, path) in &expected {
                if rust_paths.get(name) != Some(&path.as_str()) {
                    errors.push(format!(
                        "{name}: driver sources say {path}, dahdi-sys {:?}",
                        rust_paths.get(name)
                    ));
                }
            }
            format!("{} device paths", expected.len())
        }
        None => "device paths not checked (no driver sources next to the headers)".to_string(),
    };

    println!("ABI check of dahdi-sys against {}", include.display());
    println!(
        "  ioctls:    {ioctls_compared} compared of {} in the headers ({})",
        header.ioctls.len(),
        per_file
            .iter()
            .map(|(f, n)| format!("{n} {f}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    println!(
        "  constants: {consts_compared} compared (values, sizes, signedness) of {}",
        c_consts.len()
    );
    println!(
        "  structs:   {structs_compared} compared (size, align) of {}; {fields_compared} fields (offset, size, \
         signedness, length) + {bitfields_compared} bitfield(s) (byte image)",
        header.structs.len()
    );
    println!(
        "  dahdi:     {enum_rows_compared} rows of its C enum tables compared (values, and no \
         constant of a family missing); {sigstr_report}"
    );
    println!(
        "  also:      {} dahdi_copy_string cases, {paths_report}; compiled with {:?}",
        COPY_STRING_CASES.len(),
        header.config_options
    );

    if ioctls_compared != header.ioctls.len() {
        errors.push(format!(
            "{ioctls_compared} ioctls compared of {} in the headers",
            header.ioctls.len()
        ));
    }
    Check { errors, absent }
}
