//! The orchestration loop, generic over the host's [`Transport`] and [`Clock`]: resolve the
//! model, encode, send, and decode whole or streamed answers under the configured deadlines.
use std::collections::VecDeque;
use std::rc::Rc;

use super::error::{Error, ErrorKind, TimeoutKind};
use super::event::StreamEvent;
use super::http::Headers;
use super::model::{ModelRef, Provider, Request, Response, Usage, Warning};
use super::provider::{self, ProviderConfig, StreamParser};
use super::runtime::{with_deadline, Clock, ResponseBody, ResponseHead, Transport};

/// Deadlines of one call, in milliseconds; `None` disables one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole call, all attempts included.
    pub total_ms: Option<u64>,
    /// From sending a request to its first content (for a whole response: to its headers).
    pub first_token_ms: Option<u64>,
    /// Silence allowed between two chunks of a stream.
    pub idle_ms: Option<u64>,
}

impl Default for Timeouts {
    /// 30 s total, as the providers' own SDK guidance suggests for interactive calls; the
    /// per-chunk deadlines are off unless configured.
    fn default() -> Self {
        Timeouts {
            total_ms: Some(30_000),
            first_token_ms: None,
            idle_ms: None,
        }
    }
}

/// Per-call settings that are not part of the provider-neutral request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOptions {
    /// Extra HTTP headers for this call (after the provider's configured ones).
    pub headers: Headers,
    /// Overrides the client's deadlines for this call.
    pub timeouts: Option<Timeouts>,
}

#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub anthropic: Option<ProviderConfig>,
    pub openai: Option<ProviderConfig>,
    pub gemini: Option<ProviderConfig>,
    pub timeouts: Timeouts,
}

impl ClientConfig {
    pub fn provider(&self, provider: Provider) -> Option<&ProviderConfig> {
        match provider {
            Provider::Anthropic => self.anthropic.as_ref(),
            Provider::OpenAi => self.openai.as_ref(),
            Provider::Gemini => self.gemini.as_ref(),
        }
    }
}

struct Shared<T, C> {
    transport: T,
    clock: C,
    config: ClientConfig,
}

/// A client shared by all calls; cloning is cheap.
pub struct Client<T, C> {
    shared: Rc<Shared<T, C>>,
}

impl<T, C> Clone for Client<T, C> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
        }
    }
}

/// What one call resolved to before sending.
struct Target {
    model: ModelRef,
    config: ProviderConfig,
}

impl<T: Transport, C: Clock> Client<T, C> {
    pub fn new(transport: T, clock: C, config: ClientConfig) -> Self {
        Client {
            shared: Rc::new(Shared {
                transport,
                clock,
                config,
            }),
        }
    }

    pub fn clock(&self) -> &C {
        &self.shared.clock
    }

    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    fn resolve(&self, request: &Request, options: &CallOptions) -> Result<Target, Error> {
        let model = ModelRef::parse(&request.model)?;
        let mut config = self
            .shared
            .config
            .provider(model.provider)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                    "model `{}` needs the {} provider, which this client has no configuration for",
                    request.model, model.provider
                ),
                )
                .with_provider(model.provider)
            })?;
        for (name, value) in options.headers.iter() {
            config.headers.set(name, value);
        }
        Ok(Target { model, config })
    }

    fn deadline(&self, started_ms: u64, limit: Option<u64>) -> Option<u64> {
        limit.map(|ms| started_ms.saturating_add(ms))
    }

    /// Sends one request and returns the whole response.
    pub async fn chat(&self, request: &Request, options: &CallOptions) -> Result<Response, Error> {
        let target = self.resolve(request, options)?;
        let clock = &self.shared.clock;
        let timeouts = options.timeouts.unwrap_or(self.shared.config.timeouts);
        let started = clock.now_ms();
        let total = self.deadline(started, timeouts.total_ms);
        let provider = target.model.provider;
        let encoded =
            provider::encode(provider, &target.model.name, request, &target.config, false)?;

        let head_deadline = earliest(total, self.deadline(started, timeouts.first_token_ms));
        let head = with_deadline(
            clock,
            head_deadline,
            self.shared.transport.send(encoded.http),
        )
        .await
        .ok_or_else(|| timeout_error(total, head_deadline, provider))??;
        let ResponseHead {
            status,
            headers,
            mut body,
        } = head;
        let bytes = with_deadline(clock, total, body.read_to_end())
            .await
            .ok_or_else(|| {
                Error::timeout(TimeoutKind::Total, "the call's total deadline passed")
                    .with_provider(provider)
            })??;
        let http = crate::core::http::HttpResponse {
            status,
            headers,
            body: bytes,
        };
        let mut response = provider::decode(provider, &http)?;
        if response.model.is_empty() {
            response.model = target.model.name.clone();
        }
        if response.request_id.is_none() {
            response.request_id = provider::request_id(provider, &http.headers);
        }
        response.warnings.extend(encoded.warnings);
        Ok(response)
    }

    /// Starts a streamed call. Nothing is sent until the first [`ChatStream::next`].
    pub fn stream(&self, request: Request, options: CallOptions) -> ChatStream<T, C> {
        ChatStream {
            client: self.clone(),
            request,
            timeouts: options.timeouts.unwrap_or(self.shared.config.timeouts),
            options,
            state: StreamState::NotStarted,
            pending: VecDeque::new(),
            failure: None,
            delivered_content: false,
            warnings: Vec::new(),
            provider: None,
            request_id: None,
        }
    }
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The error for a deadline that fired: the total one if it was the binding one.
fn timeout_error(total: Option<u64>, fired: Option<u64>, provider: Provider) -> Error {
    let error = if total.is_some() && total == fired {
        Error::timeout(TimeoutKind::Total, "the call's total deadline passed")
    } else {
        Error::timeout(
            TimeoutKind::FirstToken,
            "no answer arrived before the first-token deadline",
        )
    };
    error.with_provider(provider)
}

enum StreamState<B> {
    NotStarted,
    Reading {
        body: B,
        /// Boxed: the decoder state is large and the other states are empty.
        parser: Box<StreamParser>,
        started_ms: u64,
        total: Option<u64>,
    },
    Done,
}

/// A streamed call: pull events with [`ChatStream::next`]. Dropping it cancels the request.
pub struct ChatStream<T: Transport, C> {
    client: Client<T, C>,
    request: Request,
    options: CallOptions,
    timeouts: Timeouts,
    state: StreamState<T::Body>,
    pending: VecDeque<StreamEvent>,
    /// An error to hand out once the events decoded before it have been delivered.
    failure: Option<Error>,
    delivered_content: bool,
    warnings: Vec<Warning>,
    provider: Option<Provider>,
    request_id: Option<String>,
}

impl<T: Transport, C: Clock> ChatStream<T, C> {
    /// Warnings about settings the provider could not honour (known once the call started).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    pub fn provider(&self) -> Option<Provider> {
        self.provider
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The usage received so far (for billing a stream that ended early).
    pub fn usage(&self) -> Usage {
        match &self.state {
            StreamState::Reading { parser, .. } => parser.usage(),
            _ => self
                .failure
                .as_ref()
                .and_then(|e| e.usage().copied())
                .unwrap_or_default(),
        }
    }

    /// An event that is already decoded, without waiting on the network.
    pub fn next_ready(&mut self) -> Option<StreamEvent> {
        let event = self.pending.pop_front()?;
        if matches!(
            event,
            StreamEvent::TextDelta { .. } | StreamEvent::ToolCallStart { .. }
        ) {
            self.delivered_content = true;
        }
        Some(event)
    }

    /// The next event; `None` after the `Finish` event or after an error was returned.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, Error>> {
        loop {
            if let Some(event) = self.next_ready() {
                return Some(Ok(event));
            }
            if let Some(error) = self.failure.take() {
                return Some(Err(error));
            }
            match self.advance().await {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(error) => {
                    // Dropping the state drops the body, which cancels the request.
                    self.state = StreamState::Done;
                    self.failure = Some(error);
                }
            }
        }
    }

    async fn start(&mut self) -> Result<(), Error> {
        let target = self.client.resolve(&self.request, &self.options)?;
        let shared = &self.client.shared;
        let clock = &shared.clock;
        let timeouts = self.timeouts;
        let provider = target.model.provider;
        self.provider = Some(provider);
        let started_ms = clock.now_ms();
        let total = timeouts.total_ms.map(|ms| started_ms.saturating_add(ms));
        let encoded = provider::encode(
            provider,
            &target.model.name,
            &self.request,
            &target.config,
            true,
        )?;
        self.warnings = encoded.warnings;
        let head_deadline = earliest(
            total,
            timeouts
                .first_token_ms
                .map(|ms| started_ms.saturating_add(ms)),
        );
        let ResponseHead {
            status,
            headers,
            mut body,
        } = with_deadline(clock, head_deadline, shared.transport.send(encoded.http))
            .await
            .ok_or_else(|| timeout_error(total, head_deadline, provider))??;
        self.request_id = provider::request_id(provider, &headers);
        if !(200..300).contains(&status) {
            let bytes = with_deadline(clock, total, body.read_to_end())
                .await
                .unwrap_or(Ok(Vec::new()))?;
            return Err(provider::decode_error(provider, status, &headers, &bytes));
        }
        self.state = StreamState::Reading {
            body,
            parser: Box::new(StreamParser::new(provider)),
            started_ms,
            total,
        };
        Ok(())
    }

    /// Moves the stream on; `Ok(false)` when it has ended.
    async fn advance(&mut self) -> Result<bool, Error> {
        let StreamState::Reading {
            body,
            parser,
            started_ms,
            total,
        } = &mut self.state
        else {
            return match self.state {
                StreamState::NotStarted => self.start().await.map(|()| true),
                _ => Ok(false),
            };
        };
        let clock = &self.client.shared.clock;
        let timeouts = self.timeouts;
        let now = clock.now_ms();
        let first_token = (!self.delivered_content)
            .then(|| {
                timeouts
                    .first_token_ms
                    .map(|ms| started_ms.saturating_add(ms))
            })
            .flatten();
        let idle = timeouts.idle_ms.map(|ms| now.saturating_add(ms));
        let deadline = earliest(*total, earliest(first_token, idle));
        let Some(chunk) = with_deadline(clock, deadline, body.next_chunk()).await else {
            let which = if deadline == *total {
                TimeoutKind::Total
            } else if deadline == first_token {
                TimeoutKind::FirstToken
            } else {
                TimeoutKind::Idle
            };
            return Err(Error::timeout(which, timeout_message(which))
                .with_provider(parser.provider())
                .with_usage(parser.usage()));
        };
        let mut events = Vec::new();
        let result = match chunk {
            Ok(Some(bytes)) => parser.feed(&bytes, &mut events).map(|()| true),
            Ok(None) => parser.finish(&mut events).map(|()| false),
            Err(error) => Err(error
                .with_provider(parser.provider())
                .with_usage(parser.usage())),
        };
        // Events decoded before a failure still reach the caller, then the error.
        self.pending.extend(events);
        match result {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.state = StreamState::Done;
                Ok(!self.pending.is_empty())
            }
            Err(error) => Err(error),
        }
    }
}

fn timeout_message(which: TimeoutKind) -> &'static str {
    match which {
        TimeoutKind::Total => "the call's total deadline passed",
        TimeoutKind::FirstToken => "no content arrived before the first-token deadline",
        TimeoutKind::Idle => "the stream went silent for longer than the idle timeout",
        TimeoutKind::Upstream => "the provider timed out",
    }
}
