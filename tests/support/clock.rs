//! Virtual time: a fake clock whose sleeps are timers in a table, and a single-threaded
//! executor that advances time to the next timer only when the future under test can make no
//! other progress (everything it runs waits on sleeps).
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use llm_edge::core::runtime::Clock;

/// 2025-11-12T09:46:00Z: a realistic wall-clock start, so HTTP dates mean something.
pub const START_MS: u64 = 1_762_940_760_000;

struct ClockState {
    now_ms: u64,
    /// Pending sleeps by (deadline, id); the waker is set once the sleep was polled.
    timers: BTreeMap<(u64, u64), Option<Waker>>,
    next_id: u64,
    /// Values `random_unit` returns first, before the seeded generator takes over.
    scripted_random: VecDeque<f64>,
    rng_state: u64,
}

#[derive(Clone)]
pub struct FakeClock(Rc<RefCell<ClockState>>);

impl FakeClock {
    pub fn new(seed: u64) -> Self {
        FakeClock(Rc::new(RefCell::new(ClockState {
            now_ms: START_MS,
            timers: BTreeMap::new(),
            next_id: 0,
            scripted_random: VecDeque::new(),
            // splitmix64 accepts any seed, zero included.
            rng_state: seed,
        })))
    }

    /// Milliseconds of virtual time since the clock was created.
    pub fn elapsed_ms(&self) -> u64 {
        self.0.borrow().now_ms - START_MS
    }

    /// Makes the next `random_unit` calls return these values, in order.
    pub fn script_random(&self, values: &[f64]) {
        self.0.borrow_mut().scripted_random.extend(values);
    }

    /// Sleeps that have not fired and have not been dropped.
    pub fn pending_timers(&self) -> usize {
        self.0.borrow().timers.len()
    }

    /// Moves time forward by `ms` (firing what falls due).
    pub fn advance(&self, ms: u64) {
        let target = self.0.borrow().now_ms + ms;
        self.advance_to(target);
    }

    /// The earliest timer someone waits on (one already woken is being handled).
    fn next_timer(&self) -> Option<u64> {
        let state = self.0.borrow();
        state
            .timers
            .iter()
            .find(|(_, waker)| waker.is_some())
            .map(|((at, _), _)| *at)
    }

    /// Jumps to the earliest pending timer and wakes it; false if there is none.
    fn fire_next_timer(&self) -> bool {
        match self.next_timer() {
            Some(at) => {
                let now = self.0.borrow().now_ms;
                self.advance_to(at.max(now));
                true
            }
            None => false,
        }
    }

    fn advance_to(&self, at: u64) {
        let wakers: Vec<Waker> = {
            let mut state = self.0.borrow_mut();
            state.now_ms = at;
            state
                .timers
                .iter_mut()
                .take_while(|((deadline, _), _)| *deadline <= at)
                .filter_map(|(_, waker)| waker.take())
                .collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.0.borrow().now_ms
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        let mut state = self.0.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        Sleep {
            clock: self.clone(),
            key: (state.now_ms + ms, id),
        }
    }

    fn random_unit(&self) -> f64 {
        let mut state = self.0.borrow_mut();
        if let Some(value) = state.scripted_random.pop_front() {
            return value;
        }
        // splitmix64, top 53 bits as a fraction in [0, 1).
        state.rng_state = state.rng_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state.rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A timer, in the table from its first poll; dropping it removes it (as clearTimeout
/// would).
struct Sleep {
    clock: FakeClock,
    key: (u64, u64),
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.clock.0.borrow_mut();
        if state.now_ms >= self.key.0 {
            state.timers.remove(&self.key);
            return Poll::Ready(());
        }
        state.timers.insert(self.key, Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.clock.0.borrow_mut().timers.remove(&self.key);
    }
}

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future under test, driven by hand or to completion in virtual time.
pub struct Task<F: Future> {
    clock: FakeClock,
    future: Option<Pin<Box<F>>>,
    output: Option<F::Output>,
    woken: Arc<Flag>,
}

impl<F: Future> Task<F> {
    pub fn new(clock: &FakeClock, future: F) -> Self {
        Task {
            clock: clock.clone(),
            future: Some(Box::pin(future)),
            output: None,
            woken: Arc::new(Flag::default()),
        }
    }

    /// Polls until the future is done (true) or can only wait for time to pass (false).
    pub fn run_until_stalled(&mut self) -> bool {
        let waker = Waker::from(self.woken.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..100_000 {
            let Some(future) = self.future.as_mut() else {
                return true;
            };
            self.woken.0.store(false, Ordering::SeqCst);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                self.output = Some(output);
                self.future = None;
                return true;
            }
            if !self.woken.0.load(Ordering::SeqCst) {
                return false;
            }
        }
        panic!("the future keeps waking itself without finishing");
    }

    /// Runs to completion, moving virtual time to the next timer whenever it is stalled.
    pub fn finish(mut self) -> F::Output {
        loop {
            if self.run_until_stalled() {
                return self.output.take().expect("finished");
            }
            assert!(
                self.clock.fire_next_timer(),
                "deadlock: the future waits on something that never happens and no timer \
                 is pending"
            );
        }
    }

    /// Runs in virtual time until `ms` have passed or the future finished; true if finished.
    pub fn run_for(&mut self, ms: u64) -> bool {
        let until = self.clock.now_ms() + ms;
        loop {
            if self.run_until_stalled() {
                return true;
            }
            match self.clock.next_timer() {
                Some(at) if at <= until => self.clock.advance_to(at),
                _ => {
                    self.clock.advance_to(until);
                    return self.run_until_stalled();
                }
            }
        }
    }
}

/// Runs `future` to completion in virtual time.
pub fn run<F: Future>(clock: &FakeClock, future: F) -> F::Output {
    Task::new(clock, future).finish()
}
