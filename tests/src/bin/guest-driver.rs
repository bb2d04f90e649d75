//! Guest suite "driver": the real dahdi.ko, driven through dahdi-sys.
//! Runs inside the VM (see the crate docs); each function is one test.

fn device_nodes_appear() {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::fs::MetadataExt;
    for (path, minor) in [
        ("/dev/dahdi/ctl", 0),
        ("/dev/dahdi/timer", 253),
        ("/dev/dahdi/channel", 254),
        ("/dev/dahdi/pseudo", 255),
    ] {
        let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            m.file_type().is_char_device(),
            "{path} is not a character device"
        );
        let rdev = m.rdev();
        assert_eq!(libc::major(rdev), 196, "{path} major");
        assert_eq!(libc::minor(rdev), minor, "{path} minor");
    }
}

fn main() {
    dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![device_nodes_appear]);
}
