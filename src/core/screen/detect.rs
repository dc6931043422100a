//! The detectors. Each pushes [`Hit`]s with spans in the original text; `scan` runs them all
//! and recurses (bounded) into payloads hidden in base64, hex, percent-encoding or Unicode tags.
use std::borrow::Cow;

use super::decode::{decode_payloads, decode_tag_run};
use super::lexicon::class::{self, Classes};
use super::lexicon::{self, Rule, Slot, GAP_CLASSES, RULES};
use super::normalize::{disguise, HiddenChar, Invisible, ScanText, Token};
use super::{FindingKind as K, Hit, RevealedBy};

/// Decoding levels followed into (base64 of base64 of ... stops here).
const MAX_DEPTH: u8 = 2;
/// Findings inside quotation marks or code count this much: the text is more likely talking
/// about an attack than making one.
const QUOTED_FACTOR: f64 = 0.4;
/// A quotation introduced as an example (`phrases like '...'`, `such as "..."`).
const MENTIONED_FACTOR: f64 = 0.2;

pub(crate) fn scan(text: &str, depth: u8, hits: &mut Vec<Hit>) {
    let scan = ScanText::new(text);
    let urls = find_urls(text);
    let has_url_query = urls.iter().any(|u| u.url.contains('?'));
    phrases(&scan, has_url_query, hits);
    markers(&scan, hits);
    cjk(&scan, hits);
    exfiltration(text, &urls, hits);
    hidden_markup(text, hits);
    hidden(&scan, depth, hits);
    mixed_script(&scan, hits);
    if depth < MAX_DEPTH {
        for payload in decode_payloads(text) {
            reveal(
                &payload.text,
                payload.start,
                payload.end,
                payload.by,
                depth,
                hits,
            );
        }
    }
}

/// Scans decoded text and reports what it holds at the span of its encoded form.
fn reveal(decoded: &str, start: usize, end: usize, by: RevealedBy, depth: u8, hits: &mut Vec<Hit>) {
    let mut inner = Vec::new();
    scan(decoded, depth + 1, &mut inner);
    let strongest = inner.iter().map(|h| h.weight).fold(0.0, f64::max);
    for hit in inner {
        hits.push(Hit {
            start,
            end,
            revealed_by: Some(hit.revealed_by.unwrap_or(by)),
            ..hit
        });
    }
    if strongest >= 0.3 {
        hits.push(Hit {
            kind: K::EncodedPayload,
            rule: "instructions-in-encoded-text",
            weight: 0.35,
            start,
            end,
            revealed_by: Some(by),
            wording: false,
        });
    }
}

// ---------------------------------------------------------------------------------- phrases

/// One way of reading the tokens: as written, ROT13-decoded, or reversed.
struct View<'t> {
    forms: Vec<Cow<'t, str>>,
    masks: Vec<Classes>,
    /// Classes a token has only in its leetspeak reading.
    leet_only: Vec<Classes>,
    sentence: Vec<u32>,
    next_char: Vec<Option<char>>,
    /// Index into `ScanText::tokens`.
    token: Vec<usize>,
    revealed_by: Option<RevealedBy>,
    /// Every class some token has: a rule needing a class nobody has cannot match.
    present: Classes,
}

/// Another reading of a word: ROT13 or reversed. Only ASCII words are transformed.
#[derive(Clone, Copy)]
enum Transform {
    None,
    Rot13,
    Reversed,
}

impl Transform {
    fn byte(b: u8) -> u8 {
        match b {
            b'a'..=b'm' => b + 13,
            b'n'..=b'z' => b - 13,
            b => b,
        }
    }

    fn classes(self, form: &str) -> Classes {
        match self {
            Transform::None => lexicon::classify(form),
            _ if !form.is_ascii() => 0,
            Transform::Rot13 => lexicon::classify_bytes(form.bytes().map(Transform::byte)),
            Transform::Reversed => lexicon::classify_bytes(form.bytes().rev()),
        }
    }

    fn apply(self, form: &str) -> String {
        match self {
            Transform::None => form.to_string(),
            Transform::Rot13 => form
                .bytes()
                .map(|b| char::from(Transform::byte(b)))
                .collect(),
            Transform::Reversed => form.chars().rev().collect(),
        }
    }
}

impl<'t> View<'t> {
    fn new(
        scan: &'t ScanText<'_>,
        order: impl ExactSizeIterator<Item = usize>,
        transform: Transform,
        revealed_by: Option<RevealedBy>,
    ) -> View<'t> {
        let capacity = order.len();
        let mut view = View {
            forms: Vec::with_capacity(capacity),
            masks: Vec::with_capacity(capacity),
            leet_only: Vec::with_capacity(capacity),
            sentence: Vec::with_capacity(capacity),
            next_char: Vec::with_capacity(capacity),
            token: Vec::with_capacity(capacity),
            revealed_by,
            present: 0,
        };
        for i in order {
            let t = &scan.tokens[i];
            let text = scan.form(t);
            let mut plain = transform.classes(text);
            // A word in no class matters to no rule (rules' literal words are classed too),
            // so transformed readings are only spelled out when they are something.
            let form = match transform {
                Transform::None => Cow::Borrowed(text),
                _ if plain == 0 => Cow::Borrowed(""),
                _ => Cow::Owned(transform.apply(text)),
            };
            if t.possessive {
                plain |= class::POSSESSIVE;
            }
            let leet = match (transform, scan.leet(t)) {
                (Transform::None, Some(leet)) => lexicon::classify(leet),
                _ => 0,
            };
            view.masks.push(plain | leet);
            view.present |= plain | leet;
            view.leet_only.push(leet & !plain);
            view.forms.push(form);
            view.sentence.push(t.sentence);
            view.next_char.push(t.next_char);
            view.token.push(i);
        }
        view
    }

    fn len(&self) -> usize {
        self.forms.len()
    }
}

fn phrases(scan: &ScanText<'_>, has_url_query: bool, hits: &mut Vec<Hit>) {
    let tokens = &scan.tokens;
    let plain = View::new(scan, 0..tokens.len(), Transform::None, None);
    run_rules(scan, &plain, has_url_query, hits);
    addressed_to_model(scan, &plain, hits);
    // Obfuscated forms: only worth reading when there are ASCII words to transform.
    if tokens
        .iter()
        .any(|t| scan.form(t).bytes().any(|b| b.is_ascii_alphabetic()))
    {
        let rot = View::new(
            scan,
            0..tokens.len(),
            Transform::Rot13,
            Some(RevealedBy::Rot13),
        );
        run_rules(scan, &rot, has_url_query, hits);
        let reversed = View::new(
            scan,
            (0..tokens.len()).rev(),
            Transform::Reversed,
            Some(RevealedBy::Reversed),
        );
        run_rules(scan, &reversed, has_url_query, hits);
    }
}

fn run_rules(scan: &ScanText<'_>, view: &View, has_url_query: bool, hits: &mut Vec<Hit>) {
    // The rules that can match at all here, with the classes their first token must have
    // (a literal first word is classed `KEYWORD`).
    let candidates: Vec<(&Rule, Classes)> = RULES
        .iter()
        .filter(|rule| !rule.needs_url_query || has_url_query)
        .filter(|rule| {
            rule.slots.iter().all(|slot| match *slot {
                Slot::Class(mask) => view.present & mask != 0,
                _ => true,
            })
        })
        .map(|rule| {
            let first = match rule.slots.first() {
                Some(&Slot::Class(mask)) => mask,
                _ => class::KEYWORD,
            };
            (rule, first)
        })
        .collect();
    let any_first = candidates.iter().fold(0, |all, &(_, first)| all | first);
    // Matches of one rule do not overlap: each rule resumes after its last match.
    let mut resume = vec![0usize; candidates.len()];
    for i in 0..view.len() {
        if view.masks[i] & any_first == 0 {
            continue;
        }
        for (r, &(rule, first)) in candidates.iter().enumerate() {
            if i < resume[r] || view.masks[i] & first == 0 {
                continue;
            }
            let mut used_leet = false;
            if let Some(end) = match_slots(view, rule.slots, i, view.sentence[i], &mut used_leet)
                .filter(|&end| end > i)
            {
                push_phrase_hit(scan, view, rule, i, end, used_leet, hits);
                resume[r] = end;
            }
        }
    }
}

/// Matches `slots` from token `i`; returns the end (exclusive) of the match.
fn match_slots(
    view: &View,
    slots: &[Slot],
    i: usize,
    sentence: u32,
    used_leet: &mut bool,
) -> Option<usize> {
    let Some((slot, rest)) = slots.split_first() else {
        return Some(i);
    };
    let in_sentence = |k: usize| k < view.len() && view.sentence[k] == sentence;
    match *slot {
        Slot::Class(mask) => {
            if !in_sentence(i) || view.masks[i] & mask == 0 {
                return None;
            }
            let leet_needed = (view.masks[i] & !view.leet_only[i]) & mask == 0;
            let end = match_slots(view, rest, i + 1, sentence, used_leet)?;
            *used_leet |= leet_needed;
            Some(end)
        }
        Slot::Word(word) => {
            if !in_sentence(i) {
                return None;
            }
            let form = &*view.forms[i];
            let ok = match word.strip_suffix('*') {
                Some(stem) => form.starts_with(stem),
                None => form == word,
            };
            if !ok {
                return None;
            }
            match_slots(view, rest, i + 1, sentence, used_leet)
        }
        Slot::Gap(max) | Slot::Any(max) => {
            let filler_only = matches!(slot, Slot::Gap(_));
            for skip in 0..=max as usize {
                if skip > 0 {
                    let k = i + skip - 1;
                    if !in_sentence(k) || filler_only && view.masks[k] & GAP_CLASSES == 0 {
                        return None;
                    }
                }
                if let Some(end) = match_slots(view, rest, i + skip, sentence, used_leet) {
                    return Some(end);
                }
            }
            None
        }
        Slot::Colon => {
            if i == 0 || view.next_char[i - 1] != Some(':') {
                return None;
            }
            match_slots(view, rest, i, sentence, used_leet)
        }
        Slot::NotNext(mask) => {
            if in_sentence(i) && view.masks[i] & mask != 0 {
                return None;
            }
            match_slots(view, rest, i, sentence, used_leet)
        }
        Slot::SentenceEnd => {
            if in_sentence(i) {
                return None;
            }
            match_slots(view, rest, i, sentence, used_leet)
        }
    }
}

fn push_phrase_hit(
    scan: &ScanText<'_>,
    view: &View,
    rule: &Rule,
    first: usize,
    end: usize,
    used_leet: bool,
    hits: &mut Vec<Hit>,
) {
    let matched = &view.token[first..end];
    let lo = matched
        .iter()
        .map(|&t| scan.tokens[t].start)
        .min()
        .unwrap_or(0);
    let hi = matched
        .iter()
        .map(|&t| scan.tokens[t].end)
        .max()
        .unwrap_or(0);
    let (start, end_byte) = scan.original_span(lo, hi);
    let disguised = matched
        .iter()
        .fold(0u8, |bits, &t| bits | scan.tokens[t].disguise);
    let revealed_by = view.revealed_by.or(if used_leet {
        Some(RevealedBy::Leetspeak)
    } else if disguised & disguise::HOMOGLYPH != 0 {
        Some(RevealedBy::Homoglyphs)
    } else if disguised & disguise::SPACED != 0 {
        Some(RevealedBy::SpacedLetters)
    } else if disguised & disguise::SPLIT != 0 {
        Some(RevealedBy::SplitWords)
    } else {
        None
    });
    let quoted = [lo, hi.saturating_sub(1)]
        .iter()
        .all(|&p| ScanText::in_ranges(&scan.quoted, p) || ScanText::in_ranges(&scan.code, p));
    let mentioned =
        first > 0 && view.revealed_by.is_none() && view.masks[first - 1] & class::MENTION != 0;
    let weight = match (quoted && rule.kind.is_wording(), mentioned) {
        (true, true) => rule.weight * MENTIONED_FACTOR,
        (true, false) => rule.weight * QUOTED_FACTOR,
        _ => rule.weight,
    };
    hits.push(Hit {
        kind: rule.kind,
        rule: rule.id,
        weight,
        start,
        end: end_byte,
        revealed_by,
        wording: true,
    });
    // Writing an instruction so that filters miss it is a signal of its own.
    if let Some(by) = revealed_by.filter(|_| rule.weight >= 0.4) {
        let (kind, id) = match by {
            RevealedBy::Rot13 | RevealedBy::Reversed => (K::EncodedPayload, "transformed-text"),
            _ => (K::Obfuscation, "disguised-words"),
        };
        hits.push(Hit {
            kind,
            rule: id,
            weight: 0.3,
            start,
            end: end_byte,
            revealed_by: Some(by),
            wording: false,
        });
    }
}

/// `AI assistant:` / `Claude,` at the start of a sentence: text speaking to the model. A role
/// word opening a line is left to the role-line detector.
fn addressed_to_model(scan: &ScanText<'_>, view: &View, hits: &mut Vec<Hit>) {
    let line_start = |t: &Token| {
        scan.text[..t.start]
            .trim_end_matches([' ', '\t'])
            .ends_with('\n')
            || scan.text[..t.start].trim().is_empty()
    };
    for i in 0..view.len() {
        let starts_sentence = i == 0 || view.sentence[i - 1] != view.sentence[i];
        let second = i >= 1
            && (i == 1 || view.sentence[i - 2] != view.sentence[i])
            && view.masks[i - 1] & (lexicon::ADDRESSEE | class::NOTE) != 0;
        if view.masks[i] & lexicon::ADDRESSEE != 0
            && (starts_sentence || second)
            && matches!(view.next_char[i], Some(':' | ','))
        {
            let t = &scan.tokens[view.token[i]];
            let first = if second {
                &scan.tokens[view.token[i - 1]]
            } else {
                t
            };
            if line_start(first) && view.next_char[i] == Some(':') {
                continue;
            }
            let (start, end) = scan.original_span(first.start, t.end);
            hits.push(Hit {
                kind: K::EmbeddedInstruction,
                rule: "addressed-to-model",
                weight: 0.35,
                start,
                end,
                revealed_by: None,
                wording: true,
            });
        }
    }
}

// ---------------------------------------------------------------------------------- markers

/// Role words a fake turn may claim, with the weight of a `role: text` line and of a header
/// line (`### System`, `=== SYSTEM ===`).
const ROLES: &[(&str, &str, f64, f64)] = &[
    ("system", "fake-system-turn", 0.55, 0.45),
    ("developer", "fake-system-turn", 0.55, 0.45),
    ("assistant", "fake-turn", 0.4, 0.35),
    ("ai", "fake-turn", 0.4, 0.35),
    ("model", "fake-turn", 0.4, 0.35),
    ("bot", "fake-turn", 0.4, 0.35),
    ("user", "fake-turn", 0.3, 0.25),
    ("human", "fake-turn", 0.3, 0.25),
    ("tool", "fake-turn", 0.3, 0.25),
];

/// Words that may follow `system` in a label (`SYSTEM MESSAGE:`, `system prompt:`).
const SYSTEM_LABELS: &[&str] = &[
    "message",
    "prompt",
    "note",
    "instruction",
    "instructions",
    "override",
    "notice",
    "alert",
    "update",
    "directive",
    "command",
];

fn markers(scan: &ScanText<'_>, hits: &mut Vec<Hit>) {
    let text = scan.text.as_str();
    let mut push = |kind, rule, weight: f64, lo: usize, hi: usize| {
        let weight = if ScanText::in_ranges(&scan.code, lo) {
            weight * QUOTED_FACTOR
        } else {
            weight
        };
        let (start, end) = scan.original_span(lo, hi);
        hits.push(Hit {
            kind,
            rule,
            weight,
            start,
            end,
            revealed_by: None,
            wording: false,
        });
    };
    // Role lines.
    let mut line_start = 0;
    for line in text.split('\n') {
        if let Some((rule, weight, len)) = role_line(line) {
            push(K::RoleSpoofing, rule, weight, line_start, line_start + len);
        }
        line_start += line.len() + 1;
    }
    // Chat-template special tokens: `<|im_start|>`, `<|system|>`, `[INST]`, `<<SYS>>`.
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !matches!(bytes[i], b'<' | b'[') {
            i += 1;
            continue;
        }
        let rest = &text[i..];
        let token_len = if let Some(inner) = rest.strip_prefix("<|") {
            inner
                .find("|>")
                .filter(|&n| {
                    n > 0
                        && n <= 32
                        && inner[..n]
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .map(|n| n + 4)
        } else {
            [
                "[inst]",
                "[/inst]",
                "<<sys>>",
                "<</sys>>",
                "<start_of_turn>",
                "<end_of_turn>",
            ]
            .iter()
            .find(|m| rest.starts_with(**m))
            .map(|m| m.len())
        };
        let Some(len) = token_len else {
            i += 1;
            continue;
        };
        let before = text[..i].trim_end_matches([' ', '\t']);
        let after = text[i + len..].trim_start_matches([' ', '\t']);
        let structural = before.is_empty()
            || before.ends_with(['\n', '>', ']'])
            || after.is_empty()
            || after.starts_with(['\n', '<', '['])
            || ROLES.iter().any(|(role, ..)| starts_with_word(after, role));
        let weight = if structural { 0.6 } else { 0.25 };
        push(K::RoleSpoofing, "chat-template-token", weight, i, i + len);
        i += len;
    }
    xml_role_tags(text, &mut push);
    json_roles(text, &mut push);
    for role in [
        "[system](",
        "[developer](",
        "[system]:",
        "[assistant](",
        "[assistant]:",
    ] {
        let mut from = 0;
        while let Some(at) = text[from..].find(role).map(|p| p + from) {
            let weight = if role.contains("assistant") {
                0.35
            } else {
                0.45
            };
            push(K::RoleSpoofing, "role-link", weight, at, at + role.len());
            from = at + role.len();
        }
    }
}

fn starts_with_word(text: &str, word: &str) -> bool {
    text.starts_with(word)
        && !text[word.len()..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric)
}

/// `system: do X`, `### System`, `=== SYSTEM ===`, `Assistant: Sure!`. A bare `system:` with
/// nothing after it is a YAML key, not a turn.
fn role_line(line: &str) -> Option<(&'static str, f64, usize)> {
    const DECORATION: &[char] = &[
        '#', '*', '=', '-', '_', '>', '[', '<', '|', '(', '~', ' ', '\t',
    ];
    let body = line.trim_start_matches(DECORATION);
    let decorated = body.len() != line.trim_start().len();
    let &(role, rule, colon_weight, header_weight) = ROLES
        .iter()
        .find(|(role, ..)| starts_with_word(body, role))?;
    let mut rest = &body[role.len()..];
    if role == "system" {
        let trimmed = rest.trim_start();
        if let Some(label) = SYSTEM_LABELS.iter().find(|l| starts_with_word(trimmed, l)) {
            rest = &trimmed[label.len()..];
        }
    }
    let rest = rest.trim_start_matches([']', '>', '|', '*', '#', '=', '-', ' ', '\t', ')']);
    if let Some(content) = rest.strip_prefix(':') {
        let content = content.trim_matches(|c: char| c.is_whitespace() || c == '*' || c == '#');
        if !content.is_empty() {
            return Some((rule, colon_weight, line.len()));
        }
        return decorated.then_some((rule, header_weight, line.len()));
    }
    (rest.is_empty() && decorated).then_some((rule, header_weight, line.len()))
}

fn xml_role_tags(text: &str, push: &mut impl FnMut(K, &'static str, f64, usize, usize)) {
    const SYSTEM_TAGS: &[&str] = &["system", "system_prompt", "sys", "developer", "admin"];
    const INSTRUCTION_TAGS: &[&str] = &["instructions", "instruction", "im_start"];
    const TURN_TAGS: &[&str] = &["user", "assistant", "human", "ai", "model"];
    const CONTAINER_TAGS: &[&str] = &[
        "description",
        "document",
        "context",
        "data",
        "input",
        "text",
        "content",
        "query",
        "user_input",
        "email",
        "review",
    ];
    let mut opened: Vec<&str> = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find('<').map(|p| p + from) {
        from = at + 1;
        let rest = &text[at + 1..];
        let closing = rest.starts_with('/');
        let name_start = if closing { 1 } else { 0 };
        let name_len = rest[name_start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if name_len == 0 || !rest[name_start + name_len..].starts_with('>') {
            continue;
        }
        let name = &rest[name_start..name_start + name_len];
        let end = at + 1 + name_start + name_len + 1;
        let found_open = opened.contains(&name);
        if !closing {
            opened.push(name);
        }
        let (rule, weight) = if SYSTEM_TAGS.contains(&name) {
            ("xml-system-tag", 0.5)
        } else if INSTRUCTION_TAGS.contains(&name) {
            ("xml-instructions-tag", 0.35)
        } else if TURN_TAGS.contains(&name) {
            // A closing tag with no opening one breaks out of the turn the app wrapped.
            if closing && !found_open {
                ("xml-turn-breakout", 0.45)
            } else {
                ("xml-turn-tag", 0.2)
            }
        } else if CONTAINER_TAGS.contains(&name) && closing && !found_open {
            ("xml-container-breakout", 0.3)
        } else {
            continue;
        };
        push(K::RoleSpoofing, rule, weight, at, end);
    }
}

/// `"role": "system"` inside what looks like a message list.
fn json_roles(text: &str, push: &mut impl FnMut(K, &'static str, f64, usize, usize)) {
    let mut from = 0;
    while let Some(at) = text[from..].find("\"role\"").map(|p| p + from) {
        from = at + 6;
        let rest = text[from..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(value) = rest.strip_prefix('"') else {
            continue;
        };
        let Some(close) = value.find('"') else {
            continue;
        };
        let weight = match &value[..close] {
            "system" | "developer" => 0.45,
            "assistant" | "user" | "model" | "tool" => 0.15,
            _ => continue,
        };
        let end = text.len() - value.len() + close + 1;
        push(K::RoleSpoofing, "json-role", weight, at, end);
    }
}

// -------------------------------------------------------------------------------------- CJK

/// Languages written without spaces: an override verb and an instruction noun (or a
/// prompt-leak noun and a reveal verb) close together, in either order.
struct CjkPair {
    kind: K,
    rule: &'static str,
    weight: f64,
    firsts: &'static [&'static str],
    seconds: &'static [&'static str],
    /// Characters allowed between the two.
    window: usize,
}

const CJK_PAIRS: &[CjkPair] = &[
    CjkPair {
        kind: K::InstructionOverride,
        rule: "override-instructions-cjk",
        weight: 0.7,
        firsts: &[
            "忽略", "无视", "無視", "忘记", "忘掉", "忘れ", "무시", "잊어", "잊고",
        ],
        seconds: &[
            "指令", "指示", "说明", "規則", "规则", "提示", "命令", "지시", "명령", "규칙", "지침",
        ],
        window: 24,
    },
    CjkPair {
        kind: K::PromptLeak,
        rule: "reveal-system-prompt-cjk",
        weight: 0.6,
        firsts: &[
            "系统提示",
            "系統提示",
            "系统消息",
            "システムプロンプト",
            "システムメッセージ",
            "시스템 프롬프트",
            "시스템프롬프트",
            "初始指令",
            "隐藏指令",
        ],
        seconds: &[
            "输出",
            "显示",
            "告诉",
            "打印",
            "泄露",
            "表示",
            "教えて",
            "出力",
            "見せ",
            "보여",
            "출력",
            "알려",
            "공개",
            "重复",
        ],
        window: 30,
    },
];

fn cjk(scan: &ScanText<'_>, hits: &mut Vec<Hit>) {
    let text = scan.text.as_str();
    if text.is_ascii() {
        return;
    }
    for pair in CJK_PAIRS {
        let found = |words: &[&str]| -> Vec<(usize, usize)> {
            let mut at = Vec::new();
            for w in words {
                let mut from = 0;
                while let Some(p) = text[from..].find(w).map(|p| p + from) {
                    at.push((p, p + w.len()));
                    from = p + w.len();
                }
            }
            at
        };
        let a = found(pair.firsts);
        if a.is_empty() {
            continue;
        }
        let b = found(pair.seconds);
        // Each CJK character is 3 bytes in UTF-8.
        let window = pair.window * 3;
        if let Some((lo, hi)) = a.iter().find_map(|&(s1, e1)| {
            b.iter()
                .find(|&&(s2, e2)| s2 <= e1 + window && s1 <= e2 + window)
                .map(|&(s2, e2)| (s1.min(s2), e1.max(e2)))
        }) {
            let (start, end) = scan.original_span(lo, hi);
            hits.push(Hit {
                kind: pair.kind,
                rule: pair.rule,
                weight: pair.weight,
                start,
                end,
                revealed_by: None,
                wording: true,
            });
        }
    }
}

// ----------------------------------------------------------------------------- exfiltration

#[derive(Debug)]
pub(crate) struct FoundUrl<'a> {
    pub url: &'a str,
    /// The enclosing markup: `![..](url)`, `<img ...>`, or the bare URL.
    pub start: usize,
    pub end: usize,
    pub image: bool,
}

/// Image links, `<img>` tags and bare URLs, in the original text (case kept: placeholder
/// names are often upper case).
pub(crate) fn find_urls(text: &str) -> Vec<FoundUrl<'_>> {
    let lower = text.to_ascii_lowercase();
    let mut urls = Vec::new();
    let url_end = |s: &str| {
        s.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '`'))
            .unwrap_or(s.len())
    };
    let mut from = 0;
    while let Some(at) = lower[from..].find("![").map(|p| p + from) {
        from = at + 2;
        let Some(close) = lower[from..].find("](").filter(|&n| n <= 200) else {
            continue;
        };
        if lower[from..from + close].contains('\n') {
            continue;
        }
        let url_start = from + close + 2;
        let len = url_end(&text[url_start..]);
        let url_end = url_start + len;
        let end = url_end + usize::from(text[url_end..].starts_with(')'));
        urls.push(FoundUrl {
            url: &text[url_start..url_end],
            start: at,
            end,
            image: true,
        });
    }
    let mut from = 0;
    while let Some(at) = lower[from..].find("<img").map(|p| p + from) {
        from = at + 4;
        let tag_end = lower[from..].find('>').map_or(text.len(), |n| from + n + 1);
        let tag = &lower[at..tag_end];
        if let Some(src) = tag.find("src=") {
            let mut value_start = at + src + 4;
            while value_start < tag_end && matches!(text.as_bytes()[value_start], b'"' | b'\'') {
                value_start += 1;
            }
            let len = url_end(&text[value_start..tag_end]);
            urls.push(FoundUrl {
                url: &text[value_start..value_start + len],
                start: at,
                end: tag_end,
                image: true,
            });
        }
    }
    for scheme in ["http://", "https://"] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(scheme).map(|p| p + from) {
            from = at + scheme.len();
            if urls.iter().any(|u| u.start <= at && at < u.end) {
                continue;
            }
            let len = url_end(&text[at..]);
            urls.push(FoundUrl {
                url: &text[at..at + len],
                start: at,
                end: at + len,
                image: false,
            });
        }
    }
    urls
}

/// A query that the model is meant to fill with conversation data: `?q={summary}`,
/// `?d=SECRET`, `?u=` (empty, to be completed), `?c=[CHAT_HISTORY]`, `$USER_MESSAGE`.
fn has_placeholder(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return url.contains(['{', '}', '$']);
    };
    if query.contains(['{', '}', '[', ']', '<', '>', '$']) {
        return true;
    }
    const DATA_WORDS: &[&str] = &[
        "insert",
        "your_",
        "user_",
        "conversation",
        "history",
        "summary",
        "secret",
        "password",
        "prompt",
        "cookie",
        "chat",
        "email",
        "message",
        "token",
    ];
    query.split('&').any(|pair| {
        let value = pair.split_once('=').map_or("", |(_, v)| v);
        let lower = value.to_ascii_lowercase();
        value.is_empty()
            || value.len() >= 4 && value.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            || DATA_WORDS.iter().any(|w| lower.contains(w))
    })
}

fn exfiltration(text: &str, urls: &[FoundUrl<'_>], hits: &mut Vec<Hit>) {
    let mut push = |rule, weight, start, end| {
        hits.push(Hit {
            kind: K::Exfiltration,
            rule,
            weight,
            start,
            end,
            revealed_by: None,
            wording: false,
        })
    };
    for u in urls {
        let placeholder = has_placeholder(u.url);
        match (u.image, placeholder, u.url.contains('?')) {
            (true, true, _) => push("image-url-with-placeholder", 0.65, u.start, u.end),
            (true, false, true) => push("image-url-with-query", 0.15, u.start, u.end),
            (false, true, _) => push("link-with-placeholder", 0.35, u.start, u.end),
            _ => {}
        }
    }
    let lower = text.to_ascii_lowercase();
    for (needle, rule, weight) in [
        ("onerror=", "img-onerror", 0.55),
        ("document.cookie", "script-reads-page", 0.45),
        ("document.body", "script-reads-page", 0.45),
        ("encodeuricomponent(", "script-reads-page", 0.3),
    ] {
        if let Some(at) = lower.find(needle) {
            push(rule, weight, at, at + needle.len());
        }
    }
}

// ----------------------------------------------------------------------- hidden characters

fn hidden(scan: &ScanText<'_>, depth: u8, hits: &mut Vec<Hit>) {
    let suspicious: Vec<&HiddenChar> = scan.hidden.iter().filter(|h| !h.legitimate).collect();
    if suspicious.is_empty() {
        return;
    }
    let mut push = |rule, weight, start: usize, end: usize| {
        hits.push(Hit {
            kind: K::HiddenText,
            rule,
            weight,
            start,
            end,
            revealed_by: None,
            wording: false,
        })
    };
    let span_of = |kinds: &[Invisible]| {
        let of_kind: Vec<&&HiddenChar> = suspicious
            .iter()
            .filter(|h| kinds.contains(&h.kind))
            .collect();
        let first = of_kind.first()?;
        let last = of_kind.last()?;
        Some((of_kind.len(), first.at, last.at + last.ch.len_utf8()))
    };
    if let Some((_, start, end)) = span_of(&[Invisible::Tag]) {
        push("unicode-tag-characters", 0.6, start, end);
    }
    if let Some((count, start, end)) = span_of(&[Invisible::ZeroWidth]) {
        let longest_run = longest_run(&suspicious, Invisible::ZeroWidth);
        if longest_run >= 8 {
            push("zero-width-run", 0.6, start, end);
        } else {
            push(
                "zero-width-characters",
                if count >= 3 { 0.3 } else { 0.2 },
                start,
                end,
            );
        }
    }
    if let Some((_, start, end)) = span_of(&[Invisible::BidiControl]) {
        let overrides = suspicious
            .iter()
            .any(|h| matches!(h.ch, '\u{202D}' | '\u{202E}'));
        let weight = if overrides { 0.45 } else { 0.35 };
        push("bidi-control-characters", weight, start, end);
    }
    if let Some((_, start, end)) = span_of(&[Invisible::VariationSelector]) {
        let weight = if longest_run(&suspicious, Invisible::VariationSelector) >= 4 {
            0.5
        } else {
            0.1
        };
        push("stray-variation-selectors", weight, start, end);
    }
    if let Some((_, start, end)) = span_of(&[Invisible::Filler]) {
        push("blank-filler-characters", 0.3, start, end);
    }
    if let Some((_, start, end)) = span_of(&[Invisible::SoftHyphen]) {
        push("soft-hyphens", 0.1, start, end);
    }
    if let Some((_, start, end)) = span_of(&[Invisible::Control]) {
        push("control-characters", 0.15, start, end);
    }
    // Tag characters mirror ASCII: read what they say.
    if depth < MAX_DEPTH {
        for (start, end, decoded) in decode_tag_run(&scan.hidden) {
            reveal(&decoded, start, end, RevealedBy::TagCharacters, depth, hits);
        }
    }
}

/// HTML styled so a reader never sees it, a classic carrier of instructions in web pages.
fn hidden_markup(text: &str, hits: &mut Vec<Hit>) {
    if !text.contains("style") {
        return;
    }
    let lower = text.to_ascii_lowercase();
    let compact = |s: &str| s.replace(' ', "");
    for style in [
        "display:none",
        "visibility:hidden",
        "font-size:0",
        "opacity:0",
        "color:transparent",
    ] {
        let spaced = style.replace(':', ": ");
        if let Some(at) = lower.find(style).or_else(|| lower.find(&spaced)) {
            let len = if lower[at..].starts_with(style) {
                style.len()
            } else {
                spaced.len()
            };
            debug_assert_eq!(compact(&lower[at..at + len]), style);
            hits.push(Hit {
                kind: K::HiddenText,
                rule: "html-hidden-text",
                weight: 0.3,
                start: at,
                end: at + len,
                revealed_by: None,
                wording: false,
            });
            return;
        }
    }
}

/// The longest run of consecutive (adjacent in the text) hidden characters of one kind.
fn longest_run(hidden: &[&HiddenChar], kind: Invisible) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut next_at = usize::MAX;
    for h in hidden {
        if h.kind != kind {
            run = 0;
            continue;
        }
        run = if h.at == next_at { run + 1 } else { 1 };
        next_at = h.at + h.ch.len_utf8();
        longest = longest.max(run);
    }
    longest
}

/// A word mixing Latin letters with Cyrillic or Greek lookalikes.
fn mixed_script(scan: &ScanText<'_>, hits: &mut Vec<Hit>) {
    if let Some(t) = scan
        .tokens
        .iter()
        .find(|t| t.disguise & disguise::HOMOGLYPH != 0)
    {
        let (start, end) = scan.original_span(t.start, t.end);
        hits.push(Hit {
            kind: K::Obfuscation,
            rule: "mixed-script-word",
            weight: 0.3,
            start,
            end,
            revealed_by: Some(RevealedBy::Homoglyphs),
            wording: false,
        });
    }
}
