//! The response cache as the client and the proxy use it: keys that ignore what does not change
//! the answer, TTL and LRU bounds, stale-if-error, single-flight coalescing, stream replay and
//! snapshots.
use llm_edge::core::cache::{
    canonical_request, is_cacheable, replay_events, CacheConfig, CacheKey, CacheSnapshot, Flight,
    ResponseCache, WaiterId,
};
use llm_edge::core::error::ErrorKind;
use llm_edge::core::event::{ResponseAssembler, StreamEvent};
use llm_edge::core::model::{ModelRef, Provider, Request, Response};
use serde_json::{json, Value};

const T0: u64 = 1_795_780_800_000;

fn request(overrides: Value) -> Request {
    let mut base = json!({
        "model": "anthropic/claude-haiku-4-5",
        "system": [{ "text": "Be brief.", "cache": "1h" }],
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": "Hi", "cache": "5m" }] }],
        "maxTokens": 256,
        "temperature": 0.7,
        "tools": [{
            "name": "lookup",
            "parameters": { "type": "object", "properties": { "q": { "type": "string" }, "cache": { "type": "boolean" } } }
        }],
        "metadata": { "conversationId": "c1", "endUserId": "u1" }
    });
    for (k, v) in overrides.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn haiku() -> ModelRef {
    ModelRef::parse("anthropic/claude-haiku-4-5").unwrap()
}

fn key(req: &Request) -> CacheKey {
    CacheKey::for_request(req, &haiku()).unwrap()
}

fn response(text: &str) -> Response {
    serde_json::from_value(json!({
        "id": "msg_1",
        "provider": "anthropic",
        "model": "claude-haiku-4-5-20251001",
        "content": [{ "type": "text", "text": text }],
        "finishReason": { "unified": "stop", "raw": "end_turn" },
        "usage": { "inputTokens": 12, "outputTokens": 3 },
        "requestId": "req_1",
        "warnings": []
    }))
    .unwrap()
}

#[test]
fn key_ignores_metadata_cache_markers_key_order_and_the_model_alias() {
    let base = key(&request(json!({})));
    let same = [
        request(json!({ "metadata": { "conversationId": "c2", "endUserId": "someone-else" } })),
        request(json!({ "metadata": {} })),
        request(json!({ "system": "Be brief." })),
        request(json!({ "messages": [{ "role": "user", "content": "Hi" }] })),
        // Another spelling that resolves to the same target.
        request(json!({ "model": "claude-haiku-4-5" })),
        // The same schema with its keys in another order.
        request(json!({ "tools": [{
            "parameters": { "properties": { "cache": { "type": "boolean" }, "q": { "type": "string" } }, "type": "object" },
            "name": "lookup"
        }] })),
    ];
    for (i, req) in same.iter().enumerate() {
        assert_eq!(key(req), base, "variant {i}");
    }
}

#[test]
fn key_changes_with_anything_that_changes_the_answer() {
    let base = key(&request(json!({})));
    let different = [
        request(json!({ "temperature": 0.8 })),
        request(json!({ "maxTokens": 257 })),
        request(json!({ "messages": [{ "role": "user", "content": "Hi!" }] })),
        request(json!({ "system": "Be verbose." })),
        request(json!({ "stop": ["\n"] })),
        request(json!({ "toolChoice": { "type": "required" } })),
        // A property named `cache` inside a tool schema is part of the schema, not a marker.
        request(json!({ "tools": [{
            "name": "lookup",
            "parameters": { "type": "object", "properties": { "q": { "type": "string" } } }
        }] })),
    ];
    for (i, req) in different.iter().enumerate() {
        assert_ne!(key(req), base, "variant {i}");
    }
    let sonnet = ModelRef::parse("anthropic/claude-sonnet-4-6").unwrap();
    assert_ne!(
        CacheKey::for_request(&request(json!({})), &sonnet).unwrap(),
        base
    );
}

#[test]
fn canonical_form_is_pinned() {
    // Changing this text changes every key: bump the version line when it must change.
    let req: Request = serde_json::from_value(json!({
        "model": "auto",
        "messages": [{ "role": "user", "content": "Hi" }],
        "maxTokens": 8,
        "metadata": { "endUserId": "u1" }
    }))
    .unwrap();
    let text = canonical_request(&req, &haiku()).unwrap();
    assert_eq!(
        text,
        "llm-edge response cache v1\nanthropic/claude-haiku-4-5\n\
         {\"maxTokens\":8,\"messages\":[{\"content\":[{\"text\":\"Hi\",\"type\":\"text\"}],\"role\":\"user\"}],\"system\":[]}"
    );
    // FNV-1a 64 of the text above, computed independently in Python.
    assert_eq!(key(&req).to_string(), "8a6052992bdfcd5b");
}

#[test]
fn entries_are_fresh_for_their_ttl() {
    let mut cache = ResponseCache::new(&CacheConfig {
        ttl_ms: 1_000,
        ..CacheConfig::default()
    })
    .unwrap();
    let k = key(&request(json!({})));
    assert!(cache.get(k, T0).is_none());
    assert!(cache.insert(k, response("Hello"), T0));
    let hit = cache.get(k, T0 + 999).unwrap();
    assert_eq!(
        (hit.response.text().as_str(), hit.age_ms, hit.stale),
        ("Hello", 999, false)
    );
    assert!(cache.get(k, T0 + 1_000).is_none(), "expired");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (1, 2));
    // A per-request TTL overrides the configured one.
    assert!(cache.insert_with_ttl(k, response("Hello"), T0, 10_000));
    assert!(cache.get(k, T0 + 9_999).is_some());
}

#[test]
fn least_recently_used_entries_are_evicted_first() {
    let mut cache = ResponseCache::new(&CacheConfig {
        max_entries: 2,
        ..CacheConfig::default()
    })
    .unwrap();
    let [a, b, c] = [CacheKey(1), CacheKey(2), CacheKey(3)];
    cache.insert(a, response("a"), T0);
    cache.insert(b, response("b"), T0);
    assert!(cache.get(a, T0).is_some()); // a is now the most recent
    cache.insert(c, response("c"), T0);
    assert!(cache.get(b, T0).is_none(), "b was the least recently used");
    assert!(cache.get(a, T0).is_some() && cache.get(c, T0).is_some());
    assert_eq!((cache.len(), cache.stats().evictions), (2, 1));
    // Replacing an entry does not evict another.
    cache.insert(a, response("a2"), T0);
    assert_eq!((cache.len(), cache.stats().evictions), (2, 1));
    assert_eq!(cache.get(a, T0).unwrap().response.text(), "a2");
}

#[test]
fn total_size_is_bounded_in_bytes() {
    let one = serde_json::to_vec(&response("x")).unwrap().len() as u64;
    let mut cache = ResponseCache::new(&CacheConfig {
        max_bytes: 2 * one + 1,
        ..CacheConfig::default()
    })
    .unwrap();
    let [a, b, c] = [CacheKey(1), CacheKey(2), CacheKey(3)];
    cache.insert(a, response("x"), T0);
    cache.insert(b, response("y"), T0);
    assert_eq!(cache.bytes(), 2 * one);
    cache.insert(c, response("z"), T0);
    assert_eq!((cache.len(), cache.bytes()), (2, 2 * one));
    assert!(cache.get(a, T0).is_none());
    // A response larger than the whole cache is not stored, and evicts nothing.
    assert!(!cache.insert(a, response(&"long ".repeat(100)), T0));
    assert_eq!(cache.len(), 2);
}

#[test]
fn stale_entries_serve_only_after_an_error_and_within_the_grace_period() {
    let mut cache = ResponseCache::new(&CacheConfig {
        ttl_ms: 1_000,
        ..CacheConfig::default()
    })
    .unwrap();
    let k = CacheKey(7);
    cache.insert(k, response("old"), T0);
    assert!(cache.get(k, T0 + 1_500).is_none());
    // The upstream call failed: the expired entry is still within 60 s of grace.
    let stale = cache.get_stale(k, T0 + 1_500, 60_000).unwrap();
    assert!(stale.stale);
    assert_eq!(
        (stale.response.text().as_str(), stale.age_ms),
        ("old", 1_500)
    );
    assert!(cache.get_stale(k, T0 + 61_000, 60_000).is_none());
    assert!(!cache.get_stale(k, T0 + 500, 60_000).unwrap().stale);
    assert_eq!(cache.stats().stale_hits, 1);
    assert_eq!(cache.purge_expired(T0 + 30_000, 60_000), 0);
    assert_eq!(cache.purge_expired(T0 + 61_000, 60_000), 1);
    assert!(cache.is_empty() && cache.bytes() == 0);
    assert_eq!(cache.stats().expired, 1);
}

#[test]
fn identical_requests_in_flight_share_one_upstream_call() {
    let mut cache = ResponseCache::new(&CacheConfig::default()).unwrap();
    let k = key(&request(json!({})));
    let other = key(&request(json!({ "temperature": 0.0 })));

    // Five identical requests arrive while the first is in flight; another key is independent.
    assert_eq!(cache.begin(k), Flight::Leader);
    let followers: Vec<WaiterId> = (0..4)
        .map(|_| match cache.begin(k) {
            Flight::Follower(id) => id,
            Flight::Leader => panic!("a second leader for the same key"),
        })
        .collect();
    assert_eq!(cache.begin(other), Flight::Leader);
    assert_eq!((cache.in_flight(), cache.stats().coalesced), (2, 4));

    // One follower gives up; the leader's answer is stored, then the others are woken.
    assert!(cache.leave(k, followers[1]));
    assert!(!cache.leave(k, followers[1]));
    cache.insert(k, response("shared"), T0);
    let woken = cache.complete(k);
    assert_eq!(woken, [followers[0], followers[2], followers[3]]);
    assert!(cache.complete(k).is_empty(), "the flight is over");
    // Later identical requests hit the cache; a new miss would lead a new flight.
    assert_eq!(cache.get(k, T0).unwrap().response.text(), "shared");
    assert_eq!(cache.begin(k), Flight::Leader);
    assert!(cache.complete(k).is_empty());
    assert_eq!(cache.in_flight(), 1);
}

#[test]
fn a_cancelled_leader_hands_the_call_to_the_longest_waiting_follower() {
    let mut cache = ResponseCache::new(&CacheConfig::default()).unwrap();
    let k = CacheKey(42);
    assert_eq!(cache.begin(k), Flight::Leader);
    let Flight::Follower(first) = cache.begin(k) else {
        panic!()
    };
    let Flight::Follower(second) = cache.begin(k) else {
        panic!()
    };
    assert_eq!(cache.abandon(k), Some(first), "first follower now leads");
    // The new leader completes: only the remaining follower is woken.
    assert_eq!(cache.complete(k), [second]);

    assert_eq!(cache.begin(k), Flight::Leader);
    assert_eq!(cache.abandon(k), None, "nobody waiting: the flight ends");
    assert_eq!(cache.in_flight(), 0);
    assert_eq!(cache.begin(k), Flight::Leader);
}

fn rich_response() -> Response {
    serde_json::from_value(json!({
        "id": "msg_9",
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "content": [
            { "type": "reasoning", "text": "The user wants weather.", "signature": "sig-abc" },
            { "type": "text", "text": "Let me check — один момент." },
            { "type": "tool-call", "id": "call_1", "name": "weather", "arguments": { "city": "Paris", "days": [1, 2] } },
            { "type": "tool-call", "id": "call_2", "name": "time", "arguments": {}, "signature": "g-sig" }
        ],
        "finishReason": { "unified": "tool-calls", "raw": "tool_use" },
        "usage": { "inputTokens": 40, "cacheReadTokens": 1000, "outputTokens": 55, "reasoningTokens": 12 },
        "requestId": "req_9",
        "warnings": []
    }))
    .unwrap()
}

#[test]
fn replayed_events_reassemble_into_the_cached_response() {
    let original = rich_response();
    for chunk in [0, 1, 5, 1_000] {
        let events = replay_events(&original, chunk);
        let mut assembler =
            ResponseAssembler::new(Provider::Anthropic, "anthropic/claude-sonnet-4-6");
        assembler.set_request_id(original.request_id.clone());
        for event in &events {
            assembler.push(event);
        }
        assert!(assembler.is_finished());
        assert_eq!(assembler.into_response(), original, "chunk size {chunk}");
    }
}

#[test]
fn replay_emits_the_events_a_live_stream_would() {
    let events = replay_events(&rich_response(), 12);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "reasoning-delta",
            "reasoning-delta",
            "reasoning-signature",
            "text-delta",
            "text-delta",
            "text-delta",
            "tool-call-start",
            "tool-call-delta",
            "tool-call-end",
            "tool-call-start",
            "tool-call-delta",
            "tool-call-end",
            "usage",
            "finish"
        ]
    );
    assert_eq!(
        events[1],
        StreamEvent::ReasoningDelta {
            text: "The user wan".into()
        }
    );
    // Tool calls are numbered among tool calls, and their arguments arrive as JSON text.
    assert_eq!(
        events[8],
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments_delta: r#"{"city":"Paris","days":[1,2]}"#.into()
        }
    );
    assert!(
        matches!(&events[10], StreamEvent::ToolCallStart { index: 1, id, .. } if id == "call_2")
    );
}

#[test]
fn only_complete_answers_are_cacheable() {
    let mut r = response("ok");
    assert!(is_cacheable(&r));
    for unified in ["length", "tool-calls"] {
        r.finish_reason =
            serde_json::from_value(json!({ "unified": unified, "raw": null })).unwrap();
        assert!(is_cacheable(&r), "{unified}");
    }
    for unified in ["content-filter", "pause", "other"] {
        r.finish_reason =
            serde_json::from_value(json!({ "unified": unified, "raw": null })).unwrap();
        assert!(!is_cacheable(&r), "{unified}");
    }
}

#[test]
fn snapshots_keep_entries_in_recency_order_and_counters() {
    let config = CacheConfig::default();
    let mut cache = ResponseCache::new(&config).unwrap();
    let [a, b, c] = [CacheKey(0xa), CacheKey(0xb), CacheKey(0xc)];
    cache.insert(a, response("a"), T0);
    cache.insert(b, response("b"), T0 + 1);
    cache.insert(c, response("c"), T0 + 2);
    cache.get(a, T0 + 3);
    cache.get(CacheKey(0xd), T0 + 3);
    let json = serde_json::to_value(cache.snapshot()).unwrap();
    let keys: Vec<&str> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["000000000000000b", "000000000000000c", "000000000000000a"]
    );
    assert_eq!(json["entries"][0]["storedAtMs"], T0 + 1);
    assert_eq!(json["entries"][0]["expiresAtMs"], T0 + 1 + 300_000);
    assert_eq!(json["stats"]["hits"], 1);
    assert_eq!(json["stats"]["misses"], 1);

    let snapshot: CacheSnapshot = serde_json::from_value(json).unwrap();
    let mut restored = ResponseCache::restore(&config, snapshot.clone()).unwrap();
    assert_eq!(restored.snapshot(), cache.snapshot());
    assert_eq!(restored.bytes(), cache.bytes());
    assert_eq!(restored.get(b, T0 + 4).unwrap().age_ms, 3);

    // Restored under a smaller limit, the least recently used entries go first.
    let small = CacheConfig {
        max_entries: 1,
        ..CacheConfig::default()
    };
    let mut shrunk = ResponseCache::restore(&small, snapshot).unwrap();
    assert_eq!(shrunk.len(), 1);
    assert!(shrunk.get(a, T0 + 4).is_some());
}

#[test]
fn invalid_configuration_is_a_config_error() {
    let err = ResponseCache::new(&CacheConfig {
        ttl_ms: 0,
        ..CacheConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("cache.ttlMs"), "{}", err.message());
}
