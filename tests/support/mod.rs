//! Shared support for the policy tests: virtual time ([`clock`]), a scripted transport
//! ([`transport`]), and a harness that builds a client over both with an event log; and the
//! server-face tests' helpers ([`inbound`]).
#![allow(dead_code)]

pub mod clock;
pub mod inbound;
pub mod transport;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use llm_edge::core::client::{
    CallOptions, ChatOutcome, ChatStream, Client, ClientConfig, Timeouts,
};
use llm_edge::core::error::Error;
use llm_edge::core::event::StreamEvent;
use llm_edge::core::model::{Message, Request};
use llm_edge::core::policy::{EventHook, PolicyEvent};
use llm_edge::core::provider::ProviderConfig;
use serde_json::Value;

#[allow(unused_imports)]
pub use clock::{run, FakeClock, Task, START_MS};
#[allow(unused_imports)]
pub use transport::{Exchange, Fate, Reply, ScriptedTransport};

pub const CLAUDE: &str = "anthropic/claude-haiku-4-5";
pub const GPT: &str = "openai/gpt-4o";
pub const GEMINI: &str = "gemini/gemini-2.5-flash";

pub type TestClient = Client<ScriptedTransport, FakeClock>;

pub fn fixture(provider: &str, name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A recorded answer replayed: `<case>.sse` as a stream, `<case>.json` as a whole 200, and
/// `error_<status>*.json` with its status and any recorded `.headers`.
pub fn fixture_reply(provider: &str, name: &str) -> Reply {
    let body = fixture(provider, name);
    if name.ends_with(".sse") {
        return Reply::sse(&body);
    }
    let Some(rest) = name.strip_prefix("error_") else {
        return Reply::ok(body);
    };
    let status: u16 = rest[..3].parse().expect("error_<status>");
    let mut reply = Reply::status(status, body);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let headers_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider)
        .join(format!("{stem}.headers"));
    if let Ok(text) = std::fs::read_to_string(headers_path) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (name, value) = line.split_once(':').expect("name: value");
            reply = reply.header(name.trim(), value.trim());
        }
    }
    reply
}

/// Every policy event a client emitted, in order.
#[derive(Clone, Default)]
pub struct EventLog(Rc<RefCell<Vec<PolicyEvent>>>);

impl EventLog {
    pub fn hook(&self) -> EventHook {
        let log = self.0.clone();
        Rc::new(move |event: &PolicyEvent| log.borrow_mut().push(event.clone()))
    }

    pub fn all(&self) -> Vec<PolicyEvent> {
        self.0.borrow().clone()
    }

    pub fn json(&self) -> Vec<Value> {
        self.0
            .borrow()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect()
    }

    /// The `type` tags, in order.
    pub fn types(&self) -> Vec<String> {
        self.json()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }
}

pub struct Harness {
    pub client: TestClient,
    pub clock: FakeClock,
    pub transport: ScriptedTransport,
    pub events: EventLog,
}

fn provider(key: &str) -> Option<ProviderConfig> {
    Some(ProviderConfig {
        api_key: Some(key.to_string()),
        ..ProviderConfig::default()
    })
}

/// A client with all three providers configured, the default policies, an event log and the
/// clock seeded with `7`; `configure` adjusts the configuration first.
pub fn harness(configure: impl FnOnce(&mut ClientConfig)) -> Harness {
    harness_seeded(7, configure)
}

pub fn harness_seeded(seed: u64, configure: impl FnOnce(&mut ClientConfig)) -> Harness {
    let clock = FakeClock::new(seed);
    let transport = ScriptedTransport::new(&clock);
    let events = EventLog::default();
    let mut config = ClientConfig {
        anthropic: provider("sk-ant-test"),
        openai: provider("sk-test"),
        gemini: provider("gm-test"),
        timeouts: Timeouts::default(),
        on_event: Some(events.hook()),
        ..ClientConfig::default()
    };
    configure(&mut config);
    let client = Client::new(transport.clone(), clock.clone(), config).expect("valid config");
    Harness {
        client,
        clock,
        transport,
        events,
    }
}

pub fn request(model: &str) -> Request {
    let mut request = Request::new(model, vec![Message::user("Hi")]);
    request.max_tokens = Some(256);
    request
}

/// What a stream handed its caller.
pub struct Streamed {
    pub events: Vec<StreamEvent>,
    pub error: Option<Error>,
}

impl Streamed {
    pub fn text(&self) -> String {
        self.events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

pub async fn drain(stream: &mut ChatStream<ScriptedTransport, FakeClock>) -> Streamed {
    let mut events = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(e) => error = Some(e),
        }
    }
    Streamed { events, error }
}

impl Harness {
    pub fn chat(&self, model: &str) -> Result<ChatOutcome, Error> {
        self.chat_with(request(model), CallOptions::default())
    }

    pub fn chat_with(&self, request: Request, options: CallOptions) -> Result<ChatOutcome, Error> {
        run(&self.clock, self.client.chat(&request, &options))
    }

    /// Streams a call to its end; returns what the caller saw and the finished stream.
    pub fn stream_with(
        &self,
        request: Request,
        options: CallOptions,
    ) -> (Streamed, ChatStream<ScriptedTransport, FakeClock>) {
        let mut stream = self.client.stream(request, options);
        let streamed = run(&self.clock, drain(&mut stream));
        (streamed, stream)
    }

    pub fn stream(&self, model: &str) -> (Streamed, ChatStream<ScriptedTransport, FakeClock>) {
        self.stream_with(request(model), CallOptions::default())
    }
}

/// Runs two futures concurrently in one task (as two calls of one client would run in a JS
/// realm) and returns both outputs.
pub async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        if out_a.is_none() {
            if let std::task::Poll::Ready(value) = a.as_mut().poll(cx) {
                out_a = Some(value);
            }
        }
        if out_b.is_none() {
            if let std::task::Poll::Ready(value) = b.as_mut().poll(cx) {
                out_b = Some(value);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            std::task::Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Runs many futures concurrently in one task (as many calls of one client would run in a JS
/// realm) and returns their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                if let std::task::Poll::Ready(value) = future.as_mut().poll(cx) {
                    *output = Some(value);
                }
            }
        }
        if outputs.iter().all(Option::is_some) {
            std::task::Poll::Ready(outputs.iter_mut().map(|o| o.take().unwrap()).collect())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
