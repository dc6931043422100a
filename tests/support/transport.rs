//! A scripted transport: each target (`provider/model`) answers from its own queue of replies
//! (a status, headers and a body in timed pieces, a hang, or a network failure), and every
//! request is recorded with what became of it (answered, read to the end, or dropped early).
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use llm_edge::core::error::{Error, ErrorKind};
use llm_edge::core::http::{Headers, HttpRequest};
use llm_edge::core::runtime::{Clock, ResponseBody, ResponseHead, Transport};
use serde_json::Value;

use super::clock::FakeClock;

/// One piece of a scripted body.
#[derive(Debug, Clone)]
pub enum Piece {
    /// These bytes, `after_ms` after the previous piece.
    Bytes { after_ms: u64, bytes: Vec<u8> },
    /// The connection breaks, `after_ms` after the previous piece.
    Fail { after_ms: u64 },
    /// Nothing more ever arrives.
    Hang,
}

#[derive(Debug, Clone)]
enum Answer {
    Response {
        status: u16,
        headers: Headers,
        body: Vec<Piece>,
    },
    /// The response head never arrives.
    Hang,
    /// The request fails before any answer.
    NetworkError,
}

/// How one request is answered.
#[derive(Debug, Clone)]
pub struct Reply {
    head_after_ms: u64,
    answer: Answer,
}

impl Reply {
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            head_after_ms: 0,
            answer: Answer::Response {
                status,
                headers: [("content-type", "application/json")].into_iter().collect(),
                body: vec![Piece::Bytes {
                    after_ms: 0,
                    bytes: body.into(),
                }],
            },
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200, body)
    }

    /// A 200 event stream, one piece per SSE event (split at blank lines).
    pub fn sse(text: &str) -> Reply {
        let normalized = text.replace("\r\n", "\n");
        let pieces = normalized
            .split_inclusive("\n\n")
            .filter(|event| !event.trim().is_empty())
            .map(|event| Piece::Bytes {
                after_ms: 0,
                bytes: event.as_bytes().to_vec(),
            })
            .collect();
        Reply {
            head_after_ms: 0,
            answer: Answer::Response {
                status: 200,
                headers: [("content-type", "text/event-stream")]
                    .into_iter()
                    .collect(),
                body: pieces,
            },
        }
    }

    pub fn hang() -> Reply {
        Reply {
            head_after_ms: 0,
            answer: Answer::Hang,
        }
    }

    pub fn network_error() -> Reply {
        Reply {
            head_after_ms: 0,
            answer: Answer::NetworkError,
        }
    }

    /// The head arrives after `ms`.
    pub fn after(mut self, ms: u64) -> Reply {
        self.head_after_ms = ms;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Answer::Response { headers, .. } = &mut self.answer {
            headers.set(name, value);
        }
        self
    }

    /// Every body piece arrives `ms` after the previous one.
    pub fn every(mut self, ms: u64) -> Reply {
        for piece in self.pieces() {
            if let Piece::Bytes { after_ms, .. } | Piece::Fail { after_ms } = piece {
                *after_ms = ms;
            }
        }
        self
    }

    /// Keeps only the first `n` body pieces.
    pub fn first_pieces(mut self, n: usize) -> Reply {
        self.pieces().truncate(n);
        self
    }

    /// Inserts a pause of `ms` before body piece `index`.
    pub fn pause_before(mut self, index: usize, ms: u64) -> Reply {
        if let Some(Piece::Bytes { after_ms, .. }) = self.pieces().get_mut(index) {
            *after_ms += ms;
        }
        self
    }

    /// After the pieces so far, the body never continues.
    pub fn then_hang(mut self) -> Reply {
        self.pieces().push(Piece::Hang);
        self
    }

    /// After the pieces so far, the connection breaks `after_ms` later.
    pub fn then_fail(mut self, after_ms: u64) -> Reply {
        self.pieces().push(Piece::Fail { after_ms });
        self
    }

    fn pieces(&mut self) -> &mut Vec<Piece> {
        match &mut self.answer {
            Answer::Response { body, .. } => body,
            _ => panic!("only a response has a body"),
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Sent; the head has not arrived.
    Waiting,
    /// The head arrived; the body is being read.
    Reading,
    /// Read to its end, or ended by a scripted failure.
    Finished,
    /// Dropped by the client before the end (the fetch would be aborted), at this elapsed ms.
    Dropped { at_ms: u64 },
}

/// One request the transport received.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub target: String,
    pub request: HttpRequest,
    /// Elapsed virtual ms when it was sent.
    pub sent_at_ms: u64,
    fate: Rc<Cell<Fate>>,
}

impl Exchange {
    pub fn fate(&self) -> Fate {
        self.fate.get()
    }

    pub fn body(&self) -> Value {
        serde_json::from_str(self.request.body.as_deref().unwrap_or("null")).unwrap()
    }
}

struct Inner {
    clock: FakeClock,
    scripts: RefCell<HashMap<String, VecDeque<Reply>>>,
    exchanges: RefCell<Vec<Exchange>>,
}

#[derive(Clone)]
pub struct ScriptedTransport(Rc<Inner>);

impl ScriptedTransport {
    pub fn new(clock: &FakeClock) -> Self {
        ScriptedTransport(Rc::new(Inner {
            clock: clock.clone(),
            scripts: RefCell::new(HashMap::new()),
            exchanges: RefCell::new(Vec::new()),
        }))
    }

    /// Queues replies for requests to `target` (`provider/model`), answered in order.
    pub fn script(&self, target: &str, replies: impl IntoIterator<Item = Reply>) {
        self.0
            .scripts
            .borrow_mut()
            .entry(target.to_string())
            .or_default()
            .extend(replies);
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.0.exchanges.borrow().clone()
    }

    /// The targets of the requests received, in order.
    pub fn targets(&self) -> Vec<String> {
        self.0
            .exchanges
            .borrow()
            .iter()
            .map(|e| e.target.clone())
            .collect()
    }

    fn elapsed(&self) -> u64 {
        self.0.clock.elapsed_ms()
    }
}

/// `provider/model` from the request the adapters produced for the official endpoints.
fn target_of(request: &HttpRequest) -> String {
    let url = &request.url;
    let body: Value = serde_json::from_str(request.body.as_deref().unwrap_or("{}")).unwrap();
    if url.starts_with("https://api.anthropic.com/") {
        format!("anthropic/{}", body["model"].as_str().unwrap())
    } else if url.starts_with("https://api.openai.com/") {
        format!("openai/{}", body["model"].as_str().unwrap())
    } else if let Some(rest) =
        url.strip_prefix("https://generativelanguage.googleapis.com/v1beta/models/")
    {
        format!("gemini/{}", rest.split(':').next().unwrap())
    } else {
        panic!("unexpected URL {url}")
    }
}

/// Marks the exchange dropped if it is dropped before it finished.
struct FateGuard {
    fate: Rc<Cell<Fate>>,
    clock: FakeClock,
}

impl Drop for FateGuard {
    fn drop(&mut self) {
        if matches!(self.fate.get(), Fate::Waiting | Fate::Reading) {
            self.fate.set(Fate::Dropped {
                at_ms: self.clock.elapsed_ms(),
            });
        }
    }
}

impl Transport for ScriptedTransport {
    type Body = ScriptedBody;

    async fn send(&self, request: HttpRequest) -> Result<ResponseHead<ScriptedBody>, Error> {
        let target = target_of(&request);
        let reply = self
            .0
            .scripts
            .borrow_mut()
            .get_mut(&target)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("no reply scripted for a request to {target}"));
        let fate = Rc::new(Cell::new(Fate::Waiting));
        self.0.exchanges.borrow_mut().push(Exchange {
            target,
            request,
            sent_at_ms: self.elapsed(),
            fate: fate.clone(),
        });
        let guard = FateGuard {
            fate: fate.clone(),
            clock: self.0.clock.clone(),
        };
        self.0.clock.sleep(reply.head_after_ms).await;
        match reply.answer {
            Answer::Hang => std::future::pending().await,
            Answer::NetworkError => {
                fate.set(Fate::Finished);
                Err(Error::new(
                    ErrorKind::Network,
                    "fetch failed: connection refused",
                ))
            }
            Answer::Response {
                status,
                headers,
                body,
            } => {
                fate.set(Fate::Reading);
                Ok(ResponseHead {
                    status,
                    headers,
                    body: ScriptedBody {
                        pieces: body.into(),
                        clock: self.0.clock.clone(),
                        guard,
                    },
                })
            }
        }
    }
}

pub struct ScriptedBody {
    pieces: VecDeque<Piece>,
    clock: FakeClock,
    guard: FateGuard,
}

impl ResponseBody for ScriptedBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        // The piece is taken only once its delay has passed, so a dropped read loses nothing.
        let wait = match self.pieces.front() {
            None => {
                self.guard.fate.set(Fate::Finished);
                return Ok(None);
            }
            Some(Piece::Hang) => return std::future::pending().await,
            Some(Piece::Bytes { after_ms, .. } | Piece::Fail { after_ms }) => *after_ms,
        };
        self.clock.sleep(wait).await;
        match self.pieces.pop_front() {
            Some(Piece::Bytes { bytes, .. }) => Ok(Some(bytes)),
            _ => {
                self.guard.fate.set(Fate::Finished);
                Err(Error::new(
                    ErrorKind::Network,
                    "the connection broke while reading the body",
                ))
            }
        }
    }
}
