//! A naive reference mixer: the definition of the conference semantics, written for
//! obviousness rather than speed. Integration tests (for example the channel pump's
//! test on the real driver) can check what a channel hears against it.

use super::Role;

/// What each participant hears, given each participant's role and input frame.
///
/// Every frame must have the same length. For participant `i` and sample `s`, with
/// `T(s)` the sum over every participant whose role talks:
/// `Talker` hears 0, `Both` hears `clamp(T(s) - input_i(s))`, every other role
/// hears `clamp(T(s))`, where `clamp` saturates once to the 16-bit range.
///
/// # Panics
/// If the frames differ in length.
pub fn mix(participants: &[(Role, &[i16])]) -> Vec<Vec<i16>> {
    let len = participants.first().map_or(0, |(_, f)| f.len());
    assert!(
        participants.iter().all(|(_, f)| f.len() == len),
        "frames differ in length"
    );
    participants
        .iter()
        .enumerate()
        .map(|(me, (role, _))| {
            (0..len)
                .map(|s| {
                    if *role == Role::Talker {
                        return 0;
                    }
                    let mut sum: i64 = 0;
                    for (other, (other_role, frame)) in participants.iter().enumerate() {
                        let excluded = other == me && *role == Role::Both;
                        if other_role.talks() && !excluded {
                            sum += i64::from(frame[s]);
                        }
                    }
                    sum.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
                })
                .collect()
        })
        .collect()
}
