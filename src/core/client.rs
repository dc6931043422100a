//! The client, generic over the host's [`Transport`] and [`Clock`]: it resolves a call's
//! targets (the requested model, then the fallbacks), runs attempts through the reliability
//! policies ([`crate::core::policy`]), and decodes whole or streamed answers under the
//! configured deadlines.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde::Serialize;

use super::error::{Error, ErrorKind};
use super::event::StreamEvent;
use super::http::{Headers, HttpResponse};
use super::model::{ModelRef, Provider, Request, Response, Usage, Warning};
use super::policy::call::{
    AttemptLimits, AttemptProgress, Call, CallPlan, PlannedTarget, Reporter,
};
use super::policy::{
    counts_as_failure, Attempt, AttemptOutcome, Breakers, CircuitState, EventHook, PolicyConfig,
    PolicyEvent, PolicyOverrides,
};
use super::provider::{self, ProviderConfig, StreamParser};
use super::runtime::{Clock, ResponseBody, ResponseHead, Transport};

/// Deadlines of one call, in milliseconds; `None` disables one. Each cancels the attempt it
/// fires in (dropping its request) and is a `timeout` error naming which one fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole call: all attempts, backoff waits and fallbacks included. When it passes,
    /// the call ends.
    pub total_ms: Option<u64>,
    /// From sending an attempt to its first content (for a whole response: to its headers).
    /// Per attempt: a first-token timeout is retried and falls back like other failures.
    pub first_token_ms: Option<u64>,
    /// Silence allowed between two chunks of a stream; per attempt, like `first_token_ms`.
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

impl Timeouts {
    /// A deadline of zero would fail every call: disable it with `None` instead.
    pub fn validate(&self) -> Result<(), Error> {
        let named = [
            ("timeoutMs", self.total_ms),
            ("firstTokenTimeoutMs", self.first_token_ms),
            ("idleTimeoutMs", self.idle_ms),
        ];
        match named.iter().find(|(_, value)| *value == Some(0)) {
            Some((name, _)) => Err(Error::new(
                ErrorKind::Config,
                format!("{name} must be at least 1 ms (null disables it)"),
            )),
            None => Ok(()),
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
    /// Overrides the client's retry, fallback and hedging settings for this call.
    pub policy: PolicyOverrides,
}

#[derive(Clone, Default)]
pub struct ClientConfig {
    pub anthropic: Option<ProviderConfig>,
    pub openai: Option<ProviderConfig>,
    pub gemini: Option<ProviderConfig>,
    pub timeouts: Timeouts,
    /// Retry, fallback, circuit breaker and hedging settings.
    pub policy: PolicyConfig,
    /// Receives every policy event of every call (attempts, retries, fallbacks, breaker
    /// changes, hedges, outcomes), synchronously.
    pub on_event: Option<EventHook>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("anthropic", &self.anthropic)
            .field("openai", &self.openai)
            .field("gemini", &self.gemini)
            .field("timeouts", &self.timeouts)
            .field("policy", &self.policy)
            .field("on_event", &self.on_event.as_ref().map(|_| "<hook>"))
            .finish()
    }
}

impl ClientConfig {
    pub fn provider(&self, provider: Provider) -> Option<&ProviderConfig> {
        match provider {
            Provider::Anthropic => self.anthropic.as_ref(),
            Provider::OpenAi => self.openai.as_ref(),
            Provider::Gemini => self.gemini.as_ref(),
        }
    }

    /// Checks the deadlines and the policy settings.
    pub fn validate(&self) -> Result<(), Error> {
        self.timeouts.validate()?;
        self.policy.validate()
    }
}

/// A whole response, with the target that served it and every attempt of the call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatOutcome {
    pub response: Response,
    /// `provider/model` of the target that served the call.
    pub target: String,
    pub attempts: Vec<Attempt>,
}

struct Shared<T, C> {
    transport: T,
    clock: C,
    config: ClientConfig,
    breakers: Breakers,
}

/// A client shared by all calls; cloning is cheap, and clones share the circuit breakers.
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

impl<T: Transport, C: Clock> Client<T, C> {
    /// Fails with a `config` error when a setting is invalid.
    pub fn new(transport: T, clock: C, config: ClientConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Client {
            shared: Rc::new(Shared {
                transport,
                clock,
                breakers: Breakers::new(config.policy.circuit_breaker.clone()),
                config,
            }),
        })
    }

    pub fn clock(&self) -> &C {
        &self.shared.clock
    }

    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The circuit state of a target (`provider/model`); closed if it was never called.
    pub fn circuit_state(&self, target: &str) -> CircuitState {
        self.shared.breakers.state(target)
    }

    /// Sends one request and returns the whole response, retrying and falling back as the
    /// policies say.
    pub async fn chat(
        &self,
        request: &Request,
        options: &CallOptions,
    ) -> Result<ChatOutcome, Error> {
        let shared = &*self.shared;
        let reporter = Reporter::new(shared.config.on_event.clone(), shared.clock.now_ms());
        let result = match self.plan(request, options) {
            Ok(plan) => {
                Call::new(&shared.clock, &shared.breakers, &reporter, &plan)
                    .run(|target, limits, _| chat_attempt(shared, request, target, limits))
                    .await
            }
            Err(error) => Err(error),
        };
        let now = shared.clock.now_ms();
        match result {
            Ok(served) => {
                reporter.succeeded(now, &served.target, &served.attempts);
                Ok(ChatOutcome {
                    response: served.value,
                    target: served.target,
                    attempts: served.attempts,
                })
            }
            Err(error) => {
                reporter.failed(now, &error);
                Err(error)
            }
        }
    }

    /// Starts a streamed call. Nothing is sent until the first [`ChatStream::next`].
    pub fn stream(&self, request: Request, options: CallOptions) -> ChatStream<T, C> {
        ChatStream {
            client: self.clone(),
            call: Some(Box::new((request, options))),
            state: StreamState::NotStarted,
            pending: VecDeque::new(),
            failure: None,
            warnings: Vec::new(),
            provider: None,
            request_id: None,
            usage: Usage::default(),
            target: None,
            attempts: Vec::new(),
            record: 0,
            served_since_ms: 0,
            reporter: None,
        }
    }

    /// Resolves the call's policy and targets: the requested model, then each fallback target
    /// not already listed.
    fn plan(&self, request: &Request, options: &CallOptions) -> Result<CallPlan, Error> {
        let config = &self.shared.config;
        let policy = config.policy.merged(&options.policy)?;
        let timeouts = match options.timeouts {
            Some(timeouts) => {
                timeouts.validate()?;
                timeouts
            }
            None => config.timeouts,
        };
        let requested = ModelRef::parse(&request.model)?;
        let mut targets = vec![self.target(requested, None, options)];
        for (position, fallback) in policy.fallback.iter().enumerate() {
            let model = fallback.resolve(position)?;
            if targets.iter().all(|t| t.model != model) {
                let overrides = fallback.has_overrides().then(|| fallback.clone());
                targets.push(self.target(model, overrides, options));
            }
        }
        Ok(CallPlan {
            policy,
            timeouts,
            targets,
        })
    }

    fn target(
        &self,
        model: ModelRef,
        overrides: Option<super::policy::FallbackTarget>,
        options: &CallOptions,
    ) -> PlannedTarget {
        let provider_config = self.shared.config.provider(model.provider).map(|config| {
            let mut config = config.clone();
            for (name, value) in options.headers.iter() {
                config.headers.set(name, value);
            }
            config
        });
        PlannedTarget {
            key: model.qualified(),
            model,
            overrides,
            provider_config,
        }
    }
}

/// The provider configuration of an admitted target (the policy loop skips the others).
fn provider_config(target: &PlannedTarget) -> Result<&ProviderConfig, Error> {
    target.provider_config.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            format!("{} is not configured", target.model.provider),
        )
    })
}

/// Names the provider on an error that does not say (e.g. a transport failure).
fn from_provider(error: Error, provider: Provider) -> Error {
    if error.provider().is_some() {
        error
    } else {
        error.with_provider(provider)
    }
}

/// One whole-response attempt.
async fn chat_attempt<T: Transport, C: Clock>(
    shared: &Shared<T, C>,
    request: &Request,
    target: &PlannedTarget,
    limits: AttemptLimits,
) -> Result<Response, Error> {
    let provider = target.model.provider;
    let clock = &shared.clock;
    let encoded = provider::encode(
        provider,
        &target.model.name,
        &target.request(request),
        provider_config(target)?,
        false,
    )?;
    let ResponseHead {
        status,
        headers,
        mut body,
    } = limits
        .within(
            clock,
            limits.before_content(),
            shared.transport.send(encoded.http),
        )
        .await
        .and_then(|sent| sent)
        .map_err(|e| from_provider(e, provider))?;
    let bytes = limits
        .within(clock, limits.total(), body.read_to_end())
        .await
        .and_then(|read| read)
        .map_err(|e| from_provider(e, provider))?;
    let http = HttpResponse {
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

/// A stream attempt that produced its first content, or ended cleanly without any.
struct Connection<B> {
    body: B,
    /// Boxed: the decoder state is large.
    parser: Box<StreamParser>,
    /// The events up to and including the first content, held back until the attempt won.
    buffered: Vec<StreamEvent>,
    ended: bool,
    warnings: Vec<Warning>,
    request_id: Option<String>,
    limits: AttemptLimits,
}

/// Content is what commits a stream to its attempt: after it, a failure is the caller's.
fn is_content(event: &StreamEvent) -> bool {
    matches!(
        event,
        StreamEvent::TextDelta { .. }
            | StreamEvent::ReasoningDelta { .. }
            | StreamEvent::ToolCallStart { .. }
    )
}

/// One stream attempt, up to its first content. Everything before that (`Start`, `Usage`)
/// is buffered, so a failure here is invisible to the caller and can be retried elsewhere.
async fn stream_attempt<T: Transport, C: Clock>(
    shared: &Shared<T, C>,
    request: &Request,
    target: &PlannedTarget,
    limits: AttemptLimits,
    progress: Rc<AttemptProgress>,
) -> Result<Connection<T::Body>, Error> {
    let provider = target.model.provider;
    let clock = &shared.clock;
    let encoded = provider::encode(
        provider,
        &target.model.name,
        &target.request(request),
        provider_config(target)?,
        true,
    )?;
    let ResponseHead {
        status,
        headers,
        mut body,
    } = limits
        .within(
            clock,
            limits.before_content(),
            shared.transport.send(encoded.http),
        )
        .await
        .and_then(|sent| sent)
        .map_err(|e| from_provider(e, provider))?;
    let request_id = provider::request_id(provider, &headers);
    if !(200..300).contains(&status) {
        let bytes = limits
            .within(clock, limits.before_content(), body.read_to_end())
            .await
            .and_then(|read| read)
            .map_err(|e| from_provider(e, provider))?;
        return Err(provider::decode_error(provider, status, &headers, &bytes));
    }
    let mut parser = Box::new(StreamParser::new(provider));
    let mut buffered = Vec::new();
    loop {
        let deadline = limits.next_chunk(clock.now_ms(), true);
        let chunk = limits
            .within(clock, deadline, body.next_chunk())
            .await
            .and_then(|read| read)
            .map_err(|e| from_provider(e, provider).with_usage(parser.usage()))?;
        let seen = buffered.len();
        let ended = match chunk {
            Some(bytes) => parser.feed(&bytes, &mut buffered).map(|()| false),
            None => parser.finish(&mut buffered).map(|()| true),
        }?;
        progress.report_usage(parser.usage());
        if ended || buffered[seen..].iter().any(is_content) {
            return Ok(Connection {
                body,
                parser,
                buffered,
                ended,
                warnings: encoded.warnings,
                request_id,
                limits,
            });
        }
    }
}

/// The connect phase's result: the winning attempt and the call's record so far.
struct Committed<B> {
    connection: Connection<B>,
    target: String,
    attempts: Vec<Attempt>,
    record: usize,
    started_ms: u64,
    reporter: Reporter,
}

type Connecting<B> = Pin<Box<dyn Future<Output = Result<Committed<B>, Error>>>>;

/// Runs a stream's attempts until one has produced content. Owns everything it uses, so that
/// the stream can keep it across `next()` calls.
fn connect<T, C>(
    client: Client<T, C>,
    request: Request,
    options: CallOptions,
) -> Connecting<T::Body>
where
    T: Transport + 'static,
    T::Body: 'static,
    C: Clock + 'static,
{
    Box::pin(async move {
        let shared = &*client.shared;
        let reporter = Reporter::new(shared.config.on_event.clone(), shared.clock.now_ms());
        let result = match client.plan(&request, &options) {
            Ok(plan) => {
                Call::new(&shared.clock, &shared.breakers, &reporter, &plan)
                    .run(|target, limits, progress| {
                        stream_attempt(shared, &request, target, limits, progress)
                    })
                    .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(served) => Ok(Committed {
                connection: served.value,
                target: served.target,
                attempts: served.attempts,
                record: served.record,
                started_ms: served.started_ms,
                reporter,
            }),
            Err(error) => {
                reporter.failed(shared.clock.now_ms(), &error);
                Err(error)
            }
        }
    })
}

enum StreamState<B> {
    NotStarted,
    /// Attempts are running; nothing has reached the caller yet.
    Connecting(Connecting<B>),
    /// Committed to one attempt: its events go to the caller, and a failure ends the stream.
    Reading {
        body: B,
        parser: Box<StreamParser>,
        limits: AttemptLimits,
    },
    Done,
}

/// A streamed call: pull events with [`ChatStream::next`]. Dropping it cancels the request.
///
/// Until the first content (text, reasoning or a tool call) arrives, attempts are retried and
/// fall back invisibly: the caller sees one clean stream from the target that served it. After
/// that, a failure ends the stream with an error carrying the usage so far, and is not retried.
pub struct ChatStream<T: Transport, C> {
    client: Client<T, C>,
    /// The request and options, until the stream starts.
    call: Option<Box<(Request, CallOptions)>>,
    state: StreamState<T::Body>,
    pending: VecDeque<StreamEvent>,
    /// An error to hand out once the events decoded before it have been delivered.
    failure: Option<Error>,
    warnings: Vec<Warning>,
    provider: Option<Provider>,
    request_id: Option<String>,
    usage: Usage,
    target: Option<String>,
    attempts: Vec<Attempt>,
    /// The serving attempt's position in `attempts`, and when it was sent.
    record: usize,
    served_since_ms: u64,
    reporter: Option<Reporter>,
}

impl<T: Transport, C: Clock> ChatStream<T, C> {
    /// Warnings about settings the provider could not honour (known once a target served).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The provider of the target that served the stream.
    pub fn provider(&self) -> Option<Provider> {
        self.provider
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The usage received so far (for billing a stream that ended early).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// `provider/model` of the target that served the stream, once one did.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The call's attempts: complete once the stream has ended (or failed).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// An event that is already decoded, without waiting on the network.
    pub fn next_ready(&mut self) -> Option<StreamEvent> {
        self.pending.pop_front()
    }
}

impl<T, C> ChatStream<T, C>
where
    T: Transport + 'static,
    T::Body: 'static,
    C: Clock + 'static,
{
    /// The next event; `None` after the `Finish` event or after an error was returned.
    ///
    /// Dropping a pending `next()` before the stream has committed to a target is safe: the
    /// attempts keep their state and the next call resumes them. After that, a dropped `next()`
    /// may lose the chunk it was reading (the transport's read is cancelled).
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
                    if self.attempts.is_empty() {
                        self.attempts = error.attempts().to_vec();
                    }
                    self.failure = Some(error);
                }
            }
        }
    }

    /// Moves the stream on; `Ok(false)` when it has ended.
    async fn advance(&mut self) -> Result<bool, Error> {
        match &mut self.state {
            StreamState::NotStarted => {
                let Some(call) = self.call.take() else {
                    return Ok(false);
                };
                let (request, options) = *call;
                self.state =
                    StreamState::Connecting(connect(self.client.clone(), request, options));
                Ok(true)
            }
            StreamState::Connecting(connecting) => {
                let committed = connecting.as_mut().await?;
                self.commit(committed);
                Ok(true)
            }
            StreamState::Reading { .. } => self.read().await,
            StreamState::Done => Ok(false),
        }
    }

    fn commit(&mut self, committed: Committed<T::Body>) {
        let Committed {
            connection,
            target,
            attempts,
            record,
            started_ms,
            reporter,
        } = committed;
        self.provider = Some(connection.parser.provider());
        self.warnings = connection.warnings;
        self.request_id = connection.request_id;
        self.usage = connection.parser.usage();
        self.pending.extend(connection.buffered);
        self.attempts = attempts;
        self.record = record;
        self.served_since_ms = started_ms;
        if connection.ended {
            reporter.succeeded(self.client.shared.clock.now_ms(), &target, &self.attempts);
            self.state = StreamState::Done;
        } else {
            self.state = StreamState::Reading {
                body: connection.body,
                parser: connection.parser,
                limits: connection.limits,
            };
        }
        self.target = Some(target);
        self.reporter = Some(reporter);
    }

    /// Reads the committed attempt's next chunk.
    async fn read(&mut self) -> Result<bool, Error> {
        let StreamState::Reading {
            body,
            parser,
            limits,
        } = &mut self.state
        else {
            return Ok(false);
        };
        let clock = &self.client.shared.clock;
        let deadline = limits.next_chunk(clock.now_ms(), false);
        let mut events = Vec::new();
        let result = match limits.within(clock, deadline, body.next_chunk()).await {
            Ok(Ok(Some(bytes))) => parser.feed(&bytes, &mut events).map(|()| true),
            Ok(Ok(None)) => parser.finish(&mut events).map(|()| false),
            Ok(Err(error)) | Err(error) => Err(error.with_usage(parser.usage())),
        };
        let provider = parser.provider();
        self.usage = parser.usage();
        // Events decoded before a failure still reach the caller, then the error.
        self.pending.extend(events);
        match result {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.state = StreamState::Done;
                if let (Some(reporter), Some(target)) = (&self.reporter, &self.target) {
                    reporter.succeeded(self.client.shared.clock.now_ms(), target, &self.attempts);
                }
                Ok(!self.pending.is_empty())
            }
            Err(error) => Err(self.failed_after_commit(from_provider(error, provider))),
        }
    }

    /// A committed stream broke: the serving attempt is recorded as failed (its usage so far
    /// included), the breaker hears of it, and the error carries the attempts.
    fn failed_after_commit(&mut self, error: Error) -> Error {
        let now = self.client.shared.clock.now_ms();
        let duration_ms = now.saturating_sub(self.served_since_ms);
        let number = self.attempts[..=self.record]
            .iter()
            .filter(|a| a.is_sent())
            .count() as u32;
        let attempt = &mut self.attempts[self.record];
        attempt.duration_ms = duration_ms;
        attempt.usage = error.usage().copied();
        attempt.outcome = AttemptOutcome::Failed {
            error: error.clone(),
        };
        let target = attempt.target.clone();
        if let Some(reporter) = &self.reporter {
            reporter.emit(|| PolicyEvent::AttemptFailed {
                attempt: number,
                target: target.clone(),
                error: error.clone(),
                duration_ms,
            });
            let breakers = &self.client.shared.breakers;
            reporter.transition(breakers.observe(&target, counts_as_failure(&error), now));
        }
        let error = error.with_attempts(self.attempts.clone());
        if let Some(reporter) = &self.reporter {
            reporter.failed(now, &error);
        }
        error
    }
}
