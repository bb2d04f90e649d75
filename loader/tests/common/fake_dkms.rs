//! A stand-in for dkms (the real one cannot build inside a temporary directory), for the
//! tests that run `ensure` on fixture trees.

use std::path::PathBuf;
use std::process::Command;

use super::{copy, Fixture};

/// A dkms stand-in that keeps DKMS's tree layout and its commands' meaning (`add`, `build`,
/// `install` of a built or unbuilt version, `unbuild`, `remove`), with `--dkmstree`,
/// `--sourcetree` and `--installtree`. It logs each call (and "CONCURRENT" if a build
/// starts while another runs), and acts as FAKE_DKMS_MODE says: `ok` builds the stashed
/// modules, `fail` leaves a failed make.log and exits 10. FAKE_DKMS_SLEEP makes a build
/// slow; FAKE_DKMS_INSTALL_SLEEP makes an install write a truncated dahdi.ko, sleep, then
/// finish (a dkms killed in between leaves it truncated).
pub const FAKE_DKMS: &str = r#"#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_DKMS_LOG"
action=$1; shift
while [ $# -gt 0 ]; do
  case $1 in
    -m) m=$2; shift ;;
    -v) v=$2; shift ;;
    -k) k=$2; shift ;;
    --dkmstree) tree=$2; shift ;;
    --sourcetree) src=$2; shift ;;
    --installtree) inst=$2; shift ;;
  esac
  shift
done
built="$tree/$m/$v/$k/x86_64/module"
build() {
  if [ -e "$FAKE_DKMS_RUNNING" ]; then echo CONCURRENT >> "$FAKE_DKMS_LOG"; fi
  touch "$FAKE_DKMS_RUNNING"
  sleep "${FAKE_DKMS_SLEEP:-0}"
  rm -f "$FAKE_DKMS_RUNNING"
  if [ "$FAKE_DKMS_MODE" = fail ]; then
    mkdir -p "$tree/$m/$v/build"
    printf 'DKMS make.log for %s-%s for kernel %s (x86_64)\n%s/drivers/dahdi/wct4xxp/base.c:123:5: error: fake compiler failure\nmake: *** [Makefile:10] Error 1\n' "$m" "$v" "$k" "$tree/$m/$v/build" > "$tree/$m/$v/build/make.log"
    exit 10
  fi
  mkdir -p "$built"
  cp "$FAKE_DKMS_STASH"/*.ko "$built/"
}
uninstall() {
  if [ -d "$built" ]; then
    for f in "$built"/*; do rm -f "$inst/$k/updates/dkms/${f##*/}"; done
  fi
  rm -f "$tree/$m/kernel-$k-x86_64"
}
case "$action" in
  add)
    mkdir -p "$tree/$m/$v"
    ln -sfn "$src/$m-$v" "$tree/$m/$v/source" ;;
  build)
    [ -d "$built" ] && { echo "already built"; exit 3; }
    build ;;
  install)
    [ -d "$built" ] || build
    mkdir -p "$inst/$k/updates/dkms"
    if [ -n "$FAKE_DKMS_INSTALL_SLEEP" ]; then
      echo $$ > "$FAKE_DKMS_PIDFILE"
      head -c 300 "$built/dahdi.ko" > "$inst/$k/updates/dkms/dahdi.ko"
      sleep "$FAKE_DKMS_INSTALL_SLEEP"
    fi
    cp "$built"/*.ko "$inst/$k/updates/dkms/"
    ln -sfn "$v/$k/x86_64" "$tree/$m/kernel-$k-x86_64"
    depmod -b "${inst%/lib/modules}" "$k" ;;
  unbuild)
    uninstall
    rm -rf "$tree/$m/$v/$k" ;;
  remove)
    uninstall
    rm -rf "$tree/$m/$v/$k" "$tree/$m/$v" ;;
  *) echo "fake dkms: unknown action $action" >&2; exit 2 ;;
esac
"#;

pub struct FakeDkms {
    pub dir: tempfile::TempDir,
}

impl FakeDkms {
    pub fn new(stash_from: &[PathBuf]) -> FakeDkms {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("dkms");
        std::fs::write(&prog, FAKE_DKMS).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        for m in stash_from {
            copy(m, &dir.path().join("stash").join(m.file_name().unwrap()));
        }
        std::fs::write(dir.path().join("log"), "").unwrap();
        FakeDkms { dir }
    }
    pub fn program(&self) -> PathBuf {
        self.dir.path().join("dkms")
    }
    pub fn stash(&self) -> PathBuf {
        self.dir.path().join("stash")
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap()
    }
    /// The logged calls' actions, in order.
    pub fn actions(&self) -> Vec<String> {
        self.log()
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    }
    pub fn env(&self, cmd: &mut Command, mode: &str) {
        cmd.env("FAKE_DKMS_LOG", self.dir.path().join("log"))
            .env("FAKE_DKMS_STASH", self.stash())
            .env("FAKE_DKMS_RUNNING", self.dir.path().join("running"))
            .env("FAKE_DKMS_PIDFILE", self.dir.path().join("pid"))
            .env("FAKE_DKMS_MODE", mode);
    }
}

pub fn ensure_cmd(f: &Fixture, fake: &FakeDkms, mode: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dahdi-loader"));
    c.arg("--root")
        .arg(f.root())
        .arg("--running-kernel")
        .arg("0.0.0-test")
        .arg("ensure")
        .arg("-k")
        .arg(&f.real.kernel)
        .arg("--dkms")
        .arg(fake.program());
    fake.env(&mut c, mode);
    c
}
