//! A push-based Server-Sent Events decoder.
//!
//! Follows the WHATWG "event stream interpretation" rules
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>):
//! bytes go in as the network delivers them, split anywhere, and [`SseEvent`]s come out once a
//! blank line dispatches them. The decoder never sees the network or a clock.
//!
//! Memory is bounded: the line being assembled plus the data (and event type) buffered for the
//! current event may not grow past a limit ([`DEFAULT_MAX_EVENT_BYTES`] unless set with
//! [`SseDecoder::with_max_event_bytes`]); past it the decoder returns
//! [`SseError::EventTooLarge`] and stays poisoned.

use std::fmt;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or "message" when none was given (as the spec says).
    pub event: String,
    /// `data:` lines joined with '\n' (the trailing '\n' the spec appends then removes is not there).
    pub data: String,
    /// The last event ID in force when the event was dispatched (spec: the "last event ID
    /// buffer"), None if never set. An empty `id:` field sets it to `Some("")`.
    pub id: Option<String>,
}

/// Why the decoder refused a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// One event (the line being read plus the data buffered for the event) grew past the limit.
    EventTooLarge {
        /// The limit in bytes that was exceeded.
        limit: usize,
    },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => write!(
                f,
                "server-sent event too large: the line being read plus the data buffered for \
                 the event exceeded the limit of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for SseError {}

/// The default bound on one event: 1 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// The UTF-8 encoding of U+FEFF BYTE ORDER MARK.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Where the decoder stands with respect to the optional BOM at the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BomState {
    /// At the start of the stream; this many leading bytes (0..=2) matched the BOM so far and are
    /// held back until we know whether they are a BOM or line content.
    Matching(usize),
    /// Past the start of the stream: any BOM from here on is ordinary data.
    Done,
}

/// A push-based SSE decoder: feed it chunks with [`feed_into`](Self::feed_into) (or
/// [`feed`](Self::feed)), then call [`finish`](Self::finish) at the end of the stream.
///
/// Once a feed has returned an error the decoder is poisoned: every later `feed_into`/`feed`
/// returns the same error and `finish` returns `None`.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_event_bytes: usize,
    /// The start of a line whose terminator has not arrived yet (raw bytes, not yet decoded:
    /// a chunk may end inside a multi-byte character). Empty between lines.
    line: Vec<u8>,
    /// The last chunk ended with CR: an LF at the start of the next chunk completes that CRLF.
    pending_cr: bool,
    bom: BomState,
    /// Spec: the "data buffer" (each `data` value followed by '\n').
    data: String,
    /// Spec: the "event type buffer".
    event_type: String,
    /// Spec: the "last event ID buffer".
    last_event_id: Option<String>,
    retry_ms: Option<u64>,
    poisoned: Option<SseError>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn block_has_line_end(block: &[u8]) -> bool {
    block
        .iter()
        .fold(false, |found, &b| found | (b == b'\n') | (b == b'\r'))
}

/// The same test in three wasm SIMD instructions: the release wasm is built for size
/// (`opt-level = "z"`), which does not vectorise the loop above.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn block_has_line_end(block: &[u8]) -> bool {
    use core::arch::wasm32::{u8x16, u8x16_eq, u8x16_splat, v128_any_true, v128_or};
    let b: [u8; 16] = block.try_into().unwrap_or([0; 16]);
    let block = u8x16(
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15],
    );
    v128_any_true(v128_or(
        u8x16_eq(block, u8x16_splat(b'\n')),
        u8x16_eq(block, u8x16_splat(b'\r')),
    ))
}

/// The index of the first CR or LF in `bytes`.
#[inline]
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    // Skip 16-byte blocks free of CR and LF first: the block test has no early exit, so the
    // compiler can vectorize it (a plain `position` goes byte by byte).
    const BLOCK: usize = 16;
    let mut start = 0;
    for block in bytes.chunks_exact(BLOCK) {
        if block_has_line_end(block) {
            break;
        }
        start += BLOCK;
    }
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| start + i)
}

/// A field's value as text, invalid UTF-8 replaced by U+FFFD. `str::from_utf8` first: it skips
/// ASCII a word at a time, where the lossy decoder's `Utf8Chunks` goes byte by byte (2.5% of
/// the npm package's CPU when consuming a stream).
fn field_text(value: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    }
}

impl SseDecoder {
    /// A decoder bounding each event to [`DEFAULT_MAX_EVENT_BYTES`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder bounding each event (the line being read plus the data and event type buffered
    /// for the event) to `limit` bytes.
    #[must_use]
    pub fn with_max_event_bytes(limit: usize) -> Self {
        SseDecoder {
            max_event_bytes: limit,
            line: Vec::new(),
            pending_cr: false,
            bom: BomState::Matching(0),
            data: String::new(),
            event_type: String::new(),
            last_event_id: None,
            retry_ms: None,
            poisoned: None,
        }
    }

    /// Feed one network chunk; dispatched events are appended to `out`.
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] when the line being read plus the data and event type
    /// buffered for the event would pass the limit; nothing more is buffered then. The events
    /// dispatched from this chunk before the offending line are still in `out`. The decoder is
    /// then poisoned: every later call returns the same error.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(err) = &self.poisoned {
            return Err(err.clone());
        }
        let result = self.feed_inner(chunk, out);
        if let Err(err) = &result {
            self.poisoned = Some(err.clone());
        }
        result
    }

    /// Convenience wrapper around [`feed_into`](Self::feed_into).
    ///
    /// # Errors
    ///
    /// As `feed_into`; the events dispatched earlier in the same chunk are then dropped (use
    /// `feed_into` to keep them).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out)?;
        Ok(out)
    }

    /// End of stream.
    ///
    /// Per the spec an event not terminated by a blank line is not dispatched ("If the file ends
    /// in the middle of an event, before the final empty line, the incomplete event is not
    /// dispatched."). As a documented leniency, if the stream ended right after one or more
    /// COMPLETE field lines (each ended by CR, LF or CRLF) that carried data, that pending event
    /// is returned here. A partial last line (no line terminator) is never returned, and neither
    /// is the event it belongs to: it may be a cut-off JSON document.
    ///
    /// Afterwards the decoder is ready for a new stream (e.g. a reconnection): the partial line
    /// and the event buffers are cleared and a leading BOM is dropped again, while the last event
    /// ID and the retry time persist, as they do for an `EventSource`. A poisoned decoder stays
    /// poisoned and returns `None`.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.poisoned.is_some() {
            return None;
        }
        // An empty `line` means the last line was complete. (Bytes held back as a possible BOM
        // are a partial line too, but then no data can have been buffered yet.)
        let event = if self.line.is_empty() && !self.data.is_empty() {
            Some(self.take_event())
        } else {
            None
        };
        self.line.clear();
        self.data.clear();
        self.event_type.clear();
        self.pending_cr = false;
        self.bom = BomState::Matching(0);
        event
    }

    /// The latest `retry:` value seen (milliseconds), if any.
    #[must_use]
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    fn feed_inner(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let BomState::Matching(mut matched) = self.bom {
            // Spec: the stream is decoded with "UTF-8 decode", which drops one leading BOM.
            // The BOM may itself be split across chunks, so hold matching bytes back.
            while matched < BOM.len() {
                let Some(&byte) = chunk.first() else {
                    self.bom = BomState::Matching(matched);
                    return Ok(());
                };
                if byte != BOM[matched] {
                    break;
                }
                matched += 1;
                chunk = &chunk[1..];
            }
            self.bom = BomState::Done;
            if matched < BOM.len() && matched > 0 {
                // Not a BOM after all: the bytes held back start the first line.
                self.check_size(matched)?;
                self.line.extend_from_slice(&BOM[..matched]);
            }
        }

        if self.pending_cr && !chunk.is_empty() {
            // Spec: CRLF is one line ending, even when a chunk boundary falls between the two.
            self.pending_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }

        // Complete the line left over from earlier chunks, if any.
        if !self.line.is_empty() {
            let Some(end) = find_line_end(chunk) else {
                self.check_size(self.line.len() + chunk.len())?;
                self.line.extend_from_slice(chunk);
                return Ok(());
            };
            self.check_size(self.line.len() + end)?;
            self.line.extend_from_slice(&chunk[..end]);
            // Take the buffer out to parse it while `self` is borrowed mutably, then put it back
            // (emptied) so its allocation is reused for the next split line.
            let mut line = std::mem::take(&mut self.line);
            let result = self.process_line(&line, out);
            line.clear();
            self.line = line;
            result?;
            chunk = self.skip_line_end(chunk, end);
        }

        // Lines entirely inside this chunk are parsed in place, without copying.
        while let Some(end) = find_line_end(chunk) {
            self.check_size(end)?;
            self.process_line(&chunk[..end], out)?;
            chunk = self.skip_line_end(chunk, end);
        }
        if !chunk.is_empty() {
            self.check_size(chunk.len())?;
            self.line.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// `chunk[end]` is CR or LF: return what follows the line ending.
    fn skip_line_end<'a>(&mut self, chunk: &'a [u8], end: usize) -> &'a [u8] {
        let rest = &chunk[end + 1..];
        if chunk[end] == b'\r' {
            match rest.first() {
                Some(b'\n') => return &rest[1..],
                None => self.pending_cr = true,
                Some(_) => {}
            }
        }
        rest
    }

    /// Fails if a line of `line_len` bytes plus what is buffered for the event passes the limit.
    #[inline]
    fn check_size(&self, line_len: usize) -> Result<(), SseError> {
        let total = line_len
            .saturating_add(self.data.len())
            .saturating_add(self.event_type.len());
        if total > self.max_event_bytes {
            Err(SseError::EventTooLarge {
                limit: self.max_event_bytes,
            })
        } else {
            Ok(())
        }
    }

    /// Interpret one complete line (without its terminator).
    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        // Spec: "If the line is empty (a blank line): Dispatch the event".
        if line.is_empty() {
            if self.data.is_empty() {
                // Spec: "If the data buffer is an empty string, set the data buffer and the
                // event type buffer to the empty string and return."
                self.event_type.clear();
            } else {
                out.push(self.take_event());
            }
            return Ok(());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            // Spec: "If the line starts with a U+003A COLON character (:) Ignore the line."
            Some(0) => return Ok(()),
            Some(colon) => {
                // Spec: "If value starts with a U+0020 SPACE character, remove it from value."
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            // Spec: no colon means "using the whole line as the field name, and the empty
            // string as the field value".
            None => (line, &[][..]),
        };
        // Field names are matched exactly (case-sensitive); bytes compare like the decoded text.
        match name {
            b"data" => {
                // Spec: "Append the field value to the data buffer, then append a single
                // U+000A LINE FEED (LF) character to the data buffer."
                let value = field_text(value);
                // Lossy decoding can grow invalid bytes threefold, so check the decoded size.
                self.check_size(value.len() + 1)?;
                self.data.reserve(value.len() + 1);
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                // Spec: "Set the event type buffer to the field value."
                let value = field_text(value);
                let total = self.data.len().saturating_add(value.len());
                if total > self.max_event_bytes {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event_bytes,
                    });
                }
                self.event_type.clear();
                self.event_type.push_str(&value);
            }
            // Spec: "If the field value does not contain U+0000 NULL, then set the last event ID
            // buffer to the field value. Otherwise, ignore the field." (A NUL byte in UTF-8 is
            // only ever U+0000, so checking the raw bytes is exact.)
            b"id" if !value.contains(&0) => {
                let value = field_text(value);
                match &mut self.last_event_id {
                    Some(id) => {
                        id.clear();
                        id.push_str(&value);
                    }
                    None => self.last_event_id = Some(value.into_owned()),
                }
            }
            // Spec: "If the field value consists of only ASCII digits, then interpret the field
            // value as an integer in base ten, and set the event stream's reconnection time to
            // that integer. Otherwise, ignore the field." An empty value is ignored (as browsers
            // do); a value too large for u64 saturates.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let ms = value.iter().fold(0u64, |acc, &d| {
                    acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                self.retry_ms = Some(ms);
            }
            // Spec: "Otherwise: The field is ignored." So are the `id` and `retry` fields that
            // failed their checks above.
            _ => {}
        }
        Ok(())
    }

    /// Build the event from the buffers and reset them; the data buffer must not be empty.
    fn take_event(&mut self) -> SseEvent {
        let mut data = std::mem::take(&mut self.data);
        // Spec: "If the data buffer's last character is a U+000A LINE FEED (LF) character, then
        // remove the last character from the data buffer." (It always is: every `data` field
        // appends one.)
        data.pop();
        // Spec: the type is "message" unless the event type buffer holds something else.
        let event = if self.event_type.is_empty() {
            String::from("message")
        } else {
            std::mem::take(&mut self.event_type)
        };
        SseEvent {
            event,
            data,
            id: self.last_event_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.map(str::to_owned),
        }
    }

    fn msg(data: &str) -> SseEvent {
        ev("message", data, None)
    }

    /// Everything observable about decoding one stream.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        events: Vec<SseEvent>,
        error: Option<SseError>,
        finished: Option<SseEvent>,
        retry_ms: Option<u64>,
    }

    fn run_chunks<'a>(limit: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
        let mut decoder = SseDecoder::with_max_event_bytes(limit);
        let mut events = Vec::new();
        let mut error = None;
        for chunk in chunks {
            if let Err(e) = decoder.feed_into(chunk, &mut events) {
                error = Some(e);
                break;
            }
        }
        Outcome {
            events,
            error,
            finished: decoder.finish(),
            retry_ms: decoder.retry_ms(),
        }
    }

    fn run_whole(limit: usize, input: &[u8]) -> Outcome {
        run_chunks(limit, [input])
    }

    /// Asserts that splitting `input` at every offset into two chunks, and feeding it one byte
    /// at a time, give the same outcome as feeding it whole; returns that outcome.
    fn assert_split_invariant(limit: usize, input: &[u8]) -> Outcome {
        let whole = run_whole(limit, input);
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(
                run_chunks(limit, [a, b]),
                whole,
                "limit {limit}, split at byte {cut} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            run_chunks(limit, input.chunks(1)),
            whole,
            "limit {limit}, one byte at a time: {:?}",
            String::from_utf8_lossy(input)
        );
        whole
    }

    /// Decodes `input` whole, split at every offset and byte by byte; checks the events and that
    /// nothing is left for `finish`.
    fn assert_decodes(input: &[u8], expected: &[SseEvent]) -> Outcome {
        let outcome = assert_split_invariant(DEFAULT_MAX_EVENT_BYTES, input);
        assert_eq!(outcome.events, expected);
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.finished, None);
        outcome
    }

    fn feed_all(decoder: &mut SseDecoder, chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed_into(chunk, &mut out).expect("no error");
        }
        out
    }

    // ------------------------------------------------------------------ fixture streams

    const OPENAI: &str = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

"#;

    const ANTHROPIC: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

: ping

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}

event: message_stop
data: {"type":"message_stop"}

"#;

    const CRLF: &str = "event: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n";
    const CR_ONLY: &str = "event: a\rdata: 1\rdata: 2\r\rdata: 3\r\r";
    const MIXED: &str =
        "data: 1\r\ndata: 2\rdata: 3\n\r\ndata: 4\n\rdata: 5\r\r\ndata: 6\n\ndata: 7\r\n\n";
    const BOM_STREAM: &str =
        "\u{FEFF}data: first\n\n\u{FEFF}data: second\n\ndata: \u{FEFF}third\n\n";
    const MULTILINE: &str = "data: line one\ndata: line two\ndata:\ndata: line four\n\n\
                             data\ndata\n\n";
    const ID_RETRY: &str = "retry: 2500\nid: 1\ndata: a\n\ndata: b\n\nid: 2\nevent: update\n\
                            data: c\n\nid\ndata: d\n\nid: bad\0id\ndata: e\n\nretry: nope\n\
                            id: 3\n\nretry: 10\nretry: x1\n";
    const MULTIBYTE: &str = "event: grüße\ndata: héllo 世界 🎉\nid: ключ\n\ndata: 🎉🎉\r\n\r\n";
    const INVALID_UTF8: &[u8] =
        b"data: a\xFFb\n\ndata: \xE4\xB8\n\ndata: \xF0\x9F\x8E\ndata: ok\n\n";
    const PARTIAL_BOM: &[u8] = b"\xEF\xBBdata: x\n\ndata: y\n\n";
    /// Small enough for a three-way split at every pair of offsets.
    const SMALL_CRLF_MULTIBYTE: &str = "\u{FEFF}event: é\r\nid: 世\r\ndata: 🎉\r\n\r\n";

    fn all_fixtures() -> Vec<&'static [u8]> {
        vec![
            OPENAI.as_bytes(),
            ANTHROPIC.as_bytes(),
            CRLF.as_bytes(),
            CR_ONLY.as_bytes(),
            MIXED.as_bytes(),
            BOM_STREAM.as_bytes(),
            MULTILINE.as_bytes(),
            ID_RETRY.as_bytes(),
            MULTIBYTE.as_bytes(),
            INVALID_UTF8,
            PARTIAL_BOM,
            SMALL_CRLF_MULTIBYTE.as_bytes(),
        ]
    }

    #[test]
    fn fixture_openai_stream() {
        let chunk = |delta: &str, finish: &str| {
            format!(
                r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#
            )
        };
        let expected = [
            msg(&chunk(r#"{"role":"assistant","content":""}"#, "null")),
            msg(&chunk(r#"{"content":"Hello"}"#, "null")),
            msg(&chunk(r#"{"content":" world"}"#, "null")),
            msg(&chunk("{}", r#""stop""#)),
            msg("[DONE]"),
        ];
        let outcome = assert_decodes(OPENAI.as_bytes(), &expected);
        // The data is exactly the JSON document: it parses and yields the streamed text.
        let text: String = outcome.events[..4]
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.data).expect("valid JSON");
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        assert_eq!(text, "Hello world");
    }

    #[test]
    fn fixture_anthropic_stream_with_event_types_and_ping_comment() {
        let e = |event: &str, data: &str| ev(event, data, None);
        let expected = [
            e(
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#,
            ),
            e(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            e("ping", r#"{"type": "ping"}"#),
            e(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            e(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}"#,
            ),
            e(
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            e(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}"#,
            ),
            e("message_stop", r#"{"type":"message_stop"}"#),
        ];
        assert_decodes(ANTHROPIC.as_bytes(), &expected);
    }

    #[test]
    fn fixture_crlf_line_endings() {
        assert_decodes(CRLF.as_bytes(), &[ev("a", "1\n2", None), msg("3")]);
    }

    #[test]
    fn fixture_cr_only_line_endings() {
        assert_decodes(CR_ONLY.as_bytes(), &[ev("a", "1\n2", None), msg("3")]);
    }

    #[test]
    fn fixture_mixed_line_endings() {
        // LF CR is two line endings (not a pair); CR CR LF is a CR then a CRLF.
        assert_decodes(
            MIXED.as_bytes(),
            &[msg("1\n2\n3"), msg("4"), msg("5"), msg("6"), msg("7")],
        );
    }

    #[test]
    fn fixture_bom_only_dropped_at_stream_start() {
        // The second BOM starts the field name "\u{FEFF}data", an unknown field.
        assert_decodes(BOM_STREAM.as_bytes(), &[msg("first"), msg("\u{FEFF}third")]);
    }

    #[test]
    fn fixture_multiline_data() {
        assert_decodes(
            MULTILINE.as_bytes(),
            &[msg("line one\nline two\n\nline four"), msg("\n")],
        );
    }

    #[test]
    fn fixture_id_and_retry() {
        let outcome = assert_decodes(
            ID_RETRY.as_bytes(),
            &[
                ev("message", "a", Some("1")),
                ev("message", "b", Some("1")),
                ev("update", "c", Some("2")),
                // `id` with no value sets the last event ID to the empty string.
                ev("message", "d", Some("")),
                // An id containing NUL is ignored: the previous one stays.
                ev("message", "e", Some("")),
            ],
        );
        assert_eq!(outcome.retry_ms, Some(10));
    }

    #[test]
    fn fixture_multibyte_utf8() {
        assert_decodes(
            MULTIBYTE.as_bytes(),
            &[
                ev("grüße", "héllo 世界 🎉", Some("ключ")),
                ev("message", "🎉🎉", Some("ключ")),
            ],
        );
    }

    #[test]
    fn fixture_invalid_utf8_is_decoded_lossily() {
        // Like the spec's UTF-8 decode: each maximal invalid subpart becomes one U+FFFD.
        assert_decodes(
            INVALID_UTF8,
            &[msg("a\u{FFFD}b"), msg("\u{FFFD}"), msg("\u{FFFD}\nok")],
        );
    }

    #[test]
    fn fixture_small_crlf_multibyte_survives_every_three_way_split() {
        let input = SMALL_CRLF_MULTIBYTE.as_bytes();
        let whole = assert_decodes(input, &[ev("é", "🎉", Some("世"))]);
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let chunks = [&input[..i], &input[i..j], &input[j..]];
                assert_eq!(
                    run_chunks(DEFAULT_MAX_EVENT_BYTES, chunks),
                    whole,
                    "cuts {i}, {j}"
                );
            }
        }
    }

    #[test]
    fn every_fixture_survives_every_split_under_small_limits() {
        // Errors too must not depend on where the chunks were cut.
        for input in all_fixtures() {
            for limit in [0, 1, 3, 8, 12, 20, 40, 100, 200] {
                assert_split_invariant(limit, input);
            }
        }
    }

    #[test]
    fn whole_lines_are_parsed_in_place() {
        let mut decoder = SseDecoder::new();
        let events = decoder.feed(ANTHROPIC.as_bytes()).unwrap();
        assert_eq!(events.len(), 8);
        assert_eq!(decoder.line.capacity(), 0, "no line was copied");
    }

    // ------------------------------------------------------------------ line endings

    #[test]
    fn find_line_end_finds_the_first_cr_or_lf_around_block_boundaries() {
        for len in 0..50 {
            let plain = vec![b'x'; len];
            assert_eq!(find_line_end(&plain), None, "len {len}");
            for pos in 0..len {
                for end in [b'\n', b'\r'] {
                    let mut bytes = plain.clone();
                    bytes[pos] = end;
                    // A later terminator must not win over the first one.
                    if pos + 1 < len {
                        bytes[len - 1] = b'\r';
                    }
                    assert_eq!(find_line_end(&bytes), Some(pos), "len {len}, pos {pos}");
                }
            }
        }
    }

    #[test]
    fn cr_at_end_of_chunk_then_lf_at_start_of_next_is_one_line_ending() {
        let mut decoder = SseDecoder::new();
        // Were CR and LF two endings, the LF would be a blank line dispatching "a" alone.
        let events = feed_all(&mut decoder, &[b"data: a\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(events, [msg("a\nb")]);

        // An empty chunk between the CR and the LF changes nothing.
        let mut decoder = SseDecoder::new();
        let events = feed_all(&mut decoder, &[b"data: a\r", b"", b"\ndata: b\n\n"]);
        assert_eq!(events, [msg("a\nb")]);

        // The same across a line held in the buffer: the CR ends a split line.
        let mut decoder = SseDecoder::new();
        let events = feed_all(&mut decoder, &[b"da", b"ta: a\r", b"\n", b"\r", b"\n"]);
        assert_eq!(events, [msg("a")]);
    }

    #[test]
    fn cr_at_end_of_chunk_then_cr_is_a_blank_line() {
        let mut decoder = SseDecoder::new();
        let events = feed_all(&mut decoder, &[b"data: a\r", b"\rdata: b\r\r"]);
        assert_eq!(events, [msg("a"), msg("b")]);
    }

    #[test]
    fn lf_then_cr_are_two_line_endings() {
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.feed(b"data: a\n\r").unwrap(), [msg("a")]);
    }

    #[test]
    fn multibyte_character_split_across_chunks_is_decoded_once_complete() {
        let text = "data: 世🎉\n\n".as_bytes();
        // Cut inside 世 (3 bytes) and inside 🎉 (4 bytes).
        let mut decoder = SseDecoder::new();
        let events = feed_all(
            &mut decoder,
            &[&text[..7], &text[7..10], &text[10..11], &text[11..]],
        );
        assert_eq!(events, [msg("世🎉")]);
    }

    // ------------------------------------------------------------------ BOM

    #[test]
    fn bom_split_across_chunks_is_dropped() {
        let mut decoder = SseDecoder::new();
        let events = feed_all(&mut decoder, &[b"\xEF", b"", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(events, [msg("x")]);
    }

    #[test]
    fn incomplete_bom_at_start_is_kept_as_line_content() {
        // Dropping the held-back bytes would let "data: x" through; kept, they start an unknown
        // field name.
        assert_decodes(PARTIAL_BOM, &[msg("y")]);
        assert_decodes(b"\xEFdata: x\n\n", &[]);
        assert_decodes(b"\xEF\xBB\xBEdata: x\n\n", &[]);
        // They form a line of their own when a line ending follows them.
        let mut decoder = SseDecoder::new();
        let events = feed_all(&mut decoder, &[b"\xEF\xBB", b"\n", b"data: y\n\n"]);
        assert_eq!(events, [msg("y")]);
    }

    #[test]
    fn second_bom_is_data() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed("\u{FEFF}\u{FEFF}data: x\n\ndata:\u{FEFF}\n\n".as_bytes())
            .unwrap();
        assert_eq!(events, [msg("\u{FEFF}")]);
    }

    // ------------------------------------------------------------------ dispatch and fields

    #[test]
    fn blank_line_dispatches_then_resets_data_and_event_type() {
        let mut decoder = SseDecoder::new();
        let events = decoder.feed(b"event: x\ndata: 1\n\ndata: 2\n\n").unwrap();
        assert_eq!(events, [ev("x", "1", None), msg("2")]);
    }

    #[test]
    fn blank_line_with_empty_data_buffer_resets_event_type_without_dispatch() {
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.feed(b"\n\n\r\n\r").unwrap(), []);
        let events = decoder.feed(b"event: x\n\ndata: 2\n\n").unwrap();
        assert_eq!(events, [msg("2")]);
    }

    #[test]
    fn comment_lines_are_ignored() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b": comment\n:\n:data: x\ndata: y\n: between\ndata: z\n\n")
            .unwrap();
        assert_eq!(events, [msg("y\nz")]);
    }

    #[test]
    fn only_one_leading_space_is_removed_and_later_colons_are_value() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b"data:no space\n\ndata:  two spaces\n\ndata: a:b: c\n\ndata:\tTab\n\n")
            .unwrap();
        assert_eq!(
            events,
            [
                msg("no space"),
                msg(" two spaces"),
                msg("a:b: c"),
                msg("\tTab")
            ]
        );
    }

    #[test]
    fn line_without_colon_is_a_field_with_empty_value() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b"data\n\ndata\ndata\n\nevent: x\nevent\ndata: y\n\n")
            .unwrap();
        assert_eq!(events, [msg(""), msg("\n"), msg("y")]);
    }

    #[test]
    fn unknown_and_wrongly_cased_fields_are_ignored() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b"Data: x\nDATA: y\nfoo: z\ndata : v\n event: w\n\ndata: real\nbar\n\n")
            .unwrap();
        assert_eq!(events, [msg("real")]);
    }

    #[test]
    fn event_field_sets_type_last_one_wins() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b"event: first\nevent: second\ndata: x\n\nevent:\ndata: y\n\n")
            .unwrap();
        assert_eq!(events, [ev("second", "x", None), msg("y")]);
    }

    #[test]
    fn id_persists_even_when_set_without_dispatch() {
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b"data: a\n\nid: 7\n\ndata: b\n\ndata: c\n\n")
            .unwrap();
        assert_eq!(
            events,
            [
                msg("a"),
                ev("message", "b", Some("7")),
                ev("message", "c", Some("7"))
            ]
        );
    }

    #[test]
    fn empty_id_sets_empty_string_and_nul_id_is_ignored() {
        let mut decoder = SseDecoder::new();
        assert_eq!(
            decoder.feed(b"id\ndata: x\n\n").unwrap(),
            [ev("message", "x", Some(""))]
        );
        let mut decoder = SseDecoder::new();
        let events = decoder
            .feed(b"id: 1\ndata: a\n\nid: x\0y\ndata: b\n\nid:\ndata: c\n\nid: \0\ndata: d\n\n")
            .unwrap();
        assert_eq!(
            events,
            [
                ev("message", "a", Some("1")),
                ev("message", "b", Some("1")),
                ev("message", "c", Some("")),
                ev("message", "d", Some("")),
            ]
        );
    }

    #[test]
    fn retry_accepts_only_ascii_digits() {
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.retry_ms(), None);
        assert_eq!(decoder.feed(b"retry: 3000\n").unwrap(), []);
        assert_eq!(decoder.retry_ms(), Some(3000));
        for bad in [
            "retry: 30a0\n",
            "retry: -1\n",
            "retry: +1\n",
            "retry:\n",
            "retry\n",
            "retry: 1.5\n",
            "retry:  500\n",
            "retry: 500 \n",
            "retry: \u{0663}\n", // ARABIC-INDIC DIGIT THREE: a digit, but not ASCII
        ] {
            assert_eq!(decoder.feed(bad.as_bytes()).unwrap(), []);
            assert_eq!(decoder.retry_ms(), Some(3000), "{bad:?}");
        }
        decoder.feed(b"retry:0\n").unwrap();
        assert_eq!(decoder.retry_ms(), Some(0));
        decoder.feed(b"retry: 0042\n").unwrap();
        assert_eq!(decoder.retry_ms(), Some(42));
        decoder
            .feed(b"retry: 99999999999999999999999999\n")
            .unwrap();
        assert_eq!(decoder.retry_ms(), Some(u64::MAX));
        // retry does not touch the event being built.
        let events = decoder.feed(b"data: x\nretry: 5\n\n").unwrap();
        assert_eq!(events, [msg("x")]);
        assert_eq!(decoder.retry_ms(), Some(5));
    }

    #[test]
    fn feed_and_default_agree_with_feed_into() {
        let mut a = SseDecoder::default();
        let mut b = SseDecoder::new();
        let mut out = vec![msg("already there")];
        b.feed_into(OPENAI.as_bytes(), &mut out).unwrap();
        assert_eq!(out[0], msg("already there"));
        assert_eq!(a.feed(OPENAI.as_bytes()).unwrap(), out[1..]);
        assert_eq!(a.max_event_bytes, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(DEFAULT_MAX_EVENT_BYTES, 1 << 20);
    }

    // ------------------------------------------------------------------ size limit

    fn too_large(limit: usize) -> SseError {
        SseError::EventTooLarge { limit }
    }

    #[test]
    fn event_at_the_limit_passes_one_byte_over_errors() {
        // The line "data:abcde" is 10 bytes; its data buffer "abcde\n" is 6.
        let mut decoder = SseDecoder::with_max_event_bytes(10);
        assert_eq!(decoder.feed(b"data:abcde\n\n").unwrap(), [msg("abcde")]);
        let mut decoder = SseDecoder::with_max_event_bytes(10);
        assert_eq!(decoder.feed(b"data:abcdef\n\n"), Err(too_large(10)));
    }

    #[test]
    fn data_buffered_over_several_lines_counts() {
        let mut decoder = SseDecoder::with_max_event_bytes(20);
        // 16-byte line, then 11 bytes buffered ("0123456789\n").
        assert_eq!(decoder.feed(b"data: 0123456789\n").unwrap(), []);
        assert_eq!(decoder.feed(b"data: 0123456789\n"), Err(too_large(20)));
    }

    #[test]
    fn event_type_buffer_counts() {
        let input = b"event: 0123456789\ndata: 01234\n\n";
        let mut decoder = SseDecoder::with_max_event_bytes(20);
        assert_eq!(decoder.feed(input), Err(too_large(20)));
        let mut decoder = SseDecoder::with_max_event_bytes(21);
        assert_eq!(
            decoder.feed(input).unwrap(),
            [ev("0123456789", "01234", None)]
        );
    }

    #[test]
    fn oversized_line_arriving_one_byte_at_a_time_errors_without_growing() {
        let limit = 16;
        let mut decoder = SseDecoder::with_max_event_bytes(limit);
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        let mut out = Vec::new();
        let mut failed_at = None;
        for (i, byte) in input.iter().enumerate() {
            if let Err(e) = decoder.feed_into(std::slice::from_ref(byte), &mut out) {
                assert_eq!(e, too_large(limit));
                failed_at = Some(i);
                break;
            }
            assert!(decoder.line.len() <= limit);
        }
        // Bytes 0..16 fit; the 17th (index 16) would pass the limit.
        assert_eq!(failed_at, Some(limit));
        assert_eq!(decoder.line.len(), limit, "the buffer did not grow further");
        assert!(out.is_empty());
    }

    #[test]
    fn oversized_unterminated_chunk_is_not_buffered() {
        let mut decoder = SseDecoder::with_max_event_bytes(16);
        assert_eq!(decoder.feed(&[b'x'; 100]), Err(too_large(16)));
        assert!(decoder.line.is_empty());
        let mut decoder = SseDecoder::with_max_event_bytes(16);
        decoder.feed(b"data: 0123").unwrap();
        assert_eq!(decoder.feed(b"456789abcdef"), Err(too_large(16)));
        assert_eq!(decoder.line, b"data: 0123");
    }

    #[test]
    fn long_comment_line_counts_too() {
        let mut decoder = SseDecoder::with_max_event_bytes(16);
        assert_eq!(
            decoder.feed(b": this keep-alive comment is long\n"),
            Err(too_large(16))
        );
    }

    #[test]
    fn lossy_decoding_cannot_push_data_past_the_limit() {
        // 11-byte line, but six invalid bytes decode to 18 bytes of U+FFFD.
        // The error comes with that line, not later (finish could hand out the data otherwise).
        let mut decoder = SseDecoder::with_max_event_bytes(12);
        assert_eq!(
            decoder.feed(b"data:\xFF\xFF\xFF\xFF\xFF\xFF\n"),
            Err(too_large(12))
        );
        assert_eq!(decoder.finish(), None);
        let mut decoder = SseDecoder::with_max_event_bytes(12);
        assert_eq!(
            decoder.feed(b"data:\xFF\xFF\n\n").unwrap(),
            [msg("\u{FFFD}\u{FFFD}")]
        );
        // The same for the event type.
        let mut decoder = SseDecoder::with_max_event_bytes(12);
        assert_eq!(
            decoder.feed(b"event:\xFF\xFF\xFF\xFF\xFF\n"),
            Err(too_large(12))
        );
    }

    #[test]
    fn many_small_events_under_the_limit_never_error() {
        let one = b"event: tick\ndata: 0123456789\n\n";
        let limit = 32;
        let stream: Vec<u8> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * 10_000)
            .collect();
        let mut decoder = SseDecoder::with_max_event_bytes(limit);
        let mut out = Vec::new();
        for chunk in stream.chunks(7) {
            decoder.feed_into(chunk, &mut out).unwrap();
        }
        assert_eq!(out.len(), 10_000);
        assert!(out.iter().all(|e| *e == ev("tick", "0123456789", None)));
        // Fed whole, too.
        let outcome = run_whole(limit, &stream);
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.events.len(), 10_000);
    }

    #[test]
    fn events_before_the_error_stay_in_out() {
        let mut decoder = SseDecoder::with_max_event_bytes(16);
        let mut out = Vec::new();
        let result = decoder.feed_into(b"data: a\n\ndata: 0123456789abcdef\n\n", &mut out);
        assert_eq!(result, Err(too_large(16)));
        assert_eq!(out, [msg("a")]);
    }

    #[test]
    fn decoder_is_poisoned_after_an_error() {
        let mut decoder = SseDecoder::with_max_event_bytes(16);
        decoder.feed(b"retry: 5\ndata: a\n").unwrap();
        assert_eq!(
            decoder.feed(b"data: 0123456789abcdef\n"),
            Err(too_large(16))
        );
        let mut out = Vec::new();
        assert_eq!(decoder.feed_into(b"\n", &mut out), Err(too_large(16)));
        assert_eq!(decoder.feed(b""), Err(too_large(16)));
        assert_eq!(decoder.feed(b"retry: 9\ndata: ok\n\n"), Err(too_large(16)));
        assert!(out.is_empty());
        assert_eq!(decoder.retry_ms(), Some(5));
        // The pending "a" is not handed out by finish either, now or after.
        assert_eq!(decoder.finish(), None);
        assert_eq!(decoder.feed(b"data: ok\n\n"), Err(too_large(16)));
    }

    #[test]
    fn error_display_and_trait() {
        let err = too_large(1024);
        let text = err.to_string();
        assert!(text.contains("1024 bytes"), "{text}");
        assert!(text.contains("too large"), "{text}");
        let dyn_err: &dyn std::error::Error = &err;
        assert!(dyn_err.source().is_none());
    }

    // ------------------------------------------------------------------ finish

    #[test]
    fn finish_returns_event_ended_by_complete_field_lines() {
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.feed(b"data: a\ndata: b\n").unwrap(), []);
        assert_eq!(decoder.finish(), Some(msg("a\nb")));

        // CR alone is a complete line ending; event type and id come along.
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.feed(b"id: 3\nevent: done\ndata: x\r").unwrap(), []);
        assert_eq!(decoder.finish(), Some(ev("done", "x", Some("3"))));

        // Complete lines after the data (a comment, a field) do not prevent it.
        let mut decoder = SseDecoder::new();
        decoder.feed(b"data: a\n: keep-alive\nretry: 1\n").unwrap();
        assert_eq!(decoder.finish(), Some(msg("a")));
    }

    #[test]
    fn finish_never_returns_a_partial_last_line() {
        for input in [
            &b"data: {\"partial"[..],
            b"data: a\ndata: {\"b",
            b"data: a\nevent: x",
            b"data: a\n:",
            b"data: a\n\xEF", // a split character is a partial line too
        ] {
            let mut decoder = SseDecoder::new();
            assert_eq!(decoder.feed(input).unwrap(), []);
            assert_eq!(decoder.finish(), None, "{input:?}");
        }
        // A stream of nothing but a partial BOM is a partial line.
        let mut decoder = SseDecoder::new();
        decoder.feed(b"\xEF\xBB").unwrap();
        assert_eq!(decoder.finish(), None);
    }

    #[test]
    fn finish_returns_nothing_without_pending_data() {
        for input in [&b""[..], b"event: x\nid: 1\n", b"data: a\n\n", b": ping\n"] {
            let mut decoder = SseDecoder::new();
            decoder.feed(input).unwrap();
            assert_eq!(decoder.finish(), None, "{input:?}");
        }
    }

    #[test]
    fn finish_resets_for_a_new_stream_keeping_id_and_retry() {
        let mut decoder = SseDecoder::new();
        decoder
            .feed(b"retry: 7\nid: 4\nevent: x\ndata: a\ndata: {\"cut")
            .unwrap();
        assert_eq!(decoder.finish(), None);
        // Nothing of the old event or partial line leaks; a leading BOM is dropped again.
        let events = decoder.feed(b"\xEF\xBB\xBFdata: b\n\n").unwrap();
        assert_eq!(events, [ev("message", "b", Some("4"))]);
        assert_eq!(decoder.retry_ms(), Some(7));

        let mut decoder = SseDecoder::new();
        decoder.feed(b"data: a\r").unwrap();
        assert_eq!(decoder.finish(), Some(msg("a")));
        assert_eq!(decoder.feed(b"\ndata: b\n\n").unwrap(), [msg("b")]);
        assert_eq!(decoder.finish(), None);
    }
}
