//! A cancellation flag whose `cancelled()` future wakes when `cancel()` is called. Racing a
//! call against it and dropping the loser is how an AbortSignal reaches the fetch: dropping
//! the core's future drops the response body, whose guard aborts the fetch.
use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

#[derive(Default)]
struct State {
    cancelled: bool,
    /// Whether the caller has been told (a stream reports its cancellation once).
    reported: bool,
    wakers: Vec<Waker>,
}

#[derive(Clone, Default)]
pub struct Cancel(Rc<RefCell<State>>);

impl Cancel {
    pub fn cancel(&self) {
        let wakers = {
            let mut state = self.0.borrow_mut();
            state.cancelled = true;
            std::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.borrow().cancelled
    }

    /// True exactly once after `cancel()`: the first time the cancellation is reported.
    pub fn take_unreported(&self) -> bool {
        let mut state = self.0.borrow_mut();
        let unreported = state.cancelled && !state.reported;
        state.reported |= state.cancelled;
        unreported
    }

    pub async fn cancelled(&self) {
        poll_fn(|cx| {
            let mut state = self.0.borrow_mut();
            if state.cancelled {
                Poll::Ready(())
            } else {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await
    }
}
