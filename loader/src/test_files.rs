//! Files for the unit tests' system roots (test builds only).

use std::path::Path;

/// Writes `text` at the system path `path` under the directory `root`, creating the
/// directories on the way.
pub(crate) fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("a path with a parent")).unwrap();
    std::fs::write(p, text).unwrap();
}
