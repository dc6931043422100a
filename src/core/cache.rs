//! The opt-in response cache: exact match on a normalised request, with a TTL, an LRU bound on
//! entries and bytes, stale-if-error, and single-flight bookkeeping so identical requests in
//! flight at the same time share one upstream call.
//!
//! One stored [`Response`] serves both `chat()` and `stream()`: [`replay_events`] turns it into
//! the unified stream events a live stream would have produced, so streams are cached too.
//!
//! Pure state: no clock, no I/O, every operation takes `now_ms`. Only successful answers should
//! be stored ([`is_cacheable`]); the caller decides when to consult the cache and what a hit
//! costs (nothing: no provider was called).
//!
//! Requests with `temperature > 0` are cached like any other once the user opts in: the cache
//! then returns one sample for every identical request until the entry expires. That is the
//! point of opting in (repeatable demos, retried pages, test suites), and the reason it is off
//! by default.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::{Error, ErrorKind};
use super::event::StreamEvent;
use super::model::{ContentPart, FinishKind, ModelRef, Request, Response};

/// Bumped whenever the canonical form changes, so old snapshots miss instead of colliding.
const KEY_VERSION: &str = "llm-edge response cache v1";

/// A request's cache key: FNV-1a 64 of [`canonical_request`]. Serialised as 16 hex digits (a
/// JSON number would lose bits in JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub u64);

impl CacheKey {
    /// The key of `request` as sent to `model` (the resolved target, not the requested alias).
    pub fn for_request(request: &Request, model: &ModelRef) -> Result<CacheKey, Error> {
        Ok(CacheKey(fnv1a_64(
            canonical_request(request, model)?.as_bytes(),
        )))
    }

    pub fn from_hex(hex: &str) -> Option<CacheKey> {
        (hex.len() == 16)
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten()
            .map(CacheKey)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for CacheKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CacheKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(d)?;
        CacheKey::from_hex(&hex).ok_or_else(|| {
            serde::de::Error::custom(format!("`{hex}` is not a 16-digit hex cache key"))
        })
    }
}

fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The text a cache key hashes: a version line, the resolved `provider/model`, and the request
/// as JSON with object keys sorted at every depth (so a tool schema's key order does not
/// matter), without the fields that do not change the answer:
/// - `model`: replaced by the resolved target (`auto` and `anthropic/claude-haiku-4-5` that
///   resolve to the same model share entries; the same alias routed elsewhere does not);
/// - `metadata` (`conversationId`, `endUserId`): bookkeeping, not prompt. Identical requests
///   from different end users therefore share an entry;
/// - the prompt-cache markers (`cache: "5m" | "1h"`) on system blocks, content parts and
///   tools: they change the bill, not the answer.
///
/// Everything else counts, including `maxTokens`, `temperature`, `stop`, tools and the
/// response format.
pub fn canonical_request(request: &Request, model: &ModelRef) -> Result<String, Error> {
    let mut value = serde_json::to_value(request).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("the request cannot be written as JSON: {e}"),
        )
    })?;
    if let Value::Object(fields) = &mut value {
        fields.remove("model");
        fields.remove("metadata");
        for list in ["system", "tools"] {
            strip_cache_markers(fields.get_mut(list));
        }
        if let Some(Value::Array(messages)) = fields.get_mut("messages") {
            for message in messages {
                strip_cache_markers(message.get_mut("content"));
            }
        }
    }
    let mut text = format!("{KEY_VERSION}\n{}\n", model.qualified());
    write_canonical(&value, &mut text);
    Ok(text)
}

fn strip_cache_markers(list: Option<&mut Value>) {
    if let Some(Value::Array(items)) = list {
        for item in items {
            if let Value::Object(fields) = item {
                fields.remove("cache");
            }
        }
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&fields[key], out);
            }
            out.push('}');
        }
        leaf => out.push_str(&leaf.to_string()),
    }
}

/// Whether a response is a complete answer worth replaying: it stopped normally, at
/// `maxTokens` (part of the key) or to call tools. Filtered, paused or unexplained endings are
/// not cached.
pub fn is_cacheable(response: &Response) -> bool {
    matches!(
        response.finish_reason.unified,
        FinishKind::Stop | FinishKind::Length | FinishKind::ToolCalls
    )
}

/// The stream events that replay `response`: `Start`, its content in order (text in deltas of
/// at most `text_chunk_chars` characters, 0 for one delta per part; reasoning with its
/// signature; each tool call as start, one arguments delta and end), `Usage` when any was
/// reported, then `Finish`. Folding them with [`super::event::ResponseAssembler`] gives back
/// the response's content, finish reason and usage. Image parts have no stream event and are
/// skipped (no provider answers with one).
pub fn replay_events(response: &Response, text_chunk_chars: usize) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::Start {
        id: response.id.clone(),
        model: Some(response.model.clone()),
    }];
    let mut tool_index = 0u32;
    for part in &response.content {
        match part {
            ContentPart::Text { text, .. } => {
                for chunk in chunks(text, text_chunk_chars) {
                    events.push(StreamEvent::TextDelta {
                        text: chunk.to_string(),
                    });
                }
            }
            ContentPart::Reasoning { text, signature } => {
                for chunk in chunks(text, text_chunk_chars) {
                    events.push(StreamEvent::ReasoningDelta {
                        text: chunk.to_string(),
                    });
                }
                if let Some(signature) = signature {
                    events.push(StreamEvent::ReasoningSignature {
                        signature: signature.clone(),
                    });
                }
            }
            ContentPart::ToolCall {
                id,
                name,
                arguments,
                signature,
            } => {
                events.push(StreamEvent::ToolCallStart {
                    index: tool_index,
                    id: id.clone(),
                    name: name.clone(),
                });
                events.push(StreamEvent::ToolCallDelta {
                    index: tool_index,
                    arguments_delta: arguments.to_string(),
                });
                events.push(StreamEvent::ToolCallEnd {
                    index: tool_index,
                    id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                    signature: signature.clone(),
                });
                tool_index += 1;
            }
            ContentPart::Image { .. } | ContentPart::ToolResult { .. } => {}
        }
    }
    if !response.usage.is_empty() {
        events.push(StreamEvent::Usage {
            usage: response.usage,
        });
    }
    events.push(StreamEvent::Finish {
        reason: response.finish_reason.clone(),
        usage: response.usage,
    });
    events
}

/// `text` in pieces of at most `max_chars` characters (never splitting a character); the
/// whole text for 0. An empty text has no pieces.
fn chunks(text: &str, max_chars: usize) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    if max_chars == 0 {
        return vec![text];
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    for (count, (at, _)) in text.char_indices().enumerate() {
        if count > 0 && count % max_chars == 0 {
            pieces.push(&text[start..at]);
            start = at;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Cache settings (`cache` in the client options; absent means no caching).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an entry is served fresh.
    pub ttl_ms: u64,
    pub max_entries: u64,
    /// Bound on the stored responses' size, measured as their JSON length.
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    /// Five minutes, 256 entries, 4 MiB: enough for a page's repeated calls without letting a
    /// long-lived client or a Durable Object grow without bound.
    fn default() -> Self {
        CacheConfig {
            ttl_ms: 300_000,
            max_entries: 256,
            max_bytes: 4 << 20,
        }
    }
}

impl CacheConfig {
    pub fn validate(&self) -> Result<(), Error> {
        for (setting, value) in [
            ("ttlMs", self.ttl_ms),
            ("maxEntries", self.max_entries),
            ("maxBytes", self.max_bytes),
        ] {
            if value == 0 {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("cache.{setting} must be at least 1 (omit `cache` to disable caching)"),
                ));
            }
        }
        Ok(())
    }
}

/// Counters since the cache was created (kept across snapshots).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CacheStats {
    /// Fresh entries served.
    pub hits: u64,
    /// Lookups that found nothing fresh.
    pub misses: u64,
    /// Expired entries served by [`ResponseCache::get_stale`] after an upstream error.
    pub stale_hits: u64,
    /// Requests that waited for an identical request in flight instead of calling upstream.
    pub coalesced: u64,
    /// Entries dropped to stay within `maxEntries` / `maxBytes`.
    pub evictions: u64,
    /// Entries dropped by [`ResponseCache::purge_expired`].
    pub expired: u64,
}

/// A response found in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheHit {
    pub response: Response,
    pub age_ms: u64,
    /// Served past its TTL because the upstream call failed (stale-if-error).
    pub stale: bool,
}

/// One follower of an in-flight request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaiterId(pub u64);

/// Who makes the upstream call for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flight {
    /// Nobody is calling for this key: the caller makes the call and must end the flight with
    /// [`ResponseCache::complete`] (or [`ResponseCache::abandon`] if it gives up).
    Leader,
    /// An identical request is in flight: wait to be woken with its result.
    Follower(WaiterId),
}

/// An entry as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedEntry {
    pub key: CacheKey,
    pub stored_at_ms: u64,
    pub expires_at_ms: u64,
    pub response: Response,
}

/// The cache's persistent state: entries from least to most recently used, and the counters.
/// Requests in flight are not part of it (they die with the process that made them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CacheSnapshot {
    pub entries: Vec<CachedEntry>,
    pub stats: CacheStats,
}

#[derive(Debug, Clone)]
struct Entry {
    response: Response,
    stored_at_ms: u64,
    expires_at_ms: u64,
    bytes: u64,
    /// Position in the recency order.
    tick: u64,
}

/// The response cache with its single-flight table.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    config: CacheConfig,
    entries: HashMap<CacheKey, Entry>,
    /// tick -> key, oldest first: the LRU order.
    recency: BTreeMap<u64, CacheKey>,
    next_tick: u64,
    bytes: u64,
    stats: CacheStats,
    flights: HashMap<CacheKey, VecDeque<WaiterId>>,
    next_waiter: u64,
}

impl ResponseCache {
    pub fn new(config: &CacheConfig) -> Result<ResponseCache, Error> {
        Self::restore(config, CacheSnapshot::default())
    }

    /// Rebuilds a cache from its persisted state under the current limits (entries beyond
    /// them are evicted, oldest first).
    pub fn restore(config: &CacheConfig, snapshot: CacheSnapshot) -> Result<ResponseCache, Error> {
        config.validate()?;
        let mut cache = ResponseCache {
            config: config.clone(),
            entries: HashMap::new(),
            recency: BTreeMap::new(),
            next_tick: 0,
            bytes: 0,
            stats: snapshot.stats,
            flights: HashMap::new(),
            next_waiter: 0,
        };
        for entry in snapshot.entries {
            cache.store(
                entry.key,
                entry.response,
                entry.stored_at_ms,
                entry.expires_at_ms,
            );
        }
        Ok(cache)
    }

    pub fn snapshot(&self) -> CacheSnapshot {
        CacheSnapshot {
            entries: self
                .recency
                .values()
                .map(|key| {
                    let entry = &self.entries[key];
                    CachedEntry {
                        key: *key,
                        stored_at_ms: entry.stored_at_ms,
                        expires_at_ms: entry.expires_at_ms,
                        response: entry.response.clone(),
                    }
                })
                .collect(),
            stats: self.stats,
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stored responses' total JSON size.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// A fresh entry for `key`, counted as a hit or a miss. An expired entry is a miss but is
    /// kept for [`get_stale`](Self::get_stale) until evicted or purged.
    pub fn get(&mut self, key: CacheKey, now_ms: u64) -> Option<CacheHit> {
        match self.entries.get(&key) {
            Some(entry) if now_ms < entry.expires_at_ms => {
                self.stats.hits += 1;
                Some(self.hit(key, now_ms))
            }
            _ => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// After an upstream error: the entry for `key` if it expired less than
    /// `stale_if_error_ms` ago (marked stale), or if it is still fresh.
    pub fn get_stale(
        &mut self,
        key: CacheKey,
        now_ms: u64,
        stale_if_error_ms: u64,
    ) -> Option<CacheHit> {
        let entry = self.entries.get(&key)?;
        if now_ms >= entry.expires_at_ms.saturating_add(stale_if_error_ms) {
            return None;
        }
        if now_ms < entry.expires_at_ms {
            self.stats.hits += 1;
        } else {
            self.stats.stale_hits += 1;
        }
        Some(self.hit(key, now_ms))
    }

    fn hit(&mut self, key: CacheKey, now_ms: u64) -> CacheHit {
        self.touch(key);
        let entry = &self.entries[&key];
        CacheHit {
            response: entry.response.clone(),
            age_ms: now_ms.saturating_sub(entry.stored_at_ms),
            stale: now_ms >= entry.expires_at_ms,
        }
    }

    /// Stores `response` under `key` for the configured TTL. Returns false (nothing stored)
    /// when the response alone is larger than `maxBytes`.
    pub fn insert(&mut self, key: CacheKey, response: Response, now_ms: u64) -> bool {
        self.insert_with_ttl(key, response, now_ms, self.config.ttl_ms)
    }

    /// Stores `response` under `key` for `ttl_ms` (a per-request override).
    pub fn insert_with_ttl(
        &mut self,
        key: CacheKey,
        response: Response,
        now_ms: u64,
        ttl_ms: u64,
    ) -> bool {
        self.store(key, response, now_ms, now_ms.saturating_add(ttl_ms))
    }

    fn store(
        &mut self,
        key: CacheKey,
        response: Response,
        stored_at_ms: u64,
        expires_at_ms: u64,
    ) -> bool {
        self.remove(key);
        let bytes = serde_json::to_vec(&response).map_or(u64::MAX, |json| json.len() as u64);
        if bytes > self.config.max_bytes {
            return false;
        }
        while self.entries.len() as u64 >= self.config.max_entries
            || self.bytes + bytes > self.config.max_bytes
        {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes -= evicted.bytes;
                self.stats.evictions += 1;
            }
        }
        let tick = self.tick();
        self.recency.insert(tick, key);
        self.bytes += bytes;
        self.entries.insert(
            key,
            Entry {
                response,
                stored_at_ms,
                expires_at_ms,
                bytes,
                tick,
            },
        );
        true
    }

    pub fn remove(&mut self, key: CacheKey) -> bool {
        match self.entries.remove(&key) {
            Some(entry) => {
                self.recency.remove(&entry.tick);
                self.bytes -= entry.bytes;
                true
            }
            None => false,
        }
    }

    /// Drops entries more than `keep_stale_ms` past their expiry (pass the stale-if-error
    /// window, or 0), and returns how many.
    pub fn purge_expired(&mut self, now_ms: u64, keep_stale_ms: u64) -> usize {
        let dead: Vec<CacheKey> = self
            .entries
            .iter()
            .filter(|(_, e)| now_ms >= e.expires_at_ms.saturating_add(keep_stale_ms))
            .map(|(key, _)| *key)
            .collect();
        for key in &dead {
            self.remove(*key);
        }
        self.stats.expired += dead.len() as u64;
        dead.len()
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    fn touch(&mut self, key: CacheKey) {
        let tick = self.tick();
        if let Some(entry) = self.entries.get_mut(&key) {
            self.recency.remove(&entry.tick);
            entry.tick = tick;
            self.recency.insert(tick, key);
        }
    }

    /// Joins the flight for `key`: the first caller leads (makes the upstream call), later
    /// ones follow until the leader completes or abandons.
    pub fn begin(&mut self, key: CacheKey) -> Flight {
        match self.flights.get_mut(&key) {
            None => {
                self.flights.insert(key, VecDeque::new());
                Flight::Leader
            }
            Some(waiters) => {
                self.next_waiter += 1;
                let id = WaiterId(self.next_waiter);
                waiters.push_back(id);
                self.stats.coalesced += 1;
                Flight::Follower(id)
            }
        }
    }

    /// The leader finished (with a response or an error): ends the flight and returns the
    /// followers to wake with that result, in arrival order. Store a successful response with
    /// [`insert`](Self::insert) first so that later requests hit it.
    pub fn complete(&mut self, key: CacheKey) -> Vec<WaiterId> {
        self.flights.remove(&key).map(Vec::from).unwrap_or_default()
    }

    /// The leader gave up without a result (cancelled): the longest-waiting follower becomes
    /// the leader and should make the call itself. `None` when nobody was waiting (the flight
    /// is over).
    pub fn abandon(&mut self, key: CacheKey) -> Option<WaiterId> {
        let waiters = self.flights.get_mut(&key)?;
        match waiters.pop_front() {
            Some(next) => Some(next),
            None => {
                self.flights.remove(&key);
                None
            }
        }
    }

    /// A follower stopped waiting (its caller cancelled). Returns whether it was waiting.
    pub fn leave(&mut self, key: CacheKey, waiter: WaiterId) -> bool {
        let Some(waiters) = self.flights.get_mut(&key) else {
            return false;
        };
        let before = waiters.len();
        waiters.retain(|w| *w != waiter);
        before != waiters.len()
    }

    /// Keys with a call in flight.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite (64-bit FNV-1a).
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn keys_print_and_parse_as_16_hex_digits() {
        let key = CacheKey(0x00ab_cdef_0123_4567);
        assert_eq!(key.to_string(), "00abcdef01234567");
        assert_eq!(CacheKey::from_hex("00abcdef01234567"), Some(key));
        assert_eq!(CacheKey::from_hex("abc"), None);
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"00abcdef01234567\"");
        assert!(serde_json::from_str::<CacheKey>("\"zz\"").is_err());
    }

    #[test]
    fn chunks_split_on_characters() {
        assert_eq!(chunks("héllo", 2), ["hé", "ll", "o"]);
        assert_eq!(chunks("héllo", 0), ["héllo"]);
        assert_eq!(chunks("ab", 2), ["ab"]);
        assert!(chunks("", 3).is_empty());
    }

    #[test]
    fn config_is_validated() {
        let err = CacheConfig {
            max_entries: 0,
            ..CacheConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(
            err.message().starts_with("cache.maxEntries"),
            "{}",
            err.message()
        );
        assert!(serde_json::from_str::<CacheConfig>(r#"{"ttl":5}"#).is_err());
        let c: CacheConfig = serde_json::from_str(r#"{"ttlMs":5}"#).unwrap();
        assert_eq!((c.ttl_ms, c.max_entries), (5, 256));
    }
}
