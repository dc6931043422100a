//! `fetch` as the core's Transport, and `Date.now()`/`setTimeout` as its Clock. Bound to the
//! globals (not `window`), so the same code runs in browsers, Node and Workers.
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker};

use js_sys::{Function, Object, Promise, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStream, ReadableStreamDefaultReader, RequestInit};

use super::IdMap;
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

#[wasm_bindgen]
extern "C" {
    /// What a body reader's `read()` resolves to.
    #[wasm_bindgen(extends = Object)]
    type ReadResult;
    /// Its chunk, copied into wasm by the one call; `None` at the end of the body, where
    /// `value` is `undefined`.
    #[wasm_bindgen(method, getter, js_name = value)]
    fn value_bytes(this: &ReadResult) -> Option<Vec<u8>>;
}

/// What a `read()` resolved to: the body's next chunk, or `None` at its end. One call, where
/// `done`, `value`, its length and the copy took four (and `Reflect::get` a new JS string per
/// key before that).
pub(crate) fn read_chunk(result: &JsValue) -> Option<Vec<u8>> {
    result.unchecked_ref::<ReadResult>().value_bytes()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

pub struct FetchBody {
    /// The response, until its body has been read to its end.
    response: Option<web_sys::Response>,
    /// The reader locking the body, once it is read chunk by chunk (a body read whole takes
    /// one `arrayBuffer()` promise instead of a promise per chunk).
    reader: Option<ReadableStreamDefaultReader>,
    /// Held for its `Drop` (and handed over with the stream in push mode).
    abort: AbortOnDrop,
}

impl FetchBody {
    /// The body's reader, made on first use; `None` once the body has ended or if there is none.
    fn reader(&mut self) -> Option<&ReadableStreamDefaultReader> {
        if self.reader.is_none() {
            let body: ReadableStream = self.response.as_ref()?.body()?;
            self.reader = Some(body.get_reader().unchecked_into());
        }
        self.reader.as_ref()
    }

    /// The body was read to its end: the request is over.
    fn ended(&mut self) {
        self.response = None;
        self.reader = None;
        self.abort.disarm();
    }
}

#[cfg(feature = "proxy")]
impl FetchBody {
    /// The rest of the body's reader, for a host that reads it with callbacks instead of one
    /// future per chunk, and the guard that aborts the request when dropped. `None` once it
    /// has ended.
    pub fn into_reader(mut self) -> Option<(ReadableStreamDefaultReader, AbortOnDrop)> {
        let reader = self.reader()?.clone();
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
        Ok(ResponseHead {
            status: response.status(),
            headers: response_headers,
            body: FetchBody {
                response: Some(response),
                reader: None,
                abort,
            },
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
    json.and_then(|json| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json).ok()
    })
    .into_iter()
    .flatten()
    .filter_map(|(name, value)| match value {
        serde_json::Value::String(value) => Some((name, value)),
        _ => None,
    })
    .collect()
}

impl ResponseBody for FetchBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some(reader) = self.reader() else {
            self.ended();
            return Ok(None);
        };
        let result = JsFuture::from(reader.read())
            .await
            .map_err(|e| network_error("the connection broke while reading the body", e))?;
        match read_chunk(&result) {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                self.ended();
                Ok(None)
            }
        }
    }

    async fn read_to_end(&mut self) -> Result<Vec<u8>, Error> {
        let broke = |e| network_error("the connection broke while reading the body", e);
        match (&self.response, &self.reader) {
            // Whole, in one promise.
            (Some(response), None) => {
                let buffer = JsFuture::from(response.array_buffer().map_err(broke)?)
                    .await
                    .map_err(broke)?;
                self.ended();
                Ok(Uint8Array::new(&buffer).to_vec())
            }
            // What is left of a body read chunk by chunk so far.
            (Some(_), Some(_)) => {
                let mut all = Vec::new();
                while let Some(chunk) = self.next_chunk().await? {
                    all.extend_from_slice(&chunk);
                }
                Ok(all)
            }
            (None, _) => Ok(Vec::new()),
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// `setTimeout(handler, ms, id)`: `handler` is called with `id`.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout_with_id(handler: &Function, ms: f64, id: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// A sleep's state once its timer is set: pending with the waker of its latest poll, or fired.
enum TimerSlot {
    Pending(Waker),
    Fired,
}

thread_local! {
    /// The pending sleeps' timers, by id.
    static TIMERS: RefCell<IdMap<u32, TimerSlot>> = RefCell::new(IdMap::default());
    static NEXT_TIMER: Cell<u32> = const { Cell::new(0) };
    /// The one `setTimeout` handler of every sleep, given the sleep's id: a closure per sleep
    /// (as gloo's timers made) costs a wasm-bindgen closure and a finalizer registration, and
    /// the core sets a timer for each deadline of each call.
    static ON_TIMER: Function = Closure::<dyn FnMut(u32)>::new(|id: u32| {
        let fired = TIMERS.with(|timers| {
            timers
                .borrow_mut()
                .get_mut(&id)
                .map(|slot| std::mem::replace(slot, TimerSlot::Fired))
        });
        if let Some(TimerSlot::Pending(waker)) = fired {
            waker.wake();
        }
    })
    .into_js_value()
    .unchecked_into();
}

/// `JsClock::sleep`: the timer is set when first polled, and cleared when dropped before it
/// fired.
struct Sleep {
    ms: f64,
    /// The timer's id and `setTimeout` handle, once set.
    timer: Option<(u32, JsValue)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let Some((id, _)) = &self.timer else {
            let id = NEXT_TIMER.with(|next| {
                let id = next.get();
                next.set(id.wrapping_add(1));
                id
            });
            TIMERS.with(|t| {
                t.borrow_mut()
                    .insert(id, TimerSlot::Pending(cx.waker().clone()))
            });
            let handle = ON_TIMER.with(|on_timer| set_timeout_with_id(on_timer, self.ms, id));
            self.timer = Some((id, handle));
            return Poll::Pending;
        };
        let id = *id;
        TIMERS.with(|timers| {
            let mut timers = timers.borrow_mut();
            match timers.get_mut(&id) {
                Some(TimerSlot::Pending(waker)) => {
                    waker.clone_from(cx.waker());
                    Poll::Pending
                }
                _ => {
                    timers.remove(&id);
                    Poll::Ready(())
                }
            }
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((id, handle)) = self.timer.take() {
            let slot = TIMERS.with(|t| t.borrow_mut().remove(&id));
            if matches!(slot, Some(TimerSlot::Pending(_))) {
                clear_timeout(&handle);
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

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        Sleep {
            // Browsers and Node fire a timeout above 2^31 - 1 ms at once: cap it there (24.8 days).
            ms: ms.min(i32::MAX as u64) as f64,
            timer: None,
        }
    }

    fn random_unit(&self) -> f64 {
        js_sys::Math::random()
    }
}
