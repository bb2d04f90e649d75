//! WAV files: a minimal RIFF/WAVE reader and writer for what telephony uses
//! (8 kHz mono, 16-bit PCM; the reader also takes G.711 mu-law and A-law), and
//! [`FilePort`], which plays one file into a conference and/or records what its
//! participant hears into another.
//!
//! The layout written (Microsoft's RIFF WAVE, the canonical 44-byte header):
//!
//! | offset | field | value |
//! |---|---|---|
//! | 0 | `"RIFF"` | |
//! | 4 | u32 LE | file length - 8 |
//! | 8 | `"WAVE"` | |
//! | 12 | `"fmt "`, u32 LE 16 | |
//! | 20 | u16 format, u16 channels | 1 (PCM), 1 |
//! | 24 | u32 rate, u32 bytes/s | 8000, 16000 |
//! | 32 | u16 block align, u16 bits | 2, 16 |
//! | 36 | `"data"`, u32 LE length | |
//! | 44 | samples, i16 LE | |
//!
//! The two lengths are written as 0 first and patched by
//! [`WavWriter::finish`] (also on drop, best effort), so a recording that was
//! cut short still has a valid header up to its last finish. The reader walks
//! the chunks, skipping unknown ones (`LIST`, `fact`...) and their pad bytes, and
//! accepts `WAVE_FORMAT_EXTENSIBLE` whose sub-format is PCM, mu-law or A-law.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::audio::g711::Codec;

use super::port::{Port, PortError};
use super::stats::PortStats;

/// The only sample rate the pump runs at.
pub const SAMPLE_RATE: u32 = 8000;

const FORMAT_PCM: u16 = 1;
const FORMAT_ALAW: u16 = 6;
const FORMAT_ULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// What is wrong with a WAV file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file is not a RIFF/WAVE file or its structure is broken.
    #[error("{path}: not a valid WAV file: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A valid WAV file in a format the pump cannot play without conversion.
    #[error(
        "{path}: unsupported WAV format: {why} (the pump needs 8000 Hz mono, 16-bit PCM or G.711)"
    )]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Which property.
        why: String,
    },
}

impl From<WavError> for PortError {
    fn from(e: WavError) -> PortError {
        PortError::Other(Box::new(e))
    }
}

/// The sample encoding of a WAV file's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavEncoding {
    /// Signed 16-bit little-endian PCM.
    Pcm16,
    /// G.711 (one byte per sample), decoded with the ITU tables.
    G711(Codec),
}

/// Reads 8 kHz mono samples from a WAV file.
#[derive(Debug)]
pub struct WavReader {
    path: PathBuf,
    file: BufReader<File>,
    encoding: WavEncoding,
    data_start: u64,
    data_len: u64,
    left: u64,
    scratch: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl WavReader {
    /// Opens and checks a WAV file; positions at its first sample.
    ///
    /// # Errors
    ///
    /// [`WavError::Io`] for a file that cannot be read, [`WavError::Malformed`] for one
    /// that is not a WAV file, [`WavError::Unsupported`] for one that is not 8 kHz mono
    /// 16-bit PCM or G.711.
    pub fn open(path: impl AsRef<Path>) -> Result<WavReader, WavError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| WavError::Io {
            path: path.clone(),
            source,
        };
        let bad = |why: &str| WavError::Malformed {
            path: path.clone(),
            why: why.to_string(),
        };
        let unsupported = |why: String| WavError::Unsupported {
            path: path.clone(),
            why,
        };
        let mut file = BufReader::new(File::open(&path).map_err(io_err)?);
        let file_len = file.get_ref().metadata().map_err(io_err)?.len();
        let mut head = [0u8; 12];
        file.read_exact(&mut head).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                bad("shorter than a RIFF header (12 bytes)")
            } else {
                io_err(e)
            }
        })?;
        if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
            return Err(bad("no RIFF/WAVE signature"));
        }
        let mut pos = 12u64;
        let mut encoding = None;
        loop {
            let mut ch = [0u8; 8];
            match file.read_exact(&mut ch) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(bad(if encoding.is_none() {
                        "no fmt chunk"
                    } else {
                        "no data chunk"
                    }))
                }
                Err(e) => return Err(io_err(e)),
            }
            pos += 8;
            let id = [ch[0], ch[1], ch[2], ch[3]];
            let len = u32_at(&ch, 4) as u64;
            match &id {
                b"fmt " => {
                    if !(16..=1024).contains(&len) {
                        return Err(bad(&format!("fmt chunk of {len} bytes")));
                    }
                    let mut fmt = vec![0u8; len as usize];
                    file.read_exact(&mut fmt)
                        .map_err(|_| bad("fmt chunk cut short"))?;
                    let mut tag = u16_at(&fmt, 0);
                    if tag == FORMAT_EXTENSIBLE {
                        if len < 40 {
                            return Err(bad("WAVE_FORMAT_EXTENSIBLE fmt chunk under 40 bytes"));
                        }
                        // The sub-format GUID starts with the plain format tag.
                        tag = u16_at(&fmt, 24);
                    }
                    let channels = u16_at(&fmt, 2);
                    let rate = u32_at(&fmt, 4);
                    let bits = u16_at(&fmt, 14);
                    let enc = match (tag, bits) {
                        (FORMAT_PCM, 16) => WavEncoding::Pcm16,
                        (FORMAT_ULAW, 8) => WavEncoding::G711(Codec::ULAW),
                        (FORMAT_ALAW, 8) => WavEncoding::G711(Codec::ALAW),
                        (FORMAT_PCM, b) => return Err(unsupported(format!("{b}-bit PCM"))),
                        (t, b) => return Err(unsupported(format!("format tag {t} with {b} bits"))),
                    };
                    if channels != 1 {
                        return Err(unsupported(format!("{channels} channels")));
                    }
                    if rate != SAMPLE_RATE {
                        return Err(unsupported(format!("{rate} Hz")));
                    }
                    encoding = Some(enc);
                    pos += len;
                    if len % 2 == 1 {
                        file.seek_relative(1).map_err(io_err)?;
                        pos += 1;
                    }
                }
                b"data" => {
                    let Some(encoding) = encoding else {
                        return Err(bad("data chunk before the fmt chunk"));
                    };
                    // A writer that died before patching the length leaves 0 or
                    // 0xFFFFFFFF (streaming writers); take what the file holds.
                    let avail = file_len.saturating_sub(pos);
                    let data_len = if len == 0 || len == u32::MAX as u64 || len > avail {
                        avail
                    } else {
                        len
                    };
                    let unit = match encoding {
                        WavEncoding::Pcm16 => 2,
                        WavEncoding::G711(_) => 1,
                    };
                    let data_len = data_len - data_len % unit;
                    return Ok(WavReader {
                        path,
                        file,
                        encoding,
                        data_start: pos,
                        data_len,
                        left: data_len,
                        scratch: Vec::new(),
                    });
                }
                _ => {
                    let skip = len + (len & 1);
                    if pos + skip > file_len {
                        return Err(bad(&format!(
                            "chunk {:?} runs past the end of the file",
                            String::from_utf8_lossy(&id)
                        )));
                    }
                    file.seek_relative(skip as i64).map_err(io_err)?;
                    pos += skip;
                }
            }
        }
    }

    /// The sample encoding.
    pub fn encoding(&self) -> WavEncoding {
        self.encoding
    }

    /// Total samples in the data chunk.
    pub fn len_samples(&self) -> u64 {
        match self.encoding {
            WavEncoding::Pcm16 => self.data_len / 2,
            WavEncoding::G711(_) => self.data_len,
        }
    }

    /// Reads up to `out.len()` samples; returns how many (0 at the end).
    ///
    /// # Errors
    ///
    /// [`WavError::Io`] when reading fails.
    pub fn read(&mut self, out: &mut [i16]) -> Result<usize, WavError> {
        let unit = match self.encoding {
            WavEncoding::Pcm16 => 2,
            WavEncoding::G711(_) => 1,
        };
        let n = (out.len() as u64).min(self.left / unit) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.scratch.resize(n * unit as usize, 0);
        self.file
            .read_exact(&mut self.scratch)
            .map_err(|source| WavError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.left -= (n * unit as usize) as u64;
        match self.encoding {
            WavEncoding::Pcm16 => {
                for (o, b) in out.iter_mut().zip(self.scratch.chunks_exact(2)) {
                    *o = i16::from_le_bytes([b[0], b[1]]);
                }
            }
            WavEncoding::G711(c) => c.decode_slice(&self.scratch, &mut out[..n]),
        }
        Ok(n)
    }

    /// Goes back to the first sample.
    ///
    /// # Errors
    ///
    /// [`WavError::Io`] when seeking fails.
    pub fn rewind(&mut self) -> Result<(), WavError> {
        self.file
            .seek(SeekFrom::Start(self.data_start))
            .map_err(|source| WavError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.left = self.data_len;
        Ok(())
    }
}

/// Writes 8 kHz mono 16-bit PCM WAV files.
#[derive(Debug)]
pub struct WavWriter {
    path: PathBuf,
    file: BufWriter<File>,
    data_bytes: u64,
    scratch: Vec<u8>,
}

/// The canonical header for `data_bytes` bytes of 8 kHz mono PCM16.
fn header(data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

/// RIFF lengths are 32-bit: a file stops growing at this many data bytes
/// (about 37 hours at 8 kHz).
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 36 - 1;

impl WavWriter {
    /// Creates (or truncates) `path` and writes a header.
    ///
    /// # Errors
    ///
    /// [`WavError::Io`] when the file cannot be created or its header written.
    pub fn create(path: impl AsRef<Path>) -> Result<WavWriter, WavError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |source| WavError::Io {
            path: path.clone(),
            source,
        };
        let mut file = BufWriter::new(File::create(&path).map_err(io_err)?);
        file.write_all(&header(0)).map_err(io_err)?;
        Ok(WavWriter {
            path,
            file,
            data_bytes: 0,
            scratch: Vec::new(),
        })
    }

    /// Appends samples. Past the RIFF size limit, samples are discarded and
    /// the count of those written is returned.
    ///
    /// # Errors
    ///
    /// [`WavError::Io`] when writing fails.
    pub fn write(&mut self, samples: &[i16]) -> Result<usize, WavError> {
        let room = ((MAX_DATA_BYTES - self.data_bytes) / 2) as usize;
        let samples = &samples[..samples.len().min(room)];
        self.scratch.clear();
        self.scratch
            .extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        self.file
            .write_all(&self.scratch)
            .map_err(|source| WavError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.data_bytes += self.scratch.len() as u64;
        Ok(samples.len())
    }

    /// Samples written so far.
    pub fn len_samples(&self) -> u64 {
        self.data_bytes / 2
    }

    /// Flushes and patches the header's lengths; the writer stays usable.
    ///
    /// # Errors
    ///
    /// [`WavError::Io`] when the header cannot be completed.
    pub fn finish(&mut self) -> Result<(), WavError> {
        let io_err = |source| WavError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.flush().map_err(io_err)?;
        let f = self.file.get_mut();
        f.seek(SeekFrom::Start(0)).map_err(io_err)?;
        f.write_all(&header(self.data_bytes as u32))
            .map_err(io_err)?;
        f.seek(SeekFrom::End(0)).map_err(io_err)?;
        Ok(())
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        // Best effort: a caller that cares about the error calls finish() first.
        let _ = self.finish();
    }
}

/// A participant backed by files: plays a WAV file as its voice and/or records
/// what it hears into a WAV file.
///
/// File I/O happens on the pump's thread through 8 KiB buffers (a read or write
/// system call every 25 or so ticks), which the page cache normally absorbs; put
/// recordings on local storage or tmpfs, not on a network file system.
///
/// When the played file ends the port plays silence (or starts over with
/// [`looping`](Self::looping)); that is the end of the source, not an underrun.
#[derive(Debug)]
pub struct FilePort {
    player: Option<WavReader>,
    looping: bool,
    finished: bool,
    recorder: Option<WavWriter>,
    stats: PortStats,
}

impl FilePort {
    /// Plays `path` (8 kHz mono, PCM16 or G.711).
    ///
    /// # Errors
    ///
    /// As [`WavReader::open`].
    pub fn playback(path: impl AsRef<Path>) -> Result<FilePort, WavError> {
        Ok(FilePort {
            player: Some(WavReader::open(path)?),
            ..Self::none()
        })
    }

    /// Records into `path` (8 kHz mono PCM16), created or truncated.
    ///
    /// # Errors
    ///
    /// As [`WavWriter::create`].
    pub fn record(path: impl AsRef<Path>) -> Result<FilePort, WavError> {
        Ok(FilePort {
            recorder: Some(WavWriter::create(path)?),
            ..Self::none()
        })
    }

    /// Plays `play` and records into `record`.
    ///
    /// # Errors
    ///
    /// As [`WavReader::open`] and [`WavWriter::create`].
    pub fn play_and_record(
        play: impl AsRef<Path>,
        record: impl AsRef<Path>,
    ) -> Result<FilePort, WavError> {
        Ok(FilePort {
            player: Some(WavReader::open(play)?),
            recorder: Some(WavWriter::create(record)?),
            ..Self::none()
        })
    }

    fn none() -> FilePort {
        FilePort {
            player: None,
            looping: false,
            finished: false,
            recorder: None,
            stats: PortStats::default(),
        }
    }

    /// Starts the played file over when it ends.
    pub fn looping(mut self, on: bool) -> FilePort {
        self.looping = on;
        self
    }

    /// Whether the played file has ended (never with looping).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Patches the recording's header now (it is also done on drop).
    ///
    /// # Errors
    ///
    /// As [`WavWriter::finish`].
    pub fn finish(&mut self) -> Result<(), WavError> {
        match &mut self.recorder {
            Some(r) => r.finish(),
            None => Ok(()),
        }
    }
}

impl Port for FilePort {
    fn name(&self) -> String {
        match (&self.player, &self.recorder) {
            (Some(p), Some(r)) => format!("wav {} -> {}", p.path.display(), r.path.display()),
            (Some(p), None) => format!("wav {}", p.path.display()),
            (None, Some(r)) => format!("wav -> {}", r.path.display()),
            (None, None) => "wav (idle)".into(),
        }
    }

    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        let Some(player) = &mut self.player else {
            frame.fill(0);
            return Ok(());
        };
        let mut got = player.read(frame)?;
        if got < frame.len() && self.looping && player.len_samples() > 0 {
            while got < frame.len() {
                player.rewind()?;
                got += player.read(&mut frame[got..])?;
            }
        }
        if got == 0 {
            self.finished = true;
        } else {
            self.stats.frames_in += 1;
        }
        frame[got..].fill(0);
        Ok(())
    }

    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        if let Some(r) = &mut self.recorder {
            r.write(frame)?;
            self.stats.frames_out += 1;
        }
        Ok(())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}
