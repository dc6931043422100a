//! Structural hygiene that never changes what a reader sees: remove control and invisible
//! characters, unify line breaks, and (when asked) cap the length. Independent of the
//! detector, and safe to apply to every request.
//!
//! Kept on purpose, because they carry meaning in ordinary text:
//! - `\n` and `\t`;
//! - ZWJ inside emoji sequences (👨‍👩‍👧, 🏳️‍🌈, 🧑🏽‍💻) and ZWJ/ZWNJ between letters of
//!   scripts whose spelling needs them (Persian `می‌خواهم`, Hindi, Sinhala ...);
//! - one variation selector after its base character (❤️, CJK ideographic variants);
//! - tag characters inside a subdivision flag (🏴 England, Scotland, Wales);
//! - the direction marks LRM, RLM and ALM, which only nudge right-to-left layout.
//!
//! Removed: other C0/C1 controls, zero-width space and joiners elsewhere, word joiner and
//! invisible operators, byte-order marks, soft hyphens, bidi embeddings/overrides/isolates
//! (U+202A..E, U+2066..9, which reorder what a reader sees without changing what the model
//! reads), stray variation selectors, Unicode tag characters, Hangul fillers.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::normalize::{invisible_kind, is_legitimate, Invisible};
use crate::core::model::{ContentPart, Request, Role};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SanitizeConfig {
    /// Longest text kept, in characters (Unicode scalar values). `None` (the default) keeps
    /// everything: cutting a text changes its meaning, so it is opt-in.
    pub max_chars: Option<usize>,
}

/// One kind of change `sanitize` made, with how many characters it concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Change {
    RemovedControlCharacters {
        count: usize,
    },
    RemovedZeroWidthCharacters {
        count: usize,
    },
    RemovedBidiControls {
        count: usize,
    },
    /// `hidden_text` is the ASCII the tag characters spelled (it was invisible).
    #[serde(rename_all = "camelCase")]
    RemovedTagCharacters {
        count: usize,
        hidden_text: String,
    },
    RemovedVariationSelectors {
        count: usize,
    },
    RemovedSoftHyphens {
        count: usize,
    },
    RemovedFillerCharacters {
        count: usize,
    },
    /// `\r\n`, `\r`, NEL, U+2028 and U+2029 became `\n`.
    NormalizedLineBreaks {
        count: usize,
    },
    #[serde(rename_all = "camelCase")]
    Truncated {
        original_chars: usize,
        kept_chars: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized<'a> {
    /// Borrowed when nothing changed.
    pub text: Cow<'a, str>,
    pub changes: Vec<Change>,
}

#[derive(Default)]
struct Counts {
    control: usize,
    zero_width: usize,
    bidi: usize,
    tags: usize,
    tag_text: String,
    selectors: usize,
    soft_hyphens: usize,
    fillers: usize,
    line_breaks: usize,
}

pub fn sanitize<'a>(text: &'a str, config: &SanitizeConfig) -> Sanitized<'a> {
    let mut counts = Counts::default();
    let mut out = String::new();
    // Copy lazily: most texts need no change at all.
    let mut copied_up_to = 0;
    let mut changed = false;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut in_flag = false;
    for (i, &(at, c)) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j].1);
        let next = chars.get(i + 1).map(|&(_, n)| n);
        if c == '\u{1F3F4}' {
            in_flag = true;
        } else if !matches!(c, '\u{E0020}'..='\u{E007F}') {
            in_flag = false;
        }
        let replacement: Option<&str> = match c {
            '\r' if next == Some('\n') => Some(""),
            '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                counts.line_breaks += 1;
                Some("\n")
            }
            _ => match invisible_kind(c) {
                Some(kind) if !is_legitimate(kind, c, prev, next, in_flag) || c == '\u{FEFF}' => {
                    match kind {
                        Invisible::Control => counts.control += 1,
                        Invisible::ZeroWidth => counts.zero_width += 1,
                        Invisible::BidiControl | Invisible::BidiMark => counts.bidi += 1,
                        Invisible::Tag => {
                            counts.tags += 1;
                            counts.tag_text.extend(
                                char::from_u32(c as u32 - 0xE0000)
                                    .filter(|a| (' '..='~').contains(a)),
                            );
                        }
                        Invisible::VariationSelector => counts.selectors += 1,
                        Invisible::SoftHyphen => counts.soft_hyphens += 1,
                        Invisible::Filler => counts.fillers += 1,
                    }
                    Some("")
                }
                _ => None,
            },
        };
        if let Some(replacement) = replacement {
            if c == '\r' && next == Some('\n') {
                counts.line_breaks += 1;
            }
            out.push_str(&text[copied_up_to..at]);
            out.push_str(replacement);
            copied_up_to = at + c.len_utf8();
            changed = true;
        }
    }
    let mut text: Cow<'a, str> = if changed {
        out.push_str(&text[copied_up_to..]);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    };
    let mut changes = counts.into_changes();
    if let Some(max) = config.max_chars {
        if let Some((cut, _)) = text.char_indices().nth(max) {
            let original_chars = text.chars().count();
            text = Cow::Owned(text[..cut].to_string());
            changes.push(Change::Truncated {
                original_chars,
                kept_chars: max,
            });
        }
    }
    Sanitized { text, changes }
}

impl Counts {
    fn into_changes(self) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut add = |count: usize, change: fn(usize) -> Change| {
            if count > 0 {
                changes.push(change(count));
            }
        };
        add(self.control, |count| Change::RemovedControlCharacters {
            count,
        });
        add(self.zero_width, |count| {
            Change::RemovedZeroWidthCharacters { count }
        });
        add(self.bidi, |count| Change::RemovedBidiControls { count });
        add(self.selectors, |count| Change::RemovedVariationSelectors {
            count,
        });
        add(self.soft_hyphens, |count| Change::RemovedSoftHyphens {
            count,
        });
        add(self.fillers, |count| Change::RemovedFillerCharacters {
            count,
        });
        add(self.line_breaks, |count| Change::NormalizedLineBreaks {
            count,
        });
        if self.tags > 0 {
            changes.push(Change::RemovedTagCharacters {
                count: self.tags,
                hidden_text: self.tag_text,
            });
        }
        changes
    }
}

/// The changes made to one part of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartChanges {
    pub message: usize,
    pub part: usize,
    pub changes: Vec<Change>,
}

/// Sanitizes the user text and tool results of a request in place (the system prompt and
/// assistant turns are the application's own and are left alone).
pub fn sanitize_request(request: &mut Request, config: &SanitizeConfig) -> Vec<PartChanges> {
    let mut report = Vec::new();
    for (m, message) in request.messages.iter_mut().enumerate() {
        if message.role != Role::User {
            continue;
        }
        for (p, part) in message.content.iter_mut().enumerate() {
            let text = match part {
                ContentPart::Text { text, .. } => text,
                ContentPart::ToolResult { content, .. } => content,
                _ => continue,
            };
            let Sanitized {
                text: clean,
                changes,
            } = sanitize(text, config);
            if let Cow::Owned(clean) = clean {
                *text = clean;
            }
            if !changes.is_empty() {
                report.push(PartChanges {
                    message: m,
                    part: p,
                    changes,
                });
            }
        }
    }
    report
}

/// The provider code of the error an over-long request gets.
pub const INPUT_TOO_LONG_CODE: &str = "input_too_long";
/// Default cap on a request's user text and tool results, in characters: about 250k tokens,
/// beyond most models' standard context windows. Raise it (or disable it with `null`) for
/// long-context calls.
pub const DEFAULT_MAX_INPUT_CHARS: usize = 1_000_000;

/// Request hygiene, applied to every call (the npm client's `hygiene` option; the proxy's
/// `MAX_INPUT_CHARS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HygieneConfig {
    /// Remove control and invisible characters from user text and tool results (see
    /// [`sanitize`]); on by default, since it never changes what a reader sees.
    pub strip: bool,
    /// Most characters of user text and tool results (after stripping) one request may carry;
    /// more is an `invalid_request` error, provider code [`INPUT_TOO_LONG_CODE`]. A request is
    /// refused rather than cut: cutting changes its meaning. `None` disables the cap.
    pub max_input_chars: Option<usize>,
}

impl Default for HygieneConfig {
    fn default() -> Self {
        HygieneConfig {
            strip: true,
            max_input_chars: Some(DEFAULT_MAX_INPUT_CHARS),
        }
    }
}

impl HygieneConfig {
    /// A cap of zero would refuse every call: disable it with `None` instead.
    pub fn validate(&self) -> Result<(), crate::core::error::Error> {
        if self.max_input_chars == Some(0) {
            return Err(crate::core::error::Error::new(
                crate::core::error::ErrorKind::Config,
                "hygiene.maxInputChars must be at least 1 (null disables the cap)",
            ));
        }
        Ok(())
    }
}

/// The user text and tool results of a request (what hygiene and the detector read).
fn user_texts(request: &Request) -> impl Iterator<Item = (usize, usize, &str)> {
    request
        .messages
        .iter()
        .enumerate()
        .filter(|(_, message)| message.role == Role::User)
        .flat_map(|(m, message)| {
            message
                .content
                .iter()
                .enumerate()
                .filter_map(move |(p, part)| match part {
                    ContentPart::Text { text, .. } => Some((m, p, text.as_str())),
                    ContentPart::ToolResult { content, .. } => Some((m, p, content.as_str())),
                    _ => None,
                })
        })
}

/// Applies [`HygieneConfig`] to a request: strips what [`sanitize`] removes (copying the request
/// only when something changes) and refuses one whose user text is over the cap. Returns what
/// was changed, per part.
pub fn apply_hygiene(
    request: &mut Cow<'_, Request>,
    config: &HygieneConfig,
) -> Result<Vec<PartChanges>, crate::core::error::Error> {
    let mut report = Vec::new();
    if config.strip {
        let keep_all = SanitizeConfig::default();
        let needs_change = user_texts(request)
            .any(|(_, _, text)| matches!(sanitize(text, &keep_all).text, Cow::Owned(_)));
        if needs_change {
            report = sanitize_request(request.to_mut(), &keep_all);
        }
    }
    if let Some(max) = config.max_input_chars {
        let chars: usize = user_texts(request)
            .map(|(_, _, text)| text.chars().count())
            .sum();
        if chars > max {
            return Err(crate::core::error::Error::new(
                crate::core::error::ErrorKind::InvalidRequest,
                format!(
                    "the request's user text and tool results are {chars} characters, above \
                     the limit of {max}"
                ),
            )
            .with_provider_code(INPUT_TOO_LONG_CODE));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Message;

    fn clean(text: &str) -> (String, Vec<Change>) {
        let s = sanitize(text, &SanitizeConfig::default());
        (s.text.into_owned(), s.changes)
    }

    #[test]
    fn unchanged_text_is_borrowed() {
        let s = sanitize("plain\ttext\nwith lines", &SanitizeConfig::default());
        assert!(matches!(s.text, Cow::Borrowed(_)));
        assert!(s.changes.is_empty());
    }

    #[test]
    fn invisible_and_control_characters_are_removed_and_counted() {
        let (text, changes) =
            clean("ig\u{200B}no\u{200B}re\u{7}\u{202E}x\u{2066}\u{00AD}y\u{FEFF}");
        assert_eq!(text, "ignorexy");
        assert_eq!(
            changes,
            [
                Change::RemovedControlCharacters { count: 1 },
                Change::RemovedZeroWidthCharacters { count: 3 },
                Change::RemovedBidiControls { count: 2 },
                Change::RemovedSoftHyphens { count: 1 },
            ]
        );
    }

    #[test]
    fn tag_characters_are_removed_and_their_hidden_text_reported() {
        let hidden: String = "hi there"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        let (text, changes) = clean(&format!("Hello{hidden}!"));
        assert_eq!(text, "Hello!");
        assert_eq!(
            changes,
            [Change::RemovedTagCharacters {
                count: 8,
                hidden_text: "hi there".into()
            }]
        );
    }

    #[test]
    fn legitimate_joiners_selectors_and_flags_are_kept() {
        for text in [
            "family 👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "rainbow 🏳\u{FE0F}\u{200D}🌈",
            "coder 🧑🏽\u{200D}💻",
            "persian \u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}",
            "heart ❤\u{FE0F}",
            "england 🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "shalom \u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F}",
        ] {
            let s = sanitize(text, &SanitizeConfig::default());
            assert_eq!(s.text, text, "{text:?}: {:?}", s.changes);
        }
        // A joiner between plain letters, and a second selector, are not legitimate.
        assert_eq!(clean("a\u{200D}b").0, "ab");
        assert_eq!(clean("❤\u{FE0F}\u{FE0F}\u{FE0F}").0, "❤\u{FE0F}");
    }

    #[test]
    fn line_breaks_are_unified() {
        let (text, changes) = clean("a\r\nb\rc\u{2028}d\u{85}e");
        assert_eq!(text, "a\nb\nc\nd\ne");
        assert_eq!(changes, [Change::NormalizedLineBreaks { count: 4 }]);
    }

    #[test]
    fn length_cap_counts_characters() {
        let config = SanitizeConfig { max_chars: Some(3) };
        let s = sanitize("héllo", &config);
        assert_eq!(s.text, "hél");
        assert_eq!(
            s.changes,
            [Change::Truncated {
                original_chars: 5,
                kept_chars: 3
            }]
        );
        assert!(sanitize("abc", &config).changes.is_empty());
    }

    #[test]
    fn request_parts_are_cleaned_in_place_and_reported() {
        let mut request = Request::new(
            "gpt-4o-mini",
            vec![
                Message::assistant("a\u{200B}b"),
                Message::user("fine"),
                Message {
                    role: Role::User,
                    content: vec![
                        ContentPart::text("ok"),
                        ContentPart::ToolResult {
                            call_id: "c1".into(),
                            name: None,
                            content: "x\u{202E}y".into(),
                            is_error: false,
                            cache: None,
                        },
                    ],
                },
            ],
        );
        let report = sanitize_request(&mut request, &SanitizeConfig::default());
        assert_eq!(
            report,
            [PartChanges {
                message: 2,
                part: 1,
                changes: vec![Change::RemovedBidiControls { count: 1 }]
            }]
        );
        assert!(matches!(&request.messages[2].content[1],
            ContentPart::ToolResult { content, .. } if content == "xy"));
        // Assistant turns are the application's own.
        assert_eq!(request.messages[0], Message::assistant("a\u{200B}b"));
    }

    #[test]
    fn hygiene_copies_only_a_request_that_changes_and_refuses_one_over_the_cap() {
        let clean = Request::new("gpt-4o-mini", vec![Message::user("plain")]);
        let mut request = Cow::Borrowed(&clean);
        let report = apply_hygiene(&mut request, &HygieneConfig::default()).unwrap();
        assert!(report.is_empty());
        assert!(matches!(request, Cow::Borrowed(_)));

        let dirty = Request::new("gpt-4o-mini", vec![Message::user("a\u{200B}b\u{7}")]);
        let mut request = Cow::Borrowed(&dirty);
        let report = apply_hygiene(&mut request, &HygieneConfig::default()).unwrap();
        assert_eq!(request.messages[0], Message::user("ab"));
        assert_eq!(report.len(), 1);
        // Stripping off: nothing changes.
        let off = HygieneConfig {
            strip: false,
            max_input_chars: None,
        };
        let mut request = Cow::Borrowed(&dirty);
        assert!(apply_hygiene(&mut request, &off).unwrap().is_empty());
        assert!(matches!(request, Cow::Borrowed(_)));

        // The cap counts characters after stripping, over every user part.
        let capped = HygieneConfig {
            strip: true,
            max_input_chars: Some(2),
        };
        let mut request = Cow::Borrowed(&dirty);
        assert!(apply_hygiene(&mut request, &capped).is_ok());
        let long = Request::new("gpt-4o-mini", vec![Message::user("abc")]);
        let error = apply_hygiene(&mut Cow::Borrowed(&long), &capped).unwrap_err();
        assert_eq!(error.kind(), crate::core::error::ErrorKind::InvalidRequest);
        assert_eq!(error.provider_code(), Some(INPUT_TOO_LONG_CODE));
        assert!(
            error.message().contains("3 characters"),
            "{}",
            error.message()
        );
        // The system prompt and assistant turns are the application's own: not counted.
        let mut own = Request::new(
            "gpt-4o-mini",
            vec![Message::assistant("long answer"), Message::user("ok")],
        );
        own.system = vec![crate::core::model::SystemBlock {
            text: "a long system prompt".into(),
            cache: None,
        }];
        assert!(apply_hygiene(&mut Cow::Borrowed(&own), &capped).is_ok());
        assert!(HygieneConfig {
            strip: true,
            max_input_chars: Some(0)
        }
        .validate()
        .is_err());
    }
}
