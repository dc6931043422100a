//! The per-client Durable Object: every admission, settlement and spend read of one client is
//! serialised through it, so reserve-then-settle holds across all of Cloudflare's machines.
//! The logic is `core::gateway::limits`; this object only persists its state.
use std::cell::RefCell;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::core::gateway::limits::{ClientLimits, LimitsCall, LimitsState};

const STATE_KEY: &str = "limits";

#[durable_object]
pub struct ClientLimitsObject {
    state: State,
    /// The persisted state, kept in memory after the first read.
    cached: RefCell<Option<LimitsState>>,
}

impl DurableObject for ClientLimitsObject {
    fn new(state: State, _env: Env) -> Self {
        ClientLimitsObject {
            state,
            cached: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: LimitsCall = match req.json().await {
            Ok(call) => call,
            Err(e) => return Response::error(format!("invalid limits call: {e}"), 400),
        };
        // Storage operations close the object's input gate, so no other call interleaves
        // between this read and the write below.
        let cached = self.cached.borrow_mut().take();
        let current = match cached {
            Some(state) => state,
            None => self
                .state
                .storage()
                .get::<LimitsState>(STATE_KEY)
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
        };
        let now = js_sys::Date::now() as u64;
        match ClientLimits::handle(current.clone(), call, now) {
            Ok((reply, next)) => {
                if next != current {
                    self.state.storage().put(STATE_KEY, &next).await?;
                }
                *self.cached.borrow_mut() = Some(next);
                Response::from_json(&reply)
            }
            Err(error) => {
                *self.cached.borrow_mut() = Some(current);
                Response::error(error.message().to_string(), 500)
            }
        }
    }
}
