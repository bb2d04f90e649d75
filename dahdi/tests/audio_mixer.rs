//! the mixer against a naive reference mixer, on every SIMD path this
//! machine has, over random conferences that change between ticks and whose sums
//! often clip.

use dahdi::audio::g711::Codec;
use dahdi::audio::mixer::{
    reference, Format, Lent, Mixer, MixerConfig, MixerError, ParticipantId, Role,
};
use dahdi::audio::Isa;
use proptest::prelude::*;

/// The definition, written independently of the engine (and of
/// `conference::reference`): i64 sums, one clamp at the end.
fn naive(roles: &[Role], inputs: &[Vec<i16>], block: usize) -> Vec<Vec<i16>> {
    let mut out = Vec::new();
    for (me, &role) in roles.iter().enumerate() {
        let mut frame = Vec::with_capacity(block);
        for s in 0..block {
            let mut sum = 0i64;
            for (other, (&r, input)) in roles.iter().zip(inputs).enumerate() {
                let talks = matches!(r, Role::Talker | Role::Both | Role::Monitor);
                let minus_self = role == Role::Both && other == me;
                if talks && !minus_self {
                    sum += input[s] as i64;
                }
            }
            frame.push(match role {
                Role::Talker => 0,
                _ => sum.clamp(-32768, 32767) as i16,
            });
        }
        out.push(frame);
    }
    out
}

/// xorshift64*, so a proptest seed expands into as many samples as a case needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Samples biased towards loud and extreme values so that sums clip often.
    fn sample(&mut self, loudness: u8) -> i16 {
        let r = self.next();
        match loudness {
            0 => ((r >> 16) as i16) >> 6,
            1 => (r >> 16) as i16,
            2 => {
                let m = 20_000 + (r >> 20) as i32 % 12_768;
                (if r & 1 == 0 { m } else { -m }) as i16
            }
            _ => [i16::MIN, i16::MAX, -1, 0, 1, i16::MIN + 1][(r >> 32) as usize % 6],
        }
    }
}

fn role_strategy() -> impl Strategy<Value = Role> {
    prop_oneof![
        1 => Just(Role::Talker),
        1 => Just(Role::Listener),
        3 => Just(Role::Both),
        1 => Just(Role::Muted),
        1 => Just(Role::Monitor),
    ]
}

fn format_strategy() -> impl Strategy<Value = Format> {
    prop_oneof![
        3 => Just(Format::Linear),
        1 => Just(Format::ULAW),
        1 => Just(Format::ALAW),
        1 => Just(Format::DAHDI_ULAW),
        1 => Just(Format::DAHDI_ALAW),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Add(Role, Format),
    Remove(usize),
    SetRole(usize, Role),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (role_strategy(), format_strategy()).prop_map(|(r, f)| Op::Add(r, f)),
        any::<usize>().prop_map(Op::Remove),
        (any::<usize>(), role_strategy()).prop_map(|(i, r)| Op::SetRole(i, r)),
    ]
}

/// The model's view of one participant.
struct Member {
    id: ParticipantId,
    role: Role,
    format: Format,
    input: Vec<i16>,
    /// Whether the engine's input buffer is known to hold `input` (not after a
    /// tick whose input was lent: then it is unspecified).
    input_known: bool,
    loudness: u8,
}

fn run_case(
    isa: Isa,
    block: usize,
    seed: u64,
    initial: &[(Role, Format)],
    ticks: &[Vec<Op>],
) -> Result<(), TestCaseError> {
    let mut conf = Mixer::new(MixerConfig {
        block_size: block,
        capacity: 4,
        isa: Some(isa),
    })
    .unwrap();
    prop_assert_eq!(conf.isa(), isa);
    let mut rng = Rng(seed | 1);
    let mut members: Vec<Member> = Vec::new();
    let add = |conf: &mut Mixer, members: &mut Vec<Member>, rng: &mut Rng, r, f| {
        let id = conf.add_participant(r, f).unwrap();
        let loudness = (rng.next() % 4) as u8;
        members.push(Member {
            id,
            role: r,
            format: f,
            input: vec![0; block],
            input_known: true,
            loudness,
        });
    };
    for &(r, f) in initial {
        add(&mut conf, &mut members, &mut rng, r, f);
    }
    for ops in ticks {
        for op in ops {
            match *op {
                Op::Add(r, f) => add(&mut conf, &mut members, &mut rng, r, f),
                Op::Remove(i) if !members.is_empty() => {
                    let m = members.remove(i % members.len());
                    conf.remove(m.id).unwrap();
                    prop_assert_eq!(conf.remove(m.id), Err(MixerError::UnknownParticipant));
                }
                Op::SetRole(i, r) if !members.is_empty() => {
                    let n = members.len();
                    let m = &mut members[i % n];
                    m.role = r;
                    conf.set_role(m.id, r).unwrap();
                }
                _ => {}
            }
        }
        // Every other tick (at random) goes through `mix_lent`, with some members'
        // input and output frames lent instead of passing through the engine's
        // buffers.
        let lending = rng.next().is_multiple_of(2);
        let mut lent_in: Vec<Option<Vec<i16>>> = vec![None; members.len()];
        let mut lent_out: Vec<Option<Vec<i16>>> = vec![None; members.len()];
        // New inputs for most members; the rest keep last tick's (inputs persist).
        for (k, m) in members.iter_mut().enumerate() {
            if lending && m.format == Format::Linear && rng.next().is_multiple_of(2) {
                lent_out[k] = Some(vec![12_345; block]);
            }
            if lending && rng.next().is_multiple_of(2) {
                // This tick's input is lent; the engine's buffer keeps the old one.
                lent_in[k] = Some((0..block).map(|_| rng.sample(m.loudness)).collect());
                m.input_known = false;
                continue;
            }
            if m.input_known && rng.next().is_multiple_of(5) {
                continue;
            }
            m.input_known = true;
            let frame: Vec<i16> = (0..block).map(|_| rng.sample(m.loudness)).collect();
            match m.format.codec() {
                Some(codec) if !rng.next().is_multiple_of(4) => {
                    let codes: Vec<u8> = frame.iter().map(|&x| x as u8).collect();
                    conf.write_input_law(m.id, &codes).unwrap();
                    m.input = codes.iter().map(|&c| codec.decode(c)).collect();
                }
                _ => {
                    if rng.next().is_multiple_of(2) {
                        conf.write_input(m.id, &frame).unwrap();
                    } else {
                        conf.input_mut(m.id).unwrap().copy_from_slice(&frame);
                    }
                    m.input = frame;
                }
            }
        }
        if lending {
            let mut lent: Vec<Lent<'_>> = members
                .iter()
                .zip(&lent_in)
                .zip(lent_out.iter_mut())
                .filter(|((_, i), o)| i.is_some() || o.is_some())
                .map(|((m, i), o)| Lent {
                    id: m.id,
                    input: i.as_deref(),
                    output: o.as_deref_mut(),
                })
                .collect();
            conf.mix_lent(&mut lent).unwrap();
        } else {
            conf.mix();
        }

        let roles: Vec<Role> = members.iter().map(|m| m.role).collect();
        let inputs: Vec<Vec<i16>> = members
            .iter()
            .zip(&lent_in)
            .map(|(m, lent)| lent.clone().unwrap_or_else(|| m.input.clone()))
            .collect();
        let want = naive(&roles, &inputs, block);
        for (k, (m, want)) in members.iter().zip(&want).enumerate() {
            if let Some(out) = &lent_out[k] {
                // The lent frame got the output (what the engine's own buffer
                // holds for a lent participant is not specified).
                prop_assert_eq!(&out[..], &want[..], "{} {:?} lent", isa, m.role);
                continue;
            }
            // Each participant's output exists in its own format.
            match m.format.codec() {
                Some(codec) => {
                    let want_law: Vec<u8> = want.iter().map(|&x| codec.encode(x)).collect();
                    prop_assert_eq!(
                        conf.output_law(m.id).unwrap(),
                        &want_law[..],
                        "{} {:?} {:?}",
                        isa,
                        m.role,
                        m.format
                    );
                    prop_assert_eq!(conf.output(m.id), Err(MixerError::NotLinear));
                }
                None => {
                    let got = conf.output(m.id).unwrap();
                    prop_assert_eq!(got, &want[..], "{} {:?}", isa, m.role);
                    prop_assert_eq!(conf.output_law(m.id), Err(MixerError::NotG711));
                }
            }
        }
        // The bulk iterators give the same as the per-handle lookups.
        let all: Vec<_> = conf.outputs().collect();
        let coded = members
            .iter()
            .filter(|m| m.format.codec().is_some())
            .count();
        prop_assert_eq!(all.len(), members.len() - coded);
        for (id, frame) in all {
            prop_assert_eq!(frame, conf.output(id).unwrap());
        }
        let coded = members
            .iter()
            .filter(|m| m.format.codec().is_some())
            .count();
        prop_assert_eq!(conf.outputs_law().count(), coded);
        for (id, bytes) in conf.outputs_law() {
            prop_assert_eq!(bytes, conf.output_law(id).unwrap());
        }
        // The full mix is what a pure listener hears.
        let mut with_listener = roles.clone();
        with_listener.push(Role::Listener);
        let mut inputs_l = inputs.clone();
        inputs_l.push(vec![0; block]);
        let full = naive(&with_listener, &inputs_l, block).pop().unwrap();
        prop_assert_eq!(conf.full_mix(), &full[..]);
        prop_assert_eq!(conf.len(), members.len());
        prop_assert_eq!(
            conf.talker_count(),
            roles.iter().filter(|r| r.talks()).count()
        );
        // The library's public reference mixer agrees with this one.
        let pairs: Vec<(Role, &[i16])> = roles
            .iter()
            .zip(&inputs)
            .map(|(&r, i)| (r, i.as_slice()))
            .collect();
        prop_assert_eq!(reference::mix(&pairs), want);
    }
    Ok(())
}

fn block_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 8usize..=48, 2 => Just(160), 1 => Just(200), 1 => Just(1024)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_naive_reference_on_every_isa(
        block in block_strategy(),
        seed in any::<u64>(),
        initial in prop::collection::vec((role_strategy(), format_strategy()), 0..24),
        // Several ticks of several changes each: joins, leaves and role
        // changes between two mixes are applied one by one (a left row taken
        // again before the mix included).
        ticks in prop::collection::vec(prop::collection::vec(op_strategy(), 0..8), 1..8),
    ) {
        for isa in Isa::available() {
            run_case(isa, block, seed, &initial, &ticks)?;
        }
    }

    /// Many talkers at full scale: long runs of clipping and sums far beyond 16 bits.
    /// Past 256 joins before the first mix, the engine lists everyone afresh
    /// instead of one by one; the role change after it is applied alone.
    #[test]
    fn large_loud_conferences(
        seed in any::<u64>(),
        n in 40usize..320,
    ) {
        let initial: Vec<(Role, Format)> = (0..n)
            .map(|i| (if i % 7 == 0 { Role::Listener } else { Role::Both }, Format::Linear))
            .collect();
        for isa in Isa::available() {
            run_case(isa, 160, seed, &initial, &[vec![], vec![Op::SetRole(3, Role::Muted)]])?;
        }
    }
}

#[test]
fn every_isa_is_forced_and_reported() {
    let avail: Vec<Isa> = Isa::available().collect();
    let untested: Vec<Isa> = Isa::ALL
        .into_iter()
        .filter(|isa| !avail.contains(isa))
        .collect();
    // Which kernels this machine checked against the reference, and which it could not.
    eprintln!("SIMD levels tested here: {avail:?}; untested (the CPU lacks them): {untested:?}");
    for isa in Isa::ALL {
        let r = Mixer::new(MixerConfig {
            isa: Some(isa),
            ..Default::default()
        });
        if isa.is_available() {
            assert_eq!(r.unwrap().isa(), isa);
        } else {
            assert_eq!(r.err(), Some(MixerError::IsaUnavailable(isa)));
        }
    }
}

#[test]
fn listeners_share_one_frame_and_one_encoding_per_codec() {
    let mut conf = Mixer::new(MixerConfig::default()).unwrap();
    let talkers: Vec<_> = (0..3)
        .map(|_| conf.add_participant(Role::Both, Format::Linear).unwrap())
        .collect();
    let coded_talker = conf.add_participant(Role::Both, Format::ULAW).unwrap();
    let l1 = conf.add_participant(Role::Listener, Format::ULAW).unwrap();
    let l2 = conf.add_participant(Role::Muted, Format::ULAW).unwrap();
    let l3 = conf.add_participant(Role::Listener, Format::ALAW).unwrap();
    let l4 = conf.add_participant(Role::Monitor, Format::Linear).unwrap();
    let l5 = conf
        .add_participant(Role::Listener, Format::Linear)
        .unwrap();
    for (i, &t) in talkers.iter().enumerate() {
        conf.input_mut(t).unwrap().fill(1000 * (i as i16 + 1));
    }
    conf.mix();
    // Same memory, not just equal contents.
    let ptr = |r: Result<&[i16], _>| r.unwrap().as_ptr();
    let law_ptr = |r: Result<&[u8], _>| r.unwrap().as_ptr();
    assert_eq!(ptr(conf.output(l4)), ptr(conf.output(l5)));
    assert_eq!(ptr(conf.output(l4)), conf.full_mix().as_ptr());
    assert_eq!(law_ptr(conf.output_law(l1)), law_ptr(conf.output_law(l2)));
    assert_ne!(law_ptr(conf.output_law(l1)), law_ptr(conf.output_law(l3)));
    assert!(conf.output(l4).unwrap().iter().all(|&x| x == 6000));
    let mu_6000 = Codec::ULAW.encode(6000);
    assert!(conf.output_law(l1).unwrap().iter().all(|&c| c == mu_6000));
    // Talkers that listen each get their own.
    assert_ne!(ptr(conf.output(talkers[0])), ptr(conf.output(talkers[1])));
    assert!(conf.output(talkers[0]).unwrap().iter().all(|&x| x == 5000));
    assert_ne!(
        law_ptr(conf.output_law(coded_talker)),
        law_ptr(conf.output_law(l1))
    );
    // The coded talker's input is silent, so it hears what the listeners hear.
    assert!(conf
        .output_law(coded_talker)
        .unwrap()
        .iter()
        .all(|&c| c == mu_6000));
}

#[test]
fn monitor_hears_itself_muted_is_heard_by_nobody() {
    let mut conf = Mixer::new(MixerConfig {
        block_size: 8,
        ..Default::default()
    })
    .unwrap();
    let a = conf.add_participant(Role::Both, Format::Linear).unwrap();
    let m = conf.add_participant(Role::Monitor, Format::Linear).unwrap();
    let muted = conf.add_participant(Role::Muted, Format::Linear).unwrap();
    let t = conf.add_participant(Role::Talker, Format::Linear).unwrap();
    conf.input_mut(a).unwrap().fill(100);
    conf.input_mut(m).unwrap().fill(20);
    conf.input_mut(muted).unwrap().fill(3000);
    conf.input_mut(t).unwrap().fill(4);
    conf.mix();
    assert_eq!(conf.output(a).unwrap(), &[24; 8]);
    assert_eq!(conf.output(m).unwrap(), &[124; 8]);
    assert_eq!(conf.output(muted).unwrap(), &[124; 8]);
    assert_eq!(conf.output(t).unwrap(), &[0; 8]);
    // Unmuting takes effect on the next tick.
    conf.set_role(muted, Role::Both).unwrap();
    assert_eq!(conf.output(muted).unwrap(), &[124; 8]);
    conf.mix();
    assert_eq!(conf.output(muted).unwrap(), &[124; 8]);
    assert_eq!(conf.output(a).unwrap(), &[3024; 8]);
}

#[test]
fn new_participants_hear_silence_until_the_next_mix() {
    let mut conf = Mixer::new(MixerConfig::default()).unwrap();
    let a = conf.add_participant(Role::Talker, Format::Linear).unwrap();
    conf.input_mut(a).unwrap().fill(500);
    conf.mix();
    let b = conf
        .add_participant(Role::Listener, Format::DAHDI_ULAW)
        .unwrap();
    let c = conf.add_participant(Role::Both, Format::Linear).unwrap();
    assert!(conf.output(c).unwrap().iter().all(|&x| x == 0));
    // DAHDI's mu-law encodes silence as 0x7f, G.191 as 0xff.
    assert!(conf.output_law(b).unwrap().iter().all(|&c| c == 0x7F));
    conf.mix();
    assert!(conf.output(c).unwrap().iter().all(|&x| x == 500));
    assert!(conf
        .output_law(b)
        .unwrap()
        .iter()
        .all(|&c| c == Codec::DAHDI_ULAW.encode(500)));
}
