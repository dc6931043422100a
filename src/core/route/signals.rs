//! Measuring a request: the explainable signals its complexity score is the sum of.
//!
//! The text scored is the turn being answered: the last user message that holds text (in an
//! agent loop, the task the tool results serve). The system prompt is not scored: an
//! application sends the same one with every request, so it cannot tell requests apart.
//!
//! A long turn is instructions around material (a pasted contract, transcript or log), and
//! the material's own words, numbered clauses and "must"s say nothing about the task. So in a
//! turn longer than [`LONG_TURN_BYTES`] only the instruction zone, its first and last
//! paragraphs (at most [`ZONE_HEAD_BYTES`] and [`ZONE_TAIL_BYTES`]), is searched for words
//! and list items; length and code are measured on the whole turn. This also bounds the work:
//! one pass over the lines of the turn, and lowercasing and word lookups on at most the zone.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::config::{RouterConfig, SignalKind};
use crate::core::model::{ContentPart, Message, Request, Role};

pub const LONG_TURN_BYTES: usize = 1536;
pub const ZONE_HEAD_BYTES: usize = 512;
pub const ZONE_TAIL_BYTES: usize = 512;

/// What each signal contributed to the score (points), with the raw measures behind them.
/// Disabled signals are zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Signals {
    pub length: f64,
    pub code_block: f64,
    pub code_words: f64,
    pub proof_words: f64,
    pub reasoning_words: f64,
    pub analysis_words: f64,
    pub constraints: f64,
    pub simple_words: f64,
    pub depth: f64,
    pub tools: f64,
    pub output: f64,
    /// Characters of the turn being answered.
    pub chars: u32,
    /// User turns holding text, this one included.
    pub user_turns: u32,
    pub tool_count: u32,
    /// The larger of `maxTokens` and an output size asked for in the text, in tokens.
    pub requested_output_tokens: u32,
}

impl Signals {
    pub fn score(&self) -> f64 {
        SignalKind::ALL.iter().map(|&kind| self.points(kind)).sum()
    }

    pub fn points(&self, kind: SignalKind) -> f64 {
        match kind {
            SignalKind::Length => self.length,
            SignalKind::CodeBlock => self.code_block,
            SignalKind::CodeWords => self.code_words,
            SignalKind::ProofWords => self.proof_words,
            SignalKind::ReasoningWords => self.reasoning_words,
            SignalKind::AnalysisWords => self.analysis_words,
            SignalKind::Constraints => self.constraints,
            SignalKind::SimpleWords => self.simple_words,
            SignalKind::Depth => self.depth,
            SignalKind::Tools => self.tools,
            SignalKind::Output => self.output,
        }
    }

    fn points_mut(&mut self, kind: SignalKind) -> &mut f64 {
        match kind {
            SignalKind::Length => &mut self.length,
            SignalKind::CodeBlock => &mut self.code_block,
            SignalKind::CodeWords => &mut self.code_words,
            SignalKind::ProofWords => &mut self.proof_words,
            SignalKind::ReasoningWords => &mut self.reasoning_words,
            SignalKind::AnalysisWords => &mut self.analysis_words,
            SignalKind::Constraints => &mut self.constraints,
            SignalKind::SimpleWords => &mut self.simple_words,
            SignalKind::Depth => &mut self.depth,
            SignalKind::Tools => &mut self.tools,
            SignalKind::Output => &mut self.output,
        }
    }
}

/// The keyword categories, in the order of [`KEYWORD_KINDS`].
const KEYWORD_KINDS: [SignalKind; 6] = [
    SignalKind::CodeWords,
    SignalKind::ProofWords,
    SignalKind::ReasoningWords,
    SignalKind::AnalysisWords,
    SignalKind::Constraints,
    SignalKind::SimpleWords,
];

fn keyword_slot(kind: SignalKind) -> usize {
    KEYWORD_KINDS
        .iter()
        .position(|&k| k == kind)
        .expect("a keyword signal")
}

struct Pattern {
    slot: u8,
    /// The words after the first one.
    rest: Box<[Box<str>]>,
    /// The last word is a stem (`optimi*`).
    stem_last: bool,
    /// As configured, for reasons.
    text: Box<str>,
}

/// Every configured keyword, indexed by its first word (or stem) for one lookup per word.
pub(crate) struct Lexicon {
    patterns: Vec<Pattern>,
    by_first_word: HashMap<Box<str>, Vec<u16>>,
    by_stem: HashMap<Box<str>, Vec<u16>>,
    /// The distinct byte lengths of single-word stems, so a word is looked up by each prefix.
    stem_lengths: Vec<usize>,
}

impl Lexicon {
    pub(crate) fn new(config: &RouterConfig) -> Lexicon {
        let mut lexicon = Lexicon {
            patterns: Vec::new(),
            by_first_word: HashMap::new(),
            by_stem: HashMap::new(),
            stem_lengths: Vec::new(),
        };
        let lists = [
            &config.code_words.words,
            &config.proof_words.words,
            &config.reasoning_words.words,
            &config.analysis_words.words,
            &config.constraints.words,
            &config.simple_words.words,
        ];
        for (slot, words) in lists.into_iter().enumerate() {
            if !config.signal_enabled(KEYWORD_KINDS[slot]) {
                continue;
            }
            for text in words {
                lexicon.add(slot as u8, text);
            }
        }
        lexicon.stem_lengths.sort_unstable();
        lexicon.stem_lengths.dedup();
        lexicon
    }

    fn add(&mut self, slot: u8, text: &str) {
        let lower = text.trim().to_lowercase();
        let (body, stem_last) = match lower.strip_suffix('*') {
            Some(body) => (body, true),
            None => (lower.as_str(), false),
        };
        let mut words = Words::new(body).map(|(_, w)| w);
        let Some(first) = words.next() else { return };
        let rest: Box<[Box<str>]> = words.map(Box::from).collect();
        let id = self.patterns.len() as u16;
        let single_stem = stem_last && rest.is_empty();
        self.patterns.push(Pattern {
            slot,
            rest,
            stem_last,
            text: text.trim().into(),
        });
        if single_stem {
            self.stem_lengths.push(first.len());
            self.by_stem.entry(first.into()).or_default().push(id);
        } else {
            self.by_first_word.entry(first.into()).or_default().push(id);
        }
    }

    /// Calls `hit` for every pattern matching at the word `word`, followed by `after`.
    fn matches(&self, word: &str, after: &Words<'_>, mut hit: impl FnMut(&Pattern, u16)) {
        if let Some(ids) = self.by_first_word.get(word) {
            for &id in ids {
                let pattern = &self.patterns[id as usize];
                if pattern.rest_matches(after.clone()) {
                    hit(pattern, id);
                }
            }
        }
        for &len in &self.stem_lengths {
            if len > word.len() {
                break;
            }
            if !word.is_char_boundary(len) {
                continue;
            }
            if let Some(ids) = self.by_stem.get(&word[..len]) {
                for &id in ids {
                    hit(&self.patterns[id as usize], id);
                }
            }
        }
    }

    pub(crate) fn pattern_text(&self, id: u16) -> &str {
        &self.patterns[id as usize].text
    }
}

impl Pattern {
    fn rest_matches(&self, mut after: Words<'_>) -> bool {
        for (i, expected) in self.rest.iter().enumerate() {
            let Some((_, word)) = after.next() else {
                return false;
            };
            let last = i + 1 == self.rest.len();
            let ok = if last && self.stem_last {
                word.starts_with(&**expected)
            } else {
                word == &**expected
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Words of a text: maximal runs of letters and digits, with their byte offsets. Patterns go
/// through the same splitter, so `trade-offs`, `trade offs` and `Trade-Offs` all agree.
#[derive(Clone)]
struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Self {
        Words { text, pos: 0 }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let rest = &self.text[self.pos..];
        let start = self.pos + rest.find(char::is_alphanumeric)?;
        let tail = &self.text[start..];
        let len = tail
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(tail.len());
        self.pos = start + len;
        Some((start, &self.text[start..start + len]))
    }
}

/// The first keyword hit of each category, for the reason text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FirstHits([Option<u16>; KEYWORD_KINDS.len()]);

impl FirstHits {
    pub(crate) fn get(&self, kind: SignalKind) -> Option<u16> {
        KEYWORD_KINDS
            .iter()
            .position(|&k| k == kind)
            .and_then(|slot| self.0[slot])
    }
}

/// Counts collected in the pass over the turn's text.
#[derive(Default)]
struct TextCounts {
    keyword_hits: [u32; KEYWORD_KINDS.len()],
    first_hits: FirstHits,
    fences: u32,
    code_lines: u32,
    list_items: u32,
    requested_output_tokens: u32,
}

/// Measures `request` against `config`, whose keywords `lexicon` was built from.
pub(crate) fn measure(
    config: &RouterConfig,
    lexicon: &Lexicon,
    request: &Request,
) -> (Signals, FirstHits) {
    let mut signals = Signals::default();
    let turn = current_turn(&request.messages);
    let chars = turn.map_or(0, |m| {
        text_parts(m).map(|t| t.chars().count()).sum::<usize>()
    });
    signals.chars = chars.min(u32::MAX as usize) as u32;
    signals.user_turns = request
        .messages
        .iter()
        .filter(|m| m.role == Role::User && text_parts(m).next().is_some())
        .count() as u32;
    signals.tool_count = request.tools.len() as u32;

    let mut counts = TextCounts::default();
    if let Some(turn) = turn {
        scan_turn(lexicon, turn, config.code_block.min_lines, &mut counts);
    }
    let max_tokens = request.max_tokens.unwrap_or(0);
    signals.requested_output_tokens = counts.requested_output_tokens.max(max_tokens);

    for kind in SignalKind::ALL {
        if !config.signal_enabled(kind) {
            continue;
        }
        let points = match kind {
            SignalKind::Length => {
                let s = &config.length;
                s.points * ramp(chars as f64, s.short_chars as f64, s.long_chars as f64)
            }
            SignalKind::CodeBlock => {
                let has_code = counts.fences > 0
                    || counts.code_lines >= config.code_block.min_lines
                    || previous_answer_has_code(&request.messages);
                if has_code {
                    config.code_block.points
                } else {
                    0.0
                }
            }
            SignalKind::CodeWords
            | SignalKind::ProofWords
            | SignalKind::ReasoningWords
            | SignalKind::AnalysisWords
            | SignalKind::SimpleWords => {
                let signal = match kind {
                    SignalKind::CodeWords => &config.code_words,
                    SignalKind::ProofWords => &config.proof_words,
                    SignalKind::ReasoningWords => &config.reasoning_words,
                    SignalKind::AnalysisWords => &config.analysis_words,
                    _ => &config.simple_words,
                };
                let hits = counts.keyword_hits[keyword_slot(kind)] as f64;
                capped(signal.points * hits, signal.max)
            }
            SignalKind::Constraints => {
                let c = &config.constraints;
                let words = counts.keyword_hits[keyword_slot(kind)] as f64;
                capped(
                    c.points_per_word * words + c.points_per_list_item * counts.list_items as f64,
                    c.max,
                )
            }
            SignalKind::Depth => {
                let d = &config.depth;
                let turns = signals.user_turns.saturating_sub(d.free_turns) as f64;
                capped(d.points_per_turn * turns, d.max)
            }
            SignalKind::Tools => {
                let t = &config.tools;
                let declared = capped(t.points_per_tool * request.tools.len() as f64, t.max);
                let in_loop = request.messages.iter().any(has_tool_traffic);
                declared + if in_loop { t.agent_loop } else { 0.0 }
            }
            SignalKind::Output => {
                let o = &config.output;
                o.points
                    * ramp(
                        signals.requested_output_tokens as f64,
                        o.small_tokens as f64,
                        o.large_tokens as f64,
                    )
            }
        };
        *signals.points_mut(kind) = round2(points);
    }
    (signals, counts.first_hits)
}

/// 0 below `low`, 1 from `high`, logarithmic in between (a step when `low == high`).
fn ramp(value: f64, low: f64, high: f64) -> f64 {
    if value < low {
        0.0
    } else if value >= high {
        1.0
    } else {
        (value / low).ln() / (high / low).ln()
    }
}

/// Caps `points` at `max` in absolute value, keeping its sign.
fn capped(points: f64, max: f64) -> f64 {
    points.clamp(-max, max)
}

/// Rounded to hundredths for display, and never `-0`.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0 + 0.0
}

/// The last user message with text: the turn being answered, or in an agent loop (where the
/// last user messages carry only tool results) the task being worked on.
fn current_turn(messages: &[Message]) -> Option<&Message> {
    messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User && text_parts(m).next().is_some())
}

fn text_parts(message: &Message) -> impl Iterator<Item = &str> {
    message.content.iter().filter_map(|part| match part {
        ContentPart::Text { text, .. } => Some(text.as_str()),
        _ => None,
    })
}

/// A follow-up in a coding conversation ("now add pagination") carries no code itself: the
/// assistant's last answer does.
fn previous_answer_has_code(messages: &[Message]) -> bool {
    messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .is_some_and(|m| text_parts(m).any(|t| t.contains("```")))
}

fn has_tool_traffic(message: &Message) -> bool {
    message.content.iter().any(|part| {
        matches!(
            part,
            ContentPart::ToolCall { .. } | ContentPart::ToolResult { .. }
        )
    })
}

fn scan_turn(lexicon: &Lexicon, turn: &Message, min_code_lines: u32, counts: &mut TextCounts) {
    for text in text_parts(turn) {
        if text.len() <= LONG_TURN_BYTES {
            count_code(text, usize::MAX, min_code_lines, counts);
            scan_zone(lexicon, &text.to_lowercase(), false, counts);
            continue;
        }
        let (head_end, tail_start) = instruction_zone(text);
        let tail_in_fence = count_code(text, tail_start, min_code_lines, counts);
        scan_zone(lexicon, &text[..head_end].to_lowercase(), false, counts);
        scan_zone(
            lexicon,
            &text[tail_start..].to_lowercase(),
            tail_in_fence,
            counts,
        );
    }
}

/// Counts fences and code-like lines over the whole text; returns whether the line holding
/// byte `tail_start` is inside a fenced block.
fn count_code(text: &str, tail_start: usize, min_code_lines: u32, counts: &mut TextCounts) -> bool {
    let has_tail = tail_start < text.len();
    let mut in_fence = false;
    let mut tail_in_fence = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset <= tail_start {
            tail_in_fence = in_fence;
        }
        let code_found = counts.fences > 0 || counts.code_lines >= min_code_lines;
        if code_found && (!has_tail || offset > tail_start) {
            // Nothing left to learn: the code signal is settled, and so is the tail's fence.
            break;
        }
        offset += line.len();
        let trimmed = line.trim();
        if is_fence(trimmed) {
            counts.fences += 1;
            in_fence = !in_fence;
        } else if in_fence || looks_like_code(trimmed) {
            counts.code_lines += 1;
        }
    }
    tail_in_fence
}

/// The instruction zone of a long turn, as `(head_end, tail_start)`: the text before
/// `head_end` and after `tail_start` is searched. The head is the first paragraph, or if that
/// is longer than [`ZONE_HEAD_BYTES`] the first line, or failing that the first
/// [`ZONE_HEAD_BYTES`]. The tail is the last paragraph when it stands on its own after a blank
/// line and fits in [`ZONE_TAIL_BYTES`]; otherwise the turn ends in material and has no tail.
fn instruction_zone(text: &str) -> (usize, usize) {
    let head_limit = floor_char_boundary(text, ZONE_HEAD_BYTES);
    let head = &text[..head_limit];
    let head_end = head
        .find("\n\n")
        .or_else(|| head.find('\n'))
        .unwrap_or(head_limit);
    // Only the end is searched for the blank line, so a long turn is not scanned backwards.
    let body = text.trim_end();
    let window = floor_char_boundary(body, body.len().saturating_sub(ZONE_TAIL_BYTES + 2));
    let tail_start = match body[window..].rfind("\n\n") {
        Some(blank) => window + blank + 2,
        None => text.len(),
    };
    (head_end, tail_start.max(head_end))
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn is_fence(trimmed_line: &str) -> bool {
    matches!(
        trimmed_line.as_bytes(),
        [b'`', b'`', b'`', ..] | [b'~', b'~', b'~', ..]
    )
}

/// One pass over the lines of a lowercased zone: list items, and outside fenced code every
/// word looked up in the lexicon.
fn scan_zone(lexicon: &Lexicon, zone: &str, starts_in_fence: bool, counts: &mut TextCounts) {
    let mut in_fence = starts_in_fence;
    for line in zone.lines() {
        let trimmed = line.trim();
        if is_fence(trimmed) {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || looks_like_code(trimmed) {
            continue;
        }
        if is_list_item(trimmed) {
            counts.list_items += 1;
        }
        scan_words(lexicon, trimmed, counts);
    }
}

fn scan_words(lexicon: &Lexicon, line: &str, counts: &mut TextCounts) {
    let mut words = Words::new(line);
    let mut previous_number: Option<u64> = None;
    while let Some((start, word)) = words.next() {
        lexicon.matches(word, &words, |pattern, id| {
            let slot = pattern.slot as usize;
            counts.keyword_hits[slot] += 1;
            counts.first_hits.0[slot].get_or_insert(id);
        });
        if let Some(n) = previous_number.take() {
            if let Some(tokens_per_unit) = output_unit_tokens(word) {
                let tokens = (n as f64 * tokens_per_unit).min(u32::MAX as f64) as u32;
                counts.requested_output_tokens = counts.requested_output_tokens.max(tokens);
            }
        }
        previous_number = leading_number(line, start, word, &mut words);
    }
}

/// A number written at `word` ("2000", "2,000", "3 000", "2k"), consuming its digit groups
/// from `words`.
fn leading_number(line: &str, start: usize, word: &str, words: &mut Words<'_>) -> Option<u64> {
    let (digits, thousands) = match word.strip_suffix('k') {
        Some(d) if !d.is_empty() => (d, true),
        _ => (word, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
        return None;
    }
    let mut value: u64 = digits.parse().ok()?;
    let mut end = start + word.len();
    if !thousands {
        // Digit groups: "3,000", "3.000", "3 000" (thin and no-break spaces included).
        loop {
            let mut peek = words.clone();
            let Some((next_start, next)) = peek.next() else {
                break;
            };
            let separator = &line[end..next_start];
            let is_group = next.len() == 3 && next.bytes().all(|b| b.is_ascii_digit());
            if !is_group || !matches!(separator, "," | "." | " " | "\u{a0}" | "\u{202f}") {
                break;
            }
            value = value * 1000 + next.parse::<u64>().ok()?;
            end = next_start + next.len();
            *words = peek;
        }
    } else {
        value *= 1000;
    }
    Some(value)
}

/// Tokens per unit of a requested output size ("2000 words", "10 pages").
fn output_unit_tokens(word: &str) -> Option<f64> {
    Some(match word {
        "word" | "words" | "mots" | "wörter" | "worte" | "palabras" | "parole" => 1.35,
        "page" | "pages" | "seiten" | "páginas" | "pagine" => 650.0,
        "paragraph" | "paragraphs" | "paragraphes" | "absätze" | "párrafos" => 120.0,
        "sentence" | "sentences" | "phrases" | "sätze" | "frases" => 25.0,
        _ => return None,
    })
}

/// A line of code outside a fence: statement or block punctuation at its end, or a
/// declaration keyword as its first word followed by code punctuation.
fn looks_like_code(line: &str) -> bool {
    match line.as_bytes().last() {
        Some(b';' | b'{') => return line.len() >= 2,
        Some(b'}') if line.len() == 1 => return true,
        Some(b':') if line.ends_with("):") => return true,
        None => return false,
        _ => {}
    }
    // Most prose lines are dismissed by their first byte, before any string comparison.
    if !matches!(
        line.as_bytes()[0],
        b'd' | b'f' | b'c' | b'i' | b'p' | b'l' | b'v' | b'r' | b's' | b'S' | b'#'
    ) {
        return false;
    }
    let first_word = line.split(' ').next().unwrap_or("");
    let declares = matches!(
        first_word,
        "def"
            | "fn"
            | "func"
            | "function"
            | "class"
            | "import"
            | "public"
            | "private"
            | "const"
            | "let"
            | "var"
            | "return"
            | "select"
            | "SELECT"
    ) || first_word.starts_with("#include");
    declares && line.contains(['(', '=', '{', ':', ';'])
}

fn is_list_item(line: &str) -> bool {
    if let Some(rest) = line
        .strip_prefix("- ")
        .or_else(|| line.strip_prefix("* "))
        .or_else(|| line.strip_prefix("• "))
    {
        return !rest.trim().is_empty();
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    (1..=3).contains(&digits)
        && matches!(line.as_bytes().get(digits), Some(b'.' | b')'))
        && line.as_bytes().get(digits + 1) == Some(&b' ')
}

/// Rough input size of a request, in tokens, for capability checks (context window): about
/// four bytes per token for text and JSON, 1,600 per image (a large image on Anthropic is
/// ~1,600). Deliberately simple: the provider's own count is the truth.
pub(crate) fn estimate_input_tokens(request: &Request) -> u64 {
    const IMAGE_TOKENS: u64 = 1600;
    let mut bytes: u64 = request.system.iter().map(|b| b.text.len() as u64).sum();
    let mut images = 0;
    for message in &request.messages {
        for part in &message.content {
            bytes += match part {
                ContentPart::Text { text, .. } | ContentPart::Reasoning { text, .. } => {
                    text.len() as u64
                }
                ContentPart::Image { .. } => {
                    images += 1;
                    0
                }
                ContentPart::ToolCall {
                    name, arguments, ..
                } => name.len() as u64 + json_len(arguments),
                ContentPart::ToolResult { content, .. } => content.len() as u64,
            };
        }
    }
    for tool in &request.tools {
        bytes += tool.name.len() as u64
            + tool.description.as_ref().map_or(0, |d| d.len() as u64)
            + json_len(&tool.parameters);
    }
    bytes.div_ceil(4) + images * IMAGE_TOKENS
}

/// The length of a JSON value's compact text, without building the text.
fn json_len(value: &serde_json::Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and a `Value` always serialises.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Message, ToolDefinition};
    use serde_json::json;

    fn measure_text(config: &RouterConfig, text: &str) -> Signals {
        let lexicon = Lexicon::new(config);
        measure(
            config,
            &lexicon,
            &Request::new("auto", vec![Message::user(text)]),
        )
        .0
    }

    fn counts(text: &str) -> TextCounts {
        let config = RouterConfig::default();
        let lexicon = Lexicon::new(&config);
        let mut counts = TextCounts::default();
        scan_turn(&lexicon, &Message::user(text), u32::MAX, &mut counts);
        counts
    }

    #[test]
    fn words_split_on_anything_but_letters_and_digits() {
        let words: Vec<&str> = Words::new("trade-offs, état/o(1) x")
            .map(|(_, w)| w)
            .collect();
        assert_eq!(words, ["trade", "offs", "état", "o", "1", "x"]);
    }

    #[test]
    fn keywords_match_whole_words_phrases_and_stems() {
        let config = RouterConfig {
            signals: vec![SignalKind::ReasoningWords],
            reasoning_words: crate::core::route::KeywordSignal {
                points: 1.0,
                max: 10.0,
                words: vec!["prove".into(), "trade-offs".into(), "optimi*".into()],
            },
            ..RouterConfig::default()
        };
        assert_eq!(measure_text(&config, "Prove it").reasoning_words, 1.0);
        assert_eq!(measure_text(&config, "improve it").reasoning_words, 0.0);
        assert_eq!(measure_text(&config, "the Trade Offs").reasoning_words, 1.0);
        assert_eq!(measure_text(&config, "trade secrets").reasoning_words, 0.0);
        assert_eq!(
            measure_text(&config, "optimise; Optimization!").reasoning_words,
            2.0
        );
        assert_eq!(measure_text(&config, "optim").reasoning_words, 0.0);
    }

    #[test]
    fn phrases_ending_in_a_stem_match() {
        let config = RouterConfig {
            signals: vec![SignalKind::ReasoningWords],
            reasoning_words: crate::core::route::KeywordSignal {
                points: 1.0,
                max: 10.0,
                words: vec!["race condition*".into()],
            },
            ..RouterConfig::default()
        };
        assert_eq!(
            measure_text(&config, "two race conditions").reasoning_words,
            1.0
        );
        assert_eq!(measure_text(&config, "race car").reasoning_words, 0.0);
        assert_eq!(measure_text(&config, "a race").reasoning_words, 0.0);
    }

    #[test]
    fn fenced_code_is_counted_but_not_searched_for_words() {
        let config = RouterConfig::default();
        let text = "Why?\n```js\nfunction f() { return 1; }\n// prove it\n```\n";
        let s = measure_text(&config, text);
        assert_eq!(s.code_block, config.code_block.points);
        assert_eq!(s.proof_words, 0.0);
        let unfenced = counts("x = 1;\nif (a) {\n}\nnot code");
        assert_eq!((unfenced.fences, unfenced.code_lines), (0, 3));
        assert_eq!(
            measure_text(&config, "x = 1;\ny = 2;\nnot code").code_block,
            0.0
        );
    }

    #[test]
    fn list_items_are_counted_outside_code() {
        let c =
            counts("Constraints:\n1. one\n2) two\n- three\n* four\n• five\n10.5 is a number\n-x");
        assert_eq!(c.list_items, 5);
    }

    #[test]
    fn requested_output_sizes_are_read_from_the_text() {
        let t = |s: &str| counts(s).requested_output_tokens;
        assert_eq!(t("Write a 3,000-word whitepaper"), 4050);
        assert_eq!(t("write 2000 words"), 2700);
        assert_eq!(t("about 2k words"), 2700);
        assert_eq!(t("ten pages"), 0);
        assert_eq!(t("10 pages, then 3 paragraphs"), 6500);
        assert_eq!(t("in 2 sentences"), 50);
        assert_eq!(t("3 000 mots"), 4050);
        assert_eq!(t("top 5 customers in 2024"), 0);
    }

    #[test]
    fn a_long_turn_is_searched_only_in_its_first_and_last_paragraphs() {
        let config = RouterConfig::default();
        let clause = "1. The supplier must deliver at least monthly and prove compliance.\n";
        let material = clause.repeat(40);
        let text = format!("Summarise this contract.\n\n{material}\nThanks!");
        let s = measure_text(&config, &text);
        assert_eq!(
            s.proof_words, 0.0,
            "\"prove\" is the contract's word, not the task's"
        );
        assert_eq!(s.constraints, 0.0, "nor are its numbered clauses and musts");
        assert_eq!(s.simple_words, -1.0, "the last paragraph still counts");
        assert_eq!(s.chars as usize, text.chars().count());
        let l = &config.length;
        let ramped = ramp(text.len() as f64, l.short_chars as f64, l.long_chars as f64);
        assert_eq!(s.length, round2(l.points * ramped));

        // Material first: its first paragraph is searched (the zone cannot tell), and so is
        // the question after it.
        let data = "42, 17, 96, 3\n".repeat(100);
        let question_last = format!("{data}\nNow prove that the schedule is feasible.");
        assert_eq!(
            measure_text(&config, &question_last).proof_words,
            config.proof_words.points
        );
        // The same clauses in a short turn are the task's own constraints.
        let short = counts(&format!("Plan it:\n{}", clause.repeat(3)));
        assert_eq!(short.list_items, 3);
        assert_eq!(short.keyword_hits[keyword_slot(SignalKind::Constraints)], 6);
    }

    #[test]
    fn code_is_found_anywhere_in_a_long_turn_and_skipped_in_the_zone() {
        let config = RouterConfig::default();
        let prose = "The figures were reviewed and the variance was noted.\n".repeat(60);
        let late_code = format!("Why is this slow?\n\n{prose}```rust\nlet x = f(y);\n```\n");
        assert_eq!(
            measure_text(&config, &late_code).code_block,
            config.code_block.points
        );
        // A blank line inside the fence makes its end a paragraph of its own: the tail zone
        // starts inside the fence, so its comment is not read as the task.
        let code = "let x = compute(y);\n".repeat(200);
        let text = format!("Why is this slow?\n\n```rust\n{code}\n// prove it\n```\n");
        let s = measure_text(&config, &text);
        assert_eq!(
            (s.code_block, s.proof_words),
            (config.code_block.points, 0.0)
        );
        let outside = format!("Why is this slow?\n\n```rust\n{code}```\n\nprove it");
        assert_eq!(
            measure_text(&config, &outside).proof_words,
            config.proof_words.points
        );
    }

    #[test]
    fn instruction_zones_fall_on_paragraphs_and_respect_utf8() {
        let text = format!("Ask.\n\n{}\n\nLast words.", "é".repeat(2000));
        let (head_end, tail_start) = instruction_zone(&text);
        assert_eq!(&text[..head_end], "Ask.");
        assert_eq!(&text[tail_start..], "Last words.");
        // Instruction on the first line, material up to the end without a blank line.
        let lines = format!("Summarise:\n{}", "a line of the log\n".repeat(200));
        assert_eq!(instruction_zone(&lines), (10, lines.len()));
        let one_paragraph = "é".repeat(3000);
        let (head_end, tail_start) = instruction_zone(&one_paragraph);
        assert!(head_end <= ZONE_HEAD_BYTES && one_paragraph.is_char_boundary(head_end));
        assert_eq!(tail_start, one_paragraph.len());
    }

    #[test]
    fn signals_are_scored_on_the_last_user_turn_with_text() {
        let config = RouterConfig::default();
        let lexicon = Lexicon::new(&config);
        let mut request = Request::new(
            "auto",
            vec![
                Message::user("Prove the theorem."),
                Message::assistant("Which one?"),
                Message::user("hi"),
            ],
        );
        let (s, _) = measure(&config, &lexicon, &request);
        assert_eq!((s.proof_words, s.user_turns), (0.0, 2));
        request.messages.push(Message {
            role: Role::User,
            content: vec![ContentPart::ToolResult {
                call_id: "c".into(),
                name: None,
                content: "prove".into(),
                is_error: false,
                cache: None,
            }],
        });
        let (s, _) = measure(&config, &lexicon, &request);
        assert_eq!(s.user_turns, 2, "a tool result is not a user turn");
        assert_eq!(s.tools, config.tools.agent_loop);
    }

    #[test]
    fn disabled_signals_measure_zero() {
        let config = RouterConfig {
            signals: vec![SignalKind::Length],
            ..RouterConfig::default()
        };
        let s = measure_text(&config, &format!("prove {}", "x".repeat(5000)));
        assert_eq!(s.proof_words, 0.0);
        assert_eq!(s.length, config.length.points);
        assert_eq!(s.score(), config.length.points);
    }

    #[test]
    fn input_estimate_counts_text_tools_and_images() {
        let mut request = Request::new("auto", vec![Message::user("x".repeat(400))]);
        assert_eq!(estimate_input_tokens(&request), 100);
        request.messages[0].content.push(ContentPart::Image {
            media_type: "image/png".into(),
            data: "AAAA".into(),
            cache: None,
        });
        request.tools.push(ToolDefinition {
            name: "abcd".into(),
            description: None,
            parameters: json!({}),
            cache: None,
        });
        assert_eq!(estimate_input_tokens(&request), 100 + 2 + 1600);
    }
}
