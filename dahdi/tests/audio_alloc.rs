//! The conference engine does not allocate per tick after warm-up.
//!
//! A counting global allocator counts allocations made by this test's thread while
//! counting is switched on (other threads of the test harness may allocate at any
//! time and are ignored).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use dahdi::audio::conference::{Conference, ConferenceConfig, Format, Role};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // `const` initialisation: reading it never allocates, so it is safe in `alloc`.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

#[test]
fn ticks_do_not_allocate_after_warm_up() {
    let formats = [
        Format::Linear,
        Format::ULAW,
        Format::ALAW,
        Format::DAHDI_ULAW,
    ];
    let roles = [
        Role::Both,
        Role::Listener,
        Role::Talker,
        Role::Muted,
        Role::Monitor,
    ];
    let mut conf = Conference::new(ConferenceConfig {
        capacity: 64,
        ..Default::default()
    })
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..48 {
        ids.push(conf.add_participant(roles[i % 5], formats[i % 4]).unwrap());
    }
    let pcm: Vec<i16> = (0..160).map(|i| (i * 397 % 65536 - 32768) as i16).collect();
    let law: Vec<u8> = (0..160).map(|i| (i * 7) as u8).collect();
    ids.reserve(64);
    conf.mix();

    // Sanity check of the counter itself: an allocation inside is seen.
    let (_, n) = counted(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1, "the counting allocator does not count");

    let ((), allocations) = counted(|| {
        for tick in 0..200usize {
            for (k, &id) in ids.iter().enumerate() {
                if conf.format(id).unwrap() == Format::Linear {
                    conf.write_input(id, &pcm).unwrap();
                } else if k % 2 == 0 {
                    conf.write_input_law(id, &law).unwrap();
                } else {
                    conf.input_mut(id).unwrap().copy_from_slice(&pcm);
                }
            }
            // Membership and role changes within the reserved capacity.
            if tick % 10 == 3 {
                let id = ids[tick % ids.len()];
                conf.set_role(id, Role::Muted).unwrap();
            }
            if tick % 10 == 7 {
                let i = tick % ids.len();
                conf.remove(ids[i]).unwrap();
                ids[i] = conf.add_participant(Role::Both, formats[tick % 4]).unwrap();
            }
            conf.mix();
            let mut acc = 0i64;
            for &id in &ids {
                match conf.output(id) {
                    Ok(frame) => acc += frame[0] as i64,
                    Err(_) => acc += conf.output_law(id).unwrap()[0] as i64,
                }
            }
            std::hint::black_box(acc);
        }
    });
    assert_eq!(allocations, 0, "ticks allocated {allocations} times");
}
