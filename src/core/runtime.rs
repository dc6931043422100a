//! What the core needs from its host, as traits: a transport that sends HTTP requests and a
//! clock that tells time and sleeps. The `js` face implements them over `fetch` and
//! `setTimeout`; tests implement them with a scripted transport and a fake clock.
//!
//! Cancellation is by drop: dropping a transport future or a response body must abort the
//! underlying request, and dropping a sleep must clear its timer. The core relies on this to
//! enforce timeouts and the faces rely on it to honour a caller's abort.
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use super::error::Error;
use super::http::{Headers, HttpRequest};

/// The status line and headers of a response whose body is still to be read.
pub struct ResponseHead<B> {
    pub status: u16,
    pub headers: Headers,
    pub body: B,
}

pub trait ResponseBody {
    /// The next chunk of the body as it arrives; `Ok(None)` at the end. A connection that
    /// breaks is an `Err` of kind `Network`.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>, Error>>;

    /// Reads the rest of the body.
    fn read_to_end(&mut self) -> impl Future<Output = Result<Vec<u8>, Error>> {
        async {
            let mut all = Vec::new();
            while let Some(chunk) = self.next_chunk().await? {
                all.extend_from_slice(&chunk);
            }
            Ok(all)
        }
    }
}

pub trait Transport {
    type Body: ResponseBody;
    /// Sends a request and resolves once the response head arrived (any status).
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<ResponseHead<Self::Body>, Error>>;
}

pub trait Clock {
    /// Wall-clock time in Unix milliseconds (for HTTP dates, UTC days and records).
    fn now_ms(&self) -> u64;
    /// Resolves after `ms` milliseconds; dropping the future cancels the timer.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// A uniformly distributed number in `[0, 1)`: the runtime's entropy source, used to
    /// jitter retry delays so that clients failing together do not retry together. Need not
    /// be cryptographically secure (`Math.random()` in JS; a seeded generator in tests).
    fn random_unit(&self) -> f64;
}

/// Which of two futures finished first.
pub enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures and returns the first result; the other future is dropped (cancelled).
/// `left` is polled first, so it wins a tie.
pub async fn select<A: Future, B: Future>(left: A, right: B) -> Either<A::Output, B::Output> {
    let mut left = pin!(left);
    let mut right = pin!(right);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = left.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(value));
        }
        if let Poll::Ready(value) = right.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(value));
        }
        Poll::Pending
    })
    .await
}

/// Runs `future` unless `deadline_ms` (absolute, in the clock's time) passes first, in which
/// case the future is dropped and `on_timeout` is returned.
pub async fn with_deadline<C: Clock, F: Future>(
    clock: &C,
    deadline_ms: Option<u64>,
    future: F,
) -> Option<F::Output> {
    match deadline_ms {
        None => Some(future.await),
        Some(deadline) => {
            let wait = deadline.saturating_sub(clock.now_ms());
            match select(future, clock.sleep(wait)).await {
                Either::Left(value) => Some(value),
                Either::Right(()) => None,
            }
        }
    }
}
