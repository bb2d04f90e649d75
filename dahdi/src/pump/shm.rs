//! Shared-memory rings: frames for other processes, and [`ShmPort`], a
//! participant that lives in another process.
//!
//! # Layout (version 1)
//!
//! C programs (and any language with a C FFI) read rings through
//! `dahdi/include/dahdi_pump_ring.h`, which declares this layout and a reader
//! that follows the protocol below; `dahdi/examples/c/ring_reader.c` prints a
//! conference's frames with it.
//!
//! A ring is a file, normally in `/dev/shm`, mapped by one writer (read-write)
//! and any number of readers (read-only). All integers are native-endian (the
//! header records the byte order) and every atomic is naturally aligned.
//!
//! Header, 4096 bytes:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 8]` | magic `b"DAHDIRNG"` |
//! | 8 | u32 | version, 1 |
//! | 12 | u32 | header length, 4096 |
//! | 16 | u32 | slot count, a power of two, 2..=2^24 |
//! | 20 | u32 | slot stride in bytes, a multiple of 64 |
//! | 24 | u32 | payload capacity per slot in bytes (stride - 32, a multiple of 8) |
//! | 28 | u32 | sample rate, 8000 |
//! | 32 | u32 | samples per frame (the pump's block) |
//! | 36 | u32 | byte-order mark `0x01020304` as written by the writer |
//! | 40 | u32 | writer's process id |
//! | 64 | atomic u64 | write sequence: records published so far |
//! | 128 | atomic u64 | closed: 1 once the writer has finished |
//!
//! Slot `i` starts at `4096 + i * stride` and holds record `n` when
//! `n % slot_count == i`:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | atomic u64 | sequence: 0 never written, `2n + 1` while record `n` is written, `2n + 2` once complete |
//! | 8 | atomic u64 | tick |
//! | 16 | atomic u64 | low 32 bits: stream tag ([`Stream::tag`](super::Stream::tag)); high 32 bits: payload length in bytes |
//! | 24 | u64 | reserved |
//! | 32 | atomic u64 words | payload: for audio, i16 samples |
//!
//! # Protocol
//!
//! Single writer, any number of readers, no feedback from readers: the writer
//! never waits, and readers cannot disturb it or each other (they map the file
//! read-only; a reader killed at any point leaves nothing behind).
//!
//! The writer publishes record `n` as a sequence lock: it stores `2n + 1` in
//! the slot's sequence, a release fence, the fields and payload (relaxed atomic
//! stores), then `2n + 2` with release ordering, then `n + 1` into the write
//! sequence. A reader expecting record `n` loads the slot's sequence (acquire);
//! if it is `2n + 2` it copies the record (relaxed atomic loads), issues an
//! acquire fence and loads the sequence again: equal means the copy is intact.
//! A smaller value means record `n` is not there yet; a larger one (or a
//! change during the copy) means the writer lapped the reader, which then
//! counts what it lost and jumps ahead to the newer half of the ring. Payload
//! words are copied with atomic operations, so a torn read is detected, never
//! undefined behaviour.
//!
//! A new reader starts at the write sequence it finds: its first record is the
//! next one the writer publishes, complete. The writer creates the file under a
//! temporary name and renames it into place once initialised, so a reader never
//! sees a half-made header, and a writer restarting on the same name leaves
//! readers of the old file with a consistent (closed) ring.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memmap2::{Mmap, MmapMut, MmapOptions};

use super::port::{Port, PortError};
use super::stats::PortStats;

/// `b"DAHDIRNG"`.
pub const MAGIC: [u8; 8] = *b"DAHDIRNG";
/// The layout version this module reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the first slot.
pub const HEADER_LEN: usize = 4096;
/// Bytes before a slot's payload.
pub const SLOT_HEADER_LEN: usize = 32;
/// The byte-order mark, as the writer stores it.
pub const BOM: u32 = 0x0102_0304;
const MAX_SLOTS: u32 = 1 << 24;

// Offsets of the header's fields (the table in the module docs; the C header
// `dahdi/include/dahdi_pump_ring.h` declares the same layout, and a test
// compares the two).
/// Offset of the magic.
pub const OFF_MAGIC: usize = 0;
/// Offset of the version.
pub const OFF_VERSION: usize = 8;
/// Offset of the header length.
pub const OFF_HEADER_LEN: usize = 12;
/// Offset of the slot count.
pub const OFF_SLOT_COUNT: usize = 16;
/// Offset of the slot stride.
pub const OFF_STRIDE: usize = 20;
/// Offset of the payload capacity per slot.
pub const OFF_PAYLOAD: usize = 24;
/// Offset of the sample rate.
pub const OFF_RATE: usize = 28;
/// Offset of the samples per frame.
pub const OFF_BLOCK: usize = 32;
/// Offset of the byte-order mark.
pub const OFF_BOM: usize = 36;
/// Offset of the writer's process id.
pub const OFF_PID: usize = 40;
/// Offset of the write sequence (atomic u64).
pub const OFF_WRITE_SEQ: usize = 64;
/// Offset of the closed flag (atomic u64).
pub const OFF_CLOSED: usize = 128;

// Offsets in a slot.
/// Offset of a slot's sequence (atomic u64).
pub const SLOT_OFF_SEQ: usize = 0;
/// Offset of a slot's tick (atomic u64).
pub const SLOT_OFF_TICK: usize = 8;
/// Offset of a slot's tag and payload length (atomic u64).
pub const SLOT_OFF_META: usize = 16;

/// Why a ring could not be created or opened.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// The file could not be created, opened, sized or mapped.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The ring file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The file is shorter than its header says it must be.
    #[error("{path}: ring file is {len} bytes, its layout needs {need}: truncated or not a ring")]
    Short {
        /// The ring file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// What the layout needs.
        need: u64,
    },
    /// The file does not start with the ring's magic.
    #[error("{path}: not a DAHDI pump ring (bad magic {found:02x?})")]
    BadMagic {
        /// The ring file.
        path: PathBuf,
        /// The first 8 bytes.
        found: [u8; 8],
    },
    /// A ring of a layout version this build does not know.
    #[error("{path}: ring layout version {found}, this build reads version {VERSION}")]
    Version {
        /// The ring file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// A header field is out of range.
    #[error("{path}: corrupt ring header: {why}")]
    Corrupt {
        /// The ring file.
        path: PathBuf,
        /// Which field.
        why: String,
    },
    /// A configuration refused before creating anything.
    #[error("invalid ring configuration: {0}")]
    Config(String),
}

impl From<ShmError> for PortError {
    fn from(e: ShmError) -> PortError {
        PortError::Other(Box::new(e))
    }
}

/// The shape of a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Records the ring holds (rounded up to a power of two): how far a reader
    /// may fall behind before it loses records.
    pub slots: usize,
    /// Largest payload per record, in bytes.
    pub payload_bytes: usize,
    /// Samples per frame, recorded in the header for readers.
    pub block_samples: usize,
}

impl RingConfig {
    /// Frames of `block` samples, `slots` of them.
    pub fn frames(block: usize, slots: usize) -> RingConfig {
        RingConfig {
            slots,
            payload_bytes: block * 2,
            block_samples: block,
        }
    }

    fn stride(&self) -> usize {
        (SLOT_HEADER_LEN + self.payload_bytes.div_ceil(8) * 8).div_ceil(64) * 64
    }
}

/// Geometry read from (or written to) a header, trusted only after checks.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    slots: u64,
    stride: usize,
    payload: usize,
    block: usize,
}

impl Geometry {
    fn file_len(&self) -> u64 {
        HEADER_LEN as u64 + self.slots * self.stride as u64
    }
}

/// Atomic view of a u64 in the mapping.
///
/// # Safety
/// `base + off` must be inside the mapping and 8-byte aligned (the mapping is
/// page-aligned and every offset used is a multiple of 8).
unsafe fn atomic_at<'a>(base: *const u8, off: usize) -> &'a AtomicU64 {
    // SAFETY: per the contract; AtomicU64 has the size and alignment of u64
    // and may be shared with other processes' atomic accesses.
    unsafe { &*(base.add(off) as *const AtomicU64) }
}

fn read_u32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// Copies `len` payload bytes out of a slot with relaxed atomic loads.
///
/// # Safety
/// `words` must point to at least `len.div_ceil(8)` aligned u64 in the mapping.
#[inline]
unsafe fn load_payload(words: *const u8, dst: &mut [u8]) {
    let mut chunks = dst.chunks_exact_mut(8);
    let mut i = 0;
    for c in &mut chunks {
        // SAFETY: i < len / 8, inside the slot per the contract.
        let v = unsafe { atomic_at(words, i * 8) }.load(Ordering::Relaxed);
        c.copy_from_slice(&v.to_ne_bytes());
        i += 1;
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        // SAFETY: the last, partial word is still inside the slot.
        let v = unsafe { atomic_at(words, i * 8) }.load(Ordering::Relaxed);
        rest.copy_from_slice(&v.to_ne_bytes()[..rest.len()]);
    }
}

/// Copies payload bytes into a slot with relaxed atomic stores.
///
/// # Safety
/// As [`load_payload`], for `src.len()`.
#[inline]
unsafe fn store_payload(words: *const u8, src: &[u8]) {
    let mut chunks = src.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().expect("8 bytes"));
        // SAFETY: inside the slot per the contract.
        unsafe { atomic_at(words, i * 8) }.store(v, Ordering::Relaxed);
        i += 1;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // SAFETY: as above.
        unsafe { atomic_at(words, i * 8) }.store(u64::from_ne_bytes(w), Ordering::Relaxed);
    }
}

fn as_bytes(samples: &[i16]) -> &[u8] {
    // SAFETY: any i16 is two initialised bytes; u8 has alignment 1.
    unsafe { std::slice::from_raw_parts(samples.as_ptr().cast(), samples.len() * 2) }
}

fn as_bytes_mut(samples: &mut [i16]) -> &mut [u8] {
    // SAFETY: as above, and every byte pattern is a valid i16.
    unsafe { std::slice::from_raw_parts_mut(samples.as_mut_ptr().cast(), samples.len() * 2) }
}

/// The single writer of a ring.
pub struct ShmWriter {
    path: PathBuf,
    map: MmapMut,
    geo: Geometry,
    next: u64,
    unlink_on_drop: bool,
}

impl std::fmt::Debug for ShmWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmWriter")
            .field("path", &self.path)
            .field("written", &self.next)
            .finish()
    }
}

impl ShmWriter {
    /// Creates a ring at `path` (replacing any file there, atomically: readers
    /// of the old file keep it). The file is removed again when the writer is
    /// dropped, unless [`keep_file`](Self::keep_file) says otherwise.
    ///
    /// # Errors
    ///
    /// [`ShmError::Config`] for a configuration the layout cannot hold; [`ShmError::Io`]
    /// for a file that cannot be created, sized or mapped.
    pub fn create(path: impl AsRef<Path>, config: RingConfig) -> Result<ShmWriter, ShmError> {
        let path = path.as_ref().to_path_buf();
        let slots = config.slots.max(2).next_power_of_two();
        if slots > MAX_SLOTS as usize {
            return Err(ShmError::Config(format!(
                "{slots} slots, at most {MAX_SLOTS}"
            )));
        }
        if config.payload_bytes == 0 || config.payload_bytes > 1 << 20 {
            return Err(ShmError::Config(format!(
                "payload of {} bytes, must be 1..=1 MiB",
                config.payload_bytes
            )));
        }
        let stride = config.stride();
        let geo = Geometry {
            slots: slots as u64,
            stride,
            payload: stride - SLOT_HEADER_LEN,
            block: config.block_samples,
        };
        let io = |op, source| ShmError::Io {
            path: path.clone(),
            op,
            source,
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| io("create", e))?;
        let made = (|| {
            file.set_len(geo.file_len()).map_err(|e| io("set_len", e))?;
            // SAFETY: a file we just created and sized; nobody else maps it
            // until it is renamed into place.
            let mut map =
                unsafe { MmapOptions::new().map_mut(&file) }.map_err(|e| io("mmap", e))?;
            let h = &mut map[..HEADER_LEN];
            h[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&VERSION.to_ne_bytes());
            h[OFF_HEADER_LEN..OFF_HEADER_LEN + 4]
                .copy_from_slice(&(HEADER_LEN as u32).to_ne_bytes());
            h[OFF_SLOT_COUNT..OFF_SLOT_COUNT + 4].copy_from_slice(&(slots as u32).to_ne_bytes());
            h[OFF_STRIDE..OFF_STRIDE + 4].copy_from_slice(&(stride as u32).to_ne_bytes());
            h[OFF_PAYLOAD..OFF_PAYLOAD + 4].copy_from_slice(&(geo.payload as u32).to_ne_bytes());
            h[OFF_RATE..OFF_RATE + 4].copy_from_slice(&8000u32.to_ne_bytes());
            h[OFF_BLOCK..OFF_BLOCK + 4].copy_from_slice(&(geo.block as u32).to_ne_bytes());
            h[OFF_BOM..OFF_BOM + 4].copy_from_slice(&BOM.to_ne_bytes());
            h[OFF_PID..OFF_PID + 4].copy_from_slice(&std::process::id().to_ne_bytes());
            h[OFF_MAGIC..OFF_MAGIC + 8].copy_from_slice(&MAGIC);
            std::fs::rename(&tmp, &path).map_err(|e| io("rename", e))?;
            Ok(map)
        })();
        let map = match made {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        Ok(ShmWriter {
            path,
            map,
            geo,
            next: 0,
            unlink_on_drop: true,
        })
    }

    /// Whether to leave the file in place when the writer is dropped (it is then
    /// marked closed).
    pub fn keep_file(mut self, keep: bool) -> ShmWriter {
        self.unlink_on_drop = !keep;
        self
    }

    /// The ring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.next
    }

    /// Largest payload per record in bytes.
    pub fn payload_capacity(&self) -> usize {
        self.geo.payload
    }

    fn base(&self) -> *const u8 {
        self.map.as_ptr()
    }

    /// Publishes one record (payload truncated to the slot's capacity). Never
    /// blocks and never fails.
    #[inline]
    pub fn write(&mut self, tick: u64, tag: u32, payload: &[u8]) {
        let n = self.next;
        let payload = &payload[..payload.len().min(self.geo.payload)];
        let slot = HEADER_LEN + (n & (self.geo.slots - 1)) as usize * self.geo.stride;
        let base = self.base();
        // SAFETY: the slot lies inside the mapping (file length checked at
        // creation) and all offsets are multiples of 8 from a page boundary.
        unsafe {
            let seq = atomic_at(base, slot + SLOT_OFF_SEQ);
            seq.store(2 * n + 1, Ordering::Relaxed);
            // Orders the odd sequence before the stores below, for any reader
            // whose copy sees one of them (see the module docs).
            fence(Ordering::Release);
            atomic_at(base, slot + SLOT_OFF_TICK).store(tick, Ordering::Relaxed);
            atomic_at(base, slot + SLOT_OFF_META).store(
                u64::from(tag) | (payload.len() as u64) << 32,
                Ordering::Relaxed,
            );
            store_payload(base.add(slot + SLOT_HEADER_LEN), payload);
            seq.store(2 * n + 2, Ordering::Release);
            atomic_at(base, OFF_WRITE_SEQ).store(n + 1, Ordering::Release);
        }
        self.next = n + 1;
    }

    /// Publishes one frame of samples.
    #[inline]
    pub fn write_frame(&mut self, tick: u64, tag: u32, frame: &[i16]) {
        self.write(tick, tag, as_bytes(frame));
    }

    /// Marks the ring closed: readers see [`ShmReader::writer_closed`].
    pub fn close(&mut self) {
        // SAFETY: inside the header.
        unsafe { atomic_at(self.base(), OFF_CLOSED) }.store(1, Ordering::Release);
    }
}

impl Drop for ShmWriter {
    fn drop(&mut self) {
        self.close();
        if self.unlink_on_drop {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One record as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its number in the ring's sequence (0 for the first record ever written).
    pub seq: u64,
    /// The tick it belongs to.
    pub tick: u64,
    /// Its stream tag.
    pub tag: u32,
    /// Payload bytes copied (at most the buffer's length).
    pub len: usize,
}

/// A reader of a ring (any number per ring, in any process).
pub struct ShmReader {
    path: PathBuf,
    map: Mmap,
    geo: Geometry,
    next: u64,
    lost: u64,
}

impl std::fmt::Debug for ShmReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmReader")
            .field("path", &self.path)
            .field("next", &self.next)
            .field("lost", &self.lost)
            .finish()
    }
}

impl ShmReader {
    /// Opens a ring read-only, checking its header; the first record read will
    /// be the next one the writer publishes.
    ///
    /// # Errors
    ///
    /// [`ShmError::Io`] for a file that cannot be opened or mapped; [`ShmError::Short`],
    /// [`ShmError::BadMagic`], [`ShmError::Version`] or [`ShmError::Corrupt`] for one that
    /// is not a ring of this layout and version.
    pub fn open(path: impl AsRef<Path>) -> Result<ShmReader, ShmError> {
        let path = path.as_ref().to_path_buf();
        let io = |op, source| ShmError::Io {
            path: path.clone(),
            op,
            source,
        };
        let file = File::open(&path).map_err(|e| io("open", e))?;
        let len = file.metadata().map_err(|e| io("stat", e))?.len();
        if len < HEADER_LEN as u64 {
            return Err(ShmError::Short {
                path,
                len,
                need: HEADER_LEN as u64,
            });
        }
        // SAFETY: a read-only mapping. The writer changes the file's contents
        // only through atomics (read here with atomics too); the file is never
        // truncated by the writer (a new ring replaces it by rename).
        let map = unsafe { MmapOptions::new().map(&file) }.map_err(|e| io("mmap", e))?;
        let geo = Self::check(&path, &map[..HEADER_LEN], len)?;
        let mut r = ShmReader {
            path,
            map,
            geo,
            next: 0,
            lost: 0,
        };
        r.next = r.write_seq();
        Ok(r)
    }

    fn check(path: &Path, h: &[u8], len: u64) -> Result<Geometry, ShmError> {
        let corrupt = |why: String| ShmError::Corrupt {
            path: path.to_path_buf(),
            why,
        };
        let magic: [u8; 8] = h[OFF_MAGIC..OFF_MAGIC + 8].try_into().expect("8 bytes");
        if magic != MAGIC {
            return Err(ShmError::BadMagic {
                path: path.to_path_buf(),
                found: magic,
            });
        }
        let version = read_u32(h, OFF_VERSION);
        if version != VERSION {
            return Err(ShmError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        if read_u32(h, OFF_BOM) != BOM {
            return Err(corrupt("written with the other byte order".into()));
        }
        let header_len = read_u32(h, OFF_HEADER_LEN);
        if header_len as usize != HEADER_LEN {
            return Err(corrupt(format!("header length {header_len}")));
        }
        let slots = read_u32(h, OFF_SLOT_COUNT);
        if !(2..=MAX_SLOTS).contains(&slots) || !slots.is_power_of_two() {
            return Err(corrupt(format!("slot count {slots}")));
        }
        let stride = read_u32(h, OFF_STRIDE) as usize;
        if stride < 64 || !stride.is_multiple_of(64) || stride > (1 << 21) {
            return Err(corrupt(format!("slot stride {stride}")));
        }
        let payload = read_u32(h, OFF_PAYLOAD) as usize;
        if payload != stride - SLOT_HEADER_LEN {
            return Err(corrupt(format!("payload {payload} with stride {stride}")));
        }
        let geo = Geometry {
            slots: slots as u64,
            stride,
            payload,
            block: read_u32(h, OFF_BLOCK) as usize,
        };
        if len < geo.file_len() {
            return Err(ShmError::Short {
                path: path.to_path_buf(),
                len,
                need: geo.file_len(),
            });
        }
        Ok(geo)
    }

    fn base(&self) -> *const u8 {
        self.map.as_ptr()
    }

    fn write_seq(&self) -> u64 {
        // SAFETY: inside the checked header.
        unsafe { atomic_at(self.base(), OFF_WRITE_SEQ) }.load(Ordering::Acquire)
    }

    /// The ring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples per frame, from the header.
    pub fn block_samples(&self) -> usize {
        self.geo.block
    }

    /// Records in the ring.
    pub fn slots(&self) -> u64 {
        self.geo.slots
    }

    /// Largest payload per record in bytes.
    pub fn payload_capacity(&self) -> usize {
        self.geo.payload
    }

    /// The writer's process id, from the header.
    pub fn writer_pid(&self) -> u32 {
        read_u32(&self.map, OFF_PID)
    }

    /// Whether the writer has finished (closed or dropped its writer).
    pub fn writer_closed(&self) -> bool {
        // SAFETY: inside the checked header.
        unsafe { atomic_at(self.base(), OFF_CLOSED) }.load(Ordering::Acquire) != 0
    }

    /// The sequence number of the next record this reader will return.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Records published but not read yet (including ones already overwritten).
    pub fn pending(&self) -> u64 {
        self.write_seq().saturating_sub(self.next)
    }

    /// Records this reader lost because the writer lapped it, or skipped.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Skips to the newest `keep` published records, counting the rest as lost.
    pub fn skip_to_latest(&mut self, keep: u64) {
        let target = self.write_seq().saturating_sub(keep);
        if target > self.next {
            self.lost += target - self.next;
            self.next = target;
        }
    }

    /// Reads the next record into `buf` if it has been published. Never blocks.
    /// If the writer has lapped this reader, the lost records are counted
    /// ([`lost`](Self::lost)) and reading continues from the newer half of the
    /// ring.
    pub fn try_read(&mut self, buf: &mut [u8]) -> Option<Record> {
        // A writer that behaves gives an answer in at most two rounds; the bound
        // only matters against a corrupt ring.
        for _ in 0..4 {
            let n = self.next;
            let want = 2 * n + 2;
            let slot = HEADER_LEN + (n & (self.geo.slots - 1)) as usize * self.geo.stride;
            let base = self.base();
            // SAFETY: the slot is inside the mapping (file length checked at
            // open), offsets are multiples of 8.
            let seq = unsafe { atomic_at(base, slot + SLOT_OFF_SEQ) };
            let s1 = seq.load(Ordering::Acquire);
            if s1 < want {
                return None; // not published yet (or being written right now)
            }
            if s1 == want {
                // SAFETY: as above.
                let (tick, meta) = unsafe {
                    (
                        atomic_at(base, slot + SLOT_OFF_TICK).load(Ordering::Relaxed),
                        atomic_at(base, slot + SLOT_OFF_META).load(Ordering::Relaxed),
                    )
                };
                let len = ((meta >> 32) as usize).min(self.geo.payload).min(buf.len());
                // SAFETY: len <= payload capacity: inside the slot.
                unsafe { load_payload(base.add(slot + SLOT_HEADER_LEN), &mut buf[..len]) };
                // Any payload word from a newer write makes the sequence below
                // differ (see the module docs).
                fence(Ordering::Acquire);
                if seq.load(Ordering::Relaxed) == want {
                    self.next = n + 1;
                    return Some(Record {
                        seq: n,
                        tick,
                        tag: meta as u32,
                        len,
                    });
                }
            }
            // Overwritten before or while we read: lapped. Resume in the newer
            // half of the ring so the writer does not lap us again at once.
            let w = self.write_seq();
            let resume = w.saturating_sub(self.geo.slots / 2).max(n + 1);
            self.lost += resume - n;
            self.next = resume;
        }
        None
    }

    /// [`try_read`](Self::try_read) into a frame of samples; `len` in the
    /// record is in bytes, and samples past it are zeroed.
    pub fn try_read_frame(&mut self, frame: &mut [i16]) -> Option<Record> {
        let rec = self.try_read(as_bytes_mut(frame))?;
        frame[rec.len / 2..].fill(0);
        Some(rec)
    }

    /// Waits up to `timeout` for the next record, polling (spinning briefly,
    /// then sleeping 100 us at a time). `None` on timeout.
    pub fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Option<Record> {
        let deadline = Instant::now() + timeout;
        let mut spins = 0u32;
        loop {
            if let Some(r) = self.try_read(buf) {
                return Some(r);
            }
            if Instant::now() >= deadline {
                return None;
            }
            spins += 1;
            if spins < 200 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
}

/// A participant in another process, through two rings: it writes its voice
/// into a ring of its own (any [`ShmWriter`]), which this port reads, and this
/// port writes what the participant hears into the port's output ring, which
/// the peer reads with a [`ShmReader`].
///
/// The peer may come and go: until its ring exists, and after it closes, the
/// port plays silence without counting underruns, and looks for a (new) ring
/// every 25 ticks. While connected, a tick without a new record is an
/// underrun; if more than `max_backlog` records are waiting (the peer runs
/// ahead of the pump's clock), the older ones are skipped and, like records
/// lost to lapping, counted as overruns.
#[derive(Debug)]
pub struct ShmPort {
    output: ShmWriter,
    input_path: Option<PathBuf>,
    input: Option<ShmReader>,
    input_lost: u64,
    max_backlog: u64,
    until_retry: u32,
    written: u64,
    stats: PortStats,
}

/// How often a disconnected [`ShmPort`] looks for its peer's ring, in ticks.
const RETRY_TICKS: u32 = 25;

impl ShmPort {
    /// A port writing to `output` and reading the peer's ring at `input` (if
    /// any). `max_backlog` is at least 1.
    pub fn new(output: ShmWriter, input: Option<PathBuf>, max_backlog: u64) -> ShmPort {
        ShmPort {
            output,
            input_path: input,
            input: None,
            input_lost: 0,
            max_backlog: max_backlog.max(1),
            until_retry: 0,
            written: 0,
            stats: PortStats::default(),
        }
    }

    /// Whether the peer's ring is open.
    pub fn connected(&self) -> bool {
        self.input.is_some()
    }

    fn connect(&mut self) -> Result<(), ShmError> {
        let Some(path) = &self.input_path else {
            return Ok(());
        };
        if self.until_retry > 0 {
            self.until_retry -= 1;
            return Ok(());
        }
        self.until_retry = RETRY_TICKS;
        match ShmReader::open(path) {
            Ok(r) if !r.writer_closed() => {
                self.input_lost = 0;
                self.input = Some(r);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(ShmError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Port for ShmPort {
    fn name(&self) -> String {
        format!("shm {}", self.output.path().display())
    }

    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        if self.input.is_none() {
            frame.fill(0);
            self.connect()?;
            return Ok(());
        }
        let r = self.input.as_mut().expect("connected");
        if r.pending() > self.max_backlog {
            r.skip_to_latest(self.max_backlog);
        }
        let got = r.try_read_frame(frame).is_some();
        self.stats.overruns += r.lost() - self.input_lost;
        self.input_lost = r.lost();
        if got {
            self.stats.frames_in += 1;
        } else {
            frame.fill(0);
            if r.writer_closed() {
                // The peer is gone; look for a new ring from now on.
                self.input = None;
            } else {
                self.stats.underruns += 1;
            }
        }
        Ok(())
    }

    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        self.output.write_frame(self.written, 0, frame);
        self.written += 1;
        self.stats.frames_out += 1;
        Ok(())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}
