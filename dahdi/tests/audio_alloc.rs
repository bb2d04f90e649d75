//! the mixer and the pump do not allocate per tick after warm-up.
//!
//! A counting global allocator counts allocations made by this test's thread while
//! counting is switched on (other threads of the test harness may allocate at any
//! time and are ignored).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dahdi::audio::mixer::{Format, Mixer, MixerConfig, Role};
use dahdi::pump::{MemoryPort, Port, PortError, PortStats, Pump, PumpConfig, Stream};

struct Counting;

thread_local! {
    // `const` initialisation: reading them never allocates, so they are safe in
    // `alloc`. Both are per thread, so that tests running side by side do not
    // count each other's allocations.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
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
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.with(Cell::get) - before)
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
    let mut conf = Mixer::new(MixerConfig {
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

/// A port that does not lend: the pump reads and writes it (and, when it is
/// tapped, makes its frames in the taps' batches).
struct Copied(i16);

impl Port for Copied {
    fn name(&self) -> String {
        "copied".into()
    }
    fn read(&mut self, frame: &mut [i16]) -> Result<(), PortError> {
        self.0 = self.0.wrapping_add(1);
        frame.fill(self.0);
        Ok(())
    }
    fn write(&mut self, frame: &[i16]) -> Result<(), PortError> {
        std::hint::black_box(frame[0]);
        Ok(())
    }
    fn stats(&self) -> PortStats {
        PortStats::default()
    }
}

#[test]
fn pump_ticks_with_taps_do_not_allocate_after_warm_up() {
    let mut pump = Pump::new(PumpConfig::default()).unwrap();
    let mut apps = Vec::new();
    let mut ids = Vec::new();
    for i in 0..24 {
        if i % 3 == 0 {
            ids.push(pump.add_port(Copied(i), Role::Both).unwrap());
        } else {
            let (port, app) = MemoryPort::new(160, 4);
            ids.push(pump.add_port(port, Role::Both).unwrap());
            apps.push(app);
        }
    }
    let mut streams = vec![Stream::Mix];
    for &id in &ids {
        streams.push(Stream::Input(id));
        streams.push(Stream::Output(id));
    }
    let all = pump.subscribe(&streams, 4);
    let some = pump.subscribe(&streams[..9], 2);
    let pcm = [1000i16; 160];
    let mut heard = [0i16; 160];
    let mut run = |pump: &mut Pump, ticks: usize| {
        let mut acc = 0i64;
        for tick in 0..ticks {
            for app in &mut apps {
                app.push(&pcm);
            }
            pump.tick();
            for app in &mut apps {
                app.pop(&mut heard);
            }
            let batch = all.try_recv().expect("a batch every tick");
            acc += i64::from(batch.frame(1)[0]);
            // The other subscriber reads every third tick and loses ticks.
            if tick % 3 == 0 {
                while let Ok(batch) = some.try_recv() {
                    acc += i64::from(batch.frame(0)[0]);
                }
            }
        }
        std::hint::black_box(acc);
    };
    run(&mut pump, 10);
    let ((), allocations) = counted(|| run(&mut pump, 200));
    assert_eq!(allocations, 0, "pump ticks allocated {allocations} times");
    assert!(
        some.ticks_dropped() > 0,
        "the slow subscriber was meant to lose ticks"
    );
}

/// Ticks that apply changes queued through a handle (ports joining and
/// leaving, of a memory bank and ports that do not lend, role changes, taps
/// subscribed and dropped) allocate nothing once the pump's tables have grown
/// to their working size: what a change needs is made by the thread queuing it.
#[test]
fn pump_ticks_applying_handle_commands_do_not_allocate_after_warm_up() {
    let mut pump = Pump::new(PumpConfig {
        capacity: 64,
        ..PumpConfig::default()
    })
    .unwrap();
    let handle = pump.handle();
    let mut apps = Vec::new();
    // Ports waiting to join: half of a memory bank, half that do not lend.
    let mut outside: Vec<Box<dyn Port>> = Vec::new();
    for (i, (port, app)) in MemoryPort::bank(16, 160, 4).into_iter().enumerate() {
        outside.push(Box::new(port));
        outside.push(Box::new(Copied(i as i16)));
        apps.push(app);
    }
    let mut inside = std::collections::VecDeque::new();
    let pcm = [1000i16; 160];
    let mut heard = [0i16; 160];
    let mut applied = 0usize;
    let mut subscriber = None;
    let roles = [
        Role::Both,
        Role::Muted,
        Role::Listener,
        Role::Monitor,
        Role::Talker,
    ];
    let mut round = |pump: &mut Pump, n: usize| -> usize {
        // Queued on this thread, outside the counted tick.
        let mut adds = Vec::new();
        for _ in 0..3 {
            if let Some(port) = outside.pop() {
                adds.push(handle.add_boxed(port, roles[n % roles.len()]).unwrap());
            }
        }
        let mut removes = Vec::new();
        while inside.len() > 12 {
            removes.push(handle.remove_port(inside.pop_front().unwrap()).unwrap());
        }
        let role = inside
            .back()
            .map(|&id| handle.set_role(id, roles[(n + 1) % roles.len()]).unwrap());
        // A new subscriber replaces the last one, which is dropped.
        let streams: Vec<Stream> = std::iter::once(Stream::Mix)
            .chain(inside.iter().map(|&id| Stream::Output(id)))
            .collect();
        subscriber = Some(handle.subscribe(&streams, 2).unwrap());
        for app in &mut apps {
            app.push(&pcm);
        }
        let ((), allocations) = counted(|| pump.tick());
        for app in &mut apps {
            app.pop(&mut heard);
        }
        for add in adds {
            inside.push_back(add.wait().unwrap().unwrap());
            applied += 1;
        }
        for remove in removes {
            outside.insert(0, remove.wait().unwrap().unwrap());
            applied += 1;
        }
        if let Some(role) = role {
            role.wait().unwrap().unwrap();
            applied += 1;
        }
        let batch = subscriber
            .as_ref()
            .unwrap()
            .try_recv()
            .expect("fed the tick it joined");
        std::hint::black_box(batch.frame(0).first());
        allocations
    };
    for n in 0..40 {
        round(&mut pump, n);
    }
    let mut allocations = 0;
    for n in 40..200 {
        allocations += round(&mut pump, n);
    }
    assert_eq!(
        allocations, 0,
        "ticks applying commands allocated {allocations} times"
    );
    assert!(applied > 600, "only {applied} commands were applied");
}
