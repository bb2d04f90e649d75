//! Every ioctl of `user.h` (88, one of them only in Debian 13's) and
//! `wctdm_user.h` (4).
//!
//! Each entry yields three items from one line, so they cannot disagree:
//!
//! * `pub const NAME: ioctl_num_type`, the request code, computed with
//!   nix's `request_code_*!` macros exactly as C's `_IO*()` macros do;
//! * `pub unsafe fn name(fd, arg)`, the wrapper made by nix's `ioctl_*!`
//!   macros (`ioctl_none!`, `ioctl_read!`, `ioctl_write_ptr!`,
//!   `ioctl_readwrite!`), returning `nix::Result<c_int>`;
//! * `ioctl::NAME`, an [`Ioctl`]: the C name and the request code together,
//!   which is what a safe wrapper names in its errors (and what its
//!   documentation is found by).
//!
//! Ioctls declared `_IOW(..., int)` take a **pointer** to the int (the
//! kernel reads it with `get_user`), so their wrappers take `*const c_int`,
//! not an integer by value.
//!
//! Several request codes share a number and differ only in direction or
//! size (e.g. `DAHDI_GETVERSION` and `DAHDI_RADIO_GETSTAT`, both nr 57):
//! always use the constant, never rebuild a code from its number.
//!
//! # Safety (all wrappers)
//!
//! `fd` must be an open DAHDI file descriptor of the kind the ioctl is meant
//! for, and the pointer must be valid for reads and/or writes of the
//! argument type (for `DAHDI_LOADZONE` and `DAHDI_ECHOCANCEL_PARAMS`, of the
//! header *and* the records that follow it; for `DAHDI_INDIRECT`, `data`
//! must be valid for the inner ioctl).

use libc::c_int;
use nix::sys::ioctl::ioctl_num_type;

use crate::consts::{DAHDI_CODE, DAHDI_TC_CODE};
use crate::structs::*;

/// `a` equals `b` up to ASCII case (compile-time check of wrapper names).
const fn same_name_ignoring_case(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// An ioctl by C name and request code.
///
/// What the safe `dahdi` crate passes along with each call, so that an error
/// names the ioctl that failed from this table rather than from a string
/// typed at the call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ioctl {
    /// The C name, e.g. `"DAHDI_SETCONF"`.
    pub name: &'static str,
    /// The request code.
    pub code: ioctl_num_type,
}

macro_rules! dahdi_ioctls {
    ($(
        $(#[$doc:meta])*
        $name:ident => $func:ident : $dir:ident ( $code:expr, $nr:expr $(, $ty:ty)? );
    )*) => {
        $(
            dahdi_ioctls!(@one [$(#[$doc])*] $name $func $dir ($code, $nr $(, $ty)?));
            const _: () = assert!(
                same_name_ignoring_case(stringify!($name), stringify!($func)),
                "wrapper name must be the snake_case of the C name",
            );
        )*

        /// Name and request code of every ioctl in this crate, in header
        /// order (for logging and for the ABI test).
        pub const IOCTLS: &[(&str, ioctl_num_type)] = &[$((stringify!($name), $name)),*];

        /// Every ioctl of the table as an [`Ioctl`] (C name and request
        /// code), under its C name: `ioctl::DAHDI_SETCONF` is
        /// [`DAHDI_SETCONF`] by name.
        pub mod ioctl {
            use super::*;
            $(
                #[doc = concat!("[`", stringify!($name), "`](super::", stringify!($name), ") by name.")]
                pub const $name: Ioctl = Ioctl {
                    name: stringify!($name),
                    code: super::$name,
                };
            )*
        }
    };

    (@one [$(#[$doc:meta])*] $name:ident $func:ident none ($code:expr, $nr:expr)) => {
        $(#[$doc])*
        #[doc = "\n\n`_IO`: no argument."]
        pub const $name: ioctl_num_type = nix::request_code_none!($code, $nr);
        nix::ioctl_none!(
            #[doc = concat!("Issue [`", stringify!($name), "`] on `fd`.")]
            #[doc = "\n\n# Safety\n\nSee the [module documentation](self)."]
            $func, $code, $nr
        );
    };
    (@one [$(#[$doc:meta])*] $name:ident $func:ident read ($code:expr, $nr:expr, $ty:ty)) => {
        dahdi_ioctls!(@typed [$(#[$doc])*] $name $func ($code, $nr, $ty)
            request_code_read ioctl_read "_IOR" "the kernel writes" "the kernel fills `*data`");
    };
    (@one [$(#[$doc:meta])*] $name:ident $func:ident write ($code:expr, $nr:expr, $ty:ty)) => {
        dahdi_ioctls!(@typed [$(#[$doc])*] $name $func ($code, $nr, $ty)
            request_code_write ioctl_write_ptr "_IOW" "the kernel reads" "the kernel reads `*data`");
    };
    (@one [$(#[$doc:meta])*] $name:ident $func:ident readwrite ($code:expr, $nr:expr, $ty:ty)) => {
        dahdi_ioctls!(@typed [$(#[$doc])*] $name $func ($code, $nr, $ty)
            request_code_readwrite ioctl_readwrite "_IOWR" "the kernel reads and writes back"
            "the kernel reads and updates `*data`");
    };
    (@typed [$(#[$doc:meta])*] $name:ident $func:ident ($code:expr, $nr:expr, $ty:ty)
        $request:ident $wrapper:ident $c_macro:literal $const_doc:literal $fn_doc:literal) => {
        $(#[$doc])*
        #[doc = concat!("\n\n`", $c_macro, "`: ", $const_doc, " a `", stringify!($ty), "`.")]
        pub const $name: ioctl_num_type =
            nix::$request!($code, $nr, ::std::mem::size_of::<$ty>());
        nix::$wrapper!(
            #[doc = concat!("Issue [`", stringify!($name), "`] on `fd`; ", $fn_doc, ".")]
            #[doc = "\n\n# Safety\n\nSee the [module documentation](self)."]
            $func, $code, $nr, $ty
        );
    };
}

dahdi_ioctls! {
    /// Get the channel's block size in samples.
    DAHDI_GET_BLOCKSIZE => dahdi_get_blocksize: read(DAHDI_CODE, 1, c_int);
    /// Set the channel's block size in samples (16..=8192); reallocates
    /// the buffers.
    DAHDI_SET_BLOCKSIZE => dahdi_set_blocksize: write(DAHDI_CODE, 1, c_int);
    /// Flush buffers and/or events (`DAHDI_FLUSH_*`).
    DAHDI_FLUSH => dahdi_flush: write(DAHDI_CODE, 3, c_int);
    /// Wait until all written audio has been sent.
    DAHDI_SYNC => dahdi_sync: none(DAHDI_CODE, 4);
    /// Old read-only form of [`DAHDI_GET_PARAMS`].
    DAHDI_GET_PARAMS_V1 => dahdi_get_params_v1: read(DAHDI_CODE, 5, dahdi_params);
    /// Get channel parameters (`channo` selects the channel on ctl).
    DAHDI_GET_PARAMS => dahdi_get_params: readwrite(DAHDI_CODE, 5, dahdi_params);
    /// Set the channel's timing parameters.
    DAHDI_SET_PARAMS => dahdi_set_params: write(DAHDI_CODE, 5, dahdi_params);
    /// Hook operation (`DAHDI_ONHOOK`, `DAHDI_OFFHOOK`, `DAHDI_WINK`, ...).
    DAHDI_HOOK => dahdi_hook: write(DAHDI_CODE, 7, c_int);
    /// Take the oldest queued event (`DAHDI_EVENT_*`, 0 if none).
    DAHDI_GETEVENT => dahdi_getevent: read(DAHDI_CODE, 8, c_int);
    /// Wait for the `DAHDI_IOMUX_*` conditions given; returns the ready
    /// ones in the same int.
    DAHDI_IOMUX => dahdi_iomux: readwrite(DAHDI_CODE, 9, c_int);
    /// Get the status of span `spanno`.
    DAHDI_SPANSTAT => dahdi_spanstat: readwrite(DAHDI_CODE, 10, dahdi_spaninfo);
    /// Old unpacked form of [`DAHDI_SPANSTAT`].
    DAHDI_SPANSTAT_V1 => dahdi_spanstat_v1: readwrite(DAHDI_CODE, 10, dahdi_spaninfo_v1);
    /// Maintenance command on a span (loopbacks, defect insertion).
    DAHDI_MAINT => dahdi_maint: write(DAHDI_CODE, 11, dahdi_maintinfo);
    /// Old read-only form of [`DAHDI_GETCONF`].
    DAHDI_GETCONF_V1 => dahdi_getconf_v1: read(DAHDI_CODE, 12, dahdi_confinfo);
    /// Get a channel's conference membership.
    DAHDI_GETCONF => dahdi_getconf: readwrite(DAHDI_CODE, 12, dahdi_confinfo);
    /// Old write-only form of [`DAHDI_SETCONF`].
    DAHDI_SETCONF_V1 => dahdi_setconf_v1: write(DAHDI_CODE, 12, dahdi_confinfo);
    /// Join, change or leave a conference; writes back the conference
    /// number allocated for `confno = -1`.
    DAHDI_SETCONF => dahdi_setconf: readwrite(DAHDI_CODE, 13, dahdi_confinfo);
    /// Link or unlink two conferences (ENOSYS unless the kernel was built
    /// with `CONFIG_DAHDI_CONFLINK`).
    DAHDI_CONFLINK => dahdi_conflink: write(DAHDI_CODE, 14, dahdi_confinfo);
    /// Old read form of [`DAHDI_CONFDIAG`].
    DAHDI_CONFDIAG_V1 => dahdi_confdiag_v1: read(DAHDI_CODE, 15, c_int);
    /// Print conference diagnostics to the kernel log.
    DAHDI_CONFDIAG => dahdi_confdiag: write(DAHDI_CODE, 15, c_int);
    /// Old read-only form of [`DAHDI_GETGAINS`].
    DAHDI_GETGAINS_V1 => dahdi_getgains_v1: read(DAHDI_CODE, 16, dahdi_gains);
    /// Get a channel's gain tables.
    DAHDI_GETGAINS => dahdi_getgains: readwrite(DAHDI_CODE, 16, dahdi_gains);
    /// Set a channel's gain tables.
    DAHDI_SETGAINS => dahdi_setgains: write(DAHDI_CODE, 16, dahdi_gains);
    /// Configure a span's line (ctl only).
    DAHDI_SPANCONFIG => dahdi_spanconfig: write(DAHDI_CODE, 18, dahdi_lineconfig);
    /// Configure a channel's signalling (ctl only).
    DAHDI_CHANCONFIG => dahdi_chanconfig: write(DAHDI_CODE, 19, dahdi_chanconfig);
    /// Mute (non-zero) or unmute the channel's conference audio.
    DAHDI_CONFMUTE => dahdi_confmute: write(DAHDI_CODE, 20, c_int);
    /// Play a tone (`DAHDI_TONE_*`, `DAHDI_TONE_STOP` to stop).
    DAHDI_SENDTONE => dahdi_sendtone: write(DAHDI_CODE, 21, c_int);
    /// Get the channel's tone zone.
    DAHDI_GETTONEZONE => dahdi_gettonezone: read(DAHDI_CODE, 22, c_int);
    /// Set the channel's tone zone.
    DAHDI_SETTONEZONE => dahdi_settonezone: write(DAHDI_CODE, 22, c_int);
    /// Set the default tone zone (ctl only).
    DAHDI_DEFAULTZONE => dahdi_defaultzone: write(DAHDI_CODE, 24, c_int);
    /// Load a tone zone: a [`dahdi_tone_def_header`] followed by its
    /// `count` [`dahdi_tone_def`] records (ctl only).
    DAHDI_LOADZONE => dahdi_loadzone: write(DAHDI_CODE, 25, dahdi_tone_def_header);
    /// Unload a tone zone (ctl only).
    DAHDI_FREEZONE => dahdi_freezone: write(DAHDI_CODE, 26, c_int);
    /// Get the buffer configuration.
    DAHDI_GET_BUFINFO => dahdi_get_bufinfo: read(DAHDI_CODE, 27, dahdi_bufferinfo);
    /// Set the buffer configuration.
    DAHDI_SET_BUFINFO => dahdi_set_bufinfo: write(DAHDI_CODE, 27, dahdi_bufferinfo);
    /// Get the dialling tone lengths (ctl only).
    DAHDI_GET_DIALPARAMS => dahdi_get_dialparams: read(DAHDI_CODE, 29, dahdi_dialparams);
    /// Set the dialling tone lengths (ctl only).
    DAHDI_SET_DIALPARAMS => dahdi_set_dialparams: write(DAHDI_CODE, 29, dahdi_dialparams);
    /// Queue, replace or cancel digits to dial.
    DAHDI_DIAL => dahdi_dial: write(DAHDI_CODE, 31, dahdi_dialoperation);
    /// Switch a clear channel to audio (non-zero) or back to data mode.
    DAHDI_AUDIOMODE => dahdi_audiomode: write(DAHDI_CODE, 32, c_int);
    /// Disable (0) or enable the echo canceller; 32..=1024 also sets the
    /// number of taps.
    DAHDI_ECHOCANCEL => dahdi_echocancel: write(DAHDI_CODE, 33, c_int);
    /// Enable the echo canceller with parameters: a
    /// [`dahdi_echocanparams`] followed by its `param_count`
    /// [`dahdi_echocanparam`] records.
    DAHDI_ECHOCANCEL_PARAMS => dahdi_echocancel_params: write(DAHDI_CODE, 33, dahdi_echocanparams);
    /// Get the channel number of this fd (pseudo channels: 32768 and up).
    DAHDI_CHANNO => dahdi_channo: read(DAHDI_CODE, 34, c_int);
    /// Non-zero while digits are being dialled.
    DAHDI_DIALING => dahdi_dialing: read(DAHDI_CODE, 35, c_int);
    /// Switch a clear channel to raw HDLC (non-zero) or audio.
    DAHDI_HDLCRAWMODE => dahdi_hdlcrawmode: write(DAHDI_CODE, 36, c_int);
    /// Switch a clear channel to HDLC with FCS (non-zero) or audio.
    DAHDI_HDLCFCSMODE => dahdi_hdlcfcsmode: write(DAHDI_CODE, 37, c_int);
    /// Bind an fd of `/dev/dahdi/channel` to a channel number; the only
    /// ioctl accepted before binding.
    DAHDI_SPECIFY => dahdi_specify: write(DAHDI_CODE, 38, c_int);
    /// Set the law until close (`DAHDI_LAW_*`).
    DAHDI_SETLAW => dahdi_setlaw: write(DAHDI_CODE, 39, c_int);
    /// Switch to signed 16-bit linear samples (non-zero) or back to the
    /// law.
    DAHDI_SETLINEAR => dahdi_setlinear: write(DAHDI_CODE, 40, c_int);
    /// Switch a clear channel to HDLC with a PPP interface.
    DAHDI_HDLCPPP => dahdi_hdlcppp: write(DAHDI_CODE, 41, c_int);
    /// Set the ring cadence of an FXS port.
    DAHDI_SETCADENCE => dahdi_setcadence: write(DAHDI_CODE, 42, dahdi_ring_cadence);
    /// Get the received CAS bits.
    DAHDI_GETRXBITS => dahdi_getrxbits: read(DAHDI_CODE, 43, c_int);
    /// Set the transmitted CAS bits.
    DAHDI_SETTXBITS => dahdi_settxbits: write(DAHDI_CODE, 43, c_int);
    /// Old read form of [`DAHDI_CHANDIAG`].
    DAHDI_CHANDIAG_V1 => dahdi_chandiag_v1: read(DAHDI_CODE, 44, c_int);
    /// Print a channel's diagnostics to the kernel log.
    DAHDI_CHANDIAG => dahdi_chandiag: write(DAHDI_CODE, 44, c_int);
    /// Configure single-frequency signalling (native 64-bit only: the
    /// struct holds `long`s).
    DAHDI_SFCONFIG => dahdi_sfconfig: write(DAHDI_CODE, 46, dahdi_sfconfig);
    /// Arm the timer fd with an interval in samples (8 per ms); 0 stops it.
    DAHDI_TIMERCONFIG => dahdi_timerconfig: write(DAHDI_CODE, 47, c_int);
    /// Acknowledge that many timer expirations (below 1 or more than are
    /// pending: all of them).
    DAHDI_TIMERACK => dahdi_timerack: write(DAHDI_CODE, 48, c_int);
    /// Get whether the channel's conference audio is muted.
    DAHDI_GETCONFMUTE => dahdi_getconfmute: read(DAHDI_CODE, 49, c_int);
    /// Start echo canceller training after that many ms.
    DAHDI_ECHOTRAIN => dahdi_echotrain: write(DAHDI_CODE, 50, c_int);
    /// On-hook transfer for that many ms (driver-implemented).
    DAHDI_ONHOOKTRANSFER => dahdi_onhooktransfer: write(DAHDI_CODE, 51, c_int);
    /// Queue a ping on the timer fd ([`DAHDI_EVENT_TIMER_PING`](crate::DAHDI_EVENT_TIMER_PING)).
    DAHDI_TIMERPING => dahdi_timerping: none(DAHDI_CODE, 52);
    /// Acknowledge a ping on the timer fd.
    DAHDI_TIMERPONG => dahdi_timerpong: none(DAHDI_CODE, 53);
    /// Get the signalling freeze state.
    DAHDI_GETSIGFREEZE => dahdi_getsigfreeze: read(DAHDI_CODE, 54, c_int);
    /// Freeze (non-zero) or thaw signalling changes.
    DAHDI_SETSIGFREEZE => dahdi_setsigfreeze: write(DAHDI_CODE, 54, c_int);
    /// Run a channel ioctl via ctl (holds a pointer: native width only).
    DAHDI_INDIRECT => dahdi_indirect: readwrite(DAHDI_CODE, 56, dahdi_indirect_data);
    /// Get the DAHDI version and echo canceller description.
    DAHDI_GETVERSION => dahdi_getversion: read(DAHDI_CODE, 57, dahdi_versioninfo);
    /// Loop the channel's receive back to transmit (non-zero) or stop.
    DAHDI_LOOPBACK => dahdi_loopback: write(DAHDI_CODE, 58, c_int);
    /// Choose a channel's echo canceller module (ctl only).
    DAHDI_ATTACH_ECHOCAN => dahdi_attach_echocan: write(DAHDI_CODE, 59, dahdi_attach_echocan);
    /// Create a dynamic span; writes back its span number (ctl only).
    DAHDI_DYNAMIC_CREATE => dahdi_dynamic_create: readwrite(DAHDI_CODE, 80, dahdi_dynamic_span);
    /// Destroy a dynamic span (ctl only).
    DAHDI_DYNAMIC_DESTROY => dahdi_dynamic_destroy: write(DAHDI_CODE, 81, dahdi_dynamic_span);
    /// Raise (or with 0, clear) alarms on a dynamic span as if its line
    /// reported them (ctl only).
    ///
    /// Only in DAHDI 3.1's header as Debian 13 ships it (not in Debian 12's
    /// 2.11 nor in upstream 3.4): older drivers answer `ENOTTY`.
    DAHDI_SIMULATE_ALARM => dahdi_simulate_alarm: write(DAHDI_CODE, 82, dahdi_simulate_alarm);
    /// Set a hardware gain (driver-implemented).
    DAHDI_SET_HWGAIN => dahdi_set_hwgain: write(DAHDI_CODE, 86, dahdi_hwgain);
    /// Enable hardware tone detection (`DAHDI_TONEDETECT_*`).
    DAHDI_TONEDETECT => dahdi_tonedetect: write(DAHDI_CODE, 91, c_int);
    /// Set line polarity: 0 forward, 1 reverse (driver-implemented).
    DAHDI_SETPOLARITY => dahdi_setpolarity: write(DAHDI_CODE, 92, c_int);
    /// Old transcoder interface, no longer supported by the kernel.
    DAHDI_TRANSCODE_OP => dahdi_transcode_op: readwrite(DAHDI_CODE, 93, c_int);
    /// Allocate a transcoder channel for the given formats
    /// (`/dev/dahdi/transcode`).
    DAHDI_TC_ALLOCATE => dahdi_tc_allocate: write(DAHDI_TC_CODE, 1, dahdi_transcoder_formats);
    /// Describe transcoder `tcnum` (`/dev/dahdi/transcode`).
    DAHDI_TC_GETINFO => dahdi_tc_getinfo: readwrite(DAHDI_TC_CODE, 2, dahdi_transcoder_info);
    /// Set the number of waiting messages for VMWI (0 turns it off).
    DAHDI_VMWI => dahdi_vmwi: readwrite(DAHDI_CODE, 94, c_int);
    /// Choose the VMWI method (`DAHDI_VMWI_*`).
    DAHDI_VMWI_CONFIG => dahdi_vmwi_config: write(DAHDI_CODE, 95, dahdi_vmwi_info);
    /// Start a span (ctl only).
    DAHDI_STARTUP => dahdi_startup: write(DAHDI_CODE, 99, c_int);
    /// Stop a span (ctl only).
    DAHDI_SHUTDOWN => dahdi_shutdown: write(DAHDI_CODE, 100, c_int);
    /// Set the HDLC bit rate of a channel: 56 selects 56 kbit/s, anything
    /// else 64 kbit/s.
    DAHDI_HDLC_RATE => dahdi_hdlc_rate: write(DAHDI_CODE, 101, c_int);
    /// Put the echo canceller in fax mode (non-zero) or voice mode.
    DAHDI_ECHOCANCEL_FAX_MODE => dahdi_echocancel_fax_mode: write(DAHDI_CODE, 102, c_int);
    /// Mirror the receive audio of that channel to this fd.
    ///
    /// Only in kernels built with `CONFIG_DAHDI_MIRROR` (off in Debian's
    /// and upstream's `dahdi_config.h`); others reject it.
    DAHDI_RXMIRROR => dahdi_rxmirror: write(DAHDI_CODE, 103, c_int);
    /// Mirror the transmit audio of that channel to this fd.
    ///
    /// Only in kernels built with `CONFIG_DAHDI_MIRROR` (see
    /// [`DAHDI_RXMIRROR`]).
    DAHDI_TXMIRROR => dahdi_txmirror: write(DAHDI_CODE, 104, c_int);
    /// Enable (non-zero) the overrun/underrun buffer events.
    DAHDI_BUFFER_EVENTS => dahdi_buffer_events: write(DAHDI_CODE, 105, c_int);
    /// Get the status of a radio channel.
    DAHDI_RADIO_GETSTAT => dahdi_radio_getstat: read(DAHDI_CODE, 57, dahdi_radio_stat);
    /// Get a radio parameter.
    DAHDI_RADIO_GETPARAM => dahdi_radio_getparam: read(DAHDI_CODE, 58, dahdi_radio_param);
    /// Set a radio parameter.
    DAHDI_RADIO_SETPARAM => dahdi_radio_setparam: write(DAHDI_CODE, 58, dahdi_radio_param);

    // wctdm_user.h: private ioctls (nr 60..=63) of the wctdm/wctdm24xxp
    // drivers, used by fxotune. Other drivers reuse these numbers.

    /// Get the line voltages of an analog port.
    WCTDM_GET_STATS => wctdm_get_stats: read(DAHDI_CODE, 60, wctdm_stats);
    /// Dump the registers of an analog port.
    WCTDM_GET_REGS => wctdm_get_regs: read(DAHDI_CODE, 61, wctdm_regs);
    /// Write one register of an analog port.
    WCTDM_SET_REG => wctdm_set_reg: write(DAHDI_CODE, 62, wctdm_regop);
    /// Set the echo (hybrid balance) coefficients of an FXO port.
    WCTDM_SET_ECHOTUNE => wctdm_set_echotune: write(DAHDI_CODE, 63, wctdm_echo_coefs);
}

/// Name of the ioctl with this request code, if it is one of DAHDI's.
pub fn ioctl_name(request: ioctl_num_type) -> Option<&'static str> {
    IOCTLS
        .iter()
        .find(|&&(_, code)| code == request)
        .map(|&(name, _)| name)
}
