//! Span status (`DAHDI_SPANSTAT`) and the driver version.

use std::os::fd::RawFd;
use std::path::Path;

use dahdi_sys::{self as sys, ioctl};

use crate::error::Result;
use crate::fd::{c_string, ioctl};
use crate::signalling::{Alarms, LineConfig};

/// A span's status (`DAHDI_SPANSTAT`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SpanInfo {
    /// Span number.
    pub span: i32,
    /// Span name, e.g. `DYN/loc/1:0`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Alarms.
    pub alarms: Alarms,
    /// Transmit level.
    pub tx_level: i32,
    /// Receive level.
    pub rx_level: i32,
    /// Bipolar violations.
    pub bpv_count: i32,
    /// CRC-4 errors.
    pub crc4_count: i32,
    /// E-bit errors.
    pub ebit_count: i32,
    /// FAS errors.
    pub fas_count: i32,
    /// Framing errors.
    pub fe_count: u32,
    /// Coding violations.
    pub cv_count: u32,
    /// Bit errors.
    pub be_count: u32,
    /// PRBS pattern.
    pub prbs: u32,
    /// Errored seconds.
    pub errored_seconds: u32,
    /// Missed interrupts of the device.
    pub irq_misses: i32,
    /// Span giving timing, 0 when free-running.
    pub sync_source: i32,
    /// Channels with signalling configured.
    pub configured_channels: i32,
    /// Channels on the span.
    pub total_channels: i32,
    /// Spans in the system.
    pub total_spans: i32,
    /// Line build-out.
    pub lbo: i32,
    /// Framing and coding in use.
    pub line_config: LineConfig,
    /// Line build-out as text.
    pub lbo_name: String,
    /// Device location.
    pub location: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Device type.
    pub device_type: String,
    /// IRQ (always 0 from current drivers).
    pub irq: i32,
    /// Framing and coding the span supports; empty for analog spans.
    pub line_compat: LineConfig,
    /// Span type as the ioctl reports it: at most 5 characters, so
    /// `"DYNAMIC"` reads `"DYNAM"` (the kernel truncates; sysfs has the
    /// full name).
    pub span_type: String,
}

/// A span's state as dahdi_scan sums it up (its `alarms=` line): `OK` when
/// the span has no alarm and configured channels, `UNCONFIGURED` when it
/// has no alarm and no configured channel, else its alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanState {
    /// No alarm, and at least one channel with signalling.
    Ok,
    /// No alarm, and no channel with signalling.
    Unconfigured,
    /// These alarms.
    Alarms(Alarms),
}

impl SpanState {
    /// Whether the span is usable: no alarm and channels configured.
    pub fn is_ok(self) -> bool {
        self == SpanState::Ok
    }
}

/// As dahdi_scan prints it: `OK`, `UNCONFIGURED`, or the alarms abbreviated
/// and joined with `/` (`BLU`, `YEL`, `RED`, `LB`, `REC`, `NOP`; `UUU` for
/// alarms without one of those).
impl std::fmt::Display for SpanState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let alarms = match self {
            SpanState::Ok => return f.write_str("OK"),
            SpanState::Unconfigured => return f.write_str("UNCONFIGURED"),
            SpanState::Alarms(a) => *a,
        };
        let names: Vec<&str> = [
            (Alarms::BLUE, "BLU"),
            (Alarms::YELLOW, "YEL"),
            (Alarms::RED, "RED"),
            (Alarms::LOOPBACK, "LB"),
            (Alarms::RECOVER, "REC"),
            (Alarms::NOTOPEN, "NOP"),
        ]
        .into_iter()
        .filter(|(flag, _)| alarms.contains(*flag))
        .map(|(_, name)| name)
        .collect();
        if names.is_empty() {
            f.write_str("UUU")
        } else {
            f.write_str(&names.join("/"))
        }
    }
}

/// Serialized as it prints.
#[cfg(feature = "serde")]
impl serde::Serialize for SpanState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl SpanInfo {
    /// Whether the span is digital (it has line options), as dahdi_scan
    /// decides.
    pub fn is_digital(&self) -> bool {
        !self.line_compat.is_empty()
    }

    /// The span's state, as dahdi_scan sums it up.
    pub fn state(&self) -> SpanState {
        if !self.alarms.is_empty() {
            SpanState::Alarms(self.alarms)
        } else if self.configured_channels > 0 {
            SpanState::Ok
        } else {
            SpanState::Unconfigured
        }
    }

    pub(crate) fn from_raw(s: &sys::dahdi_spaninfo) -> SpanInfo {
        // Copies out of the packed struct, field by field.
        let (name, desc, lboname, location, manufacturer, devicetype, spantype) = (
            s.name,
            s.desc,
            s.lboname,
            s.location,
            s.manufacturer,
            s.devicetype,
            s.spantype,
        );
        SpanInfo {
            span: s.spanno,
            name: c_string(&name),
            description: c_string(&desc),
            alarms: Alarms::from_bits_retain(s.alarms as u32),
            tx_level: s.txlevel,
            rx_level: s.rxlevel,
            bpv_count: s.bpvcount,
            crc4_count: s.crc4count,
            ebit_count: s.ebitcount,
            fas_count: s.fascount,
            fe_count: s.fecount,
            cv_count: s.cvcount,
            be_count: s.becount,
            prbs: s.prbs,
            errored_seconds: s.errsec,
            irq_misses: s.irqmisses,
            sync_source: s.syncsrc,
            configured_channels: s.numchans,
            total_channels: s.totalchans,
            total_spans: s.totalspans,
            lbo: s.lbo,
            line_config: LineConfig::from_bits_retain(s.lineconfig as u32),
            lbo_name: c_string(&lboname),
            location: c_string(&location),
            manufacturer: c_string(&manufacturer),
            device_type: c_string(&devicetype),
            irq: s.irq,
            line_compat: LineConfig::from_bits_retain(s.linecompat as u32),
            span_type: c_string(&spantype),
        }
    }
}

pub(crate) fn spanstat(fd: RawFd, path: &Path, span: i32) -> Result<SpanInfo> {
    let mut s = sys::dahdi_spaninfo::zeroed();
    s.spanno = span;
    let subject = if span != 0 { Some(span) } else { None };
    // SAFETY: valid fd and a pointer to a live spaninfo.
    ioctl(path, ioctl::DAHDI_SPANSTAT, subject, || unsafe {
        sys::dahdi_spanstat(fd, &mut s)
    })?;
    Ok(SpanInfo::from_raw(&s))
}

/// The driver's version (`DAHDI_GETVERSION`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Version {
    /// Version string, e.g. `2.11.1.0.20170917`.
    pub version: String,
    /// Echo cancellers registered with the driver (their modules loaded),
    /// e.g. `["MG2"]`.
    pub echo_cancellers: Vec<String>,
}

impl Version {
    pub(crate) fn from_raw(v: &sys::dahdi_versioninfo) -> Version {
        let ec = c_string(&v.echo_canceller);
        Version {
            version: c_string(&v.version),
            echo_cancellers: ec
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_splits_the_echo_canceller_list() {
        let mut v = sys::dahdi_versioninfo::zeroed();
        sys::dahdi_copy_string(&mut v.version, b"2.11.1");
        sys::dahdi_copy_string(&mut v.echo_canceller, b"MG2, KB1");
        let v = Version::from_raw(&v);
        assert_eq!(v.version, "2.11.1");
        assert_eq!(v.echo_cancellers, ["MG2", "KB1"]);
        let e = Version::from_raw(&sys::dahdi_versioninfo::zeroed());
        assert!(e.echo_cancellers.is_empty());
    }

    #[test]
    fn states_print_as_dahdi_scan_prints_them() {
        let mut s = SpanInfo::from_raw(&sys::dahdi_spaninfo::zeroed());
        assert_eq!(s.state().to_string(), "UNCONFIGURED");
        s.configured_channels = 3;
        assert_eq!(s.state(), SpanState::Ok);
        assert_eq!(s.state().to_string(), "OK");
        s.alarms = Alarms::RED | Alarms::YELLOW | Alarms::LOS;
        assert_eq!(s.state().to_string(), "YEL/RED");
        s.alarms = Alarms::LOS;
        assert_eq!(s.state().to_string(), "UUU");
    }

    #[test]
    fn spaninfo_decodes_packed_fields() {
        let mut s = sys::dahdi_spaninfo::zeroed();
        s.spanno = 3;
        s.alarms = sys::DAHDI_ALARM_RED;
        s.linecompat = sys::DAHDI_CONFIG_D4 | sys::DAHDI_CONFIG_ESF;
        s.totalchans = 24;
        let mut name = [0; 20];
        sys::dahdi_copy_string(&mut name, b"DYN/loc/1:0");
        s.name = name;
        let mut t = [0; 6];
        sys::dahdi_copy_string(&mut t, b"DYNAMIC");
        s.spantype = t;
        let i = SpanInfo::from_raw(&s);
        assert_eq!(i.span, 3);
        assert_eq!(i.alarms, Alarms::RED);
        assert_eq!(i.name, "DYN/loc/1:0");
        assert_eq!(i.span_type, "DYNAM");
        assert!(i.is_digital());
        assert_eq!(i.total_channels, 24);
    }
}
