//! Measures the input screen on the labelled set `tests/fixtures/screening/prompts.json`:
//! detection rate (injections flagged) and false-positive rate (benign prompts flagged) at the
//! default threshold, per split and per category, and asserts they stay within a small margin
//! of what was measured when the rules were last tuned.
//!
//! The labels were written before the rules; the `holdout` split (about a third of each
//! category, chosen by position) was never inspected while tuning. `SCREENING_EVAL_SHOW=1`
//! lists the mistakes on the `tune` split only, so tuning cannot peek at the holdout.
//!
//! `scripts/screening-eval.sh` prints the table.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use llm_edge::core::model::{ContentPart, Message, Request, Role};
use llm_edge::core::screen::{
    screen_request, screen_text, ScreenConfig, ScreenMode, Source, DEFAULT_THRESHOLD,
};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct LabelledSet {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    label: String,
    category: String,
    channel: String,
    split: String,
    text: String,
}

fn load() -> Vec<Entry> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/screening/prompts.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str::<LabelledSet>(&text).unwrap().entries
}

/// The entry as a request: user text, or a tool result answering the assistant's call.
fn request_for(entry: &Entry) -> Request {
    let messages = match entry.channel.as_str() {
        "user" => vec![Message::user(entry.text.clone())],
        "tool_result" => vec![
            Message::user("Please look this up for me."),
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall {
                    id: "call_1".into(),
                    name: "fetch".into(),
                    arguments: json!({}),
                    signature: None,
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "call_1".into(),
                    name: Some("fetch".into()),
                    content: entry.text.clone(),
                    is_error: false,
                    cache: None,
                }],
            },
        ],
        other => panic!("{}: unknown channel {other}", entry.id),
    };
    Request::new("gpt-4o-mini", messages)
}

#[derive(Default, Clone, Copy)]
struct Tally {
    injections: usize,
    detected: usize,
    benign: usize,
    false_positives: usize,
}

impl Tally {
    fn add(&mut self, injection: bool, flagged: bool) {
        if injection {
            self.injections += 1;
            self.detected += usize::from(flagged);
        } else {
            self.benign += 1;
            self.false_positives += usize::from(flagged);
        }
    }

    fn detection_rate(&self) -> f64 {
        self.detected as f64 / self.injections.max(1) as f64
    }

    fn false_positive_rate(&self) -> f64 {
        self.false_positives as f64 / self.benign.max(1) as f64
    }
}

fn rate(n: usize, of: usize) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{n:>3}/{of:<3} {:>5.1}%", 100.0 * n as f64 / of as f64)
    }
}

struct Measured {
    by_split: BTreeMap<String, Tally>,
    all: Tally,
}

fn measure() -> Measured {
    let entries = load();
    let config = ScreenConfig {
        mode: ScreenMode::Flag,
        ..ScreenConfig::default()
    };
    assert_eq!(config.threshold, DEFAULT_THRESHOLD);
    let show = std::env::var_os("SCREENING_EVAL_SHOW").is_some();
    let mut by_split: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_category: BTreeMap<(String, String, String), Tally> = BTreeMap::new();
    let mut all = Tally::default();
    for entry in &entries {
        let injection = match entry.label.as_str() {
            "injection" => true,
            "benign" => false,
            other => panic!("{}: unknown label {other}", entry.id),
        };
        let outcome = screen_request(&request_for(entry), &config);
        let flagged = outcome.is_flagged();
        by_split
            .entry(entry.split.clone())
            .or_default()
            .add(injection, flagged);
        by_category
            .entry((
                entry.label.clone(),
                entry.category.clone(),
                entry.split.clone(),
            ))
            .or_default()
            .add(injection, flagged);
        all.add(injection, flagged);
        if show && entry.split == "tune" && injection != flagged {
            let top: Vec<String> = outcome
                .findings
                .iter()
                .take(3)
                .map(|f| format!("{}:{}={:.2}", f.kind, f.rule, f.weight))
                .collect();
            println!(
                "{} {:.2} {} {:?}\n    {}",
                if injection { "MISS" } else { "FALSE POSITIVE" },
                outcome.score,
                entry.id,
                top,
                entry
                    .text
                    .chars()
                    .take(160)
                    .collect::<String>()
                    .replace('\n', "\\n"),
            );
        }
    }

    println!(
        "\ninput screen, threshold {DEFAULT_THRESHOLD}, tool results weighted x{}",
        config.tool_result_weight
    );
    println!(
        "{:<30} {:>16} {:>16}",
        "split", "detected", "false positives"
    );
    let all_row = ("all".to_string(), all);
    for (split, t) in by_split.iter().chain([(&all_row.0, &all_row.1)]) {
        // While tuning, only the tune split is shown.
        if show && split != "tune" {
            continue;
        }
        println!(
            "{:<30} {:>16} {:>16}",
            split,
            rate(t.detected, t.injections),
            rate(t.false_positives, t.benign)
        );
    }
    // Injections: share detected. Benign prompts: share flagged (false positives).
    println!("\n{:<30} {:>16} {:>16}", "category", "tune", "holdout");
    let categories: std::collections::BTreeSet<(&String, &String)> =
        by_category.keys().map(|(l, c, _)| (l, c)).collect();
    for (label, category) in categories.into_iter().filter(|_| !show) {
        let cell = |split: &str| {
            by_category
                .get(&(label.clone(), category.clone(), split.to_string()))
                .map_or("-".to_string(), |t| {
                    if label == "injection" {
                        rate(t.detected, t.injections)
                    } else {
                        rate(t.false_positives, t.benign)
                    }
                })
        };
        println!(
            "{:<30} {:>16} {:>16}",
            format!("{label}/{category}"),
            cell("tune"),
            cell("holdout")
        );
    }
    Measured { by_split, all }
}

#[test]
fn labelled_set_is_large_enough_and_split() {
    let entries = load();
    let count = |label: &str, split: Option<&str>| {
        entries
            .iter()
            .filter(|e| e.label == label && split.is_none_or(|s| e.split == s))
            .count()
    };
    for label in ["injection", "benign"] {
        let total = count(label, None);
        let holdout = count(label, Some("holdout"));
        assert!(total >= 100, "{label}: {total} entries");
        let share = holdout as f64 / total as f64;
        assert!(
            (0.25..=0.35).contains(&share),
            "{label}: holdout share {share:.2}"
        );
    }
    let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), entries.len(), "ids are unique");
}

#[test]
fn detection_and_false_positive_rates_hold() {
    let m = measure();
    let tune = m.by_split["tune"];
    let holdout = m.by_split["holdout"];
    // Floors and ceilings a little worse than measured (see the report printed above), so a
    // rule change that costs accuracy fails here.
    assert!(
        tune.detection_rate() >= TUNE_DETECTION_FLOOR,
        "tune detection {:.3}",
        tune.detection_rate()
    );
    assert!(
        tune.false_positive_rate() <= TUNE_FALSE_POSITIVE_CEILING,
        "tune false positives {:.3}",
        tune.false_positive_rate()
    );
    assert!(
        holdout.detection_rate() >= HOLDOUT_DETECTION_FLOOR,
        "holdout detection {:.3}",
        holdout.detection_rate()
    );
    assert!(
        holdout.false_positive_rate() <= HOLDOUT_FALSE_POSITIVE_CEILING,
        "holdout false positives {:.3}",
        holdout.false_positive_rate()
    );
    assert!(m.all.detection_rate() > 0.0 && m.all.false_positive_rate() < 1.0);
}

// Measured at the last tuning: tune 94/95 detected, 0/98 false positives; holdout 38/44
// detected, 1/45 false positives (the same holdout rates as the first, untuned rules: the
// tuning fitted the tune split and did not generalise further).
const TUNE_DETECTION_FLOOR: f64 = 0.95;
const TUNE_FALSE_POSITIVE_CEILING: f64 = 0.03;
const HOLDOUT_DETECTION_FLOOR: f64 = 0.83;
const HOLDOUT_FALSE_POSITIVE_CEILING: f64 = 0.07;

/// Prints the cost of screening a few KB; asserts only a generous bound (debug builds and
/// shared CI machines are slow).
#[test]
fn screening_a_few_kilobytes_is_fast() {
    let entries = load();
    let text: String = entries
        .iter()
        .filter(|e| e.label == "benign")
        .map(|e| e.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
        .chars()
        .take(4096)
        .collect();
    let rounds = 50;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(screen_text(std::hint::black_box(&text), Source::UserText));
    }
    let per_call = started.elapsed() / rounds;
    println!(
        "screen_text on {} bytes: {:?} per call ({} build)",
        text.len(),
        per_call,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert!(per_call.as_millis() < 50, "{per_call:?}");
}
