//! Debian 13's layout on fixture trees: merged /usr and every module compressed (`.ko.xz`
//! as Debian 13 installs them; `.ko.zst` and `.ko.gz` as other distributions do), made
//! from the real DKMS build with the real compressors and indexed by the real depmod.
//! Expected values come from kmod's modinfo, which reads compressed modules itself, and
//! from the real decompressors.

mod common;

use std::io::Read;
use std::os::fd::BorrowedFd;

use common::*;
use dahdi_loader::ensure::{self, Options};
use dahdi_loader::load::{Handover, Inserter};
use dahdi_loader::module_file::Compression;
use dahdi_loader::names::{KernelRelease, ModuleName};
use dahdi_loader::report::Verdict;
use dahdi_loader::system::System;
use dahdi_loader::verify::{self, Checks};
use dahdi_loader::Root;
use nix::errno::Errno;

const FORMATS: [(&str, &str, Compression); 3] = [
    ("xz", ".xz", Compression::Xz),
    ("zstd", ".zst", Compression::Zstd),
    ("gzip", ".gz", Compression::Gzip),
];

fn release(f: &Fixture) -> KernelRelease {
    KernelRelease::new(&f.real.kernel).unwrap()
}

/// Whether this machine's kmod reads a format (`kmod --version` lists `+XZ`, `-ZLIB`, ...):
/// a depmod without it leaves such modules out of modules.dep, so modprobe cannot find them.
fn kmod_reads(kind: Compression) -> bool {
    let v = tool("kmod", &["--version"]);
    let flag = match kind {
        Compression::Xz => "+XZ",
        Compression::Zstd => "+ZSTD",
        Compression::Gzip => "+ZLIB",
    };
    v.split_whitespace().any(|w| w == flag)
}

#[test]
fn compressed_modules_under_merged_usr_verify_like_the_plain_ones() {
    for (tool_name, ext, kind) in FORMATS {
        let f = Fixture::compressed(tool_name, ext);
        let sys = System::load(Root::new(f.root()), Some(release(&f))).unwrap();
        let k = sys.kernel(&release(&f)).unwrap();
        let r = verify::verify_kernel(&sys, &k, Checks::default());
        if !kmod_reads(kind) {
            // Debian 12's kmod is built without zlib: its depmod skipped every .ko.gz, and
            // the loader says so instead of calling the system healthy.
            assert_eq!(
                r.verdict,
                Verdict::Mismatch,
                "{tool_name}: {:#?}",
                r.findings
            );
            let f = r
                .findings
                .iter()
                .find(|f| f.code == dahdi_loader::report::Code::IndexMissing)
                .expect("modules missing from modules.dep");
            assert_eq!(f.modules.len(), r.modules_present(), "{}", f.message);
            continue;
        }
        assert_eq!(r.verdict, Verdict::Ok, "{tool_name}: {:#?}", r.findings);
        assert_eq!(r.modules_present(), f.real.modules.len(), "{tool_name}");
        // The in-tree module the vermagic came from was compressed too.
        let abi = r.abi.as_ref().expect("an expected vermagic");
        for m in &r.modules {
            let path = m.path.as_ref().unwrap();
            assert!(path.to_string_lossy().ends_with(&format!(".ko{ext}")));
            assert_eq!(m.compression, Some(kind), "{}", m.name);
            assert_eq!(m.vermagic.as_deref(), Some(abi.vermagic.as_str()));
            assert_eq!(m.from_dkms, Some(true), "{}", m.name);
            // kmod's modinfo decompresses on its own: the same fields.
            assert_eq!(
                m.srcversion.iter().cloned().collect::<Vec<_>>(),
                modinfo("srcversion", path),
                "{}",
                m.name
            );
            // The file verify checked is the one kmod's own lookup resolves to.
            assert_eq!(
                std::fs::canonicalize(path).unwrap(),
                std::fs::canonicalize(f.modinfo_pick(m.name.as_str())).unwrap(),
                "{}",
                m.name
            );
        }
        if f.real.headers.is_some() {
            let crcs: usize = r.modules.iter().map(|m| m.crcs_checked).sum();
            assert!(crcs > 100, "{tool_name}: {crcs} CRCs");
        }
        // The command line says the same: DAHDI will load, exit 0.
        let out = f.run(&["--running-kernel", &f.real.kernel, "status"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // `verify` names the DAHDI it checked, as kmod's modinfo reads the compressed
        // dahdi.ko's version (on a system upgraded from Debian 12 to 13, "will load" alone
        // did not say whether DKMS's 3.1 replaced 2.11).
        let dahdi = r.module_path("dahdi").expect("dahdi present");
        let version = modinfo("version", dahdi);
        let [version] = version.as_slice() else {
            panic!("modinfo version of {}: {version:?}", dahdi.display())
        };
        let out = f.run(&["--running-kernel", &f.real.kernel, "verify", &f.real.kernel]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{tool_name}: {said}");
        assert!(
            said.contains(&format!("DAHDI will load; DAHDI {version}, ")),
            "{tool_name}: verify does not name dahdi.ko's version {version}:\n{said}"
        );
    }
}

/// Records how each module was handed over and what the kernel would have read.
struct Recorder {
    seen: Vec<(ModuleName, Handover, Vec<u8>)>,
}

impl Inserter for Recorder {
    fn insert(
        &mut self,
        name: &ModuleName,
        fd: BorrowedFd<'_>,
        _params: &str,
        handover: Handover,
    ) -> Result<(), Errno> {
        let mut bytes = Vec::new();
        let mut file = std::fs::File::from(fd.try_clone_to_owned().unwrap());
        std::io::Seek::rewind(&mut file).unwrap();
        file.read_to_end(&mut bytes).unwrap();
        self.seen.push((name.clone(), handover, bytes));
        Ok(())
    }
}

fn load_dahdi(f: &Fixture) -> Vec<(ModuleName, Handover, Vec<u8>)> {
    let opts = Options {
        running: Some(release(f)),
        dkms_program: "/nonexistent/dkms".into(),
        quiet: true,
        ..Default::default()
    };
    f.write("/dev/dahdi/ctl", "");
    let mut rec = Recorder { seen: Vec::new() };
    ensure::ensure(&Root::new(f.root()), &opts, &mut rec).expect("ensure");
    rec.seen
}

#[test]
fn the_kernel_gets_the_compressed_file_only_when_it_decompresses_that_format() {
    let f = Fixture::compressed("xz", ".xz");
    let dahdi = f.kdir().join("updates/dkms/dahdi.ko.xz");
    let packed = std::fs::read(&dahdi).unwrap();
    // The kernel announces the format it decompresses (CONFIG_MODULE_DECOMPRESS).
    f.write("/sys/module/compression", "xz\n");
    let seen = load_dahdi(&f);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "dahdi");
    assert_eq!(seen[0].1, Handover::CompressedFile);
    assert_eq!(seen[0].2, packed, "the file itself, as on disk");

    // A kernel that decompresses another format, or none: the loader decompresses, and
    // the kernel reads exactly what xz itself decompresses.
    let plain = tool_bytes("xz", &["-dc", dahdi.to_str().unwrap()]);
    for announced in [Some("zstd\n"), None] {
        match announced {
            Some(a) => f.write("/sys/module/compression", a),
            None => std::fs::remove_file(f.path("/sys/module/compression")).unwrap(),
        }
        let seen = load_dahdi(&f);
        assert_eq!(seen[0].1, Handover::Decompressed, "{announced:?}");
        assert_eq!(seen[0].2, plain, "{announced:?}");
    }
}

fn tool_bytes(program: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}
