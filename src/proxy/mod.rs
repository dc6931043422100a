//! The workers-rs face: a Cloudflare Worker that keeps provider keys server-side and speaks the
//! OpenAI-, Anthropic- and Gemini-compatible APIs. Decisions come from `core::gateway` (pure,
//! natively tested); this face reads the environment, talks to the per-client Durable Object
//! and turns core calls into HTTP responses.
use worker::{event, Context, Env, Request, Response, Result};

mod batches;
mod gateway;
mod handler;
mod limits_object;
mod respond;
mod stream;

pub use limits_object::ClientLimitsObject;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    handler::handle(req, env, ctx).await
}
