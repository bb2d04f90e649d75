//! Lists DAHDI devices, spans and channels, as dahdi-tools' `lsdahdi` does,
//! with what that one leaves out: which channels are bundled (a master and
//! its slaves, as dahdi_cfg's `clear=` makes them), each span's state as
//! dahdi_scan sums it up, its configured channels, and the echo canceller.
//!
//! ```text
//! cargo run -p dahdi --features serde --example lsdahdi                  # text
//! cargo run -p dahdi --features serde --example lsdahdi -- --json        # JSON
//! cargo run -p dahdi --features serde --example lsdahdi -- --sysfs-root DIR   # a copy of /sys
//! ```
//!
//! Devices, spans and channels come from sysfs; span status
//! (`DAHDI_SPANSTAT`), bundles (`DAHDI_GET_PARAMS` with
//! `DAHDI_GET_PARAMS_RETURN_MASTER`) and the driver version
//! (`DAHDI_GETVERSION`) from `/dev/dahdi/ctl` when it can be opened; without
//! it those are left out (`null` in JSON) and the text says so.
//!
//! Under `--json` everything printed is JSON, failures too: an object
//! `{"error": {...}}` on standard output and exit status 1. A reader that
//! stops early (`lsdahdi | head`) ends the listing quietly.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dahdi::sysfs::{ChannelSysfs, DeviceInfo, SpanSysfs};
use dahdi::{Ctl, SpanInfo, SpanState, Sysfs, Version};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    name = "lsdahdi",
    about = "List DAHDI devices, spans and channels: dahdi-tools' lsdahdi, plus bundles, \
             span state and echo cancellers"
)]
struct Args {
    /// Print JSON instead of text; failures are printed as JSON too
    /// ({"error": {...}} on standard output, exit status 1).
    #[arg(long)]
    json: bool,
    /// Read sysfs under this directory instead of /sys (a copy of /sys).
    #[arg(long, value_name = "DIR")]
    sysfs_root: Option<PathBuf>,
}

/// One channel: what sysfs says, and its bundle as the kernel reports it.
#[derive(Serialize)]
struct Channel {
    #[serde(flatten)]
    sysfs: ChannelSysfs,
    /// The channel whose bundle this one belongs to: itself unless it is a
    /// slave; `None` without `/dev/dahdi/ctl`.
    master: Option<i32>,
    /// The channels bundled under this one (it is their master).
    slaves: Vec<i32>,
}

#[derive(Serialize)]
struct Span {
    #[serde(flatten)]
    sysfs: SpanSysfs,
    /// dahdi_scan's summary (`OK`, `UNCONFIGURED`, the alarms).
    state: Option<SpanState>,
    status: Option<SpanInfo>,
    /// Its channels ("channels" is sysfs's count of them).
    channel_list: Vec<Channel>,
}

#[derive(Serialize)]
struct Listing {
    version: Option<Version>,
    /// Whether `/dev/dahdi/ctl` could be opened (state, bundles, version).
    ctl: bool,
    auto_assign_spans: Option<bool>,
    devices: Vec<DeviceInfo>,
    spans: Vec<Span>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        // Bad arguments under --json are JSON too (help is not an error).
        Err(e)
            if std::env::args().any(|a| a == "--json")
                && !matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) =>
        {
            let usage = serde_json::json!({
                "error": { "kind": "Usage", "message": e.render().to_string() }
            });
            let _ = print_json(&usage);
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let sysfs = args
        .sysfs_root
        .clone()
        .map(Sysfs::with_root)
        .unwrap_or_default();
    let printed = match gather(&sysfs) {
        Ok(listing) if args.json => print_json(&listing),
        Ok(listing) => print_text(&listing),
        Err(e) if args.json => {
            return match print_json(&json_error(&e)) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    eprintln!("lsdahdi: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::FAILURE,
            };
        }
        Err(e) => {
            eprintln!("lsdahdi: {e}");
            return ExitCode::FAILURE;
        }
    };
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        // The reader stopped reading (`lsdahdi | head`): not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lsdahdi: writing the listing: {e}");
            ExitCode::FAILURE
        }
    }
}

fn gather(sysfs: &Sysfs) -> dahdi::Result<Listing> {
    if !sysfs.is_loaded() {
        return Err(dahdi::Error::new(
            dahdi::ErrorKind::ModuleNotLoaded,
            dahdi::Op::Sysfs("list"),
            sysfs.root().join("bus/dahdi_devices"),
        ));
    }
    let ctl = Ctl::open().ok();
    let channels = sysfs.channels()?;
    // Each channel's master, as the kernel reports it.
    let masters: Vec<(i32, Option<i32>)> = channels
        .iter()
        .map(|c| {
            let master = ctl
                .as_ref()
                .and_then(|ctl| ctl.channel_params_and_master(c.channel).ok())
                .map(|(_, m)| m);
            (c.channel, master)
        })
        .collect();
    let mut chans: Vec<Channel> = channels
        .into_iter()
        .zip(&masters)
        .map(|(sysfs, &(me, master))| Channel {
            sysfs,
            master,
            slaves: masters
                .iter()
                .filter(|&&(n, m)| m == Some(me) && n != me)
                .map(|&(n, _)| n)
                .collect(),
        })
        .collect();
    let mut spans = Vec::new();
    for s in sysfs.spans()? {
        let status = ctl.as_ref().and_then(|c| c.span_info(s.span as i32).ok());
        let (mine, rest): (Vec<Channel>, Vec<Channel>) =
            chans.into_iter().partition(|c| c.sysfs.span == s.span);
        chans = rest;
        spans.push(Span {
            state: status.as_ref().map(SpanInfo::state),
            status,
            channel_list: mine,
            sysfs: s,
        });
    }
    Ok(Listing {
        version: ctl.as_ref().and_then(|c| c.version().ok()),
        ctl: ctl.is_some(),
        auto_assign_spans: sysfs.auto_assign_spans(),
        devices: sysfs.devices()?,
        spans,
    })
}

fn print_json(value: &impl Serialize) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}

fn json_error(e: &dahdi::Error) -> serde_json::Value {
    let kind = format!("{:?}", e.kind());
    serde_json::json!({
        "error": {
            "message": e.to_string(),
            "kind": kind.split('(').next().unwrap_or_default(),
            "op": e.op(),
            "path": e.path(),
            "errno": e.errno().map(|n| n as i32),
        }
    })
}

/// Channel numbers as ranges: `2-24,26`.
fn ranges(numbers: &[i32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

fn print_text(listing: &Listing) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match &listing.version {
        Some(v) => writeln!(
            out,
            "DAHDI {}, echo cancellers: {}",
            v.version,
            if v.echo_cancellers.is_empty() {
                "none".to_owned()
            } else {
                v.echo_cancellers.join(", ")
            }
        )?,
        None => writeln!(
            out,
            "(/dev/dahdi/ctl cannot be opened: no version, span state or bundles)"
        )?,
    }
    for d in &listing.devices {
        writeln!(
            out,
            "### Device {}: {}, {} span(s), {}",
            d.name,
            d.hardware_id,
            d.span_count,
            if d.assigned_spans.is_empty() {
                "unassigned".to_owned()
            } else {
                format!(
                    "assigned: {}",
                    ranges(
                        &d.assigned_spans
                            .iter()
                            .map(|&s| s as i32)
                            .collect::<Vec<_>>()
                    )
                )
            }
        )?;
    }
    for s in &listing.spans {
        let mut head = format!(
            "### Span {:2}: {} \"{}\" {}",
            s.sysfs.span, s.sysfs.name, s.sysfs.description, s.sysfs.span_type
        );
        if s.sysfs.is_sync_master {
            head.push_str(" (MASTER)");
        }
        if let (Some(state), Some(status)) = (&s.state, &s.status) {
            head.push_str(&format!(
                " {state}, {}/{} channels configured",
                status.configured_channels, status.total_channels
            ));
        }
        writeln!(out, "{head}")?;
        for c in &s.channel_list {
            let bundle = match c.master {
                Some(m) if m != c.sysfs.channel => format!("Slave of {m}"),
                _ if !c.slaves.is_empty() => format!("Master of {}", ranges(&c.slaves)),
                _ => String::new(),
            };
            let mut line = format!(
                "{:4} {:<12} {:<16} {}",
                c.sysfs.channel,
                c.sysfs.signalling.kernel_name(),
                bundle,
                c.sysfs.name
            );
            if c.sysfs.in_use {
                line.push_str(" (In use)");
            }
            let alarms = c.sysfs.alarms.kernel_string();
            if !alarms.is_empty() {
                line.push(' ');
                line.push_str(alarms.trim_end());
            }
            if !c.sysfs.ec_factory.is_empty() {
                line.push_str(&format!(
                    " (EC: {} - {})",
                    c.sysfs.ec_factory, c.sysfs.ec_state
                ));
            }
            writeln!(out, "{line}")?;
        }
    }
    out.flush()
}
