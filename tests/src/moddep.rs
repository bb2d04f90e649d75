//! What to insmod, in which order, for the modules a suite asks for: read from
//! the kernel's `modules.dep` as modprobe reads it, since busybox's insmod
//! loads one file and resolves nothing (Debian 13's dahdi.ko needs the in-tree
//! `slhc`, `ppp_generic` and `hdlc` first).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::kernel::{module_name, KernelUnderTest};
use crate::HarnessError;

/// One module file to load, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub name: String,
    pub host: PathBuf,
}

/// Module names compare with `-` and `_` alike, as the kernel's do.
fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// `modules.dep`: each module file (relative to the modules dir) with the
/// files it needs, in the file's order (the last one is loaded first).
fn parse(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, deps)| {
            (
                m.trim().to_owned(),
                deps.split_whitespace().map(str::to_owned).collect(),
            )
        })
        .collect()
}

/// The files to load for `wanted` (module names), dependencies first, each
/// once. A name found more than once (an in-tree module and a DKMS build) is
/// taken from the DKMS build directory.
pub fn load_order(kernel: &KernelUnderTest, wanted: &[&str]) -> Result<Vec<Load>, HarnessError> {
    let dep_file = kernel.modules_dir.join("modules.dep");
    let text = std::fs::read_to_string(&dep_file).map_err(|e| {
        HarnessError::Setup(format!(
            "{}: {e}; run `depmod {}`",
            dep_file.display(),
            kernel.release
        ))
    })?;
    let entries = parse(&text);
    let deps: BTreeMap<&str, &[String]> = entries
        .iter()
        .map(|(m, d)| (m.as_str(), d.as_slice()))
        .collect();
    let file_of = |name: &str| -> Option<&str> {
        let name = canonical(name);
        let mut hits = entries.iter().map(|(m, _)| m.as_str()).filter(|m| {
            let base = m.rsplit('/').next().unwrap_or(m);
            module_name(base).is_some_and(|n| canonical(n) == name)
        });
        let all: Vec<&str> = hits.by_ref().collect();
        all.iter()
            .copied()
            .find(|m| kernel.modules_dir.join(m).starts_with(&kernel.dahdi_dir))
            .or_else(|| all.first().copied())
    };
    let mut order: Vec<Load> = Vec::new();
    let mut push = |rel: &str| {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let name = module_name(base).unwrap_or(base).to_owned();
        if !order.iter().any(|l| canonical(&l.name) == canonical(&name)) {
            order.push(Load {
                name,
                host: kernel.modules_dir.join(rel),
            });
        }
    };
    for w in wanted {
        let rel = file_of(w).ok_or_else(|| {
            HarnessError::Setup(format!(
                "module {w} is not in {} (kernel {}): is DAHDI built for it (dkms status)?",
                dep_file.display(),
                kernel.release
            ))
        })?;
        // modules.dep lists every module needed, directly or not; modprobe
        // loads them from the last to the first.
        for d in deps.get(rel).copied().unwrap_or_default().iter().rev() {
            push(d);
        }
        push(rel);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first_in_modprobe_order() {
        let t = tempfile::tempdir().unwrap();
        let mdir = t.path().join("lib/modules/6.12.0-1-amd64");
        std::fs::create_dir_all(mdir.join("updates/dkms")).unwrap();
        std::fs::write(
            mdir.join("modules.dep"),
            "kernel/drivers/net/slip/slhc.ko.xz:\n\
             kernel/drivers/net/ppp/ppp_generic.ko.xz: kernel/drivers/net/slip/slhc.ko.xz\n\
             kernel/drivers/net/wan/hdlc.ko.xz:\n\
             updates/dkms/dahdi.ko.xz: kernel/drivers/net/wan/hdlc.ko.xz \
             kernel/drivers/net/ppp/ppp_generic.ko.xz kernel/drivers/net/slip/slhc.ko.xz\n\
             updates/dkms/dahdi_dynamic.ko.xz: updates/dkms/dahdi.ko.xz \
             kernel/drivers/net/wan/hdlc.ko.xz kernel/drivers/net/ppp/ppp_generic.ko.xz \
             kernel/drivers/net/slip/slhc.ko.xz\n",
        )
        .unwrap();
        let k = KernelUnderTest {
            release: "6.12.0-1-amd64".into(),
            image: t.path().join("boot/vmlinuz"),
            initrd: None,
            modules_dir: mdir.clone(),
            dahdi_dir: mdir.join("updates/dkms"),
            root: t.path().to_owned(),
        };
        let names: Vec<String> = load_order(&k, &["dahdi", "dahdi-dynamic"])
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(
            names,
            ["slhc", "ppp_generic", "hdlc", "dahdi", "dahdi_dynamic"]
        );
        let e = load_order(&k, &["wctdm24xxp"]).unwrap_err().to_string();
        assert!(e.contains("wctdm24xxp") && e.contains("modules.dep"), "{e}");
    }
}
