//! `fetch` as the core's Transport, and `Date.now()`/`setTimeout` as its Clock. Bound to the
//! globals (not `window`), so the same code runs in browsers, Node and Workers.
use js_sys::{Object, Promise, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, ReadableStream, ReadableStreamDefaultReader, ReadableStreamReadResult,
    RequestInit,
};

use crate::core::error::{Error, ErrorKind};
use crate::core::http::{Headers, HttpRequest};
use crate::core::runtime::{Clock, ResponseBody, ResponseHead, Transport};

#[wasm_bindgen]
extern "C" {
    /// `fetch(url, init)`: with a `Request` built first, workerd would build a second one
    /// from it inside `fetch`.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Promise;
}

/// Aborts the attempt's fetch when dropped: a dropped future or body means nobody will read
/// the answer, so the connection is closed instead of left running. Disarmed once the body has
/// been read to its end (or cancelled): aborting then changes nothing but still costs workerd an
/// `AbortError` with its stack trace (~12 µs, measured in a JS Worker).
pub struct AbortOnDrop(Option<AbortController>);

impl AbortOnDrop {
    fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.0.as_ref().map(AbortController::signal)
    }

    /// The request is over: nothing is left to abort.
    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.0.take() {
            controller.abort();
        }
    }
}

/// What a `read()` resolved to: the end of the body, or its next chunk.
pub(crate) fn read_result(result: &JsValue) -> Option<Uint8Array> {
    // The typed getters, not `Reflect::get` with a new JS string for each key.
    let result: &ReadableStreamReadResult = result.unchecked_ref();
    if result.get_done().unwrap_or(true) {
        return None;
    }
    Some(result.get_value().unchecked_into())
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
    pub fn into_reader(mut self) -> Option<(ReadableStreamDefaultReader, AbortOnDrop)> {
        let (_, reader) = self.body.take()?;
        let abort = std::mem::replace(&mut self.abort, AbortOnDrop(None));
        Some((reader, abort))
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
        let abort = AbortOnDrop(Some(controller));
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
        init.set_signal(abort.signal().as_ref());
        if let Some(body) = &request.body {
            // Bytes, not a JS string: no UTF-8 -> UTF-16 -> UTF-8 round trip (the adapters set
            // the content type).
            init.set_body(&Uint8Array::from(body.as_bytes()));
        }
        let response: web_sys::Response = JsFuture::from(global_fetch(&request.url, &init))
            .await
            .map_err(|e| {
                // A URL `fetch` cannot parse is the configuration's fault, not the network's.
                if web_sys::Url::new(&request.url).is_err() {
                    Error::new(
                        ErrorKind::Config,
                        format!("invalid request URL `{}`", request.url),
                    )
                } else {
                    network_error("fetch failed", e)
                }
            })?
            .unchecked_into();
        let response_headers = read_headers(&response.headers());
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

/// A response's headers in three calls (`Object.fromEntries`, `JSON.stringify`, one string
/// into wasm) instead of about seven per header through their iterator. Names come lowercase
/// and repeated headers combined, as the iterator yields them.
fn read_headers(headers: &web_sys::Headers) -> Headers {
    let json = Object::from_entries(headers)
        .and_then(|entries| JSON::stringify(&entries))
        .ok()
        .and_then(|json| json.as_string());
    let pairs: Vec<(String, String)> = json
        .and_then(|json| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json).ok()
        })
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| match value {
            serde_json::Value::String(value) => Some((name, value)),
            _ => None,
        })
        .collect();
    pairs.into_iter().collect()
}

impl ResponseBody for FetchBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some((_, reader)) = &self.body else {
            return Ok(None);
        };
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|e| network_error("the connection broke while reading the body", e))?;
        match read_result(&result) {
            Some(chunk) => Ok(Some(chunk.to_vec())),
            None => {
                self.body = None;
                self.abort.disarm();
                Ok(None)
            }
        }
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
