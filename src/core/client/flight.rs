//! Waiting for an identical request in flight (single-flight): the response cache's bookkeeping
//! ([`ResponseCache::begin`]) names one leader per key and queues the followers; here a
//! follower parks on a [`FlightCell`] that the leader fills with its result, or with the
//! leadership itself when the leader gave up. A cell and a waker are all it takes on one
//! thread: no channel, no executor-specific primitive.
//!
//! [`ResponseCache::begin`]: crate::core::cache::ResponseCache::begin
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::core::cache::{CacheKey, CacheStats, Flight, ResponseCache, WaiterId};
use crate::core::error::Error;
use crate::core::model::Response;

/// The answer a leader hands its followers.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SharedAnswer {
    pub response: Response,
    /// Served from an expired entry because the upstream call failed.
    pub stale: bool,
}

/// What a follower wakes up to.
#[derive(Debug, Clone)]
pub(super) enum FlightResult {
    /// The leader went away without a result: this follower leads now and makes the call.
    Lead,
    /// The leader's outcome, shared (one copy for all its followers).
    Answer(Result<Rc<SharedAnswer>, Error>),
}

/// One follower's slot: filled once by the leader, read once by the follower.
#[derive(Default)]
struct FlightCell {
    result: RefCell<Option<FlightResult>>,
    waker: RefCell<Option<Waker>>,
}

impl FlightCell {
    fn fill(&self, result: FlightResult) {
        self.result.replace(Some(result));
        // Take the waker out before waking: a waker may poll synchronously on some executors.
        let waker = self.waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The response cache with the followers' cells, shared by every call of a client.
pub(super) struct CacheLayer {
    cache: RefCell<ResponseCache>,
    cells: RefCell<HashMap<WaiterId, Rc<FlightCell>>>,
    pub stale_if_error_ms: u64,
}

/// The first step of a cached call.
pub(super) enum Joined<'a> {
    /// A fresh entry: answer with it, nothing is sent.
    Hit(Box<Response>),
    /// Nobody is calling for this key: make the call, then [`CacheLayer::complete`] or
    /// [`CacheLayer::abandon`] the flight.
    Lead,
    /// An identical request is in flight: await its result.
    Follow(FlightWait<'a>),
}

impl CacheLayer {
    pub fn new(cache: ResponseCache, stale_if_error_ms: u64) -> CacheLayer {
        CacheLayer {
            cache: RefCell::new(cache),
            cells: RefCell::new(HashMap::new()),
            stale_if_error_ms,
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.cache.borrow().stats()
    }

    pub fn join(&self, key: CacheKey, now_ms: u64) -> Joined<'_> {
        let mut cache = self.cache.borrow_mut();
        if let Some(hit) = cache.get(key, now_ms) {
            return Joined::Hit(Box::new(hit.response));
        }
        match cache.begin(key) {
            Flight::Leader => Joined::Lead,
            Flight::Follower(waiter) => {
                let cell = Rc::new(FlightCell::default());
                self.cells.borrow_mut().insert(waiter, cell.clone());
                Joined::Follow(FlightWait {
                    layer: self,
                    key,
                    waiter,
                    cell,
                    finished: false,
                })
            }
        }
    }

    /// Stores a cacheable answer (see [`crate::core::cache::is_cacheable`]).
    pub fn store(&self, key: CacheKey, response: Response, now_ms: u64) {
        self.cache.borrow_mut().insert(key, response, now_ms);
    }

    /// An entry within the stale-if-error window, if the caller allowed one.
    pub fn stale(&self, key: CacheKey, now_ms: u64) -> Option<Response> {
        if self.stale_if_error_ms == 0 {
            return None;
        }
        let hit = self
            .cache
            .borrow_mut()
            .get_stale(key, now_ms, self.stale_if_error_ms)?;
        Some(hit.response)
    }

    /// The leader's outcome goes to every follower.
    pub fn complete(&self, key: CacheKey, answer: Result<SharedAnswer, Error>) {
        let answer = answer.map(Rc::new);
        let waiters = self.cache.borrow_mut().complete(key);
        let cells: Vec<Rc<FlightCell>> = {
            let mut all = self.cells.borrow_mut();
            waiters.iter().filter_map(|w| all.remove(w)).collect()
        };
        for cell in cells {
            cell.fill(FlightResult::Answer(answer.clone()));
        }
    }

    /// The leader gave up without an answer worth sharing: the longest-waiting follower
    /// leads now.
    pub fn abandon(&self, key: CacheKey) {
        let next = self.cache.borrow_mut().abandon(key);
        let cell = next.and_then(|waiter| self.cells.borrow_mut().remove(&waiter));
        if let Some(cell) = cell {
            cell.fill(FlightResult::Lead);
        }
    }
}

/// A follower waiting for the leader. Dropping it leaves the queue; if leadership had just
/// been handed to it, it is passed on, so a flight never waits on someone who left.
pub(super) struct FlightWait<'a> {
    layer: &'a CacheLayer,
    key: CacheKey,
    waiter: WaiterId,
    cell: Rc<FlightCell>,
    finished: bool,
}

impl Future for FlightWait<'_> {
    type Output = FlightResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<FlightResult> {
        let taken = self.cell.result.take();
        match taken {
            Some(result) => {
                self.finished = true;
                Poll::Ready(result)
            }
            None => {
                self.cell.waker.replace(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl Drop for FlightWait<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let unread = self.cell.result.take();
        match unread {
            Some(FlightResult::Lead) => self.layer.abandon(self.key),
            Some(FlightResult::Answer(_)) => {}
            None => {
                self.layer.cache.borrow_mut().leave(self.key, self.waiter);
                self.layer.cells.borrow_mut().remove(&self.waiter);
            }
        }
    }
}
