//! Offline token estimation: no vocabulary, no network, one pass over the text.
//!
//! The text is split roughly the way o200k_base's pre-tokenizer splits it (words with one
//! leading space or symbol, case changes inside identifiers, digit groups, runs of punctuation,
//! newlines, spaces), and each piece is charged by its character classes: ASCII words cost one
//! token up to about seven letters and grow past that; accented Latin, Cyrillic, Greek, Hebrew,
//! Arabic, Indic, Thai, kana, Han and Hangul letters each have their own weight; emoji and
//! joiners cost more than ASCII punctuation.
//!
//! The weights were fitted, with underestimates counting double, against real tokenizers on
//! `tests/fixtures/tokens/corpus.json` (75 samples: prose, code, JSON, numbers, markdown, URLs,
//! 16 languages, emoji, chat): OpenAI's o200k_base (gpt-tokenizer) and, for Gemini, the Gemma 3
//! tokenizer, which Google describes as the Gemini 2.x one. The accuracy test in
//! `tests/cost_vectors.rs` prints the errors. The estimate leans slightly high on purpose (budgets
//! are gated on it); its worst underestimates are languages whose Latin spelling the vocabularies
//! cover poorly (Polish, Turkish) and random-looking identifiers (hashes, base64).
//!
//! Anthropic publishes no offline tokenizer for Claude 3 and later (its `count_tokens` endpoint
//! is the exact answer), so Claude estimates are the o200k estimate plus a 25% allowance: an
//! assumption, not a measurement, chosen because Claude's tokenizer is known to produce more
//! tokens than OpenAI's for the same text.
use super::model::{CacheTtl, ContentPart, Provider, Request, ResponseFormat};

/// Weights in thousandths of a token (lengths in thousandths of a character).
struct Profile {
    /// Characters an ASCII word gets for its first token, and the cost of each one beyond.
    word_free_chars: u64,
    word_extra_char: u64,
    /// A word led by a symbol rather than a space (`.get`, `(self`).
    word_symbol_prefix: u64,
    latin1: u64,
    latin_ext: u64,
    vietnamese: u64,
    cyrillic: u64,
    abjad: u64,
    brahmic: u64,
    thai: u64,
    han: u64,
    kana: u64,
    hangul: u64,
    /// Digits per token (o200k groups three; Gemini's tokenizer splits every digit).
    digit_group: usize,
    punct_free_chars: u64,
    punct_extra_char: u64,
    symbol: u64,
    emoji: u64,
    joiner: u64,
    newline: u64,
    spaces: u64,
}

const OPENAI: Profile = Profile {
    word_free_chars: 6_700,
    word_extra_char: 275,
    word_symbol_prefix: 400,
    latin1: 450,
    latin_ext: 1_200,
    vietnamese: 100,
    cyrillic: 250,
    abjad: 395,
    brahmic: 295,
    thai: 390,
    han: 840,
    kana: 875,
    hangul: 695,
    digit_group: 3,
    punct_free_chars: 2_750,
    punct_extra_char: 575,
    symbol: 260,
    emoji: 2_000,
    joiner: 800,
    newline: 1_050,
    spaces: 1_010,
};

const GEMINI: Profile = Profile {
    word_free_chars: 5_800,
    word_extra_char: 300,
    word_symbol_prefix: 445,
    latin1: 255,
    latin_ext: 865,
    vietnamese: 105,
    cyrillic: 255,
    abjad: 425,
    brahmic: 215,
    thai: 285,
    han: 720,
    kana: 490,
    hangul: 650,
    digit_group: 1,
    punct_free_chars: 1_585,
    punct_extra_char: 745,
    symbol: 460,
    emoji: 1_600,
    joiner: 880,
    newline: 1_350,
    spaces: 1_395,
};

/// Claude estimates: the o200k estimate times this, in thousandths (see the module docs).
const ANTHROPIC_ALLOWANCE_PER_MILLE: u64 = 1_250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    // Letters (the order matters: everything up to `Hangul` is a letter).
    Latin,
    Latin1,
    LatinExt,
    Vietnamese,
    Cyrillic,
    Abjad,
    Brahmic,
    Thai,
    Han,
    Kana,
    Hangul,
    // Everything else.
    Digit,
    Space,
    Newline,
    Punct,
    Symbol,
    Emoji,
    Joiner,
}

impl Class {
    fn is_letter(self) -> bool {
        self as u8 <= Class::Hangul as u8
    }

    /// Characters that join a run of punctuation (`[^\s\p{L}\p{N}]` in o200k's pattern).
    fn is_punct_like(self) -> bool {
        matches!(
            self,
            Class::Punct | Class::Symbol | Class::Emoji | Class::Joiner
        )
    }
}

/// Script classes by code point range: coarse on purpose (no Unicode tables in the wasm).
fn classify(c: char) -> Class {
    let o = c as u32;
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Latin,
            '0'..='9' => Class::Digit,
            '\n' | '\r' => Class::Newline,
            ' ' | '\t' | '\x0b' | '\x0c' => Class::Space,
            _ => Class::Punct,
        };
    }
    match o {
        0xA0 | 0x2000..=0x200A | 0x3000 => Class::Space,
        0xD7 | 0xF7 => Class::Symbol,
        0xC0..=0xFF => Class::Latin1,
        0x100..=0x2AF | 0x300..=0x36F => Class::LatinExt,
        0x1E00..=0x1EFF => Class::Vietnamese,
        0x370..=0x3FF | 0x1F00..=0x1FFF | 0x530..=0x5FF | 0x10A0..=0x10FF => Class::Abjad,
        0x400..=0x52F => Class::Cyrillic,
        0x660..=0x669 | 0x6F0..=0x6F9 => Class::Digit,
        0x60C | 0x61B | 0x61F | 0x6D4 | 0x964 | 0x965 => Class::Punct,
        0x600..=0x6FF | 0x750..=0x77F => Class::Abjad,
        0xE00..=0xEFF => Class::Thai,
        0x900..=0xDFF | 0x1000..=0x109F => Class::Brahmic,
        0x3040..=0x30FF | 0xFF66..=0xFF9F => Class::Kana,
        0x3100..=0x312F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => Class::Han,
        0x20000..=0x3FFFF => Class::Han,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Class::Hangul,
        0xFF21..=0xFF3A | 0xFF41..=0xFF5A => Class::Latin1,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF => Class::Emoji,
        0x200D | 0xFE0E | 0xFE0F | 0xE0020..=0xE007F => Class::Joiner,
        _ => Class::Symbol,
    }
}

fn is_upper(c: char) -> bool {
    matches!(c as u32, 0x41..=0x5A | 0xC0..=0xD6 | 0xD8..=0xDE | 0x410..=0x42F)
}

/// Estimated tokens of `text` for a provider family's tokenizer. Microseconds for a few KB: one
/// pass, one small allocation.
pub fn estimate_text_tokens(text: &str, family: Provider) -> u64 {
    let milli = match family {
        Provider::OpenAi => text_milli_tokens(text, &OPENAI),
        Provider::Gemini => text_milli_tokens(text, &GEMINI),
        Provider::Anthropic => {
            text_milli_tokens(text, &OPENAI) * ANTHROPIC_ALLOWANCE_PER_MILLE / 1000
        }
    };
    milli.div_ceil(1000)
}

fn text_milli_tokens(text: &str, p: &Profile) -> u64 {
    let chars: Vec<(Class, char)> = text.chars().map(|c| (classify(c), c)).collect();
    let class = |i: usize| chars.get(i).map(|&(c, _)| c);
    let upper_at = |i: usize| is_upper(chars[i].1);
    let letter_at = |i: usize| class(i).is_some_and(Class::is_letter);
    let n = chars.len();
    let mut total = 0u64;
    let mut i = 0;
    while i < n {
        let c = chars[i].0;
        // A word: an optional leading space or symbol, then upper* lower+ or upper+ lower*
        // (o200k splits `camelCase` into `camel` + `Case`).
        let start =
            if !c.is_letter() && (c == Class::Space || c.is_punct_like()) && letter_at(i + 1) {
                i + 1
            } else {
                i
            };
        if letter_at(start) {
            let mut end = start;
            while letter_at(end) && upper_at(end) {
                end += 1;
            }
            while letter_at(end) && !upper_at(end) {
                end += 1;
            }
            total += word_cost(&chars[start..end], p);
            if start > i && c != Class::Space {
                total += p.word_symbol_prefix;
            }
            i = end;
            continue;
        }
        if c == Class::Digit {
            let mut end = i;
            while class(end) == Some(Class::Digit) && end - i < p.digit_group {
                end += 1;
            }
            total += 1000;
            i = end;
            continue;
        }
        // Punctuation: an optional leading space, the run, then trailing newlines and slashes.
        let leading_space = chars[i].1 == ' ' && class(i + 1).is_some_and(Class::is_punct_like);
        if c.is_punct_like() || leading_space {
            let mut end = if leading_space { i + 1 } else { i };
            let (mut ascii, mut extra) = (0u64, 0u64);
            while let Some(k) = class(end).filter(|k| k.is_punct_like()) {
                match k {
                    Class::Punct => ascii += 1,
                    Class::Symbol => extra += p.symbol,
                    Class::Emoji => extra += p.emoji,
                    _ => extra += p.joiner,
                }
                end += 1;
            }
            while chars
                .get(end)
                .is_some_and(|&(k, c)| k == Class::Newline || c == '/')
            {
                end += 1;
            }
            let base = if ascii > 0 {
                1000 + (ascii * 1000).saturating_sub(p.punct_free_chars) * p.punct_extra_char / 1000
            } else {
                0
            };
            total += (base + extra).max(1000);
            i = end;
            continue;
        }
        // Whitespace: a run up to its last newline is one piece; a run of spaces leaves its
        // last space to the word or punctuation that follows (but not to digits).
        let mut end = i;
        let mut last_newline = None;
        while let Some(k) = class(end).filter(|k| matches!(k, Class::Space | Class::Newline)) {
            if k == Class::Newline {
                last_newline = Some(end);
            }
            end += 1;
        }
        if let Some(nl) = last_newline {
            total += p.newline;
            i = nl + 1;
        } else {
            total += p.spaces;
            i = if end < n && end - i > 1 && class(end) != Some(Class::Digit) {
                end - 1
            } else {
                end
            };
        }
    }
    total
}

fn word_cost(word: &[(Class, char)], p: &Profile) -> u64 {
    let (mut ascii, mut other) = (0u64, 0u64);
    for &(class, _) in word {
        other += match class {
            Class::Latin => {
                ascii += 1;
                0
            }
            Class::Latin1 => p.latin1,
            Class::LatinExt => p.latin_ext,
            Class::Vietnamese => p.vietnamese,
            Class::Cyrillic => p.cyrillic,
            Class::Abjad => p.abjad,
            Class::Brahmic => p.brahmic,
            Class::Thai => p.thai,
            Class::Han => p.han,
            Class::Kana => p.kana,
            _ => p.hangul,
        };
    }
    let base = if ascii > 0 {
        1000 + (ascii * 1000).saturating_sub(p.word_free_chars) * p.word_extra_char / 1000
    } else {
        0
    };
    if other > 0 {
        (base + other).max(1000)
    } else {
        base
    }
}

/// Chat-format tokens per message (role and separators) and for priming the reply, from
/// OpenAI's token-counting guide for its chat models; used for the other families too, where
/// the figure is not published.
const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_REPLY_PRIMING: u64 = 3;
/// The system prompt Anthropic adds when tools are present (346 tokens for `auto`/`none` tool
/// choice with Claude 4 models, per Anthropic's tool-use pricing docs; 313 for `any`/`tool`: the
/// larger is used).
const ANTHROPIC_TOOL_SYSTEM_PROMPT: u64 = 346;

/// An estimated request: total input, and how much of it is a prefix marked for caching
/// (Anthropic bills its first use as a cache write). The prefix counts are inside
/// `input_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestTokens {
    pub input_tokens: u64,
    /// Tokens up to the last 1-hour cache marker (tools, then system, then messages).
    pub cache_write_1h_tokens: u64,
    /// Tokens after that up to the last 5-minute marker.
    pub cache_write_5m_tokens: u64,
}

/// Estimates the input tokens of `request` for a provider family: system, messages (text, tool
/// calls and results, reasoning, images), tool definitions and a JSON schema response format,
/// plus per-message overhead. Assumes a cache miss wherever a cache marker sits, so the estimate
/// errs on the dear side for cached prompts.
pub fn estimate_request_tokens(request: &Request, family: Provider) -> RequestTokens {
    let mut total = 0u64;
    let (mut last_1h, mut last_5m) = (0u64, 0u64);
    let mut mark = |cache: Option<CacheTtl>, total: u64| match cache {
        Some(CacheTtl::OneHour) => last_1h = total,
        Some(CacheTtl::FiveMinutes) => last_5m = total,
        None => {}
    };
    let text = |s: &str| estimate_text_tokens(s, family);
    let json = |v: &serde_json::Value| estimate_text_tokens(&v.to_string(), family);

    for tool in &request.tools {
        total += text(&tool.name)
            + tool.description.as_deref().map_or(0, text)
            + json(&tool.parameters)
            + TOKENS_PER_MESSAGE;
        mark(tool.cache, total);
    }
    if !request.tools.is_empty() && family == Provider::Anthropic {
        total += ANTHROPIC_TOOL_SYSTEM_PROMPT;
    }
    if !request.system.is_empty() {
        total += TOKENS_PER_MESSAGE;
    }
    for block in &request.system {
        total += text(&block.text);
        mark(block.cache, total);
    }
    for message in &request.messages {
        total += TOKENS_PER_MESSAGE;
        for part in &message.content {
            let (tokens, cache) = match part {
                ContentPart::Text { text: t, cache } => (text(t), *cache),
                ContentPart::Image { data, cache, .. } => {
                    (estimate_image_tokens(data, family, &request.model), *cache)
                }
                ContentPart::ToolCall {
                    name, arguments, ..
                } => (text(name) + json(arguments), None),
                ContentPart::ToolResult { content, cache, .. } => (text(content), *cache),
                ContentPart::Reasoning { text: t, .. } => (text(t), None),
            };
            total += tokens;
            mark(cache, total);
        }
    }
    if let Some(ResponseFormat::JsonSchema { name, schema, .. }) = &request.response_format {
        total += text(name) + json(schema);
    }
    total += TOKENS_REPLY_PRIMING;
    RequestTokens {
        input_tokens: total,
        cache_write_1h_tokens: last_1h,
        cache_write_5m_tokens: last_5m.saturating_sub(last_1h),
    }
}

/// Image tokens by each provider's documented formula, from the dimensions in the image header
/// (PNG, JPEG, GIF, WebP). `model` selects OpenAI's per-model variants.
///
/// - Anthropic: width × height / 750, the image first scaled into 1568 px on the long edge;
///   at most 1600.
/// - OpenAI (`detail: auto/high`): fit into 2048 × 2048, shortest side down to 768, then
///   85 + 170 per 512-px tile (gpt-4o-mini: 2833 + 5667 per tile); the 32-px patch models
///   (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini): patches (at most 1536) × their multiplier.
/// - Gemini: 258 if both sides ≤ 384 px, else 258 per 768 × 768 tile.
///
/// Unreadable dimensions get each formula's largest usual value (documented constants below).
pub fn estimate_image_tokens(base64_data: &str, family: Provider, model: &str) -> u64 {
    let dims = image_dimensions(base64_data);
    match family {
        Provider::Anthropic => dims.map_or(ANTHROPIC_IMAGE_MAX, |(w, h)| {
            let (w, h) = fit_within(w, h, 1568);
            (w * h).div_ceil(750).min(ANTHROPIC_IMAGE_MAX)
        }),
        Provider::OpenAi => openai_image_tokens(dims, model),
        Provider::Gemini => dims.map_or(GEMINI_IMAGE_UNKNOWN, |(w, h)| {
            if w <= 384 && h <= 384 {
                258
            } else {
                258 * w.div_ceil(768) * h.div_ceil(768)
            }
        }),
    }
}

const ANTHROPIC_IMAGE_MAX: u64 = 1600;
/// Four 768-px tiles (a 1536 × 1536 image), for a Gemini image of unknown size.
const GEMINI_IMAGE_UNKNOWN: u64 = 4 * 258;
/// Tiles of the largest image the tile formula keeps (768 × 2048 after scaling).
const OPENAI_MAX_TILES: u64 = 8;
const OPENAI_MAX_PATCHES: u64 = 1536;

fn openai_image_tokens(dims: Option<(u64, u64)>, model: &str) -> u64 {
    let model = model.rsplit('/').next().unwrap_or(model);
    let patch_multiplier_per_mille = [
        ("gpt-4.1-mini", 1620),
        ("gpt-4.1-nano", 2460),
        ("gpt-5-mini", 1620),
        ("gpt-5-nano", 2460),
        ("o4-mini", 1720),
    ]
    .iter()
    .find(|(prefix, _)| model.starts_with(prefix))
    .map(|&(_, m)| m);
    if let Some(multiplier) = patch_multiplier_per_mille {
        let patches = dims.map_or(OPENAI_MAX_PATCHES, |(w, h)| {
            (w.div_ceil(32) * h.div_ceil(32)).min(OPENAI_MAX_PATCHES)
        });
        return (patches * multiplier).div_ceil(1000);
    }
    let (base, per_tile) = if model.starts_with("gpt-4o-mini") {
        (2833, 5667)
    } else {
        (85, 170)
    };
    let tiles = dims.map_or(OPENAI_MAX_TILES, |(w, h)| {
        let (w, h) = fit_within(w, h, 2048);
        let (w, h) = if w.min(h) > 768 {
            let short = w.min(h);
            (w * 768 / short, h * 768 / short)
        } else {
            (w, h)
        };
        w.div_ceil(512) * h.div_ceil(512)
    });
    base + per_tile * tiles
}

/// Scales `(w, h)` down, keeping the aspect ratio, so that neither side exceeds `max`.
fn fit_within(w: u64, h: u64, max: u64) -> (u64, u64) {
    let long = w.max(h);
    if long <= max {
        (w, h)
    } else {
        ((w * max / long).max(1), (h * max / long).max(1))
    }
}

/// Width and height from the header of a base64-encoded PNG, GIF, WebP or JPEG.
fn image_dimensions(base64_data: &str) -> Option<(u64, u64)> {
    // JPEG dimensions follow the metadata segments; 64 KiB covers all but huge EXIF blocks.
    let bytes = decode_base64_prefix(base64_data, 64 * 1024);
    let be16 = |at: usize| {
        Some(u64::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let le16 = |at: usize| {
        Some(u64::from(u16::from_le_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let le24 = |at: usize| Some(le16(at)? | u64::from(*bytes.get(at + 2)?) << 16);
    let dims = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let be32 = |at: usize| Some(be16(at)? << 16 | be16(at + 2)?);
        (be32(16)?, be32(20)?)
    } else if bytes.starts_with(b"GIF8") {
        (le16(6)?, le16(8)?)
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        match bytes.get(12..16)? {
            b"VP8 " => (le16(26)? & 0x3FFF, le16(28)? & 0x3FFF),
            b"VP8L" => {
                let b = |at: usize| bytes.get(at).copied().map(u64::from);
                let (b0, b1, b2, b3) = (b(21)?, b(22)?, b(23)?, b(24)?);
                (
                    1 + (b0 | (b1 & 0x3F) << 8),
                    1 + (b1 >> 6 | b2 << 2 | (b3 & 0x0F) << 10),
                )
            }
            b"VP8X" => (1 + le24(24)?, 1 + le24(27)?),
            _ => return None,
        }
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut at = 2;
        loop {
            while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
                at += 1; // fill bytes
            }
            if *bytes.get(at)? != 0xFF {
                return None;
            }
            let marker = *bytes.get(at + 1)?;
            let is_frame_header =
                matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
            if is_frame_header {
                break (be16(at + 7)?, be16(at + 5)?);
            }
            if matches!(marker, 0x01 | 0xD0..=0xD9) {
                at += 2;
            } else {
                at += 2 + usize::try_from(be16(at + 2)?).ok()?;
            }
        }
    } else {
        return None;
    };
    (dims.0 > 0 && dims.1 > 0).then_some(dims)
}

/// Decodes standard or URL-safe base64 until `limit` bytes, padding or the first invalid
/// character; whitespace is skipped.
fn decode_base64_prefix(data: &str, limit: usize) -> Vec<u8> {
    let data = data.split_once(";base64,").map_or(data, |(_, rest)| rest);
    let mut out = Vec::with_capacity(limit.min(data.len() * 3 / 4));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in data.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => break,
        };
        buffer = buffer << 6 | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Message, SystemBlock, ToolDefinition};

    fn encode_base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
        out
    }

    fn png(w: u32, h: u32) -> String {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend_from_slice(&w.to_be_bytes());
        bytes.extend_from_slice(&h.to_be_bytes());
        bytes.extend_from_slice(&[8, 2, 0, 0, 0]);
        encode_base64(&bytes)
    }

    #[test]
    fn simple_texts() {
        assert_eq!(estimate_text_tokens("", Provider::OpenAi), 0);
        // "Hello", ",", " world", "!" are 4 o200k tokens.
        assert_eq!(estimate_text_tokens("Hello, world!", Provider::OpenAi), 4);
        // Three digit groups of o200k, nine single digits for Gemini.
        assert_eq!(estimate_text_tokens("123456789", Provider::OpenAi), 3);
        assert_eq!(estimate_text_tokens("123456789", Provider::Gemini), 9);
        // Claude: the o200k estimate plus the allowance, never less.
        let text = "The quick brown fox jumps over the lazy dog.";
        assert!(
            estimate_text_tokens(text, Provider::Anthropic)
                > estimate_text_tokens(text, Provider::OpenAi)
        );
    }

    #[test]
    fn camel_case_and_long_words_cost_more_than_short_words() {
        let short = estimate_text_tokens("get the data", Provider::OpenAi);
        let camel = estimate_text_tokens("getTheData", Provider::OpenAi);
        assert_eq!(short, 3);
        assert_eq!(camel, 3);
        assert!(estimate_text_tokens("antidisestablishmentarianism", Provider::OpenAi) > 3);
    }

    #[test]
    fn image_headers() {
        assert_eq!(image_dimensions(&png(1024, 768)), Some((1024, 768)));
        let gif = encode_base64(b"GIF89a\x40\x01\xF0\x00\0\0");
        assert_eq!(image_dimensions(&gif), Some((320, 240)));
        // JPEG: SOI, an APP0 segment, then SOF0 with height 480, width 640.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 0x03]);
        assert_eq!(image_dimensions(&encode_base64(&jpeg)), Some((640, 480)));
        let webp_vp8x = {
            let mut b = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0".to_vec();
            b.extend_from_slice(&[0x7F, 0x07, 0x00, 0x37, 0x04, 0x00]); // 1920 x 1080, minus one
            b
        };
        assert_eq!(
            image_dimensions(&encode_base64(&webp_vp8x)),
            Some((1920, 1080))
        );
        assert_eq!(image_dimensions("not an image"), None);
        assert_eq!(
            image_dimensions(&format!("data:image/png;base64,{}", png(10, 20))),
            Some((10, 20))
        );
    }

    #[test]
    fn image_formulas() {
        let img = png(1024, 1024);
        // 1024*1024/750 = 1398.1 -> 1399.
        assert_eq!(
            estimate_image_tokens(&img, Provider::Anthropic, "claude-haiku-4-5"),
            1399
        );
        // 2000x2000 -> 1568x1568 -> 3278 -> capped at 1600.
        assert_eq!(
            estimate_image_tokens(&png(2000, 2000), Provider::Anthropic, "claude-haiku-4-5"),
            1600
        );
        // 1024x1024 -> 768x768 -> 2x2 tiles -> 85 + 4*170 = 765.
        assert_eq!(estimate_image_tokens(&img, Provider::OpenAi, "gpt-4o"), 765);
        assert_eq!(
            estimate_image_tokens(&img, Provider::OpenAi, "openai/gpt-4o-mini"),
            2833 + 4 * 5667
        );
        // 32x32 patches: 1024 of them x 1.62.
        assert_eq!(
            estimate_image_tokens(&img, Provider::OpenAi, "gpt-4.1-mini"),
            1659
        );
        // Gemini: 2x2 tiles of 768 px.
        assert_eq!(
            estimate_image_tokens(&img, Provider::Gemini, "gemini-2.5-flash"),
            4 * 258
        );
        assert_eq!(
            estimate_image_tokens(&png(300, 200), Provider::Gemini, "gemini-2.5-flash"),
            258
        );
        // Unknown size: the documented constants.
        assert_eq!(
            estimate_image_tokens("????", Provider::Anthropic, "x"),
            1600
        );
        assert_eq!(
            estimate_image_tokens("????", Provider::OpenAi, "gpt-4o"),
            85 + 8 * 170
        );
    }

    #[test]
    fn request_estimate_counts_every_part_and_the_cached_prefixes() {
        let mut req = Request::new(
            "claude-haiku-4-5",
            vec![Message::user("What is the weather?")],
        );
        let plain = estimate_request_tokens(&req, Provider::Anthropic);
        let message = estimate_text_tokens("What is the weather?", Provider::Anthropic);
        assert_eq!(
            plain.input_tokens,
            TOKENS_PER_MESSAGE + message + TOKENS_REPLY_PRIMING
        );
        assert_eq!(
            (plain.cache_write_1h_tokens, plain.cache_write_5m_tokens),
            (0, 0)
        );

        req.tools.push(ToolDefinition {
            name: "get_weather".into(),
            description: Some("Current weather for a city".into()),
            parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            cache: Some(CacheTtl::OneHour),
        });
        req.system = vec![
            SystemBlock {
                text: "You are a weather bot.".into(),
                cache: Some(CacheTtl::FiveMinutes),
            },
            SystemBlock {
                text: "Be brief.".into(),
                cache: None,
            },
        ];
        let est = estimate_request_tokens(&req, Provider::Anthropic);
        let t = |s: &str| estimate_text_tokens(s, Provider::Anthropic);
        let tool = t("get_weather")
            + t("Current weather for a city")
            + t(&req.tools[0].parameters.to_string())
            + TOKENS_PER_MESSAGE;
        assert_eq!(est.cache_write_1h_tokens, tool);
        assert_eq!(
            est.cache_write_5m_tokens,
            ANTHROPIC_TOOL_SYSTEM_PROMPT + TOKENS_PER_MESSAGE + t("You are a weather bot.")
        );
        assert_eq!(
            est.input_tokens,
            tool + ANTHROPIC_TOOL_SYSTEM_PROMPT
                + TOKENS_PER_MESSAGE
                + t("You are a weather bot.")
                + t("Be brief.")
                + plain.input_tokens
        );
        // OpenAI adds no tool system prompt.
        let openai = estimate_request_tokens(&req, Provider::OpenAi);
        assert!(openai.input_tokens < est.input_tokens);
    }
}
