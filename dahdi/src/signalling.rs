//! Signalling types, companding laws, hook operations and alarms: the
//! vocabulary of channel configuration.

use std::fmt;

use dahdi_sys as sys;

use crate::c_enum::c_enum;

c_enum! {
    /// A channel's signalling (`DAHDI_SIG_*`), as configured with
    /// `DAHDI_CHANCONFIG` and reported by `DAHDI_GET_PARAMS`.
    ///
    /// DAHDI names analog signalling after the equipment at the *other* end:
    /// `Fxs*` signalling is used on a port that faces an exchange (an FXO
    /// port), `Fxo*` on a port that faces a phone (an FXS port).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[non_exhaustive]
    pub enum Signalling {
        /// Not configured: the channel cannot be opened.
        None = DAHDI_SIG_NONE => "Unconfigured",
        /// FXS loop start.
        FxsLs = DAHDI_SIG_FXSLS => "FXSLS",
        /// FXS ground start.
        FxsGs = DAHDI_SIG_FXSGS => "FXSGS",
        /// FXS kewl start.
        FxsKs = DAHDI_SIG_FXSKS => "FXSKS",
        /// FXO loop start.
        FxoLs = DAHDI_SIG_FXOLS => "FXOLS",
        /// FXO ground start.
        FxoGs = DAHDI_SIG_FXOGS => "FXOGS",
        /// FXO kewl start.
        FxoKs = DAHDI_SIG_FXOKS => "FXOKS",
        /// E&M.
        Em = DAHDI_SIG_EM => "E&M",
        /// Clear channel (64 kbit/s data or audio, no signalling): dahdi_cfg's
        /// `bchan` (and `clear`, which also bundles channels).
        Clear = DAHDI_SIG_CLEAR => "Clear",
        /// Raw HDLC.
        HdlcRaw = DAHDI_SIG_HDLCRAW => "HDLCRAW",
        /// HDLC with FCS (dahdi_cfg's `dchan`).
        HdlcFcs = DAHDI_SIG_HDLCFCS => "HDLCFCS",
        /// HDLC network device.
        HdlcNet = DAHDI_SIG_HDLCNET => "HDLCNET",
        /// Slave of a master channel (only as a request: the kernel records
        /// a slave with its master's signalling).
        Slave = DAHDI_SIG_SLAVE => "Slave",
        /// Single-frequency tone signalling.
        Sf = DAHDI_SIG_SF => "SF (ToneOnly)",
        /// Raw CAS bits, no hook state machine.
        Cas = DAHDI_SIG_CAS => "CAS",
        /// Digital cross-connect to another channel.
        Dacs = DAHDI_SIG_DACS => "DACS",
        /// E&M on E1.
        EmE1 = DAHDI_SIG_EM_E1 => "E&M-E1",
        /// DACS with robbed-bit signalling passed through.
        DacsRbs = DAHDI_SIG_DACS_RBS => "DACS+RBS",
        /// Hardware-assisted HDLC.
        HardHdlc = DAHDI_SIG_HARDHDLC => "Hardware-assisted HDLC",
        /// MTP2 (SS7).
        Mtp2 = DAHDI_SIG_MTP2 => "MTP2",
    }
    unknown
    /// A value this crate does not know.
    Unknown;
}

impl Signalling {
    /// The name the kernel prints for it (`sigstr()` in dahdi-base.c):
    /// what `/proc/dahdi/N` and the sysfs `sig` attribute show. The kernel
    /// prints a value it does not know as `Unconfigured`, and so does this.
    pub fn kernel_name(self) -> &'static str {
        // sigstr()'s default case.
        self.table_kernel_name().unwrap_or("Unconfigured")
    }

    /// The dahdi_cfg `system.conf` keyword that configures it (`fxsks`,
    /// `bchan`, `e&m`...), where there is one. (dahdi_cfg maps several
    /// keywords to one signalling: `bchan` and `clear` both make
    /// [`Clear`](Self::Clear) channels, `clear` bundling them; `dchan` and
    /// `fcshdlc` both make [`HdlcFcs`](Self::HdlcFcs).)
    pub fn config_keyword(self) -> Option<&'static str> {
        use Signalling::*;
        Some(match self {
            FxsLs => "fxsls",
            FxsGs => "fxsgs",
            FxsKs => "fxsks",
            FxoLs => "fxols",
            FxoGs => "fxogs",
            FxoKs => "fxoks",
            Em => "e&m",
            EmE1 => "e&me1",
            Clear => "bchan",
            HdlcRaw => "rawhdlc",
            HdlcFcs => "dchan",
            HdlcNet => "nethdlc",
            HardHdlc => "hardhdlc",
            Mtp2 => "mtp2",
            Cas => "cas",
            Dacs => "dacs",
            DacsRbs => "dacsrbs",
            _ => return Option::None,
        })
    }

    /// Whether the channel carries audio the kernel treats as voice (every
    /// signalling except the clear/HDLC/DACS family).
    pub fn is_audio(self) -> bool {
        let raw = self.to_raw();
        raw != 0 && raw & sys::DAHDI_SIG_CLEAR != sys::DAHDI_SIG_CLEAR
    }
}

impl fmt::Display for Signalling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kernel_name())
    }
}

/// The signalling a channel can take (`sigcap`), a mask of composite
/// `DAHDI_SIG_*` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SigCaps(pub i32);

impl SigCaps {
    /// Whether every bit of `sig` is in the mask.
    pub fn supports(self, sig: Signalling) -> bool {
        let s = sig.to_raw();
        s != 0 && self.0 & s == s
    }

    /// The signalling types the mask supports, in the order the kernel's
    /// sysfs `sigcap` attribute lists them.
    pub fn iter(self) -> impl Iterator<Item = Signalling> {
        use Signalling::*;
        [
            FxsLs, FxsGs, FxsKs, FxoLs, FxoGs, FxoKs, Em, Clear, HdlcRaw, HdlcFcs, HdlcNet, Slave,
            Sf, Cas, EmE1, DacsRbs, HardHdlc, Mtp2,
        ]
        .into_iter()
        .filter(move |s| self.supports(*s))
    }
}

c_enum! {
    /// Companding law of a channel (`DAHDI_SETLAW`; `curlaw` of
    /// `DAHDI_GET_PARAMS`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    pub enum Law {
        /// The span's default law (pseudo channels: mu-law).
        Default = DAHDI_LAW_DEFAULT,
        /// G.711 mu-law.
        Mulaw = DAHDI_LAW_MULAW,
        /// G.711 A-law.
        Alaw = DAHDI_LAW_ALAW,
    }
}

c_enum! {
    /// A hook operation (`DAHDI_HOOK`) on a span channel with FXS/FXO/E&M
    /// signalling.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Hook {
        /// Go on hook (hang up).
        OnHook = DAHDI_ONHOOK,
        /// Go off hook (answer, seize).
        OffHook = DAHDI_OFFHOOK,
        /// Send a wink (E&M).
        Wink = DAHDI_WINK,
        /// Flash hook.
        Flash = DAHDI_FLASH,
        /// Start signal (ground start, or ring on FXO signalling).
        Start = DAHDI_START,
        /// Ring the line (FXO signalling, i.e. a port facing a phone).
        Ring = DAHDI_RING,
        /// Stop ringing.
        RingOff = DAHDI_RINGOFF,
    }
}

bitflags::bitflags! {
    /// Span and channel alarms (`DAHDI_ALARM_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Alarms: u32 {
        /// Recovering from an alarm.
        const RECOVER = sys::DAHDI_ALARM_RECOVER as u32;
        /// In loopback (maintenance).
        const LOOPBACK = sys::DAHDI_ALARM_LOOPBACK as u32;
        /// Yellow alarm: the far end reports a problem.
        const YELLOW = sys::DAHDI_ALARM_YELLOW as u32;
        /// Red alarm: nothing (usable) received.
        const RED = sys::DAHDI_ALARM_RED as u32;
        /// Blue alarm: all-ones (AIS) received.
        const BLUE = sys::DAHDI_ALARM_BLUE as u32;
        /// The span is not open (e.g. being removed).
        const NOTOPEN = sys::DAHDI_ALARM_NOTOPEN as u32;
        /// Loss of signal.
        const LOS = sys::DAHDI_ALARM_LOS as u32;
        /// Loss of frame alignment.
        const LFA = sys::DAHDI_ALARM_LFA as u32;
        /// Loss of multiframe alignment.
        const LMFA = sys::DAHDI_ALARM_LMFA as u32;
    }
}

impl Alarms {
    /// The text the kernel prints for these alarms
    /// (`fill_alarm_string()`: what `/proc/dahdi/N` and the channels'
    /// sysfs `alarms` show), e.g. `"YELLOW RED "`, empty when none.
    pub fn kernel_string(self) -> String {
        let mut s = String::new();
        for (flag, name) in [
            (Alarms::BLUE, "BLUE "),
            (Alarms::YELLOW, "YELLOW "),
            (Alarms::RED, "RED "),
            (Alarms::LOOPBACK, "LOOP "),
            (Alarms::RECOVER, "RECOVERING "),
            (Alarms::NOTOPEN, "NOTOPEN "),
        ] {
            if self.contains(flag) {
                s.push_str(name);
            }
        }
        s
    }

    /// Parses [`kernel_string`](Self::kernel_string) back (the flags it
    /// can show).
    pub fn from_kernel_string(s: &str) -> Alarms {
        let mut a = Alarms::empty();
        for word in s.split_whitespace() {
            a |= match word {
                "BLUE" => Alarms::BLUE,
                "YELLOW" => Alarms::YELLOW,
                "RED" => Alarms::RED,
                "LOOP" => Alarms::LOOPBACK,
                "RECOVERING" => Alarms::RECOVER,
                "NOTOPEN" => Alarms::NOTOPEN,
                _ => Alarms::empty(),
            };
        }
        a
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Alarms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for (name, _) in self.iter_names() {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

bitflags::bitflags! {
    /// Line framing and coding of a digital span (`DAHDI_CONFIG_*`),
    /// for `lineconfig` and `linecompat`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LineConfig: u32 {
        /// T1 D4 (superframe) framing.
        const D4 = sys::DAHDI_CONFIG_D4 as u32;
        /// T1 extended superframe framing.
        const ESF = sys::DAHDI_CONFIG_ESF as u32;
        /// AMI line coding.
        const AMI = sys::DAHDI_CONFIG_AMI as u32;
        /// T1 B8ZS line coding.
        const B8ZS = sys::DAHDI_CONFIG_B8ZS as u32;
        /// E1 common channel signalling framing.
        const CCS = sys::DAHDI_CONFIG_CCS as u32;
        /// E1 HDB3 line coding.
        const HDB3 = sys::DAHDI_CONFIG_HDB3 as u32;
        /// E1 CRC-4.
        const CRC4 = sys::DAHDI_CONFIG_CRC4 as u32;
        /// BRI NT mode.
        const NTTE = sys::DAHDI_CONFIG_NTTE as u32;
        /// BRI termination.
        const TERM = sys::DAHDI_CONFIG_TERM as u32;
        /// The span is not open.
        const NOTOPEN = sys::DAHDI_CONFIG_NOTOPEN as u32;
    }
}

impl LineConfig {
    /// The names the kernel's sysfs `linecompat` attribute prints, in its
    /// order (bits 4 to 12), e.g. `["D4", "ESF", "AMI"]`.
    pub fn kernel_names(self) -> Vec<&'static str> {
        [
            (LineConfig::D4, "D4"),
            (LineConfig::ESF, "ESF"),
            (LineConfig::AMI, "AMI"),
            (LineConfig::B8ZS, "B8ZS"),
            (LineConfig::CCS, "CCS"),
            (LineConfig::HDB3, "HDB3"),
            (LineConfig::CRC4, "CRC4"),
            (LineConfig::NTTE, "NTTE"),
            (LineConfig::TERM, "TERM"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, n)| n)
        .collect()
    }

    /// Parses a list of kernel names (as in sysfs `linecompat`).
    pub fn from_kernel_names(s: &str) -> LineConfig {
        let mut c = LineConfig::empty();
        for w in s.split(|ch: char| ch.is_whitespace() || ch == '/') {
            if let Some(f) = LineConfig::from_name(w) {
                c |= f;
            }
        }
        c
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for LineConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.kernel_names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signalling_values_match_the_header() {
        assert_eq!(Signalling::FxsKs.to_raw(), 0x2004);
        assert_eq!(Signalling::FxoKs.to_raw(), 0x1020);
        assert_eq!(Signalling::Clear.to_raw(), 0x80);
        assert_eq!(Signalling::Cas.to_raw(), 0x8000);
        assert_eq!(Signalling::DacsRbs.to_raw(), 0x50000);
        for &s in Signalling::all() {
            assert_eq!(Signalling::from_raw(s.to_raw()), s);
            assert_eq!(Signalling::from_kernel_name(s.kernel_name()), Some(s));
        }
        assert_eq!(Signalling::all().len(), 20);
        assert_eq!(Signalling::FxsKs.c_name(), Some("DAHDI_SIG_FXSKS"));
        assert_eq!(Signalling::Unknown(7).c_name(), None);
        assert_eq!(Signalling::Unknown(7).kernel_name(), "Unconfigured");
        assert_eq!(Signalling::from_raw(0x7), Signalling::Unknown(7));
        assert_eq!(
            Signalling::from_kernel_name("FXSKS"),
            Some(Signalling::FxsKs)
        );
        assert_eq!(
            Signalling::from_kernel_name("Clear"),
            Some(Signalling::Clear)
        );
        assert_eq!(
            Signalling::from_kernel_name("Unconfigured"),
            Some(Signalling::None)
        );
        assert!(Signalling::FxsKs.is_audio());
        assert!(!Signalling::Clear.is_audio());
        assert!(!Signalling::HdlcFcs.is_audio());
    }

    #[test]
    fn sigcaps_of_a_dynamic_channel() {
        // The mask dahdi_dynamic.c gives each channel.
        let caps = SigCaps(
            sys::DAHDI_SIG_EM
                | sys::DAHDI_SIG_CLEAR
                | sys::DAHDI_SIG_FXSLS
                | sys::DAHDI_SIG_FXSKS
                | sys::DAHDI_SIG_FXSGS
                | sys::DAHDI_SIG_FXOLS
                | sys::DAHDI_SIG_FXOKS
                | sys::DAHDI_SIG_FXOGS
                | sys::DAHDI_SIG_SF
                | sys::DAHDI_SIG_DACS_RBS
                | sys::DAHDI_SIG_CAS,
        );
        let names: Vec<&str> = caps.iter().map(|s| s.kernel_name()).collect();
        // HDLCRAW = CLEAR|0x100 is not in the mask; DACS+RBS is.
        assert_eq!(
            names,
            [
                "FXSLS",
                "FXSGS",
                "FXSKS",
                "FXOLS",
                "FXOGS",
                "FXOKS",
                "E&M",
                "Clear",
                "SF (ToneOnly)",
                "CAS",
                "DACS+RBS"
            ]
        );
        assert!(!caps.supports(Signalling::HdlcFcs));
    }

    #[test]
    fn alarm_strings() {
        let a = Alarms::RED | Alarms::YELLOW;
        assert_eq!(a.kernel_string(), "YELLOW RED ");
        assert_eq!(Alarms::from_kernel_string("YELLOW RED "), a);
        assert_eq!(Alarms::empty().kernel_string(), "");
        assert_eq!(Alarms::RED.bits(), 8);
        assert_eq!(Alarms::LMFA.bits(), 0x400);
    }

    #[test]
    fn lineconfig_names() {
        let c = LineConfig::D4 | LineConfig::ESF | LineConfig::HDB3 | LineConfig::NOTOPEN;
        assert_eq!(c.kernel_names(), ["D4", "ESF", "HDB3"]);
        assert_eq!(
            LineConfig::from_kernel_names("D4 ESF HDB3"),
            LineConfig::D4 | LineConfig::ESF | LineConfig::HDB3
        );
        assert_eq!(
            LineConfig::from_kernel_names("B8ZS/ESF"),
            LineConfig::B8ZS | LineConfig::ESF
        );
    }
}
