//! Compressed modules (`.ko.xz`, `.ko.zst`, `.ko.gz`), decompressed in memory with a bound.
//!
//! Debian 13's kernel and DKMS 3.2 install every module xz-compressed. The decoders are pure
//! Rust (lzma-rs, ruzstd, flate2 on miniz_oxide): this code runs as root at boot on files
//! that a broken package or a failing disk may have damaged, and memory-safe decoders keep a
//! hostile or corrupt stream from becoming more than an error. Output is capped at
//! [`MAX_IMAGE_BYTES`], so a decompression bomb costs at most that much memory.

use std::io::{self, Read, Write};

use serde::Serialize;

/// The most a decompressed module may take. DAHDI's largest module is well under a
/// megabyte and the largest module of a Debian kernel a few tens of megabytes.
pub const MAX_IMAGE_BYTES: usize = 128 << 20;

/// A module compression format, by its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// `.ko.xz`.
    Xz,
    /// `.ko.zst`.
    Zstd,
    /// `.ko.gz`.
    Gzip,
}

impl Compression {
    /// Recognizes a compressed file by its first bytes.
    pub fn from_magic(data: &[u8]) -> Option<Self> {
        if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if data.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else {
            None
        }
    }

    /// The name the kernel writes in `/sys/module/compression` and uses in
    /// `CONFIG_MODULE_COMPRESS_*`.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }

    /// The kernel's name of a format (`/sys/module/compression`).
    pub fn from_kernel_name(name: &str) -> Option<Self> {
        match name.trim() {
            "xz" => Some(Compression::Xz),
            "zstd" => Some(Compression::Zstd),
            "gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }

    /// Decompresses `data`, producing at most `limit` bytes.
    pub fn decompress(self, data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        let mut out = Bounded {
            buf: Vec::with_capacity(data.len().saturating_mul(3).min(limit)),
            limit,
        };
        let fail = |e: String| format!("its {} stream is damaged: {e}", self.kernel_name());
        match self {
            Compression::Xz => {
                let mut input = io::BufReader::new(data);
                lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| match e {
                    lzma_rs::error::Error::IoError(io)
                        if io.kind() == io::ErrorKind::FileTooLarge =>
                    {
                        too_large(limit)
                    }
                    e => fail(e.to_string()),
                })?;
            }
            Compression::Zstd => {
                let mut dec = ruzstd::decoding::StreamingDecoder::new(data)
                    .map_err(|e| fail(e.to_string()))?;
                copy_bounded(&mut dec, &mut out, limit).map_err(|e| {
                    e.unwrap_or_else(|| fail("the stream ends early or is corrupt".into()))
                })?;
            }
            Compression::Gzip => {
                let mut dec = flate2::read::GzDecoder::new(data);
                copy_bounded(&mut dec, &mut out, limit).map_err(|e| {
                    e.unwrap_or_else(|| fail("the stream ends early or is corrupt".into()))
                })?;
            }
        }
        Ok(out.buf)
    }
}

fn too_large(limit: usize) -> String {
    format!(
        "it decompresses to more than {} MiB, far more than any kernel module",
        limit >> 20
    )
}

/// Copies a decoder into the bounded buffer. `Err(Some(text))` is the limit, already
/// worded; `Err(None)` is a damaged stream, which the caller words with the format's name.
fn copy_bounded(r: &mut impl Read, out: &mut Bounded, limit: usize) -> Result<(), Option<String>> {
    match io::copy(r, out) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::FileTooLarge => Err(Some(too_large(limit))),
        Err(_) => Err(None),
    }
}

/// A `Vec` writer that refuses to grow past its limit.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "decompressed size limit",
            ));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Compresses with the real command-line tool, as the kernel build and DKMS do.
    fn compress_with(tool: &str, args: &[&str], data: &[u8]) -> Option<Vec<u8>> {
        let mut child = Command::new(tool)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let data = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        out.status.success().then_some(out.stdout)
    }

    fn sample() -> Vec<u8> {
        let mut v = b"\x7fELF".to_vec();
        for i in 0..200_000u32 {
            v.extend_from_slice(&(i % 251).to_le_bytes());
        }
        v
    }

    #[test]
    fn formats_from_magic() {
        assert_eq!(
            Compression::from_magic(b"\xfd7zXZ\0rest"),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::from_magic(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::from_magic(b"\x1f\x8b\x08"),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::from_magic(b"\x7fELF"), None);
        for c in [Compression::Xz, Compression::Zstd, Compression::Gzip] {
            assert_eq!(Compression::from_kernel_name(c.kernel_name()), Some(c));
        }
    }

    #[test]
    fn decodes_what_the_real_tools_write() {
        let data = sample();
        // The kernel's build compresses with `xz --check=crc32 --lzma2=dict=1MiB`; DKMS
        // with plain `xz` (CRC64); zstd and gzip as kmod's tests do.
        let cases: [(&str, &[&str], Compression); 4] = [
            (
                "xz",
                &["--check=crc32", "--lzma2=dict=1MiB", "-c"],
                Compression::Xz,
            ),
            ("xz", &["-c"], Compression::Xz),
            ("gzip", &["-9", "-c"], Compression::Gzip),
            ("zstd", &["-q", "-c"], Compression::Zstd),
        ];
        let mut ran = 0;
        for (tool, args, kind) in cases {
            let Some(packed) = compress_with(tool, args, &data) else {
                // zstd's command-line tool is optional on the build machine; xz and gzip
                // are always there (Essential/required in Debian).
                assert_eq!(tool, "zstd", "{tool} must be installed");
                continue;
            };
            assert_eq!(Compression::from_magic(&packed), Some(kind));
            assert_eq!(kind.decompress(&packed, MAX_IMAGE_BYTES).unwrap(), data);
            ran += 1;
        }
        assert!(ran >= 3);
    }

    #[test]
    fn bombs_and_damage_are_errors_within_the_limit() {
        let data = sample();
        let packed = compress_with("xz", &["-c"], &data).expect("xz");
        let e = Compression::Xz.decompress(&packed, 1000).unwrap_err();
        assert!(e.contains("decompresses to more than"), "{e}");
        let packed = compress_with("gzip", &["-c"], &data).expect("gzip");
        let e = Compression::Gzip.decompress(&packed, 1000).unwrap_err();
        assert!(e.contains("decompresses to more than"), "{e}");
        // Every truncation of a stream is an error, never a panic or a short image.
        let packed = compress_with("xz", &["-c"], &data[..5000]).expect("xz");
        for cut in (0..packed.len()).step_by(7) {
            assert!(
                Compression::Xz
                    .decompress(&packed[..cut], MAX_IMAGE_BYTES)
                    .is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = packed.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(Compression::Xz
            .decompress(&flipped, MAX_IMAGE_BYTES)
            .is_err());
        assert!(Compression::Zstd
            .decompress(b"\x28\xb5\x2f\xfd\xff\xff", MAX_IMAGE_BYTES)
            .is_err());
    }
}
