//! Provider adapters: pure translators between the unified model and each provider's wire
//! format. Every provider folder has the same files:
//! - `wire`: the provider's JSON types (serde), private to the adapter;
//! - `encode`: unified [`Request`] -> [`HttpRequest`] (URL, auth and version headers, body);
//! - `decode`: a whole [`HttpResponse`] -> [`Response`] (incl. finish reason and usage mapping);
//! - `stream`: SSE events -> unified [`StreamEvent`]s, detecting truncation;
//! - `error`: an error status + headers + body -> a classified [`Error`].
//! - `inbound`: the server direction, for the proxy speaking that API to its clients: a request
//!   body -> unified [`Request`], and a unified response, stream or error -> that API's format
//!   (what the three share is in [`inbound`]).
use super::error::{Error, ErrorKind};
use super::event::StreamEvent;
use super::http::{Headers, HttpRequest, HttpResponse};
use super::model::{Provider, Request, Response, Usage, Warning};
use super::sse::{SseDecoder, SseEvent};

pub mod anthropic;
pub mod gemini;
pub mod inbound;
pub mod openai;

/// How to reach one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Sent in the provider's auth header; `None` when the base URL is a proxy that holds keys.
    pub api_key: Option<String>,
    /// Without a trailing slash; the provider's official endpoint when `None`.
    pub base_url: Option<String>,
    /// Extra headers sent with every request (after the adapter's own, so they can override).
    pub headers: Headers,
}

impl ProviderConfig {
    pub fn base_url_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
    }

    /// Applies the configured extra headers on top of the adapter's.
    pub(crate) fn apply_extra_headers(&self, headers: &mut Headers) {
        for (name, value) in self.headers.iter() {
            headers.set(name, value);
        }
    }
}

/// An encoded request plus the settings the provider cannot honour.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub http: HttpRequest,
    pub warnings: Vec<Warning>,
}

/// Encodes `request` for `provider`, addressing the model `model` (already resolved from the
/// request's model spec, routes and fallbacks).
pub fn encode(
    provider: Provider,
    model: &str,
    request: &Request,
    config: &ProviderConfig,
    stream: bool,
) -> Result<Encoded, Error> {
    match provider {
        Provider::Anthropic => anthropic::encode::encode(model, request, config, stream),
        Provider::OpenAi => openai::encode::encode(model, request, config, stream),
        Provider::Gemini => gemini::encode::encode(model, request, config, stream),
    }
}

/// Decodes a whole response; a non-2xx status becomes the provider's classified error.
pub fn decode(provider: Provider, response: &HttpResponse) -> Result<Response, Error> {
    if !response.is_success() {
        return Err(decode_error(
            provider,
            response.status,
            &response.headers,
            &response.body,
        ));
    }
    match provider {
        Provider::Anthropic => anthropic::decode::decode(response),
        Provider::OpenAi => openai::decode::decode(response),
        Provider::Gemini => gemini::decode::decode(response),
    }
}

/// Classifies an error answer. Never fails: an unreadable body still yields an error of the
/// status's usual kind carrying the status and the first bytes of the body.
pub fn decode_error(provider: Provider, status: u16, headers: &Headers, body: &[u8]) -> Error {
    match provider {
        Provider::Anthropic => anthropic::error::decode_error(status, headers, body),
        Provider::OpenAi => openai::error::decode_error(status, headers, body),
        Provider::Gemini => gemini::error::decode_error(status, headers, body),
    }
}

/// The provider's request id header value, for support tickets.
pub fn request_id(provider: Provider, headers: &Headers) -> Option<String> {
    let name = match provider {
        Provider::Anthropic => "request-id",
        Provider::OpenAi => "x-request-id",
        Provider::Gemini => "x-request-id",
    };
    headers.get(name).map(str::to_string)
}

/// Per-provider stream decoding state.
#[derive(Debug)]
pub enum StreamDecoder {
    Anthropic(anthropic::stream::StreamDecoder),
    OpenAi(openai::stream::StreamDecoder),
    Gemini(gemini::stream::StreamDecoder),
}

impl StreamDecoder {
    pub fn new(provider: Provider) -> Self {
        match provider {
            Provider::Anthropic => StreamDecoder::Anthropic(Default::default()),
            Provider::OpenAi => StreamDecoder::OpenAi(Default::default()),
            Provider::Gemini => StreamDecoder::Gemini(Default::default()),
        }
    }

    /// Translates one SSE event. An in-stream error event becomes `Err` (classified, carrying
    /// the usage received so far); after the terminal marker further events are ignored.
    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        match self {
            StreamDecoder::Anthropic(d) => d.on_event(event, out),
            StreamDecoder::OpenAi(d) => d.on_event(event, out),
            StreamDecoder::Gemini(d) => d.on_event(event, out),
        }
    }

    /// The body ended. Emits the terminal `Finish` event when it has not been emitted yet and
    /// the stream was complete; a stream that ended without its terminal marker is a
    /// `TruncatedStream` error carrying the usage received so far.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        match self {
            StreamDecoder::Anthropic(d) => d.finish(out),
            StreamDecoder::OpenAi(d) => d.finish(out),
            StreamDecoder::Gemini(d) => d.finish(out),
        }
    }

    /// The cumulative usage received so far.
    pub fn usage(&self) -> Usage {
        match self {
            StreamDecoder::Anthropic(d) => d.usage(),
            StreamDecoder::OpenAi(d) => d.usage(),
            StreamDecoder::Gemini(d) => d.usage(),
        }
    }
}

/// Bytes in, unified events out: the SSE decoder and a provider's stream decoder together.
/// This is what the faces feed with network chunks as they arrive.
#[derive(Debug)]
pub struct StreamParser {
    provider: Provider,
    sse: SseDecoder,
    decoder: StreamDecoder,
    sse_events: Vec<SseEvent>,
    failed: bool,
}

impl StreamParser {
    pub fn new(provider: Provider) -> Self {
        StreamParser {
            provider,
            sse: SseDecoder::new(),
            decoder: StreamDecoder::new(provider),
            sse_events: Vec::new(),
            failed: false,
        }
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Feeds one network chunk, appending the unified events it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        self.ensure_usable()?;
        self.sse_events.clear();
        let result = self
            .sse
            .feed_into(chunk, &mut self.sse_events)
            .map_err(|e| Error::from(e).with_provider(self.provider))
            .and_then(|()| {
                self.sse_events
                    .iter()
                    .try_for_each(|event| self.decoder.on_event(event, out))
            });
        self.fail_on_error(result)
    }

    /// The body ended: flushes a final unterminated event and checks the terminal marker.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        self.ensure_usable()?;
        let result = match self.sse.finish() {
            Some(event) => self.decoder.on_event(&event, out),
            None => Ok(()),
        }
        .and_then(|()| self.decoder.finish(out));
        self.fail_on_error(result)
    }

    /// The cumulative usage received so far (for billing a stream that failed midway).
    pub fn usage(&self) -> Usage {
        self.decoder.usage()
    }

    fn ensure_usable(&self) -> Result<(), Error> {
        if self.failed {
            return Err(
                Error::new(ErrorKind::InvalidResponse, "stream already failed")
                    .with_provider(self.provider),
            );
        }
        Ok(())
    }

    fn fail_on_error(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        if let Err(error) = result {
            self.failed = true;
            let usage = self.decoder.usage();
            let error = if error.usage().is_none() {
                error.with_usage(usage)
            } else {
                error
            };
            return Err(if error.provider().is_none() {
                error.with_provider(self.provider)
            } else {
                error
            });
        }
        Ok(())
    }
}

/// For the `stream_chunks` fuzz target (`cargo fuzz` builds with `--cfg fuzzing`): whatever a
/// provider's serde-free chunk reader reads from `data`, serde must read to the same value.
#[cfg(fuzzing)]
pub fn check_chunk_readers(data: &str) {
    openai::stream_chunk::check_against_serde(data);
    anthropic::stream_chunk::check_against_serde(data);
    gemini::stream_chunk::check_against_serde(data);
}
