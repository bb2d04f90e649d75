//! DAHDI in sysfs: devices, spans and channels as the kernel lists them,
//! and span assignment.
//!
//! Three buses: `/sys/bus/dahdi_devices/devices/<device>` (a board or a
//! dynamic span's device, e.g. `dynamic:loc:0`; assignment happens here),
//! `/sys/bus/dahdi_spans/devices/span-N` (an assigned span) and
//! `/sys/bus/dahdi_channels/devices/dahdi!chan!SSS!CCC` (a channel of an
//! assigned span). Kernels renamed some device attributes
//! (`dahdi_spantype` → `spantype`, `dahdi_registration_time` →
//! `registration_time`); both names are read.
//!
//! [`Sysfs::with_root`] reads another tree (a fixture) instead of `/sys`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Op, Result};
use crate::signalling::{Alarms, LineConfig, Signalling};

/// A `dahdi_devices` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceInfo {
    /// Directory name, e.g. `dynamic:loc:0` or `pci:0000:03:00.0`.
    pub name: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Device type.
    pub device_type: String,
    /// Number of spans the device has.
    pub span_count: u32,
    /// Hardware id (the span name for dynamic spans), may be empty.
    pub hardware_id: String,
    /// Location, may be empty.
    pub location: String,
    /// `(local span number, span type)` for each span of the device.
    pub span_types: Vec<(u32, String)>,
    /// Registration time (monotonic seconds), when the kernel has it.
    pub registration_time: Option<String>,
    /// Numbers of the device's assigned spans (its `span-N` children).
    pub assigned_spans: Vec<u32>,
}

/// A `dahdi_spans` entry (an assigned span).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SpanSysfs {
    /// Span number (from `span-N`).
    pub span: u32,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Span type, e.g. `DYNAMIC`, `E1`, `FXS`.
    pub span_type: String,
    /// Position on its device, from 1.
    pub local_spanno: u32,
    /// Alarms (the attribute is hexadecimal).
    pub alarms: Alarms,
    /// Line build-out.
    pub lbo: i32,
    /// Timing source span.
    pub sync_source: i32,
    /// Whether the span is digital.
    pub is_digital: bool,
    /// Whether it is DAHDI's timing master.
    pub is_sync_master: bool,
    /// First channel number (`None` for a span without channels).
    pub basechan: Option<i32>,
    /// Number of channels.
    pub channels: u32,
    /// Framing and coding in use.
    pub line_config: LineConfig,
    /// Framing and coding supported.
    pub line_compat: LineConfig,
    /// The `dahdi_devices` entry it belongs to.
    pub device: Option<String>,
}

/// A `dahdi_channels` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChannelSysfs {
    /// Span number (from the entry name `dahdi!chan!SSS!CCC`).
    pub span: u32,
    /// Channel number.
    pub channel: i32,
    /// Position in the span.
    pub chanpos: i32,
    /// Name.
    pub name: String,
    /// Configured signalling (from the kernel's name for it).
    pub signalling: Signalling,
    /// Signalling the channel can take, as the kernel names them.
    pub sigcaps: Vec<String>,
    /// Channel alarms.
    pub alarms: Alarms,
    /// Echo canceller attached (empty if none).
    pub ec_factory: String,
    /// Echo canceller state (`ACTIVE`, `INACTIVE`, or empty if none).
    pub ec_state: String,
    /// Block size in samples.
    pub blocksize: i32,
    /// Whether a file descriptor has the channel open.
    pub in_use: bool,
    /// `chanmute`, where the kernel has it (Debian builds).
    pub chanmute: Option<bool>,
    /// The device node, `/dev/dahdi/chan/SSS/CCC`.
    pub dev_node: PathBuf,
}

/// Access to DAHDI's sysfs tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Sysfs::new()
    }
}

fn sysfs_err(op: &'static str, path: &Path, why: impl Into<String>) -> Error {
    Error::new(ErrorKind::Sysfs(why.into()), Op::Sysfs(op), path)
}

fn read_attr(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches('\n').to_owned())
        .map_err(|e| {
            let errno = e.raw_os_error().map(nix::errno::Errno::from_raw);
            let err = sysfs_err("read", path, e.to_string());
            match errno {
                Some(n) => err.with_errno(n),
                None => err,
            }
        })
}

fn read_opt(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end_matches('\n').to_owned())
}

fn parse<T: std::str::FromStr>(path: &Path, s: &str) -> Result<T> {
    s.trim()
        .parse()
        .map_err(|_| sysfs_err("parse", path, format!("unexpected value {s:?}")))
}

fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(sysfs_err("list", dir, e.to_string())),
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    Ok(v)
}

/// Parses a channel entry name `dahdi!chan!SSS!CCC` into (span, chanpos).
pub fn parse_channel_entry(name: &str) -> Option<(u32, u32)> {
    let mut it = name.split('!');
    if it.next()? != "dahdi" || it.next()? != "chan" {
        return None;
    }
    let span = it.next()?.parse().ok()?;
    let pos = it.next()?.parse().ok()?;
    it.next().is_none().then_some((span, pos))
}

impl Sysfs {
    /// The real tree under `/sys`.
    pub fn new() -> Sysfs {
        Sysfs::with_root("/sys")
    }

    /// A tree under another root (for tests on fixture trees): the same
    /// layout, `<root>/bus/dahdi_devices/...`.
    pub fn with_root(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs { root: root.into() }
    }

    /// The directory read as `/sys`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bus(&self, bus: &str) -> PathBuf {
        self.root.join("bus").join(bus).join("devices")
    }

    /// Whether the dahdi module is loaded (its sysfs buses exist).
    pub fn is_loaded(&self) -> bool {
        self.root.join("bus/dahdi_devices").is_dir()
    }

    /// The `dahdi` module's `auto_assign_spans` parameter, if readable.
    pub fn auto_assign_spans(&self) -> Option<bool> {
        read_opt(&self.root.join("module/dahdi/parameters/auto_assign_spans"))
            .and_then(|s| s.trim().parse::<i32>().ok())
            .map(|v| v != 0)
    }

    /// Changes the `dahdi` module's `auto_assign_spans` parameter at run
    /// time (it is writable by root): whether spans registered from now on
    /// are assigned at once (`true`) or wait for [`auto_assign`](Self::auto_assign)
    /// / [`assign_span`](Self::assign_span).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`] unless root;
    /// [`ErrorKind::Sysfs`] when the dahdi module is not loaded.
    pub fn set_auto_assign_spans(&self, on: bool) -> Result<()> {
        let p = self.root.join("module/dahdi/parameters/auto_assign_spans");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .map_err(|e| io_err("auto_assign_spans", &p, e))?;
        f.write_all(if on { b"1\n" } else { b"0\n" })
            .map_err(|e| io_err("auto_assign_spans", &p, e))
    }

    /// Every DAHDI device, sorted by name.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let dir = self.bus("dahdi_devices");
        list_dir(&dir)?
            .into_iter()
            .map(|n| self.device(&n))
            .collect()
    }

    /// One device by its directory name.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn device(&self, name: &str) -> Result<DeviceInfo> {
        let d = self.bus("dahdi_devices").join(name);
        let attr = |a: &str| read_attr(&d.join(a));
        let count_path = d.join("span_count");
        let span_count = parse(&count_path, &attr("span_count")?)?;
        let types = read_opt(&d.join("dahdi_spantype"))
            .or_else(|| read_opt(&d.join("spantype")))
            .unwrap_or_default();
        let span_types = types
            .lines()
            .filter_map(|l| {
                let (n, t) = l.split_once(':')?;
                Some((n.trim().parse().ok()?, t.trim().to_owned()))
            })
            .collect();
        let registration_time = read_opt(&d.join("dahdi_registration_time"))
            .or_else(|| read_opt(&d.join("registration_time")));
        let mut assigned_spans: Vec<u32> = list_dir(&d)?
            .iter()
            .filter_map(|n| n.strip_prefix("span-")?.parse().ok())
            .collect();
        assigned_spans.sort_unstable();
        Ok(DeviceInfo {
            name: name.to_owned(),
            manufacturer: attr("manufacturer")?,
            device_type: attr("type")?,
            span_count,
            hardware_id: attr("hardware_id")?,
            location: attr("location")?,
            span_types,
            registration_time,
            assigned_spans,
        })
    }

    /// The device whose `hardware_id` is `id` (a dynamic span's is its
    /// span name, e.g. `DYN/loc/1:0`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn device_by_hardware_id(&self, id: &str) -> Result<Option<DeviceInfo>> {
        Ok(self.devices()?.into_iter().find(|d| d.hardware_id == id))
    }

    /// Every assigned span, sorted by number.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn spans(&self) -> Result<Vec<SpanSysfs>> {
        let mut v: Vec<SpanSysfs> = list_dir(&self.bus("dahdi_spans"))?
            .into_iter()
            .filter_map(|n| n.strip_prefix("span-")?.parse::<u32>().ok())
            .map(|n| self.span(n))
            .collect::<Result<_>>()?;
        v.sort_by_key(|s| s.span);
        Ok(v)
    }

    /// Assigned span `span`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn span(&self, span: u32) -> Result<SpanSysfs> {
        let d = self.bus("dahdi_spans").join(format!("span-{span}"));
        let attr = |a: &str| read_attr(&d.join(a));
        let num = |a: &str| -> Result<i64> { parse(&d.join(a), &attr(a)?) };
        let alarms_path = d.join("alarms");
        let alarms_s = attr("alarms")?;
        let alarms = u32::from_str_radix(alarms_s.trim().trim_start_matches("0x"), 16)
            .map_err(|_| sysfs_err("parse", &alarms_path, format!("alarms {alarms_s:?}")))?;
        let device = fs::read_link(d.join("ddev"))
            .ok()
            .or_else(|| {
                fs::canonicalize(&d)
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_owned))
            })
            .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()));
        Ok(SpanSysfs {
            span,
            name: attr("name")?,
            description: attr("desc")?,
            span_type: attr("spantype")?,
            local_spanno: num("local_spanno")? as u32,
            alarms: Alarms::from_bits_retain(alarms),
            lbo: num("lbo")? as i32,
            sync_source: num("syncsrc")? as i32,
            is_digital: num("is_digital")? != 0,
            is_sync_master: num("is_sync_master")? != 0,
            basechan: read_opt(&d.join("basechan")).and_then(|s| s.trim().parse().ok()),
            channels: num("channels")? as u32,
            line_config: LineConfig::from_kernel_names(&attr("lineconfig")?),
            line_compat: LineConfig::from_kernel_names(&attr("linecompat")?),
            device,
        })
    }

    /// Every channel of every assigned span, sorted by channel number.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn channels(&self) -> Result<Vec<ChannelSysfs>> {
        let mut v: Vec<ChannelSysfs> = list_dir(&self.bus("dahdi_channels"))?
            .into_iter()
            .filter(|n| parse_channel_entry(n).is_some())
            .map(|n| self.channel_entry(&n))
            .collect::<Result<_>>()?;
        v.sort_by_key(|c| c.channel);
        Ok(v)
    }

    /// The channels of span `span`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Sysfs`] for an attribute that cannot be read
    /// or parsed (the text says which).
    pub fn span_channels(&self, span: u32) -> Result<Vec<ChannelSysfs>> {
        Ok(self
            .channels()?
            .into_iter()
            .filter(|c| c.span == span)
            .collect())
    }

    fn channel_entry(&self, entry: &str) -> Result<ChannelSysfs> {
        let d = self.bus("dahdi_channels").join(entry);
        let (span, pos) = parse_channel_entry(entry)
            .ok_or_else(|| sysfs_err("parse", &d, "not a channel entry"))?;
        let attr = |a: &str| read_attr(&d.join(a));
        let num = |a: &str| -> Result<i32> { parse(&d.join(a), &attr(a)?) };
        let sig_name = attr("sig")?;
        Ok(ChannelSysfs {
            span,
            channel: num("channo")?,
            chanpos: num("chanpos")?,
            name: attr("name")?,
            signalling: Signalling::from_kernel_name(&sig_name).unwrap_or(Signalling::Unknown(-1)),
            sigcaps: split_sigcaps(&attr("sigcap")?),
            alarms: Alarms::from_kernel_string(&attr("alarms")?),
            ec_factory: attr("ec_factory")?,
            ec_state: attr("ec_state")?,
            blocksize: num("blocksize")?,
            in_use: num("in_use")? != 0,
            chanmute: read_opt(&d.join("chanmute"))
                .and_then(|s| s.trim().parse::<i32>().ok())
                .map(|v| v != 0),
            dev_node: crate::Channel::node_path(span, pos),
        })
    }

    fn write_attr(&self, device: &str, attr: &'static str, value: &str) -> Result<()> {
        let p = self.bus("dahdi_devices").join(device).join(attr);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .map_err(|e| io_err(attr, &p, e))?;
        f.write_all(value.as_bytes())
            .map_err(|e| io_err(attr, &p, e))
    }

    /// Assigns every span of `device` with the kernel's own numbering
    /// (writes its `auto_assign`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`] unless root;
    /// [`ErrorKind::Sysfs`] for a device that does not exist, or
    /// what the kernel refuses (the errno tells).
    pub fn auto_assign(&self, device: &str) -> Result<()> {
        self.write_attr(device, "auto_assign", "1\n")
    }

    /// Assigns span `local_spanno` of `device` as span `spanno` with first
    /// channel `basechan` (writes `assign_span`); `0, 0` lets the kernel
    /// choose.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidArgument`] before the write
    /// for a span number without a base channel; otherwise
    /// [`ErrorKind::PermissionDenied`] unless root;
    /// [`ErrorKind::Sysfs`] for a device that does not exist, or
    /// what the kernel refuses (the errno tells).
    pub fn assign_span(
        &self,
        device: &str,
        local_spanno: u32,
        spanno: u32,
        basechan: u32,
    ) -> Result<()> {
        if spanno != 0 && basechan == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument(
                    "a span number needs a base channel too (the kernel refuses N:0)".into(),
                ),
                Op::Sysfs("assign_span"),
                self.bus("dahdi_devices").join(device),
            ));
        }
        self.write_attr(
            device,
            "assign_span",
            &format!("{local_spanno}:{spanno}:{basechan}\n"),
        )
    }

    /// Unassigns span `local_spanno` of `device` (writes `unassign_span`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`] unless root;
    /// [`ErrorKind::Sysfs`] for a device that does not exist, or
    /// what the kernel refuses (the errno tells).
    pub fn unassign_span(&self, device: &str, local_spanno: u32) -> Result<()> {
        self.write_attr(device, "unassign_span", &format!("{local_spanno}\n"))
    }
}

fn io_err(op: &'static str, path: &Path, e: std::io::Error) -> Error {
    let errno = e.raw_os_error().map(nix::errno::Errno::from_raw);
    let kind = match e.kind() {
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        std::io::ErrorKind::NotFound => {
            ErrorKind::Sysfs("no such device attribute (is the dahdi module loaded?)".into())
        }
        _ => ErrorKind::Sysfs(e.to_string()),
    };
    let err = Error::new(kind, Op::Sysfs(op), path);
    match errno {
        Some(n) => err.with_errno(n),
        None => err,
    }
}

/// Splits the kernel's `sigcap` list. Names are space separated, but
/// "SF (ToneOnly)" holds a space itself.
fn split_sigcaps(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in s.split_whitespace() {
        if w == "(ToneOnly)" {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(w);
                continue;
            }
        }
        out.push(w.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_entry_names() {
        assert_eq!(parse_channel_entry("dahdi!chan!001!024"), Some((1, 24)));
        assert_eq!(parse_channel_entry("dahdi!chan!12!3"), Some((12, 3)));
        assert_eq!(parse_channel_entry("dahdi!ctl"), None);
        assert_eq!(parse_channel_entry("dahdi!chan!1!2!3"), None);
    }

    #[test]
    fn sigcaps_keep_sf_together() {
        assert_eq!(
            split_sigcaps("FXSLS E&M Clear SF (ToneOnly) CAS DACS+RBS"),
            ["FXSLS", "E&M", "Clear", "SF (ToneOnly)", "CAS", "DACS+RBS"]
        );
    }
}
