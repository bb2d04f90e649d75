//! An exact mix-minus mixer: the participants of one conference, mixed in user
//! space.
//!
//! "Conference" means two things in this crate. A *DAHDI conference* is the
//! kernel's: channels join it with `DAHDI_SETCONF` in a [`ConfMode`](crate::ConfMode)
//! and the driver mixes it every millisecond. A [`Mixer`] is this module's: the
//! caller hands it frames and it mixes them, with the exact arithmetic below; the
//! pump (`dahdi::pump`, feature `pump`) runs one for its ports.
//!
//! # Semantics
//!
//! Once per tick ([`Mixer::mix`]) every participant's input frame of
//! `block_size` samples is mixed. With `T` the sum, accumulated in 32 bits, of the
//! inputs of all participants whose role *talks* (`Talker`, `Both`, `Monitor`):
//!
//! | role | its input | what it hears (per sample) |
//! |---|---|---|
//! | [`Role::Talker`] | added to `T` | silence |
//! | [`Role::Listener`] | ignored | `sat16(T)` |
//! | [`Role::Both`] | added to `T` | `sat16(T - own)`: every *other* talker |
//! | [`Role::Muted`] | ignored | `sat16(T)` |
//! | [`Role::Monitor`] | added to `T` | `sat16(T)`: every talker *including itself* |
//!
//! `sat16` clamps to `-32768..=32767` once, at the end. The result is the exact
//! saturated sum of the other talkers, whatever the order of participants and however
//! large intermediate sums get (up to 65,536 participants, where 32 bits stop being
//! enough; [`Mixer::add_participant`] refuses more).
//!
//! `Listener` and `Muted` hear the same; `Muted` exists so that a member who is muted
//! keeps a distinct role from a listen-only member (the pump can unmute it with
//! [`Mixer::set_role`] back to `Both`). A muted participant is heard by nobody,
//! monitors included: mute means mute.
//!
//! `Monitor` is modelled on the channel that MeetMe puts into DAHDI's
//! `DAHDI_CONF_CONFANN | DAHDI_CONF_CONFANNMON` mode: it hears the complete conference
//! *including anything it injects itself*, which is what a recorder or an announcement
//! / music player needs (a recording should contain the announcements). If it never
//! writes its input, it is a listener that hears everything.
//!
//! Inputs persist: a participant's input frame stays as last written (silence for a new
//! participant) until it is overwritten, so the caller writes every talker's frame
//! before each `mix`. Outputs are those of the last `mix`, for the roles at that time;
//! participants added since then hear silence until the next `mix`. A participant's
//! output exists in its own format: [`Mixer::output`] for linear participants,
//! [`Mixer::output_law`] for G.711 ones (inputs can be written either way).
//!
//! # How this differs from Asterisk and DAHDI when the sum clips
//!
//! When no intermediate sum leaves 16 bits, all three give the same result. When it
//! does, they differ. Worked example from the project's reference notes
//! (`mixing-perf.md`): three participants talk and listen, with inputs
//! A = +30000, B = +10000, C = -20000 at some sample, added in that order.
//!
//! | listener | exact (this engine, and FreeSWITCH) | Asterisk `bridge_softmix` | DAHDI conference |
//! |---|---|---|---|
//! | A | sat16(10000 - 20000) = **-10000** | -17233 | -17233 |
//! | B | sat16(30000 - 20000) = **+10000** | +2767 | +10000 |
//! | C | sat16(30000 + 10000) = **+32767** | +32767 | +32767 |
//!
//! * **Asterisk** saturates at every step of the sum (`ast_slinear_saturated_add`):
//!   30000 + 10000 clips to 32767, then + (-20000) gives 12767. Each contributor then
//!   gets `sat16(12767 - own)`: A gets -17233, B gets 2767. The clipped 7233 is lost for
//!   everyone, and a talker hears a distorted mix that even depends on the order in
//!   which channels are summed.
//! * **DAHDI** also saturates the running sum (`ACSS`), but remembers for each talker
//!   "the amount actually added" (`conflast = sat16(sat16(own + sum) - sum)`: 30000 for
//!   A, 2767 for B, -20000 for C) and a listener hears `sat16(sat16(-conflast) + sum)`.
//!   The clipped 7233 is thereby charged to B, whose addition clipped: B hears the
//!   right 10000, but A still hears the sum without the clipped part, -17233. Which
//!   listener is wrong depends on the order in which channels are processed, and
//!   real-span talkers are heard one 1 ms chunk late.
//! * **This engine** computes the full 32-bit sum and subtracts the listener's own
//!   input before the single saturation, so every listener gets exactly what a
//!   listener-only participant would have heard with that talker silent. FreeSWITCH's
//!   `mod_conference` computes the same thing (32-bit `main_frame`, subtract, clamp),
//!   sample by sample in scalar code.
//!
//! # Cost model
//!
//! Per tick: one pass over the talkers' inputs to form `T` (kept as two 16-bit frames,
//! `sat16(T)` and a carry, so that the mix-minus step runs on 16-bit saturating
//! instructions), one saturating subtract per talker that listens, nothing per
//! non-talking listener (they all share the frame `sat16(T)`). G.711 inputs are decoded
//! once when written; G.711 outputs are encoded once per talker that listens (straight
//! from registers; their linear form is never stored, so each participant's output
//! exists in its own format only) and once per codec for all non-talking listeners
//! together. So a tick costs
//! `O(talkers x block)`, plus `O(participants)` only when roles changed. No tick
//! allocates: the per-role index lists are rebuilt in place, and buffers only grow in
//! [`Mixer::add_participant`].

mod kernels;
pub mod reference;

use crate::audio::aligned::AlignedI16;
use crate::audio::g711::Codec;
use crate::audio::isa::Isa;

/// The smallest block size (DAHDI's 1 ms chunk).
pub const MIN_BLOCK_SIZE: usize = 8;
/// The largest block size.
pub const MAX_BLOCK_SIZE: usize = 1024;
/// The default block size: 20 ms at 8 kHz.
pub const DEFAULT_BLOCK_SIZE: usize = 160;
/// The most participants one conference holds (the 32-bit sum is exact up to here).
pub const MAX_PARTICIPANTS: usize = kernels::MAX_TALKERS;

/// What a participant does in the conference. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Talks, hears nothing.
    Talker,
    /// Hears every talker, does not talk.
    Listener,
    /// Talks, and hears every other talker (mix-minus).
    Both,
    /// A member who is muted: hears every talker; its input is ignored.
    Muted,
    /// Talks (e.g. announcements), and hears every talker including itself.
    Monitor,
}

impl Role {
    /// Whether the participant's input is added to the conference.
    pub const fn talks(self) -> bool {
        matches!(self, Role::Talker | Role::Both | Role::Monitor)
    }

    /// Whether the participant hears anything.
    pub const fn listens(self) -> bool {
        !matches!(self, Role::Talker)
    }
}

/// How a participant's audio is encoded at the engine's boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Signed 16-bit linear samples.
    Linear,
    /// G.711 bytes in the given codec. Decoded once on input, encoded once per
    /// distinct output.
    G711(Codec),
}

impl Format {
    /// G.191 mu-law.
    pub const ULAW: Format = Format::G711(Codec::ULAW);
    /// G.191 A-law.
    pub const ALAW: Format = Format::G711(Codec::ALAW);
    /// The DAHDI kernel's mu-law.
    pub const DAHDI_ULAW: Format = Format::G711(Codec::DAHDI_ULAW);
    /// The DAHDI kernel's A-law.
    pub const DAHDI_ALAW: Format = Format::G711(Codec::DAHDI_ALAW);

    /// The codec, if G.711.
    pub const fn codec(self) -> Option<Codec> {
        match self {
            Format::Linear => None,
            Format::G711(c) => Some(c),
        }
    }
}

/// A participant handle. Handles of removed participants are never valid again (the
/// slot index is reused, with a new generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId {
    index: u32,
    generation: u32,
}

impl ParticipantId {
    /// The slot index, dense from 0 and stable while the participant is present, so a
    /// caller can keep its own per-participant data in a plain vector.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

/// Errors of the mixer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MixerError {
    /// The block size is not in `8..=1024`.
    BlockSize(usize),
    /// A forced SIMD level is not usable on this machine.
    IsaUnavailable(Isa),
    /// The handle does not name a present participant.
    UnknownParticipant,
    /// A G.711 operation on a participant whose format is linear.
    NotG711,
    /// A linear output asked of a participant whose format is G.711.
    NotLinear,
    /// A frame whose length is not the block size.
    FrameLength {
        /// The block size.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// The mixer holds [`MAX_PARTICIPANTS`] already.
    Full,
    /// [`Mixer::mix_lent`] was given two frames for the same participant's input
    /// or output.
    LentTwice,
}

// Written out rather than derived: the `audio` feature needs no dependency
// (a derive macro would bring a proc-macro toolchain for one enum).
impl std::fmt::Display for MixerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MixerError::BlockSize(n) => write!(
                f,
                "block size {n} is outside {MIN_BLOCK_SIZE}..={MAX_BLOCK_SIZE}"
            ),
            MixerError::IsaUnavailable(isa) => {
                write!(f, "SIMD level {isa} is not available on this machine")
            }
            MixerError::UnknownParticipant => f.write_str("no such participant"),
            MixerError::NotG711 => f.write_str("participant's format is linear, not G.711"),
            MixerError::NotLinear => f.write_str("participant's format is G.711, not linear"),
            MixerError::FrameLength { expected, got } => {
                write!(f, "frame has {got} samples, the block size is {expected}")
            }
            MixerError::Full => write!(f, "the mixer is full ({MAX_PARTICIPANTS} participants)"),
            MixerError::LentTwice => {
                f.write_str("a participant's frame was lent twice in one tick")
            }
        }
    }
}

impl std::error::Error for MixerError {}

/// One participant's frames, lent to [`Mixer::mix_lent`] for one tick: the
/// engine reads the input from where it lies and writes the output straight to
/// where it is wanted (a port's queue slot, say), instead of the caller copying
/// both through the engine's own buffers.
#[derive(Debug)]
pub struct Lent<'a> {
    /// The participant.
    pub id: ParticipantId,
    /// This tick's input (`block_size` samples), read instead of the participant's
    /// input buffer, which is left as it was. `None`: the input buffer is used.
    pub input: Option<&'a [i16]>,
    /// Receives what the participant hears (`block_size` samples; linear
    /// participants only). `None`: the output goes to the engine's buffers as with
    /// [`Mixer::mix`].
    pub output: Option<&'a mut [i16]>,
}

/// Reserves room for `total` elements in all (not `total` more).
pub(crate) fn reserve_total<T>(v: &mut Vec<T>, total: usize) {
    v.reserve(total.saturating_sub(v.len()));
}

/// Scratch tables of per-row frame pointers for the kernels, refilled from fresh
/// pointers at the start of every mix and never read outside one.
#[derive(Debug, Default)]
struct RowTable<T>(Vec<T>);

// SAFETY: the pointers are only dereferenced inside `Mixer::run`, which
// refills the table from borrows it holds for the duration of the call; between
// calls the entries are dead values that are never read.
unsafe impl<T> Send for RowTable<T> {}
// SAFETY: as above; `&RowTable` gives no access to the pointers.
unsafe impl<T> Sync for RowTable<T> {}

/// Engine configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixerConfig {
    /// Samples per tick, `8..=1024`; fixed for the engine's life.
    pub block_size: usize,
    /// Participant slots to allocate up front, so that adding up to this many never
    /// allocates.
    pub capacity: usize,
    /// Force a SIMD level (tests, benchmarks); `None` picks the best available.
    pub isa: Option<Isa>,
}

impl Default for MixerConfig {
    fn default() -> Self {
        MixerConfig {
            block_size: DEFAULT_BLOCK_SIZE,
            capacity: 16,
            isa: None,
        }
    }
}

/// Where a participant's output comes from after the last mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Silence,
    /// The shared frame `sat16(T)` (and the shared encoded frame of its codec).
    Shared,
    /// Its own mix-minus row.
    Own,
}

/// Where a row is listed for the kernels (see `Mixer::places`).
#[derive(Clone, Copy, Debug)]
struct Places {
    talker: u32,
    row: u32,
    unmixed: u32,
    /// The codec whose shared frame it was counted for (`shared_listeners`).
    shared: Option<Codec>,
}

/// Not in the list.
const NOWHERE: u32 = u32::MAX;

impl Places {
    const NONE: Places = Places {
        talker: NOWHERE,
        row: NOWHERE,
        unmixed: NOWHERE,
        shared: None,
    };
}

/// How many changes between two mixes are applied one by one; past that, the
/// next mix rebuilds the lists from every slot.
const CHANGES_PER_MIX: usize = 256;

#[derive(Clone, Copy, Debug)]
struct Slot {
    generation: u32,
    live: bool,
    /// `live` and linear, kept up to date by `add_participant` and `remove`:
    /// `outputs` walks every slot each tick, and one flag test there measured
    /// about a fifth faster than testing both fields.
    linear: bool,
    role: Role,
    format: Format,
    source: Source,
}

/// The mixer. See the [module docs](self) for the semantics.
///
/// All per-participant audio lives in contiguous struct-of-arrays buffers with a
/// 64-byte aligned stride of `block_size` rounded up to 16 samples.
#[derive(Debug)]
pub struct Mixer {
    block: usize,
    stride: usize,
    isa: Isa,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    input: AlignedI16,
    output: AlignedI16,
    output_law: Vec<u8>,
    /// `sat16(T)`: what every non-talking listener hears.
    hi: AlignedI16,
    /// `clamp(T) - hi`, see `kernels`.
    carry: AlignedI16,
    clipped: bool,
    silence: Vec<i16>,
    silence_law: [Vec<u8>; 4],
    shared_law: [Vec<u8>; 4],
    /// Set when the lists below must be rebuilt from every slot by the next
    /// `mix` (in place, without allocating once they have reached full size):
    /// more changes since the last mix than `changed` holds.
    dirty: bool,
    /// The rows whose membership or role changed since the last mix, with
    /// their generation then: the next `mix` moves each in or out of the lists
    /// alone, so that a join or leave costs the same at any size (a rebuild
    /// walks every slot: at 1,000 participants it made a tick with one join and
    /// one leave about a tenth slower). Never grows past its capacity.
    changed: Vec<(u32, u32)>,
    /// Per row, its places in `lists` and `unmixed` (`NOWHERE` when absent).
    places: Vec<Places>,
    /// The talkers, and the talkers that listen (with the codec their output is
    /// also encoded in).
    lists: kernels::RowLists,
    /// Per row, where its input and its linear output are for the current mix
    /// (entries are set for the rows the kernels read, every mix).
    input_rows: RowTable<*const i16>,
    output_rows: RowTable<*mut i16>,
    /// [`Mixer::mix_lent`]'s loans by row (null: not lent), null again
    /// between calls; a row found already set while recording is lent twice.
    loan_in: RowTable<*const i16>,
    loan_out: RowTable<*mut i16>,
    /// The linear rows whose output the kernels do not write (silence or the
    /// shared mix): a lent output there gets a copy.
    unmixed: Vec<u32>,
    shared_listeners: [usize; 4],
}

impl Mixer {
    /// Creates an engine.
    ///
    /// # Errors
    ///
    /// [`MixerError::BlockSize`] for a block size outside `8..=1024`,
    /// [`MixerError::IsaUnavailable`] for a forced SIMD level this machine lacks.
    pub fn new(config: MixerConfig) -> Result<Mixer, MixerError> {
        let block = config.block_size;
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block) {
            return Err(MixerError::BlockSize(block));
        }
        let isa = match config.isa {
            None => Isa::detect(),
            Some(isa) if isa.is_available() => isa,
            Some(isa) => return Err(MixerError::IsaUnavailable(isa)),
        };
        let stride = block.div_ceil(16) * 16;
        let silence_law = Codec::ALL.map(|c| vec![c.encode(0); block]);
        let mut conf = Mixer {
            block,
            stride,
            isa,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            input: AlignedI16::default(),
            output: AlignedI16::default(),
            output_law: Vec::new(),
            hi: AlignedI16::zeroed(stride),
            carry: AlignedI16::zeroed(stride),
            clipped: false,
            silence: vec![0; block],
            shared_law: silence_law.clone(),
            silence_law,
            dirty: false,
            changed: Vec::with_capacity(CHANGES_PER_MIX),
            places: Vec::new(),
            lists: kernels::RowLists::default(),
            input_rows: RowTable::default(),
            output_rows: RowTable::default(),
            loan_in: RowTable::default(),
            loan_out: RowTable::default(),
            unmixed: Vec::new(),
            shared_listeners: [0; 4],
        };
        conf.reserve(config.capacity.min(MAX_PARTICIPANTS));
        Ok(conf)
    }

    /// Samples per tick.
    pub fn block_size(&self) -> usize {
        self.block
    }

    /// The SIMD level the kernels run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Number of participants.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are no participants.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Makes room for `additional` more participants without allocating later.
    pub fn reserve(&mut self, additional: usize) {
        let want = self.live + additional;
        let slots = want.max(self.slots.len());
        if slots > self.slots.len() {
            self.input.resize_zeroed(slots * self.stride);
            self.output.resize_zeroed(slots * self.stride);
            self.output_law.resize(slots * self.stride, 0);
        }
        self.slots.reserve(slots - self.slots.len());
        reserve_total(&mut self.places, slots);
        self.free.reserve(slots);
        self.lists.reserve(slots);
        reserve_total(&mut self.input_rows.0, slots);
        reserve_total(&mut self.output_rows.0, slots);
        reserve_total(&mut self.loan_in.0, slots);
        reserve_total(&mut self.loan_out.0, slots);
        reserve_total(&mut self.unmixed, slots);
    }

    /// Adds a participant. Its input starts as silence; it hears silence until the
    /// next [`mix`](Self::mix).
    ///
    /// # Errors
    ///
    /// [`MixerError::Full`] when the mixer holds [`MAX_PARTICIPANTS`] already.
    pub fn add_participant(
        &mut self,
        role: Role,
        format: Format,
    ) -> Result<ParticipantId, MixerError> {
        if self.live >= MAX_PARTICIPANTS {
            return Err(MixerError::Full);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                if (i + 1) * self.stride > self.input.as_slice().len() {
                    // Grow geometrically so that adding participants one by one stays
                    // amortised O(1).
                    self.reserve(self.slots.len().max(8));
                }
                self.slots.push(Slot {
                    generation: 0,
                    live: false,
                    linear: false,
                    role,
                    format,
                    source: Source::Silence,
                });
                self.places.push(Places::NONE);
                i as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.live = true;
        slot.linear = format == Format::Linear;
        slot.role = role;
        slot.format = format;
        slot.source = Source::Silence;
        self.live += 1;
        let generation = slot.generation;
        self.note_change(index, generation);
        Ok(ParticipantId { index, generation })
    }

    /// Removes a participant; its handle becomes invalid.
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    pub fn remove(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        let row = self.row(id)?;
        let slot = &mut self.slots[row];
        slot.live = false;
        slot.linear = false;
        slot.generation = slot.generation.wrapping_add(1);
        let generation = slot.generation;
        self.live -= 1;
        self.note_change(row as u32, generation);
        // The next participant in this slot must start silent.
        let s = self.stride;
        self.input.as_mut_slice()[row * s..(row + 1) * s].fill(0);
        self.free.push(row as u32);
        Ok(())
    }

    /// Changes a participant's role from the next [`mix`](Self::mix) on.
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    pub fn set_role(&mut self, id: ParticipantId, role: Role) -> Result<(), MixerError> {
        let row = self.row(id)?;
        if self.slots[row].role != role {
            self.slots[row].role = role;
            self.note_change(id.index, id.generation);
        }
        Ok(())
    }

    /// A participant's role.
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    pub fn role(&self, id: ParticipantId) -> Result<Role, MixerError> {
        Ok(self.slots[self.row(id)?].role)
    }

    /// A participant's format.
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    pub fn format(&self, id: ParticipantId) -> Result<Format, MixerError> {
        Ok(self.slots[self.row(id)?].format)
    }

    /// Whether `id` names a present participant.
    pub fn contains(&self, id: ParticipantId) -> bool {
        self.row(id).is_ok()
    }

    /// All participants with their role and format, in slot order.
    pub fn participants(&self) -> impl Iterator<Item = (ParticipantId, Role, Format)> + '_ {
        self.live_slots().map(|(id, s)| (id, s.role, s.format))
    }

    /// The participant's input frame (linear), to be filled before [`mix`](Self::mix).
    /// Works for G.711 participants too (then no decoding happens).
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    #[inline]
    pub fn input_mut(&mut self, id: ParticipantId) -> Result<&mut [i16], MixerError> {
        let row = self.row(id)?;
        let start = row * self.stride;
        Ok(&mut self.input.as_mut_slice()[start..start + self.block])
    }

    /// The participant's current input frame (linear).
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    #[inline]
    pub fn input(&self, id: ParticipantId) -> Result<&[i16], MixerError> {
        let row = self.row(id)?;
        let start = row * self.stride;
        Ok(&self.input.as_slice()[start..start + self.block])
    }

    /// Copies a linear frame into the participant's input.
    ///
    /// # Errors
    ///
    /// [`MixerError::FrameLength`] for a frame that is not `block_size` long,
    /// [`MixerError::UnknownParticipant`] for an unknown handle.
    pub fn write_input(&mut self, id: ParticipantId, frame: &[i16]) -> Result<(), MixerError> {
        self.check_len(frame.len())?;
        self.input_mut(id)?.copy_from_slice(frame);
        Ok(())
    }

    /// Decodes a G.711 frame (in the participant's codec) into its input.
    ///
    /// # Errors
    ///
    /// [`MixerError::FrameLength`] for a frame that is not `block_size` long,
    /// [`MixerError::UnknownParticipant`] for an unknown handle, [`MixerError::NotG711`]
    /// for a linear participant.
    pub fn write_input_law(&mut self, id: ParticipantId, frame: &[u8]) -> Result<(), MixerError> {
        self.check_len(frame.len())?;
        let row = self.row(id)?;
        let codec = self.slots[row].format.codec().ok_or(MixerError::NotG711)?;
        let start = row * self.stride;
        let dst = &mut self.input.as_mut_slice()[start..start + self.block];
        codec.decode_slice_with(self.isa, frame, dst);
        Ok(())
    }

    /// Sets the participant's input to silence.
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for a handle of no present participant.
    pub fn silence_input(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        self.input_mut(id)?.fill(0);
        Ok(())
    }

    /// Runs one tick: mixes all inputs into all outputs.
    pub fn mix(&mut self) {
        // SAFETY: nothing is lent.
        unsafe { self.mix_rows(&[], &[]) }
    }

    /// Runs one tick like [`mix`](Self::mix), with some participants' frames lent
    /// instead of copied through the engine's buffers: each [`Lent`] input is read
    /// where it lies, and each `Lent` output receives what that participant hears
    /// (its mix-minus written there directly, or a copy of the shared mix or of
    /// silence, depending on its role).
    ///
    /// The lent frames hold this tick. What the engine's own input and output
    /// buffers hold for a lent participant afterwards is not specified (whether
    /// they are used depends on the block size): read this tick's audio from the
    /// lent frames, and write the input of a participant whose input was lent
    /// before relying on it persisting.
    ///
    /// When `block_size` is not a multiple of 16 the kernels' rows are longer than
    /// a frame, so lent frames are copied in and out instead; the result is the
    /// same.
    ///
    /// # Errors
    ///
    /// Checked before anything is mixed, so that nothing changes:
    /// [`MixerError::UnknownParticipant`], [`MixerError::FrameLength`] for a
    /// frame that is not `block_size` long, [`MixerError::NotLinear`] for an
    /// output lent for a G.711 participant, [`MixerError::LentTwice`] for the
    /// same participant's input or output lent twice.
    pub fn mix_lent(&mut self, lent: &mut [Lent<'_>]) -> Result<(), MixerError> {
        let rows = self.slots.len();
        if self.loan_in.0.len() < rows {
            self.loan_in.0.resize(rows, std::ptr::null());
            self.loan_out.0.resize(rows, std::ptr::null_mut());
        }
        // Record every loan in the (null) tables; a row already recorded is lent
        // twice. On an error the tables are cleared and nothing was mixed.
        for k in 0..lent.len() {
            if let Err(e) = self.record_loan(&mut lent[k]) {
                self.clear_loans(&lent[..=k]);
                return Err(e);
            }
        }
        if self.lends_in_place() {
            let (loan_in, loan_out) = (
                std::mem::take(&mut self.loan_in),
                std::mem::take(&mut self.loan_out),
            );
            // SAFETY: the tables hold pointers to the lent frames, `block` samples
            // each (checked), borrowed for this call, inputs shared and outputs
            // exclusive (`&mut`), which cannot overlap each other or the engine's
            // own buffers; block == stride.
            unsafe { self.mix_rows(&loan_in.0, &loan_out.0) };
            (self.loan_in, self.loan_out) = (loan_in, loan_out);
        } else {
            let s = self.stride;
            for l in lent.iter() {
                if let Some(input) = l.input {
                    let at = l.id.index() * s;
                    self.input.as_mut_slice()[at..at + self.block].copy_from_slice(input);
                }
            }
            self.mix();
            for l in lent.iter_mut() {
                if let Some(output) = l.output.as_deref_mut() {
                    let row = l.id.index();
                    output.copy_from_slice(self.linear_out(row, self.slots[row].source));
                }
            }
        }
        self.clear_loans(lent);
        Ok(())
    }

    /// Checks one loan and records it in `loan_in`/`loan_out`.
    fn record_loan(&mut self, l: &mut Lent<'_>) -> Result<(), MixerError> {
        let row = self.row(l.id)?;
        if let Some(input) = l.input {
            self.check_len(input.len())?;
            if !self.loan_in.0[row].is_null() {
                return Err(MixerError::LentTwice);
            }
        }
        if let Some(output) = &l.output {
            self.check_len(output.len())?;
            if self.slots[row].format != Format::Linear {
                return Err(MixerError::NotLinear);
            }
            if !self.loan_out.0[row].is_null() {
                return Err(MixerError::LentTwice);
            }
        }
        if let Some(input) = l.input {
            self.loan_in.0[row] = input.as_ptr();
        }
        if let Some(output) = l.output.as_deref_mut() {
            self.loan_out.0[row] = output.as_mut_ptr();
        }
        Ok(())
    }

    /// Nulls the table entries of `lent`'s rows (whoever recorded them).
    fn clear_loans(&mut self, lent: &[Lent<'_>]) {
        for l in lent {
            if let Ok(row) = self.row(l.id) {
                self.loan_in.0[row] = std::ptr::null();
                self.loan_out.0[row] = std::ptr::null_mut();
            }
        }
    }

    /// Whether lent frames can stand in for the engine's rows: the block is a
    /// whole number of kernel vectors, so a row is exactly one frame. When it is
    /// not, [`mix_rows`](Self::mix_rows) must not be given loans.
    #[inline]
    pub(crate) fn lends_in_place(&self) -> bool {
        self.block == self.stride
    }

    /// The tick itself, with frames lent by row: `loan_in[r]` (when there and not
    /// null) is read instead of row `r`'s input buffer, and what a linear row `r`
    /// hears is written to `loan_out[r]` (when there and not null) instead of its
    /// output buffer. Loans for rows that are not live, and output loans for
    /// G.711 rows, are ignored. This is the one mechanism behind
    /// [`mix`](Self::mix) (no loans), [`mix_lent`](Self::mix_lent) (validated
    /// loans) and the pump (which lends by row and owns the tables).
    ///
    /// Only the rows the kernels read (talkers, and talkers that listen) get
    /// table entries, so that a tick stays `O(talkers)` however many listeners
    /// there are; lent outputs of other linear rows get a copy of what they hear.
    ///
    /// # Safety
    ///
    /// If any entry is not null, [`lends_in_place`](Self::lends_in_place) holds;
    /// every non-null `loan_in` entry is valid for reads of `block_size` samples
    /// and every non-null `loan_out` entry for writes of `block_size` samples,
    /// for the whole call, and no output frame overlaps another lent frame or the
    /// engine's own buffers.
    pub(crate) unsafe fn mix_rows(&mut self, loan_in: &[*const i16], loan_out: &[*mut i16]) {
        if self.dirty {
            self.rebuild();
        } else {
            self.apply_changes();
        }
        let s = self.stride;
        let rows = self.slots.len();
        if self.input_rows.0.len() < rows {
            self.input_rows.0.resize(rows, std::ptr::null());
            self.output_rows.0.resize(rows, std::ptr::null_mut());
        }
        // `reserve` keeps the buffers at least this long; the pointers below rely on it.
        assert!(
            self.input.as_slice().len() >= rows * s && self.output.as_slice().len() >= rows * s
        );
        let (inputs, outputs) = (&mut self.input_rows.0, &mut self.output_rows.0);
        let in_base = self.input.as_slice().as_ptr();
        let out_base = self.output.as_mut_slice().as_mut_ptr();
        for r in self.lists.input_rows() {
            inputs[r] = match loan_in.get(r) {
                Some(&p) if !p.is_null() => p,
                // SAFETY: `input` holds `rows * stride` samples (asserted above).
                _ => unsafe { in_base.add(r * s) },
            };
        }
        for r in self.lists.output_rows() {
            outputs[r] = match loan_out.get(r) {
                Some(&p) if !p.is_null() => p,
                // SAFETY: likewise `output`.
                _ => unsafe { out_base.add(r * s) },
            };
        }
        let frames = kernels::Frames {
            input_rows: inputs,
            output_rows: outputs,
            law: &mut self.output_law,
            stride: s,
        };
        // SAFETY: every input row points into `input` (`stride` samples) or at a
        // lent input of `block == stride` samples valid for this call, likewise
        // every output row into `output` or at a lent output that overlaps
        // nothing else (the caller's contract).
        self.clipped = unsafe {
            kernels::mix(
                self.isa,
                frames,
                &self.lists,
                self.hi.as_mut_slice(),
                self.carry.as_mut_slice(),
            )
        };
        let hi = &self.hi.as_slice()[..self.block];
        for codec in Codec::ALL {
            if self.shared_listeners[codec.index()] > 0 {
                codec.encode_slice_with(self.isa, hi, &mut self.shared_law[codec.index()]);
            }
        }
        // Lent outputs the kernels did not write: silence or the shared mix
        // (a walk over the listeners, so only when anything is lent).
        if loan_out.is_empty() {
            return;
        }
        for &r in &self.unmixed {
            let r = r as usize;
            if let Some(&p) = loan_out.get(r).filter(|p| !p.is_null()) {
                let heard = self.linear_out(r, self.slots[r].source);
                // SAFETY: `p` is valid for `block` samples of writes and overlaps
                // none of the engine's buffers (the caller's contract).
                unsafe { std::ptr::copy_nonoverlapping(heard.as_ptr(), p, self.block) };
            }
        }
    }

    /// What a linear participant hears after the last [`mix`](Self::mix).
    ///
    /// Outputs exist in the participant's own format only: a G.711 participant's
    /// mix-minus is encoded straight from registers and never stored linearly, so this
    /// returns [`MixerError::NotLinear`] for it (use
    /// [`output_law`](Self::output_law)).
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for an unknown handle, [`MixerError::NotLinear`]
    /// for a G.711 participant.
    #[inline]
    pub fn output(&self, id: ParticipantId) -> Result<&[i16], MixerError> {
        let row = self.row(id)?;
        let slot = &self.slots[row];
        if slot.format != Format::Linear {
            return Err(MixerError::NotLinear);
        }
        Ok(self.linear_out(row, slot.source))
    }

    /// What a G.711 participant hears after the last [`mix`](Self::mix), encoded in its
    /// codec. Participants that do not talk share one encoded frame per codec.
    ///
    /// # Errors
    ///
    /// [`MixerError::UnknownParticipant`] for an unknown handle, [`MixerError::NotG711`]
    /// for a linear participant.
    #[inline]
    pub fn output_law(&self, id: ParticipantId) -> Result<&[u8], MixerError> {
        let row = self.row(id)?;
        let slot = &self.slots[row];
        let codec = slot.format.codec().ok_or(MixerError::NotG711)?;
        Ok(self.law_out(row, slot.source, codec))
    }

    /// Every linear participant with what it heard in the last [`mix`](Self::mix), in
    /// slot order. Equivalent to calling [`output`](Self::output) for each, without
    /// validating a handle per participant.
    pub fn outputs(&self) -> impl Iterator<Item = (ParticipantId, &[i16])> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.linear)
            .map(|(i, s)| {
                let id = ParticipantId {
                    index: i as u32,
                    generation: s.generation,
                };
                (id, self.linear_out(i, s.source))
            })
    }

    /// Every G.711 participant with its encoded output of the last
    /// [`mix`](Self::mix), in slot order (see [`outputs`](Self::outputs)).
    pub fn outputs_law(&self) -> impl Iterator<Item = (ParticipantId, &[u8])> + '_ {
        self.live_slots().filter_map(|(id, slot)| {
            let codec = slot.format.codec()?;
            Some((id, self.law_out(id.index(), slot.source, codec)))
        })
    }

    #[inline]
    fn live_slots(&self) -> impl Iterator<Item = (ParticipantId, &Slot)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .map(|(i, s)| {
                (
                    ParticipantId {
                        index: i as u32,
                        generation: s.generation,
                    },
                    s,
                )
            })
    }

    #[inline]
    fn linear_out(&self, row: usize, source: Source) -> &[i16] {
        match source {
            Source::Silence => &self.silence,
            Source::Shared => &self.hi.as_slice()[..self.block],
            Source::Own => {
                let start = row * self.stride;
                &self.output.as_slice()[start..start + self.block]
            }
        }
    }

    #[inline]
    fn law_out(&self, row: usize, source: Source, codec: Codec) -> &[u8] {
        match source {
            Source::Silence => &self.silence_law[codec.index()],
            Source::Shared => &self.shared_law[codec.index()],
            Source::Own => {
                let start = row * self.stride;
                &self.output_law[start..start + self.block]
            }
        }
    }

    /// The full mix of the last tick, `sat16(T)`: what a listener hears. Useful for a
    /// recorder tap that is not a participant.
    pub fn full_mix(&self) -> &[i16] {
        &self.hi.as_slice()[..self.block]
    }

    /// Whether the sum of the talkers left the 16-bit range anywhere in the last tick.
    pub fn clipped(&self) -> bool {
        self.clipped
    }

    /// Number of participants whose input is mixed (as of the last `mix`).
    pub fn talker_count(&self) -> usize {
        self.lists.talker_count()
    }

    fn check_len(&self, got: usize) -> Result<(), MixerError> {
        if got == self.block {
            Ok(())
        } else {
            Err(MixerError::FrameLength {
                expected: self.block,
                got,
            })
        }
    }

    #[inline]
    fn row(&self, id: ParticipantId) -> Result<usize, MixerError> {
        match self.slots.get(id.index as usize) {
            Some(s) if s.live && s.generation == id.generation => Ok(id.index as usize),
            _ => Err(MixerError::UnknownParticipant),
        }
    }

    /// Records that row `row` (of `generation`) joined, left or changed role:
    /// the next mix relists it.
    fn note_change(&mut self, row: u32, generation: u32) {
        if self.changed.len() < self.changed.capacity() {
            self.changed.push((row, generation));
        } else {
            self.dirty = true;
        }
    }

    /// Relists every row that changed since the last mix, in the order of the
    /// changes: out of the lists, and back in if it is still the same live
    /// participant (a row left and joined again holds a new generation).
    fn apply_changes(&mut self) {
        for k in 0..self.changed.len() {
            let (row, generation) = self.changed[k];
            let row = row as usize;
            self.delist(row);
            let slot = &self.slots[row];
            if slot.live && slot.generation == generation {
                self.enlist(row);
            }
        }
        self.changed.clear();
    }

    /// Lists a live row for the kernels as its role says, and sets what it hears.
    fn enlist(&mut self, row: usize) {
        let slot = &mut self.slots[row];
        let r = row as u32;
        let mut places = Places::NONE;
        if slot.role.talks() {
            places.talker = self.lists.push_talker(r);
        }
        slot.source = match slot.role {
            Role::Talker => Source::Silence,
            Role::Both => {
                places.row = self.lists.push_row(r, slot.format.codec());
                Source::Own
            }
            Role::Listener | Role::Muted | Role::Monitor => {
                if let Some(codec) = slot.format.codec() {
                    self.shared_listeners[codec.index()] += 1;
                    places.shared = Some(codec);
                }
                Source::Shared
            }
        };
        if slot.linear && slot.source != Source::Own {
            places.unmixed = self.unmixed.len() as u32;
            self.unmixed.push(r);
        }
        self.places[row] = places;
    }

    /// Takes a row out of every list it is in (the undoing of `enlist`, by the
    /// places it recorded): it then hears silence.
    fn delist(&mut self, row: usize) {
        let places = std::mem::replace(&mut self.places[row], Places::NONE);
        if places.talker != NOWHERE {
            if let Some(moved) = self.lists.swap_remove_talker(places.talker) {
                self.places[moved as usize].talker = places.talker;
            }
        }
        if places.row != NOWHERE {
            if let Some(moved) = self.lists.swap_remove_row(places.row) {
                self.places[moved as usize].row = places.row;
            }
        }
        if places.unmixed != NOWHERE {
            self.unmixed.swap_remove(places.unmixed as usize);
            if let Some(&moved) = self.unmixed.get(places.unmixed as usize) {
                self.places[moved as usize].unmixed = places.unmixed;
            }
        }
        if let Some(codec) = places.shared {
            self.shared_listeners[codec.index()] -= 1;
        }
        self.slots[row].source = Source::Silence;
    }

    /// Lists every live row afresh.
    fn rebuild(&mut self) {
        self.lists.clear();
        self.unmixed.clear();
        self.shared_listeners = [0; 4];
        self.places.fill(Places::NONE);
        self.changed.clear();
        for row in 0..self.slots.len() {
            if self.slots[row].live {
                self.enlist(row);
            } else {
                self.slots[row].source = Source::Silence;
            }
        }
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(block: usize) -> Mixer {
        Mixer::new(MixerConfig {
            block_size: block,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn rejects_bad_block_sizes() {
        for b in [0, 7, 1025] {
            assert_eq!(
                Mixer::new(MixerConfig {
                    block_size: b,
                    ..Default::default()
                })
                .err(),
                Some(MixerError::BlockSize(b))
            );
        }
        for b in [8, 9, 160, 1024] {
            assert_eq!(conf(b).block_size(), b);
        }
    }

    #[test]
    fn worked_example_from_the_reference_notes() {
        // Inputs A=+30000, B=+10000, C=-20000; exact sums of the others, saturated.
        let mut c = conf(8);
        let ids: Vec<_> = [30_000i16, 10_000, -20_000]
            .iter()
            .map(|&v| {
                let id = c.add_participant(Role::Both, Format::Linear).unwrap();
                c.input_mut(id).unwrap().fill(v);
                id
            })
            .collect();
        c.mix();
        let heard: Vec<i16> = ids.iter().map(|&id| c.output(id).unwrap()[0]).collect();
        assert_eq!(heard, [-10_000, 10_000, 32_767]);
        // The total, 20000, fits; only running sums (Asterisk, DAHDI) and C's own
        // result clip.
        assert!(!c.clipped());
        assert_eq!(c.full_mix()[0], 20_000);
    }

    #[test]
    fn stale_handles_are_rejected_and_slots_reused_silent() {
        let mut c = conf(16);
        let a = c.add_participant(Role::Both, Format::Linear).unwrap();
        c.input_mut(a).unwrap().fill(1234);
        c.remove(a).unwrap();
        assert_eq!(c.input(a).err(), Some(MixerError::UnknownParticipant));
        let b = c.add_participant(Role::Talker, Format::Linear).unwrap();
        assert_eq!(a.index(), b.index());
        assert_ne!(a, b);
        assert!(c.input(b).unwrap().iter().all(|&x| x == 0));
        assert_eq!(c.remove(a), Err(MixerError::UnknownParticipant));
    }

    #[test]
    fn mix_lent_refuses_bad_loans_before_mixing() {
        let mut c = conf(160);
        let a = c.add_participant(Role::Both, Format::Linear).unwrap();
        let b = c.add_participant(Role::Both, Format::ULAW).unwrap();
        c.write_input(a, &[100; 160]).unwrap();
        c.write_input(b, &[7; 160]).unwrap();
        c.mix();
        let heard = c.output(a).unwrap().to_vec();
        let input = [5i16; 160];
        let short = [5i16; 159];
        let (mut o1, mut o2) = ([0i16; 160], [0i16; 160]);
        let cases: [(Vec<Lent<'_>>, MixerError); 4] = [
            (
                vec![Lent {
                    id: a,
                    input: Some(&short),
                    output: None,
                }],
                MixerError::FrameLength {
                    expected: 160,
                    got: 159,
                },
            ),
            (
                vec![Lent {
                    id: b,
                    input: None,
                    output: Some(&mut o1),
                }],
                MixerError::NotLinear,
            ),
            (
                vec![
                    Lent {
                        id: a,
                        input: Some(&input),
                        output: None,
                    },
                    Lent {
                        id: a,
                        input: Some(&input),
                        output: Some(&mut o2),
                    },
                ],
                MixerError::LentTwice,
            ),
            (
                vec![Lent {
                    id: ParticipantId {
                        index: 9,
                        generation: 0,
                    },
                    input: None,
                    output: None,
                }],
                MixerError::UnknownParticipant,
            ),
        ];
        for (mut lent, err) in cases {
            assert_eq!(c.mix_lent(&mut lent), Err(err));
        }
        // Nothing was mixed: a's output is still last tick's.
        assert_eq!(c.output(a).unwrap(), &heard[..]);
        // A good loan: a's input lent, its output lent.
        let mut out = [0i16; 160];
        c.mix_lent(&mut [Lent {
            id: a,
            input: Some(&input),
            output: Some(&mut out),
        }])
        .unwrap();
        assert_eq!(out, [7; 160]);
        assert_eq!(c.full_mix(), &[12; 160][..]);
    }

    #[test]
    fn g711_errors() {
        let mut c = conf(16);
        let lin = c.add_participant(Role::Both, Format::Linear).unwrap();
        assert_eq!(c.write_input_law(lin, &[0; 16]), Err(MixerError::NotG711));
        assert_eq!(c.output_law(lin).err(), Some(MixerError::NotG711));
        let mu = c.add_participant(Role::Both, Format::ULAW).unwrap();
        assert_eq!(c.output(mu).err(), Some(MixerError::NotLinear));
        assert_eq!(
            c.write_input_law(mu, &[0; 15]),
            Err(MixerError::FrameLength {
                expected: 16,
                got: 15
            })
        );
    }
}
