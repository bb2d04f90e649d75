//! Vendor and model names of devices, from udev's hardware database (`hwdb.bin`, compiled
//! from pci.ids, usb.ids and the hwdb.d files by `systemd-hwdb update`), read through
//! libudev (the `udev` crate): the names `lspci` and `udevadm info` show
//! (`ID_VENDOR_FROM_DATABASE`, `ID_MODEL_FROM_DATABASE`), looked up by the device's
//! modalias as udev's own `hwdb` builtin does.
//!
//! The database is the one of the machine the loader runs on, also under `--root` (libudev
//! reads it from fixed paths): it names hardware IDs, it is not the state being inspected.
//! Where there is none (an initramfs, a container without systemd) cards simply have no
//! names; matching devices to drivers (src/hw.rs) never depends on it.

use crate::names::Modalias;

/// A device's names, where the database has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// The vendor (`Digium, Inc.`).
    pub vendor: Option<String>,
    /// The model (`Wildcard TE220 dual-span T1/E1/J1 card 3.3V (PCI-Express)`).
    pub model: Option<String>,
}

/// The names of each of `modaliases`, in order (all empty without a database).
pub fn names(modaliases: &[&Modalias]) -> Vec<Names> {
    let Ok(db) = udev::Hwdb::new() else {
        return vec![Names::default(); modaliases.len()];
    };
    let get = |m: &Modalias, key: &str| {
        db.query_one(m.as_str(), key)
            .map(|v| v.to_string_lossy().trim().to_string())
            .filter(|v| !v.is_empty())
    };
    modaliases
        .iter()
        .map(|m| Names {
            vendor: get(m, "ID_VENDOR_FROM_DATABASE"),
            model: get(m, "ID_MODEL_FROM_DATABASE"),
        })
        .collect()
}
