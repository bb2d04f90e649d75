//! Raw userspace ABI of the DAHDI telephony driver.
//!
//! `dahdi-sys` is a flat, one-to-one Rust rendering of DAHDI's
//! `include/dahdi/user.h` (plus the four `WCTDM_*` ioctls of
//! `wctdm_user.h` that fxotune uses), in the spirit of the `sys` module of
//! the evdev crate: C names, C layouts, C types, no policy. Everything is
//! reachable at the crate root:
//!
//! * **constants**: `DAHDI_CONF_*`, `DAHDI_EVENT_*`, hook operations,
//!   `DAHDI_SIG_*`, `DAHDI_ALARM_*`, `DAHDI_LAW_*`, `DAHDI_TONE_*`,
//!   `DAHDI_MAINT_*`, `DAHDI_POLICY_*`, `DAHDI_FLUSH_*`, `DAHDI_IOMUX_*`,
//!   `DAHDI_MAX_*`, [`ELAST`], [`DAHDI_CODE`], [`DAHDI_MAJOR`], the fixed
//!   minors ([`DAHDI_CTL`] ...) and the device paths ([`DAHDI_CTL_PATH`]
//!   ...);
//! * **structs**: `dahdi_params`, `dahdi_confinfo`, `dahdi_spaninfo`, ...
//!   as `#[repr(C)]` types with the C field names, each with `zeroed()` and
//!   `Default`;
//! * **ioctls**: for each C request `NAME` a constant `NAME` (the request
//!   code) and an `unsafe fn name(fd, arg)` wrapper made with nix's ioctl
//!   macros, e.g. [`DAHDI_SETCONF`] and [`dahdi_setconf`]; [`IOCTLS`] lists
//!   them all and [`ioctl_name`] maps a code back to its name; the module
//!   [`ioctl`] holds each as an [`Ioctl`] (C name and code together), which
//!   is what the safe crate's errors name. Three
//!   wrappers share their name with a struct, as in C where struct tags
//!   are a separate namespace: `dahdi_chanconfig`, `dahdi_sfconfig` and
//!   `dahdi_attach_echocan` are the struct in type position and the
//!   wrapper in call position.
//!
//! Safe, idiomatic access belongs in the `dahdi` crate built on this one.
//!
//! # The device model in brief
//!
//! DAHDI exposes character devices under `/dev/dahdi/` (major
//! [`DAHDI_MAJOR`] = 196):
//!
//! * `ctl` (minor 0): configuration of spans and channels, tone zones,
//!   dynamic spans, version;
//! * `channel` (254): an unbound channel; `DAHDI_SPECIFY` binds the fd to a
//!   channel number;
//! * `pseudo` (255): every open creates a pseudo channel (no hardware),
//!   used for conferencing and playback;
//! * `timer` (253): every open is a timer, signalled by `POLLPRI`;
//! * `transcode` (250): hardware transcoders;
//! * `chan/SSS/CCC`: one node per span channel, under a dynamic major.
//!
//! A *span* is a line interface (a T1/E1 trunk, a group of analog ports, a
//! dynamic span); it carries *channels*. A channel fd reads and writes
//! 8 kHz audio in blocks (companded bytes, or 16-bit linear after
//! `DAHDI_SETLINEAR`); signalling arrives as events (`DAHDI_GETEVENT`,
//! announced by `read`/`write` failing with [`ELAST`] and by `POLLPRI`).
//!
//! # What is not supported, and why
//!
//! * **Only native 64-bit Linux userspace** (x86_64 and aarch64; other
//!   LP64 Linux targets should work but are untested). The crate refuses
//!   to build elsewhere.
//! * **No 32-bit userspace on a 64-bit kernel (compat ioctls).** Two
//!   structs change size with the userspace width: [`dahdi_sfconfig`](struct@dahdi_sfconfig)
//!   holds three C `long`s and [`dahdi_indirect_data`](struct@dahdi_indirect_data) a pointer, so
//!   `DAHDI_SFCONFIG` and `DAHDI_INDIRECT` have different request codes
//!   for 32-bit callers. Upstream DAHDI removed 32-on-64 compat support
//!   altogether in 3.2.0, and the Debian 2.11 driver that still has it
//!   rejects `DAHDI_SFCONFIG`. This crate uses `c_long` and a raw pointer,
//!   so those two structs are correct for the native width only, which is
//!   the only width it builds for.
//! * **Flexible arrays** (`dahdi_tone_def_header::tones`,
//!   `dahdi_echocanparams::params`) are zero-sized fields: the struct is
//!   the header only, and the caller lays the records out after it.
//! * **The C bitfield** `dahdi_hwgain::tx:1` is a plain `u32` storage unit
//!   with [`DAHDI_HWGAIN_TX`] as its bit.
//! * **Kernel configuration options.** `DAHDI_RXMIRROR`/`DAHDI_TXMIRROR`
//!   (`CONFIG_DAHDI_MIRROR`) and working `DAHDI_CONFLINK`
//!   (`CONFIG_DAHDI_CONFLINK`) exist only in kernels built with those
//!   options; the constants are here regardless. The kernel's
//!   `dahdi_config.h` settings themselves are not ABI and are not
//!   exported.
//!
//! # ABI source and check
//!
//! `user.h` is byte-identical in Debian's 2.11.1 package and upstream 3.x,
//! so one definition serves both. `tests/abi.rs` compiles a C program
//! against the installed header (`/usr/src/dahdi-*/include`, or
//! `DAHDI_INCLUDE_DIR`) and compares every size, alignment, field offset,
//! ioctl code and constant with this crate; it also parses the header so
//! that anything added there and missing here fails the test.

#![allow(non_camel_case_types)]

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
compile_error!(
    "dahdi-sys supports native 64-bit Linux userspace only (x86_64, aarch64): \
     DAHDI_SFCONFIG and DAHDI_INDIRECT have a different ABI for 32-bit callers"
);

mod consts;
mod ioctls;
mod structs;

pub use consts::*;
pub use ioctls::*;
pub use structs::*;

/// The integer type of ioctl request codes (`c_ulong` on glibc), as used
/// by nix.
pub use nix::sys::ioctl::ioctl_num_type;

#[cfg(test)]
mod tests {
    use super::*;
    use libc::c_char;

    #[test]
    fn copy_string_truncates_and_terminates() {
        let mut buf = [b'x' as c_char; 4];
        dahdi_copy_string(&mut buf, b"ab");
        assert_eq!(buf, [b'a' as c_char, b'b' as c_char, 0, b'x' as c_char]);
        dahdi_copy_string(&mut buf, b"abcdef");
        assert_eq!(buf, [b'a' as c_char, b'b' as c_char, b'c' as c_char, 0]);
        dahdi_copy_string(&mut buf, b"z\0yy");
        assert_eq!(buf[..2], [b'z' as c_char, 0]);
        dahdi_copy_string(&mut [], b"abc");
    }

    #[test]
    fn hwgain_tx_bit() {
        let mut g = dahdi_hwgain::zeroed();
        assert!(!g.is_tx());
        g.set_tx(true);
        assert_eq!(g.tx, DAHDI_HWGAIN_TX);
        assert!(g.is_tx());
        g.set_tx(false);
        assert_eq!(g.tx, 0);
    }

    #[test]
    fn ioctl_table_is_complete_and_unambiguous() {
        assert_eq!(IOCTLS.len(), 92);
        for (i, &(name, code)) in IOCTLS.iter().enumerate() {
            assert_eq!(
                ioctl_name(code),
                Some(name),
                "{name} shares its code {code:#x}"
            );
            assert!(
                IOCTLS[..i].iter().all(|&(n, _)| n != name),
                "{name} listed twice"
            );
        }
    }

    #[test]
    fn descriptors_name_their_ioctl() {
        assert_eq!(ioctl::DAHDI_SETCONF.name, "DAHDI_SETCONF");
        assert_eq!(ioctl::DAHDI_SETCONF.code, DAHDI_SETCONF);
        assert_eq!(ioctl::WCTDM_SET_REG.code, WCTDM_SET_REG);
        assert_eq!(
            ioctl_name(ioctl::DAHDI_GETVERSION.code),
            Some(ioctl::DAHDI_GETVERSION.name)
        );
    }

    #[test]
    fn wrappers_reach_the_kernel() {
        // /dev/null has no ioctls: the call must get through to the
        // kernel and come back as ENOTTY.
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&null);
        let mut size = 0;
        // SAFETY: valid fd and pointer; /dev/null rejects the request.
        let r = unsafe { dahdi_get_blocksize(fd, &mut size) };
        assert_eq!(r, Err(nix::errno::Errno::ENOTTY));
        // SAFETY: as above, no argument.
        let r = unsafe { dahdi_timerping(fd) };
        assert_eq!(r, Err(nix::errno::Errno::ENOTTY));
    }
}
