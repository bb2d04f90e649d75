//! `match-modalias`: does a DAHDI module (or a configured alias) claim a device? The udev
//! rule asks this for every PCI and USB device added, so it reads as little as it can.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::hw::{self, Device, Match};
use crate::modindex::KernelIndex;
use crate::module_file;
use crate::names::{Modalias, ModuleName};
use crate::system::System;

/// The modules (and configured aliases) whose alias patterns match `modalias`.
pub fn match_modalias(sys: &System, modalias: &Modalias) -> Vec<Match> {
    let names: HashSet<ModuleName> = sys.module_names().into_iter().collect();
    let mut files: Vec<(ModuleName, PathBuf)> = Vec::new();
    // The running kernel's modules first; if DAHDI is not built for it yet (the case the
    // loader exists for), any DKMS build has the same aliases.
    if let Some(r) = &sys.running {
        if let Ok(index) = KernelIndex::build(&sys.root, r, &names, &sys.depmod) {
            for (n, p) in index.picks {
                if let Some(c) = p.chosen {
                    files.push((n, c.path));
                }
            }
        }
    }
    if files.is_empty() {
        for m in &sys.providers.dkms {
            if let Some(b) = m.versions.iter().rev().flat_map(|v| v.builds.iter()).next() {
                files.extend(
                    b.modules
                        .iter()
                        .filter_map(|p| Some((ModuleName::from_file_name(p)?, p.clone()))),
                );
            }
        }
    }
    let mut aliases = sys.config.aliases.clone();
    for (name, path) in files {
        if let Ok((_, info)) = module_file::read_info(&path, &sys.root) {
            aliases.extend(info.aliases().into_iter().map(|a| (a, name.clone())));
        }
    }
    let device = Device {
        bus: modalias.bus().to_string(),
        sysname: String::new(),
        modalias: modalias.clone(),
    };
    hw::match_devices(&[device], &aliases)
}
