//! The ioctls this crate leaves to `dahdi-sys`, each with its reason.

use dahdi_sys::Ioctl;

/// Makes [`RAW_ONLY_IOCTLS`] and its documented table from one list.
macro_rules! raw_only {
    ($($name:ident: $why:literal,)*) => {
        /// The ioctls of `dahdi-sys`'s table that no method of this crate
        /// wraps, and why. Every other ioctl of the table has a method,
        /// found in the documentation by the ioctl's C name (a test checks
        /// both, so neither list can drift from the table). To use one of
        /// these, call its `dahdi_sys` wrapper on the descriptor that
        /// `AsRawFd` gives.
        ///
        /// | ioctl | why it is left to `dahdi-sys` |
        /// |---|---|
        $(#[doc = concat!("| `", stringify!($name), "` | ", $why, " |")])*
        pub const RAW_ONLY_IOCTLS: &[(Ioctl, &str)] =
            &[$((dahdi_sys::ioctl::$name, $why)),*];
    };
}

raw_only! {
    DAHDI_GET_PARAMS_V1: "the old form of `DAHDI_GET_PARAMS`, kept by the kernel for old binaries",
    DAHDI_SPANSTAT_V1: "the old form of `DAHDI_SPANSTAT`, kept by the kernel for old binaries",
    DAHDI_MAINT: "span maintenance (loopbacks, defect insertion) is the span driver's, and dynamic spans, the only ones the test bed has, implement none (`ENOSYS`): no wrapper could be proven on the real driver",
    DAHDI_GETCONF_V1: "the old form of `DAHDI_GETCONF`, kept by the kernel for old binaries",
    DAHDI_SETCONF_V1: "the old form of `DAHDI_SETCONF`, kept by the kernel for old binaries",
    DAHDI_CONFDIAG_V1: "the old form of `DAHDI_CONFDIAG`, kept by the kernel for old binaries",
    DAHDI_GETGAINS_V1: "the old form of `DAHDI_GETGAINS`, kept by the kernel for old binaries",
    DAHDI_HDLCRAWMODE: "HDLC framing of a clear channel: reads and writes then carry frames, not blocks of audio, a data link this crate does not model",
    DAHDI_HDLCFCSMODE: "HDLC framing of a clear channel, as `DAHDI_HDLCRAWMODE`",
    DAHDI_HDLCPPP: "a PPP interface on an HDLC channel, which needs a driver built with `CONFIG_DAHDI_PPP` (off in Debian's)",
    DAHDI_CHANDIAG_V1: "the old form of `DAHDI_CHANDIAG`, kept by the kernel for old binaries",
    DAHDI_SFCONFIG: "single-frequency signalling set-up, which no driver of the test bed offers",
    DAHDI_INDIRECT: "runs a channel ioctl through `/dev/dahdi/ctl`; this crate opens the channel instead (`Channel::open`)",
    DAHDI_SET_HWGAIN: "hardware gain, implemented by some analog boards' drivers only",
    DAHDI_TRANSCODE_OP: "the old transcoder interface, which the kernel no longer supports",
    DAHDI_TC_ALLOCATE: "hardware transcoders (`/dev/dahdi/transcode`), which this crate does not model",
    DAHDI_TC_GETINFO: "hardware transcoders (`/dev/dahdi/transcode`), which this crate does not model",
    DAHDI_VMWI: "message-waiting indication on FXS ports, implemented by analog boards' drivers only",
    DAHDI_VMWI_CONFIG: "message-waiting indication on FXS ports, implemented by analog boards' drivers only",
    DAHDI_HDLC_RATE: "the bit rate of HDLC framing, which this crate does not model (see `DAHDI_HDLCRAWMODE`)",
    DAHDI_RXMIRROR: "needs a driver built with `CONFIG_DAHDI_MIRROR`, off in Debian's and upstream's builds",
    DAHDI_TXMIRROR: "needs a driver built with `CONFIG_DAHDI_MIRROR`, off in Debian's and upstream's builds",
    DAHDI_RADIO_GETSTAT: "radio interfaces (the pciradio driver) only",
    DAHDI_RADIO_GETPARAM: "radio interfaces (the pciradio driver) only",
    DAHDI_RADIO_SETPARAM: "radio interfaces (the pciradio driver) only",
    WCTDM_GET_STATS: "private to the wctdm analog drivers, for fxotune",
    WCTDM_GET_REGS: "private to the wctdm analog drivers, for fxotune",
    WCTDM_SET_REG: "private to the wctdm analog drivers, for fxotune",
    WCTDM_SET_ECHOTUNE: "private to the wctdm analog drivers, for fxotune",
}
