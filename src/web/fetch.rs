//! `fetch` as the core's Transport, and `Date.now()`/`setTimeout` as its Clock. Bound to the
//! globals (not `window`), so the same code runs in browsers, Node and Workers.
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStream, ReadableStreamDefaultReader, RequestInit};

use crate::core::error::{Error, ErrorKind};
use crate::core::http::{Headers, HttpRequest};
use crate::core::runtime::{Clock, ResponseBody, ResponseHead, Transport};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Promise;
}

/// Aborts the attempt's fetch when dropped: a dropped future or body means nobody will read
/// the answer, so the connection is closed instead of left running.
pub struct AbortOnDrop(AbortController);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

pub struct FetchBody {
    /// The body and the reader locking it, until it has been read to its end.
    body: Option<(ReadableStream, ReadableStreamDefaultReader)>,
    /// Held for its `Drop` (and handed over with the stream in push mode).
    #[cfg_attr(not(feature = "proxy"), allow(dead_code))]
    abort: AbortOnDrop,
}

#[cfg(feature = "proxy")]
impl FetchBody {
    /// The rest of the body's reader, for a host that reads it with callbacks instead of one
    /// future per chunk, and the guard that aborts the request when dropped. `None` once it
    /// has ended.
    pub fn into_reader(self) -> Option<(ReadableStreamDefaultReader, AbortOnDrop)> {
        let (_, reader) = self.body?;
        Some((reader, self.abort))
    }
}

/// A JS failure (`fetch` rejected, a read broke) as the core's network error.
pub(crate) fn network_error(context: &str, error: JsValue) -> Error {
    let detail = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".to_string());
    Error::new(ErrorKind::Network, format!("{context}: {detail}"))
}

impl Transport for FetchTransport {
    type Body = FetchBody;

    async fn send(&self, request: HttpRequest) -> Result<ResponseHead<FetchBody>, Error> {
        let controller = AbortController::new().map_err(|e| network_error("AbortController", e))?;
        let abort = AbortOnDrop(controller);
        let headers = web_sys::Headers::new().map_err(|e| network_error("Headers", e))?;
        for (name, value) in request.headers.iter() {
            headers.set(name, value).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid value for header `{name}`"),
                )
            })?;
        }
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        init.set_headers(&headers);
        init.set_signal(Some(&abort.0.signal()));
        if let Some(body) = &request.body {
            init.set_body(&JsValue::from_str(body));
        }
        let js_request =
            web_sys::Request::new_with_str_and_init(&request.url, &init).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid request to {}: {:?}", request.url, e.as_string()),
                )
            })?;
        let response: web_sys::Response = JsFuture::from(global_fetch(&js_request))
            .await
            .map_err(|e| network_error("fetch failed", e))?
            .unchecked_into();
        let mut response_headers = Headers::new();
        if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
            for entry in entries.flatten() {
                let pair: js_sys::Array = entry.unchecked_into();
                if let (Some(name), Some(value)) =
                    (pair.get(0).as_string(), pair.get(1).as_string())
                {
                    response_headers.set(&name, value);
                }
            }
        }
        let body = response.body().map(|body| {
            let reader = body.get_reader().unchecked_into();
            (body, reader)
        });
        Ok(ResponseHead {
            status: response.status(),
            headers: response_headers,
            body: FetchBody { body, abort },
        })
    }
}

impl ResponseBody for FetchBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some((_, reader)) = &self.body else {
            return Ok(None);
        };
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|e| network_error("the connection broke while reading the body", e))?;
        let done = Reflect::get(&result, &JsValue::from_str("done"))
            .map(|v| v.is_truthy())
            .unwrap_or(true);
        if done {
            self.body = None;
            return Ok(None);
        }
        let value = Reflect::get(&result, &JsValue::from_str("value"))
            .map_err(|e| network_error("reading the body", e))?;
        Ok(Some(value.unchecked_into::<Uint8Array>().to_vec()))
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u64) {
        // gloo's TimeoutFuture clears its timer when dropped.
        gloo_timers::future::TimeoutFuture::new(ms.min(u32::MAX as u64) as u32).await
    }

    fn random_unit(&self) -> f64 {
        js_sys::Math::random()
    }
}
