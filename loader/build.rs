//! Writes the man page (dahdi-loader.8) and the bash, zsh and fish completions from the clap
//! definition the binary parses with.
//!
//! Why here and not in a generator command or a checked-in file: this script compiles
//! src/cli.rs itself (with the three std-only files it names), so every build of the binary
//! also rewrites the page and completions from the very same definition: they cannot drift
//! from `--help`, nobody has to remember to run a generator, and `cargo deb` (which only runs
//! `cargo build`) packs what this build wrote. A hidden subcommand would put documentation
//! code into the root tool; a checked-in page would need a test to catch drift after the fact.
//!
//! The files go to OUT_DIR (where the tests read them) and are copied to
//! `target/<profile>/dahdi-loader-generated/`, the one place under the target directory whose
//! path cargo-deb's assets can name (cargo-deb rewrites `target/release/` to the real target
//! directory, but cannot name OUT_DIR's hashed path).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

#[allow(dead_code)]
#[path = "src/names.rs"]
mod names;

#[allow(dead_code)]
#[path = "src/exit_codes.rs"]
mod exit_codes;

#[allow(dead_code)]
#[path = "src/defaults.rs"]
mod defaults;

#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

/// The files an operator meets, for the man page's FILES section (the loader's tests check
/// these paths against the constants and dist/ files that define them).
const FILES: &[(&str, &str)] = &[
    ("/usr/sbin/dahdi-loader", "the program"),
    (
        "/etc/dahdi-loader/*.conf",
        "configuration, read in name order (see CONFIGURATION)",
    ),
    (
        "/run/dahdi-loader.lock",
        "the lock that makes concurrent runs do one build",
    ),
    (
        "/var/lib/dahdi-loader/failed/",
        "builds that failed, remembered while their source, headers and compiler are unchanged",
    ),
    (
        "/var/lib/dahdi-loader/boot-guard.json",
        "what the boot guard wrote to GRUB's environment block, so that it only undoes its own change",
    ),
    (
        "/lib/systemd/system/dahdi-loader.service",
        "runs ensure at boot, before asterisk.service and dahdi.service",
    ),
    (
        "/lib/systemd/system/dahdi-loader@.service",
        "runs ensure for one hardware add event",
    ),
    (
        "/lib/systemd/system/dahdi-loader-guard.path",
        "starts dahdi-loader-guard.service when /boot/grub/grub.cfg changes",
    ),
    (
        "/lib/systemd/system/dahdi-loader-guard.service",
        "runs guard: the boot guard after update-grub",
    ),
    (
        "/lib/systemd/system/dahdi-loader-metrics.timer",
        "off by default; when enabled, starts dahdi-loader-metrics.service every 5 minutes",
    ),
    (
        "/lib/systemd/system/dahdi-loader-metrics.service",
        "runs metrics --output /var/lib/prometheus/node-exporter/dahdi-loader.prom",
    ),
    (
        "/lib/systemd/system/systemd-modules-load.service.d/dahdi-loader.conf",
        "a drop-in: runs modules-load-check just before systemd-modules-load loads Debian's DAHDI names",
    ),
    (
        "/run/modprobe.d/dahdi-loader.conf",
        "this boot's deny-list of DAHDI names that would not load, written by modules-load-check, removed by ensure",
    ),
    (
        "/var/lib/dahdi-loader/last-build.json",
        "the last DKMS build ensure ran: module, version, kernel, outcome and time (for metrics)",
    ),
    (
        "/lib/udev/rules.d/90-dahdi-loader.rules",
        "hands DAHDI PCI/USB add events to dahdi-loader@.service (match-modalias decides)",
    ),
    (
        "/etc/kernel/postinst.d/zz-dahdi-loader",
        "verifies a newly installed kernel after DKMS ran; warns, never fails the install",
    ),
    (
        "/etc/kernel/header_postinst.d/zz-dahdi-loader",
        "the same when a kernel's headers are installed",
    ),
];

fn main() {
    for f in [
        "build.rs",
        "src/cli.rs",
        "src/names.rs",
        "src/exit_codes.rs",
        "src/defaults.rs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    write_all(&out);
    if let Some(profile_dir) = profile_dir(&out) {
        write_all(&profile_dir.join("dahdi-loader-generated"));
    }
}

/// `target/<profile>` from `target/<profile>/build/dahdi-loader-HASH/out`, if that is the
/// layout (cargo's, for every build of this package).
fn profile_dir(out: &Path) -> Option<PathBuf> {
    let pkg = out.parent()?;
    let build = pkg.parent()?;
    (out.file_name()? == "out" && build.file_name()? == "build")
        .then(|| build.parent())?
        .map(Path::to_path_buf)
}

fn write_all(dir: &Path) {
    let man = dir.join("man8");
    let completions = dir.join("completions");
    fs::create_dir_all(&man).unwrap();
    fs::create_dir_all(&completions).unwrap();
    let page = man_page();
    write_if_changed(&man.join("dahdi-loader.8.gz"), &gzip(&page));
    write_if_changed(&man.join("dahdi-loader.8"), &page);
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = cli::Cli::command();
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cmd, "dahdi-loader", &mut text);
        if shell == Shell::Bash {
            text = bash_hyphen_fix(&text);
        }
        let name = match shell {
            Shell::Bash => "dahdi-loader".to_string(),
            Shell::Zsh => "_dahdi-loader".to_string(),
            _ => "dahdi-loader.fish".to_string(),
        };
        write_if_changed(&completions.join(name), &text);
    }
}

/// clap_complete's bash script spells a subcommand's state two ways when the program's name
/// has a hyphen (`dahdi__loader__subcmd__verify` in the loop that reads the words,
/// `dahdi__subcmd__loader__subcmd__verify` in the arms that complete), so nothing after a
/// command completes: clap-rs/clap issue 6421, open for clap_complete 4.6.12. The arms are
/// respelt the way the loop spells them; the loader's completion test catches both the bug
/// and a fixed clap_complete that spells them differently.
fn bash_hyphen_fix(script: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(script)
        .replace("dahdi__subcmd__loader", "dahdi__loader")
        .into_bytes()
}

/// `gzip -9n`: Debian installs man pages compressed, without name or time stamp, so that the
/// same page always gives the same bytes.
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Leaves an identical file alone, so its time stamp says when it last changed.
fn write_if_changed(path: &Path, content: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(content) {
        fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The page: clap's title, name, synopsis, description and global options, then the
/// sections clap does not know (each command with its options, exit status, configuration,
/// environment, files).
fn man_page() -> Vec<u8> {
    let mut cmd = cli::Cli::command();
    // Built, so that every argument knows how many values it takes.
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .section("8")
        .manual("System Administration")
        .source(format!("dahdi-loader {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    let mut s = String::from_utf8(page).unwrap();
    s.push_str(&commands_section(&cmd));
    s.push_str(&exit_status_section());
    s.push_str(&configuration_section());
    s.push_str(&environment_section(&cmd));
    s.push_str(SYSTEMD_SECTION);
    s.push_str(METRICS_SECTION);
    s.push_str(&files_section());
    s.push_str(".SH \"SEE ALSO\"\ndkms(8), modprobe(8), depmod(8), udev(7), systemd.service(5), grub-reboot(8)\n");
    s.into_bytes()
}

/// Text as roff takes it: backslashes and hyphens escaped, no line starting a request.
fn roff(text: &str) -> String {
    let s = text.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

fn commands_section(cmd: &clap::Command) -> String {
    let mut s = String::from(".SH COMMANDS\nWithout a command, \\fBstatus\\fR runs.\n");
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = sub.get_name();
        let mut usage = format!("\\fBdahdi\\-loader {}\\fR", roff(name));
        for a in own_arguments(sub) {
            let _ = write!(usage, " {}", roff(&arg_usage(a)));
        }
        let _ = writeln!(s, ".SS \"{}\"\n{usage}", roff(name));
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(ToString::to_string)
            .unwrap_or_default();
        let _ = writeln!(s, ".PP\n{}", roff(&about));
        for a in own_arguments(sub) {
            let _ = writeln!(
                s,
                ".TP\n\\fB{}\\fR\n{}",
                roff(&arg_flags(a)),
                roff(&arg_help(a))
            );
        }
        // What the command's --help adds after its options (its exit codes, its unit).
        if let Some(after) = sub.get_after_long_help().or(sub.get_after_help()) {
            for para in after.to_string().split("\n\n") {
                // A table (indented lines) keeps its lines; prose is filled.
                if para.contains("\n ") {
                    let _ = writeln!(s, ".PP\n.nf\n{}\n.fi", roff(para));
                } else {
                    let _ = writeln!(s, ".PP\n{}", roff(para));
                }
            }
        }
    }
    s
}

/// A command's own arguments: not the global ones (OPTIONS has them) nor `--help`.
fn own_arguments(cmd: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set() && a.get_id() != "help")
}

/// `[--all]`, `[-k KVER]`, `<MODALIAS>`: how an argument appears in a usage line.
fn arg_usage(a: &clap::Arg) -> String {
    let flags = arg_flags(a);
    if a.is_required_set() {
        flags
    } else {
        format!("[{flags}]")
    }
}

/// `-k, --kernel KVER` or `KVER`.
fn arg_flags(a: &clap::Arg) -> String {
    let value = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(ToString::to_string)
        .unwrap_or_else(|| a.get_id().to_string().to_uppercase());
    let mut names = Vec::new();
    if let Some(c) = a.get_short() {
        names.push(format!("-{c}"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("--{l}"));
    }
    if names.is_empty() {
        return value;
    }
    let takes_value = a.get_num_args().is_some_and(|n| n.takes_values());
    if takes_value {
        format!("{} {value}", names.join(", "))
    } else {
        names.join(", ")
    }
}

fn arg_help(a: &clap::Arg) -> String {
    let mut help = a
        .get_long_help()
        .or(a.get_help())
        .map(ToString::to_string)
        .unwrap_or_default();
    // clap drops a doc comment's final period; the sentences that follow need it back.
    if !help.is_empty() && !help.ends_with('.') {
        help.push('.');
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && a.get_num_args().is_some_and(|n| n.takes_values()) {
        let _ = write!(help, " Default: {}.", defaults.join(", "));
    }
    if let Some(env) = a.get_env() {
        let _ = write!(help, " Environment: {}.", env.to_string_lossy());
    }
    help
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in exit_codes::EXIT_CODES {
        let _ = writeln!(s, ".TP\n\\fB{}\\fR\n{}", *code as i32, roff(meaning));
    }
    s.push_str(".PP\nWith several kernels, the worst verdict decides.\n");
    s
}

fn configuration_section() -> String {
    let mut lines = cli::CONFIG_HELP.lines();
    let mut s = format!(
        ".SH CONFIGURATION\n{}\n",
        roff(lines.next().unwrap_or_default())
    );
    for l in lines {
        // "  add MODULE...            load these too": the directive, then its meaning.
        let l = l.trim_start();
        let (directive, meaning) = match l.find("  ") {
            Some(i) => (&l[..i], l[i..].trim()),
            None => (l, ""),
        };
        let _ = writeln!(s, ".TP\n\\fB{}\\fR\n{}", roff(directive), roff(meaning));
    }
    s
}

fn environment_section(cmd: &clap::Command) -> String {
    let mut s = String::from(".SH ENVIRONMENT\n");
    let mut seen = Vec::new();
    let args = cmd
        .get_arguments()
        .chain(cmd.get_subcommands().flat_map(|c| c.get_arguments()));
    for a in args {
        if let Some(env) = a.get_env() {
            let env = env.to_string_lossy().into_owned();
            if !seen.contains(&env) {
                let _ = writeln!(
                    s,
                    ".TP\n\\fB{}\\fR\nas \\fB{}\\fR",
                    roff(&env),
                    roff(&arg_flags(a))
                );
                seen.push(env);
            }
        }
    }
    s.push_str(".TP\n\\fBDAHDI_LOADER\\fR\nthe program the kernel hook runs (default /usr/sbin/dahdi\\-loader)\n");
    s
}

/// How the loader behaves under systemd: the journal's priorities and sd_notify.
const SYSTEMD_SECTION: &str = r#".SH "SYSTEMD AND THE JOURNAL"
When stdout or stderr is the journal's stream (systemd sets \fBJOURNAL_STREAM\fR to its
device and inode), every line the loader writes starts with its syslog priority, which
the journal files it under and strips: \fB<3>\fR an error or refusal (with make.log's
tail after a failed build), \fB<4>\fR a finding that DAHDI will not load somewhere, or the
boot guard holding GRUB off a kernel, \fB<5>\fR a build, or the boot guard letting go,
\fB<6>\fR progress, tables and results. On a terminal or a pipe there is no prefix. What
dkms itself prints is passed through as it is (the unit's default priority).
.PP
When \fBNOTIFY_SOCKET\fR is set, \fBensure\fR tells systemd what it is doing
(\fBSTATUS=\fR, shown by \fBsystemctl status dahdi-loader\fR: checking, building with DKMS,
installing the build, loading, waiting for /dev/dahdi/ctl), extends the unit's start
timeout to the build's own bound (\fBbuild-timeout\fR) plus 10 minutes when a build
starts (\fBEXTEND_TIMEOUT_USEC=\fR), and says \fBREADY=1\fR when DAHDI is up;
dahdi-loader.service is \fBType=notify\fR for that. A failed \fBensure\fR never says
READY=1: its exit status fails the unit's start, and its last status says why.
"#;

/// The metrics' families, for operators writing alerts.
const METRICS_SECTION: &str = r#".SH METRICS
\fBdahdi\-loader metrics\fR writes Prometheus' text format (every family a gauge, with HELP
and TYPE lines), for node_exporter's textfile collector:
.TP
\fBdahdi_loader_kernel_verdict{kernel,verdict}\fR
one series per installed kernel and verdict word (ok, needs\-build, mismatch, build\-failed,
broken, not\-applicable, as in JSON), 1 for the kernel's verdict, 0 for the others; alert on
\fBdahdi_loader_kernel_verdict{verdict!~"ok|not\-applicable"} == 1\fR
.TP
\fBdahdi_loader_status_exit_code\fR
the exit code of \fBstatus\fR (the worst verdict)
.TP
\fBdahdi_loader_running_kernel_info{kernel}\fR
1, with the running kernel as its label
.TP
\fBdahdi_loader_modules_loaded\fR, \fBdahdi_loader_modules_wanted\fR
DAHDI modules loaded in the running kernel, and how many \fBensure\fR loads there
.TP
\fBdahdi_loader_dev_dahdi_ctl\fR
1 when /dev/dahdi/ctl exists
.TP
\fBdahdi_loader_last_build_result{kernel,module,version,result}\fR
the last DKMS build \fBensure\fR ran: 1 for its result (ok, failed, rejected), 0 for the others
.TP
\fBdahdi_loader_last_build_timestamp_seconds{kernel,module,version}\fR
when that build ended (Unix time)
.TP
\fBdahdi_loader_metrics_generated_timestamp_seconds\fR
when the file was written: alert when it is older than a few timer periods
.PP
\fBdahdi\-loader\-metrics.timer\fR, off by default, refreshes
/var/lib/prometheus/node\-exporter/dahdi\-loader.prom every 5 minutes:
\fBsystemctl enable \-\-now dahdi\-loader\-metrics.timer\fR.
"#;

fn files_section() -> String {
    let mut s = String::from(".SH FILES\n");
    for (path, what) in FILES {
        let _ = writeln!(s, ".TP\n\\fI{}\\fR\n{}", roff(path), roff(what));
    }
    s
}
