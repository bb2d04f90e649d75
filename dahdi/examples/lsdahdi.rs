//! Lists DAHDI devices, spans and channels, like dahdi-tools' `lsdahdi`.
//!
//! ```text
//! cargo run -p dahdi --example lsdahdi            # text
//! cargo run -p dahdi --example lsdahdi -- --json  # JSON
//! cargo run -p dahdi --example lsdahdi -- --sysfs-root DIR   # a copy of /sys
//! ```
//!
//! Everything comes from sysfs, plus `DAHDI_SPANSTAT` and `DAHDI_GETVERSION`
//! when `/dev/dahdi/ctl` can be opened.

use dahdi::sysfs::{ChannelSysfs, DeviceInfo, SpanSysfs};
use dahdi::{Ctl, SpanInfo, Sysfs, Version};
use serde::Serialize;

#[derive(Serialize)]
struct Span {
    #[serde(flatten)]
    sysfs: SpanSysfs,
    status: Option<SpanInfo>,
    channels: Vec<ChannelSysfs>,
}

#[derive(Serialize)]
struct Listing {
    version: Option<Version>,
    auto_assign_spans: Option<bool>,
    devices: Vec<DeviceInfo>,
    spans: Vec<Span>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let root = args
        .iter()
        .position(|a| a == "--sysfs-root")
        .and_then(|i| args.get(i + 1).cloned());
    let sysfs = root.map(Sysfs::with_root).unwrap_or_default();
    if let Err(e) = run(&sysfs, json) {
        eprintln!("lsdahdi: {e}");
        std::process::exit(1);
    }
}

fn run(sysfs: &Sysfs, json: bool) -> dahdi::Result<()> {
    if !sysfs.is_loaded() {
        return Err(dahdi::Error::new(
            dahdi::ErrorKind::ModuleNotLoaded,
            dahdi::Op::Sysfs("list"),
            "/sys/bus/dahdi_devices",
        ));
    }
    let ctl = Ctl::open().ok();
    let mut spans = Vec::new();
    for s in sysfs.spans()? {
        let status = ctl.as_ref().and_then(|c| c.span_info(s.span as i32).ok());
        let channels = sysfs.span_channels(s.span)?;
        spans.push(Span {
            sysfs: s,
            status,
            channels,
        });
    }
    let listing = Listing {
        version: ctl.as_ref().and_then(|c| c.version().ok()),
        auto_assign_spans: sysfs.auto_assign_spans(),
        devices: sysfs.devices()?,
        spans,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&listing).expect("serializable")
        );
        return Ok(());
    }
    if let Some(v) = &listing.version {
        println!(
            "DAHDI {} (echo cancellers: {})",
            v.version,
            if v.echo_cancellers.is_empty() {
                "none".into()
            } else {
                v.echo_cancellers.join(", ")
            }
        );
    }
    for d in &listing.devices {
        let assigned = if d.assigned_spans.is_empty() {
            "unassigned".to_owned()
        } else {
            format!("spans {:?}", d.assigned_spans)
        };
        println!(
            "### Device {}: {} ({} span(s), {assigned})",
            d.name, d.hardware_id, d.span_count
        );
    }
    for s in &listing.spans {
        let alarms = s.sysfs.alarms.kernel_string();
        println!(
            "### Span {:2}: {} \"{}\" {}{}",
            s.sysfs.span,
            s.sysfs.name,
            s.sysfs.description,
            s.sysfs.span_type,
            if alarms.is_empty() {
                String::new()
            } else {
                format!(" {}", alarms.trim_end())
            }
        );
        for c in &s.channels {
            println!(
                "{:4} {:<8} {:<12} {}{}",
                c.channel,
                c.signalling.kernel_name(),
                if c.in_use { "In use" } else { "" },
                c.name,
                if c.alarms.is_empty() {
                    String::new()
                } else {
                    format!(" {}", c.alarms.kernel_string().trim_end())
                }
            );
        }
    }
    Ok(())
}
