//! Mutation fuzzing of every parser the loader runs on files it does not control, for a
//! bounded time (CI runs it with the rest of the suite).
//!
//! The machine's Rust toolchain is stable, where `cargo fuzz` (libFuzzer) cannot build, so
//! this is the equivalent harness: seeds from the real files of this machine (DKMS-built
//! modules, the kernel's own, `dkms status`, configuration samples), mutated by bit flips,
//! interesting bytes, splices, duplications and truncations, with focus on the ELF and
//! section headers of modules. A parser passes when it returns (an error is fine) without
//! panicking. A failing input is written under the target directory and its seed printed.
//!
//! `DAHDI_FUZZ_SECONDS` sets the time per parser (default 3), `DAHDI_FUZZ_SEED` the seed
//! (default: from the clock, printed).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

/// xorshift64*: fast, deterministic for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn budget() -> Duration {
    let secs: f64 = std::env::var("DAHDI_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn seed() -> u64 {
    std::env::var("DAHDI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// One mutation of `input`, drawing on `seeds` for splices. `focus` bounds where byte-level
/// mutations land most of the time (headers of a structured format).
fn mutate(
    rng: &mut Rng,
    input: &[u8],
    seeds: &[Vec<u8>],
    focus: Option<(usize, usize)>,
) -> Vec<u8> {
    let mut d = input.to_vec();
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        let pos = |rng: &mut Rng, d: &Vec<u8>| match focus {
            Some((a, b)) if rng.below(4) != 0 && b > a && a < d.len() => {
                a + rng.below(b.min(d.len()) - a)
            }
            _ => rng.below(d.len().max(1)),
        };
        match rng.below(8) {
            0 if !d.is_empty() => {
                let i = pos(rng, &d).min(d.len() - 1);
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => {
                const INTERESTING: [u8; 8] = [0, 0xff, 0x7f, 0x80, 1, 0x40, 0x20, b'='];
                let i = pos(rng, &d).min(d.len() - 1);
                d[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if !d.is_empty() => {
                // A 32- or 64-bit field set to an extreme.
                let i = pos(rng, &d).min(d.len() - 1);
                let w = if rng.below(2) == 0 { 4 } else { 8 };
                let v: u64 = [0, u64::MAX, 0x7fff_ffff, 0x8000_0000, rng.next()][rng.below(5)];
                for (k, b) in v.to_le_bytes().iter().take(w).enumerate() {
                    if let Some(x) = d.get_mut(i + k) {
                        *x = *b;
                    }
                }
            }
            3 => {
                let cut = rng.below(d.len() + 1);
                d.truncate(cut);
            }
            4 if !d.is_empty() => {
                let a = rng.below(d.len());
                let b = (a + rng.below(64)).min(d.len());
                d.drain(a..b);
            }
            5 if !d.is_empty() => {
                let a = rng.below(d.len());
                let b = (a + rng.below(256)).min(d.len());
                let chunk = d[a..b].to_vec();
                let at = rng.below(d.len());
                d.splice(at..at, chunk);
            }
            6 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + rng.below(512)).min(other.len());
                    let at = rng.below(d.len() + 1);
                    d.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ => {
                let at = rng.below(d.len() + 1);
                d.insert(at, rng.next() as u8);
            }
        }
    }
    d
}

/// Runs `parse` on mutations of `seeds` for the time budget; panics (failing the test)
/// with the seed and a saved input if `parse` ever panics.
fn fuzz(
    name: &str,
    seeds: Vec<Vec<u8>>,
    focus: impl Fn(&[u8]) -> Option<(usize, usize)>,
    parse: impl Fn(&[u8]),
) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let s = seed();
    let mut rng = Rng(s);
    let deadline = Instant::now() + budget();
    let mut runs = 0u64;
    // The seeds themselves first.
    for input in &seeds {
        parse(input);
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    while Instant::now() < deadline {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, &seeds, focus(base));
        if catch_unwind(AssertUnwindSafe(|| parse(&input))).is_err() {
            failure = Some(input);
            break;
        }
        runs += 1;
    }
    std::panic::set_hook(hook);
    if let Some(input) = failure {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("fuzz-crash-{name}-{s}"));
        std::fs::write(&path, &input).unwrap();
        parse(&input); // panics again, with the hook back: the message is shown
        unreachable!("{name}: panicked once but not twice on {}", path.display());
    }
    eprintln!("fuzz {name}: {runs} inputs in {:?}, seed {s}", budget());
    assert!(runs > 0);
}

fn real_modules(n: usize) -> Vec<Vec<u8>> {
    let r = real();
    let mut out: Vec<Vec<u8>> = r
        .modules
        .iter()
        .take(n)
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // And one of the kernel's own.
    let order =
        std::fs::read_to_string(format!("/lib/modules/{}/modules.order", r.kernel)).unwrap();
    let first = order.lines().next().unwrap();
    out.push(std::fs::read(format!("/lib/modules/{}/{first}", r.kernel)).unwrap());
    out
}

/// The ELF header and the section header table: where structure lives.
fn elf_focus(d: &[u8]) -> Option<(usize, usize)> {
    if d.len() < 64 || &d[..4] != b"\x7fELF" {
        return None;
    }
    let shoff = u64::from_le_bytes(d[40..48].try_into().ok()?) as usize;
    if rand_half(d) {
        Some((0, 64))
    } else {
        Some((shoff, shoff.saturating_add(64 * 40)))
    }
}

fn rand_half(d: &[u8]) -> bool {
    d.len().is_multiple_of(2)
}

#[test]
fn module_elf_and_modinfo() {
    fuzz("elf", real_modules(6), elf_focus, |d| {
        if let Ok(info) = dahdi_loader::module_file::ModuleInfo::parse(d) {
            let _ = (info.vermagic(), info.depends(), info.aliases());
        }
    });
}

#[test]
fn compressed_streams() {
    use dahdi_loader::module_file::Compression;
    let plain = std::fs::read(&real().modules[0]).unwrap();
    let mut seeds = Vec::new();
    for (tool, kind) in [
        ("xz", Compression::Xz),
        ("gzip", Compression::Gzip),
        ("zstd", Compression::Zstd),
    ] {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.ko");
        std::fs::write(&p, &plain).unwrap();
        tool_run(tool, &p);
        let packed = std::fs::read_dir(t.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let data = std::fs::read(packed).unwrap();
        assert_eq!(Compression::from_magic(&data), Some(kind));
        seeds.push(data);
    }
    fuzz(
        "compression",
        seeds,
        |_| Some((0, 64)),
        |d| {
            if let Some(c) = dahdi_loader::module_file::Compression::from_magic(d) {
                let _ = c.decompress(d, 8 << 20);
            }
        },
    );
}

fn tool_run(program: &str, file: &Path) {
    let mut args = vec!["-q", "-f"];
    if program == "zstd" {
        args.push("--rm");
    }
    let path = file.to_str().unwrap();
    args.push(path);
    tool(program, &args);
}

fn texts(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn dkms_status_text() {
    let mut seeds = texts(&[
        "dahdi, 2.11.1: added\ndahdi, 2.11.1, 6.1.0-18-amd64, x86_64: installed\n",
        "dahdi/2.11.1, 6.1.0-18-amd64, x86_64: installed (original_module exists) (WARNING! Diff between built and installed module!)\n",
        "dahdi, 2.11.1, 6.1.0-20-amd64, x86_64: installed-weak from 6.1.0-18-amd64\ndahdi/2.11.1: broken\n",
    ]);
    seeds.push(tool("dkms", &["status"]).into_bytes());
    fuzz(
        "dkms-status",
        seeds,
        |_| None,
        |d| {
            let _ = dahdi_loader::dkms::status_text::parse_status(&String::from_utf8_lossy(d));
        },
    );
}

#[test]
fn dkms_conf() {
    let r = real();
    let conf = std::fs::read(format!("/usr/src/dahdi-{}/dkms.conf", r.version)).unwrap();
    fuzz(
        "dkms-conf",
        vec![conf],
        |_| None,
        |d| {
            let _ = dahdi_loader::dkms::conf_module_names(&String::from_utf8_lossy(d));
        },
    );
}

#[test]
fn loader_configuration() {
    let seeds = texts(&[
        "# c\nadd dahdi_echocan_oslec xpp-usb # x\nexclude wctdm\nalias pci:v0000D161d0000BEEF* wct4xxp\ndev-timeout 3\n",
        "alias usb:v0BE4p1162d* xpp_usb\nadd a b c d e\n",
    ]);
    fuzz(
        "config",
        seeds,
        |_| None,
        |d| {
            let mut c = dahdi_loader::config::Config::default();
            let _ = c.parse_into(
                Path::new("/etc/dahdi-loader/x.conf"),
                &String::from_utf8_lossy(d),
            );
        },
    );
}

#[test]
fn depmod_d_and_module_lists() {
    let seeds = texts(&[
        "search updates ubuntu built-in\noverride dahdi 6.1.* extra\nexternal 6.1 /x\n",
        "wcb4xxp 53248 0 - Live 0x0000000000000000 (OE)\ndahdi 311296 2 wcb4xxp,xpp, Live 0x0 (OE)\n",
        "# comment\nsearch extra\n",
    ]);
    fuzz(
        "depmod-d",
        seeds,
        |_| None,
        |d| {
            let t = String::from_utf8_lossy(d);
            let c = dahdi_loader::modindex::DepmodConfig::parse(&t);
            let m = dahdi_loader::names::ModuleName::new("dahdi").unwrap();
            let k = dahdi_loader::names::KernelRelease::new("6.1.0-1-amd64").unwrap();
            let _ = c.priority(&m, &k, "extra/dahdi.ko");
            let _ = dahdi_loader::live::parse_proc_modules(&t);
            let _ = dahdi_loader::kernel::KernelConfig::parse(&t, None);
            let _ = dahdi_loader::kernel::parse_uts_release(&t);
        },
    );
}

#[test]
fn module_symvers() {
    let r = real();
    let h = r
        .headers
        .clone()
        .expect("the kernel's headers (linux-headers-amd64)");
    let text = std::fs::read(h.join("Module.symvers")).unwrap();
    // The start and a middle slice: the whole file is large.
    let seeds = vec![
        text[..text.len().min(20_000)].to_vec(),
        text[text.len() / 2..text.len() / 2 + 20_000].to_vec(),
    ];
    fuzz(
        "symvers",
        seeds,
        |_| None,
        |d| {
            let needed: std::collections::HashSet<&str> =
                ["_printk", "kfree", "x"].into_iter().collect();
            let _ = dahdi_loader::verify::parse_symvers(d, &needed);
        },
    );
}

#[test]
fn names_and_globs() {
    let seeds = texts(&[
        "6.1.0-56-amd64",
        "dahdi_echocan_mg2",
        "pci:v0000D161d00001220sv0000D161sd00000000bc02sc80i00",
        "1:3.1.0+git20230717~dfsg-10.1",
        "pci:v0000D161d0000[0-9]*sv*sd*bc*sc*i*",
    ]);
    fuzz(
        "names",
        seeds,
        |_| None,
        |d| {
            let t = String::from_utf8_lossy(d);
            let _ = dahdi_loader::names::KernelRelease::new(&t);
            let _ = dahdi_loader::names::ModuleName::new(&t);
            let _ = dahdi_loader::names::Version::new(&t);
            let _ = dahdi_loader::names::PackageName::new(&t);
            let _ = dahdi_loader::names::Modalias::new(&t);
            let half = t.len() / 2;
            if t.is_char_boundary(half) {
                let _ = dahdi_loader::hw::glob_match(&t[..half], &t[half..]);
            }
        },
    );
}

/// The harness itself: a parser with a planted panic is caught within the budget.
/// The signature block of each real module, and the module's tail around it, so that
/// mutations land in the PKCS#7 message, the information block and the marker.
fn signature_focus(d: &[u8]) -> Option<(usize, usize)> {
    let tail = 40 + 1024;
    Some((d.len().saturating_sub(tail), d.len()))
}

#[test]
fn module_signatures() {
    use dahdi_loader::certificate::Cert;
    use dahdi_loader::module_file::signature::AppendedSignature;
    let trusted: Vec<Cert> = std::fs::read("/var/lib/dkms/mok.pub")
        .ok()
        .and_then(|d| Cert::from_der_or_pem(&d).ok())
        .into_iter()
        .collect();
    fuzz("signature", real_modules(3), signature_focus, |d| {
        if let Ok(Some(sig)) = AppendedSignature::parse(d) {
            let _ = (sig.modinfo(), sig.check(d, &trusted));
        }
    });
}

#[test]
fn certificates_and_key_lists() {
    use dahdi_loader::certificate::Cert;
    let der = std::fs::read("/var/lib/dkms/mok.pub").expect("DKMS's certificate (install.sh)");
    let pem = tool(
        "openssl",
        &["x509", "-inform", "DER", "-in", "/var/lib/dkms/mok.pub"],
    )
    .into_bytes();
    fuzz(
        "certificate",
        vec![der.clone(), pem],
        |_| None,
        |d| {
            if let Ok(c) = Cert::from_der_or_pem(d) {
                let _ = c.keyring_id_hex();
            }
        },
    );
    // An EFI_SIGNATURE_LIST holding the certificate, as shim's MokListRT does: the
    // X.509 type GUID, list size, header size 0, entry size, then owner GUID + DER.
    let x509_guid = [
        0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0,
        0x72,
    ];
    let entry = 16 + der.len();
    let mut list = x509_guid.to_vec();
    list.extend_from_slice(&((28 + entry) as u32).to_le_bytes());
    list.extend_from_slice(&0u32.to_le_bytes());
    list.extend_from_slice(&(entry as u32).to_le_bytes());
    list.extend_from_slice(&[0x11; 16]);
    list.extend_from_slice(&der);
    assert_eq!(
        dahdi_loader::keys::MokList::from_signature_lists(&list)
            .certs
            .len(),
        1,
        "the seed is a valid list"
    );
    fuzz(
        "mok-list",
        vec![list],
        |_| Some((0, 28)),
        |d| {
            let _ = dahdi_loader::keys::MokList::from_signature_lists(d);
        },
    );
    let keys = std::fs::read("/proc/keys").unwrap_or_default();
    fuzz(
        "proc-keys",
        vec![
            keys,
            b"3588d4ca I------     1 perm 1f030000     0     0 asymmetri Build time autogenerated kernel key: 8963f707e289edc09df337a240938134371a5bb8: X509.rsa 371a5bb8 []\n".to_vec(),
        ],
        |_| None,
        |d| {
            let _ = dahdi_loader::keys::KernelKeys::parse(&String::from_utf8_lossy(d));
        },
    );
}

#[test]
fn modprobe_and_dpkg_files() {
    use dahdi_loader::modprobe::{DahdiModules, ModprobeConfig};
    let mut seeds = texts(&[
        "options wctdm24xxp latency=6 \"fxo_ports=1 2\"\nblacklist netjet\nsoftdep wct4xxp pre: dahdi_echocan_mg2 post: oslec\ninstall wcb4xxp /bin/true\nalias pci:v0000D161d* wct4xxp\n",
        "options dahdi max_pseudo_channels=77 # comment\\\n  debug=1\n",
    ]);
    for f in std::fs::read_dir("/etc/modprobe.d")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(d) = std::fs::read(f.path()) {
            seeds.push(d);
        }
    }
    fuzz(
        "modprobe-d",
        seeds,
        |_| None,
        |d| {
            let mut c = ModprobeConfig::default();
            c.parse_file(
                Path::new("/etc/modprobe.d/fuzz.conf"),
                &String::from_utf8_lossy(d),
            );
        },
    );
    fuzz(
        "dahdi-modules",
        texts(&["# hardware\nwctdm24xxp\nwcte13xp # E1\n"]),
        |_| None,
        |d| {
            let _ =
                DahdiModules::parse(Path::new("/etc/dahdi/modules"), &String::from_utf8_lossy(d));
        },
    );
    let status = std::fs::read("/var/lib/dpkg/status").expect("dpkg's status file");
    // The whole file is large; a slice of records keeps each mutation cheap.
    let cut = status.len().min(64 << 10);
    fuzz(
        "dpkg-status",
        vec![status[..cut].to_vec()],
        |_| None,
        |d| {
            let _ = dahdi_loader::dpkg::StatusDb::parse(
                Path::new("/var/lib/dpkg/status"),
                &String::from_utf8_lossy(d),
            );
        },
    );
}

#[test]
fn the_harness_finds_a_planted_panic() {
    let found = catch_unwind(|| {
        fuzz(
            "planted",
            texts(&["dahdi/2.11.1: added\n"]),
            |_| None,
            |d| {
                if d.windows(2).any(|w| w == b"::") {
                    panic!("planted");
                }
            },
        )
    });
    assert!(found.is_err(), "the planted panic was not found");
}
