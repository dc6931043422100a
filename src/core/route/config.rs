//! The router's configuration: plain data with defaults, read from camelCase JSON and checked
//! once by [`RouterConfig::validate`] (which [`super::Router::new`] calls).
//!
//! Every signal has its own small block of weights, and `signals` lists the ones that count,
//! so a much simpler router is a configuration rather than code: [`RouterConfig::length_and_keywords`]
//! is the "< 200 characters and no keyword -> cheap model" router of the usual tutorials.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Tier;
use crate::core::error::{Error, ErrorKind};
use crate::core::model::ModelRef;

/// The route name that `tiers` configures.
pub const AUTO_ROUTE: &str = "auto";

/// The model serving each tier of one route, as `provider/model` (or a bare well-known name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierModels {
    pub simple: String,
    pub standard: String,
    pub complex: String,
}

impl TierModels {
    pub fn get(&self, tier: Tier) -> &str {
        match tier {
            Tier::Simple => &self.simple,
            Tier::Standard => &self.standard,
            Tier::Complex => &self.complex,
        }
    }
}

impl Default for TierModels {
    fn default() -> Self {
        TierModels {
            simple: "anthropic/claude-haiku-4-5".into(),
            standard: "anthropic/claude-sonnet-4-6".into(),
            complex: "anthropic/claude-opus-4-6".into(),
        }
    }
}

/// Score cut-offs: `score >= standard` is at least standard, `score >= complex` is complex.
/// `complex: null` never picks complex by score (a two-model router); equal values skip the
/// standard tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Thresholds {
    pub standard: f64,
    pub complex: Option<f64>,
}

impl Default for Thresholds {
    /// Set on the tune split of `tests/fixtures/routing/prompts.json`, where simple prompts
    /// score at most 1.3 and most standard ones 1.4 or more; complex takes two strong
    /// reasoning cues, a proof cue, or many medium signals together.
    fn default() -> Self {
        Thresholds {
            standard: 1.4,
            complex: Some(5.0),
        }
    }
}

impl Thresholds {
    pub fn tier_for(&self, score: f64) -> Tier {
        match self.complex {
            Some(complex) if score >= complex => Tier::Complex,
            _ if score >= self.standard => Tier::Standard,
            _ => Tier::Simple,
        }
    }
}

/// The signals a score can be built from; `RouterConfig::signals` lists the enabled ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignalKind {
    Length,
    CodeBlock,
    CodeWords,
    ProofWords,
    ReasoningWords,
    AnalysisWords,
    Constraints,
    SimpleWords,
    Depth,
    Tools,
    Output,
}

impl SignalKind {
    pub const ALL: [SignalKind; 11] = [
        SignalKind::Length,
        SignalKind::CodeBlock,
        SignalKind::CodeWords,
        SignalKind::ProofWords,
        SignalKind::ReasoningWords,
        SignalKind::AnalysisWords,
        SignalKind::Constraints,
        SignalKind::SimpleWords,
        SignalKind::Depth,
        SignalKind::Tools,
        SignalKind::Output,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Length => "length",
            SignalKind::CodeBlock => "codeBlock",
            SignalKind::CodeWords => "codeWords",
            SignalKind::ProofWords => "proofWords",
            SignalKind::ReasoningWords => "reasoningWords",
            SignalKind::AnalysisWords => "analysisWords",
            SignalKind::Constraints => "constraints",
            SignalKind::SimpleWords => "simpleWords",
            SignalKind::Depth => "depth",
            SignalKind::Tools => "tools",
            SignalKind::Output => "output",
        }
    }
}

/// Points for the length of the turn being answered: nothing below `shortChars`, `points` at
/// `longChars` and above, rising logarithmically in between (equal bounds make it a step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LengthSignal {
    pub points: f64,
    pub short_chars: u32,
    pub long_chars: u32,
}

impl Default for LengthSignal {
    fn default() -> Self {
        LengthSignal {
            points: 2.5,
            short_chars: 250,
            long_chars: 4000,
        }
    }
}

/// Points when the turn carries code: a fenced block, or at least `minLines` code-like lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CodeBlockSignal {
    pub points: f64,
    pub min_lines: u32,
}

impl Default for CodeBlockSignal {
    fn default() -> Self {
        CodeBlockSignal {
            points: 1.5,
            min_lines: 3,
        }
    }
}

/// Points per occurrence of any listed word or phrase, capped at `max` (in absolute value:
/// negative points make a dampener). A trailing `*` matches any word starting with the stem
/// (`optimi*` matches optimise, optimize, optimization). Matching is case-insensitive and by
/// whole words, so hyphens and spaces are interchangeable (`trade-offs` = `trade offs`).
///
/// In JSON each field is optional and falls back to that category's default; `words`, when
/// given, replaces the default list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeywordSignal {
    pub points: f64,
    pub max: f64,
    pub words: Vec<String>,
}

impl KeywordSignal {
    fn new(points: f64, max: f64, words: &[&str]) -> Self {
        KeywordSignal {
            points,
            max,
            words: words.iter().map(|w| w.to_string()).collect(),
        }
    }
}

/// A keyword block as written in JSON: what it leaves out comes from the category default.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeywordPatch {
    points: Option<f64>,
    max: Option<f64>,
    words: Option<Vec<String>>,
}

macro_rules! keyword_block {
    ($name:ident, $default:expr) => {
        fn $name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<KeywordSignal, D::Error> {
            let patch = KeywordPatch::deserialize(d)?;
            let default: KeywordSignal = $default;
            Ok(KeywordSignal {
                points: patch.points.unwrap_or(default.points),
                max: patch.max.unwrap_or(default.max),
                words: patch.words.unwrap_or(default.words),
            })
        }
    };
}

fn default_code_words() -> KeywordSignal {
    KeywordSignal::new(0.5, 1.5, DEFAULT_CODE_WORDS)
}

fn default_proof_words() -> KeywordSignal {
    KeywordSignal::new(5.0, 5.0, DEFAULT_PROOF_WORDS)
}

fn default_reasoning_words() -> KeywordSignal {
    KeywordSignal::new(2.5, 5.0, DEFAULT_REASONING_WORDS)
}

fn default_analysis_words() -> KeywordSignal {
    KeywordSignal::new(0.75, 2.25, DEFAULT_ANALYSIS_WORDS)
}

fn default_simple_words() -> KeywordSignal {
    KeywordSignal::new(-1.0, 2.0, DEFAULT_SIMPLE_WORDS)
}

keyword_block!(code_words_block, default_code_words());
keyword_block!(proof_words_block, default_proof_words());
keyword_block!(reasoning_words_block, default_reasoning_words());
keyword_block!(analysis_words_block, default_analysis_words());
keyword_block!(simple_words_block, default_simple_words());

/// Constraints and steps: constraint words (`must`, `without`, `at least`, ...) and the items
/// of numbered or bulleted lists outside code, capped together at `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ConstraintSignal {
    pub points_per_word: f64,
    pub points_per_list_item: f64,
    pub max: f64,
    pub words: Vec<String>,
}

impl Default for ConstraintSignal {
    fn default() -> Self {
        ConstraintSignal {
            points_per_word: 0.4,
            points_per_list_item: 0.3,
            max: 2.5,
            words: DEFAULT_CONSTRAINT_WORDS
                .iter()
                .map(|w| w.to_string())
                .collect(),
        }
    }
}

/// Conversation depth: `pointsPerTurn` for each user turn after the first `freeTurns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct DepthSignal {
    pub points_per_turn: f64,
    pub free_turns: u32,
    pub max: f64,
}

impl Default for DepthSignal {
    fn default() -> Self {
        DepthSignal {
            points_per_turn: 0.4,
            free_turns: 2,
            max: 1.5,
        }
    }
}

/// Tools: `pointsPerTool` for each declared tool (capped at `max`), plus `agentLoop` when the
/// conversation already holds tool calls or results (an agent in the middle of a task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ToolSignal {
    pub points_per_tool: f64,
    pub max: f64,
    pub agent_loop: f64,
}

impl Default for ToolSignal {
    fn default() -> Self {
        ToolSignal {
            points_per_tool: 0.6,
            max: 3.0,
            agent_loop: 0.6,
        }
    }
}

/// Requested output size, the larger of `maxTokens` and a size asked for in the text
/// ("a 2,000-word essay", "10 pages"): nothing below `smallTokens`, `points` at `largeTokens`,
/// logarithmic in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OutputSignal {
    pub points: f64,
    pub small_tokens: u32,
    pub large_tokens: u32,
}

impl Default for OutputSignal {
    fn default() -> Self {
        OutputSignal {
            points: 3.0,
            small_tokens: 300,
            large_tokens: 4000,
        }
    }
}

/// Session pinning: a conversation (`metadata.conversationId`) stays on the model it was
/// routed to, so its prompt cache stays warm. At most `capacity` conversations are remembered
/// (least recently used forgotten first), each for `ttlMs` after its last request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PinningConfig {
    pub enabled: bool,
    pub capacity: u32,
    pub ttl_ms: u64,
}

impl Default for PinningConfig {
    /// One hour: the longest prompt-cache lifetime the providers sell.
    fn default() -> Self {
        PinningConfig {
            enabled: true,
            capacity: 10_000,
            ttl_ms: 3_600_000,
        }
    }
}

/// How `model: "auto"` (and named routes) choose a model. The default weights were tuned on
/// the labelled prompt set's tune split; `scripts/router-eval.sh` prints how they fare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RouterConfig {
    /// The tier models of the `auto` route.
    pub tiers: TierModels,
    /// More routes by name, e.g. `{ "auto-openai": { "simple": "openai/gpt-4.1-mini", ... } }`.
    pub routes: BTreeMap<String, TierModels>,
    pub thresholds: Thresholds,
    /// The signals that count towards the score; the others are measured as zero.
    pub signals: Vec<SignalKind>,
    pub length: LengthSignal,
    pub code_block: CodeBlockSignal,
    /// Words that ask for programming work.
    #[serde(deserialize_with = "code_words_block")]
    pub code_words: KeywordSignal,
    /// Requests for a proof or a derivation: on their own enough for the complex tier.
    #[serde(deserialize_with = "proof_words_block")]
    pub proof_words: KeywordSignal,
    /// Strong cues of reasoning and design work: proofs, trade-offs, architecture, concurrency.
    #[serde(deserialize_with = "reasoning_words_block")]
    pub reasoning_words: KeywordSignal,
    /// Weaker cues of analysis: compare, evaluate, recommend.
    #[serde(deserialize_with = "analysis_words_block")]
    pub analysis_words: KeywordSignal,
    pub constraints: ConstraintSignal,
    /// Cues of a light task (greetings, lookups, rewrites): negative points.
    #[serde(deserialize_with = "simple_words_block")]
    pub simple_words: KeywordSignal,
    pub depth: DepthSignal,
    pub tools: ToolSignal,
    pub output: OutputSignal,
    pub pinning: PinningConfig,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            tiers: TierModels::default(),
            routes: BTreeMap::new(),
            thresholds: Thresholds::default(),
            signals: SignalKind::ALL.to_vec(),
            length: LengthSignal::default(),
            code_block: CodeBlockSignal::default(),
            code_words: default_code_words(),
            proof_words: default_proof_words(),
            reasoning_words: default_reasoning_words(),
            analysis_words: default_analysis_words(),
            constraints: ConstraintSignal::default(),
            simple_words: default_simple_words(),
            depth: DepthSignal::default(),
            tools: ToolSignal::default(),
            output: OutputSignal::default(),
            pinning: PinningConfig::default(),
        }
    }
}

/// The keyword list of a typical tutorial router (any of these words, or a prompt of 200
/// characters or more, goes to the expensive model).
pub const TUTORIAL_KEYWORDS: &[&str] = &[
    "analyze",
    "analyse",
    "explain",
    "compare",
    "code",
    "debug",
    "refactor",
    "design",
    "architecture",
    "optimize",
    "optimise",
    "detailed",
    "step by step",
];

impl RouterConfig {
    /// The two-model router of the usual tutorials: a turn shorter than `max_simple_chars`
    /// with none of `keywords` goes to the simple tier, anything else to `expensive`. Only the
    /// length and reasoning-word signals are enabled; pinning stays as configured by default.
    pub fn length_and_keywords(max_simple_chars: u32, keywords: &[&str], expensive: Tier) -> Self {
        let mut config = RouterConfig {
            signals: vec![SignalKind::Length, SignalKind::ReasoningWords],
            length: LengthSignal {
                points: 1.0,
                short_chars: max_simple_chars,
                long_chars: max_simple_chars,
            },
            reasoning_words: KeywordSignal::new(1.0, 1.0, keywords),
            ..RouterConfig::default()
        };
        config.thresholds = match expensive {
            Tier::Simple | Tier::Standard => Thresholds {
                standard: 1.0,
                complex: None,
            },
            Tier::Complex => Thresholds {
                standard: 1.0,
                complex: Some(1.0),
            },
        };
        config
    }

    /// Reads a configuration from JSON; unknown fields and wrong types are config errors.
    pub fn from_json(json: &str) -> Result<RouterConfig, Error> {
        serde_json::from_str(json).map_err(|e| config_error(format!("{e}")))
    }

    pub fn from_value(value: serde_json::Value) -> Result<RouterConfig, Error> {
        serde_json::from_value(value).map_err(|e| config_error(format!("{e}")))
    }

    pub fn signal_enabled(&self, kind: SignalKind) -> bool {
        self.signals.contains(&kind)
    }

    /// Checks every rule once, so that routing itself cannot fail on configuration.
    pub fn validate(&self) -> Result<(), Error> {
        validate_tier_models("tiers", &self.tiers)?;
        for (name, models) in &self.routes {
            if name.trim().is_empty() || name.trim() != name {
                return Err(config_error(format!(
                    "route name `{name}` must be non-empty without surrounding spaces"
                )));
            }
            if name == AUTO_ROUTE {
                return Err(config_error(
                    "`routes.auto` is not allowed: the `auto` route is configured by `tiers`",
                ));
            }
            if ModelRef::parse(name).is_ok() {
                return Err(config_error(format!(
                    "route name `{name}` is also a model name, so that model could no longer be called"
                )));
            }
            validate_tier_models(&format!("routes.{name}"), models)?;
        }

        let t = &self.thresholds;
        finite("thresholds.standard", t.standard)?;
        if let Some(complex) = t.complex {
            finite("thresholds.complex", complex)?;
            if complex < t.standard {
                return Err(config_error(format!(
                    "thresholds.complex ({complex}) must not be below thresholds.standard ({})",
                    t.standard
                )));
            }
        }

        finite("length.points", self.length.points)?;
        if self.length.short_chars == 0 || self.length.short_chars > self.length.long_chars {
            return Err(config_error(
                "length needs 0 < shortChars <= longChars".to_string(),
            ));
        }
        finite("codeBlock.points", self.code_block.points)?;
        if self.code_block.min_lines == 0 {
            return Err(config_error("codeBlock.minLines must be at least 1"));
        }
        for (name, signal) in [
            ("codeWords", &self.code_words),
            ("proofWords", &self.proof_words),
            ("reasoningWords", &self.reasoning_words),
            ("analysisWords", &self.analysis_words),
            ("simpleWords", &self.simple_words),
        ] {
            finite(&format!("{name}.points"), signal.points)?;
            non_negative(&format!("{name}.max"), signal.max)?;
            validate_words(name, &signal.words)?;
        }
        let c = &self.constraints;
        finite("constraints.pointsPerWord", c.points_per_word)?;
        finite("constraints.pointsPerListItem", c.points_per_list_item)?;
        non_negative("constraints.max", c.max)?;
        validate_words("constraints", &c.words)?;
        finite("depth.pointsPerTurn", self.depth.points_per_turn)?;
        non_negative("depth.max", self.depth.max)?;
        finite("tools.pointsPerTool", self.tools.points_per_tool)?;
        non_negative("tools.max", self.tools.max)?;
        finite("tools.agentLoop", self.tools.agent_loop)?;
        finite("output.points", self.output.points)?;
        if self.output.small_tokens == 0 || self.output.small_tokens > self.output.large_tokens {
            return Err(config_error("output needs 0 < smallTokens <= largeTokens"));
        }
        if self.pinning.enabled && (self.pinning.capacity == 0 || self.pinning.ttl_ms == 0) {
            return Err(config_error(
                "pinning needs capacity >= 1 and ttlMs >= 1 (or enabled: false)",
            ));
        }
        Ok(())
    }
}

pub(crate) fn config_error(message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("router config: {}", message.into()),
    )
}

fn validate_tier_models(at: &str, models: &TierModels) -> Result<(), Error> {
    for tier in Tier::ALL {
        ModelRef::parse(models.get(tier))
            .map_err(|e| config_error(format!("{at}.{tier}: {}", e.message())))?;
    }
    Ok(())
}

fn finite(at: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(config_error(format!("{at} must be a finite number")))
    }
}

fn non_negative(at: &str, value: f64) -> Result<(), Error> {
    finite(at, value)?;
    if value < 0.0 {
        return Err(config_error(format!("{at} must not be negative")));
    }
    Ok(())
}

fn validate_words(at: &str, words: &[String]) -> Result<(), Error> {
    for word in words {
        let stem = word.strip_suffix('*').unwrap_or(word);
        if stem.contains('*') {
            return Err(config_error(format!(
                "{at}.words: `{word}`: `*` is only allowed at the end"
            )));
        }
        if !stem.chars().any(char::is_alphanumeric) {
            return Err(config_error(format!(
                "{at}.words: `{word}` has no letters or digits"
            )));
        }
    }
    Ok(())
}

// The default word lists: general vocabulary of each kind of task, English first, with the
// strongest cues (prove, step by step, architecture, optimise, analyse, trade-offs) also in
// French, German, Spanish and Italian. Languages written without spaces between words
// (Chinese, Japanese) are not matched: they are scored on length and structure only.

const DEFAULT_CODE_WORDS: &[&str] = &[
    "function*",
    "method*",
    "implement*",
    "refactor*",
    "debug*",
    "bug",
    "bugs",
    "stack trace",
    "traceback",
    "exception",
    "compile*",
    "script",
    "regex*",
    "regular expression",
    "sql",
    "query",
    "endpoint*",
    "unit test*",
    "tests",
    "pytest",
    "jest",
    "python",
    "javascript",
    "typescript",
    "rust",
    "java",
    "golang",
    "kotlin",
    "swift",
    "bash",
    "dockerfile",
    "kubernetes",
    "react",
    "component",
    "parser",
    "api",
    "class",
    "codebase",
    "repository",
    "programm*",
    "code",
    "coding",
];

// Bare "proof" is left out: "proof of concept" is an everyday engineering request.
const DEFAULT_PROOF_WORDS: &[&str] = &[
    "prove",
    "proving",
    "proofs",
    "proof that",
    "formal proof",
    "rigorous proof",
    "theorem",
    "lemma",
    "derive",
    "derivation",
    "closed form",
    // fr / de / es / it
    "démontr*",
    "preuve",
    "beweis*",
    "demostr*",
    "demuestr*",
    "dimostr*",
];

const DEFAULT_REASONING_WORDS: &[&str] = &[
    "rigorous*",
    "formally",
    "generalis*",
    "generaliz*",
    "trade off",
    "trade offs",
    "tradeoff*",
    "pros and cons",
    "architect*",
    "system design",
    "design a",
    "design an",
    "design the",
    "design our",
    "optimise",
    "optimised",
    "optimising",
    "optimisation*",
    "optimiz*",
    "step by step",
    "root cause",
    "first principles",
    "concurren*",
    "multi threaded",
    "multithread*",
    "interleaving*",
    "throughput",
    "bottleneck*",
    "invariant*",
    "linearizab*",
    "thread safe",
    "lock free",
    "deadlock*",
    "race condition*",
    "data race",
    "distributed",
    "scalab*",
    "fault toleran*",
    "high availability",
    "failure mode*",
    "consistency",
    "capacity",
    "threat model*",
    "vulnerab*",
    "security review",
    "security audit",
    "migration plan",
    "critical path",
    "strateg*",
    "in depth",
    "thorough*",
    "comprehensive",
    "whitepaper",
    "research",
    // fr / de / es / it
    "étape par étape",
    "schritt für schritt",
    "paso a paso",
    "passo dopo passo",
    "architektur",
    "arquitectura",
    "architettura",
    "optimier*",
    "abwägung*",
    "compromesso",
    "ventajas y desventajas",
];

const DEFAULT_ANALYSIS_WORDS: &[&str] = &[
    "analyse",
    "analyze",
    "analysed",
    "analyzed",
    "analysing",
    "analyzing",
    "analysis",
    "analyses",
    "compar*",
    "vs",
    "versus",
    "and why",
    "evaluat*",
    "assess*",
    "recommend*",
    "justify",
    "critique",
    "investigat*",
    "diagnos*",
    "identify",
    "explain why",
    "why does",
    "why is",
    "implications",
    "complexity",
    "edge cases",
    "detailed",
    // fr / de / es / it
    "analysier*",
    "analiz*",
    "análisis",
    "vergleich*",
    "compara*",
];

const DEFAULT_CONSTRAINT_WORDS: &[&str] = &[
    "must",
    "must not",
    "without",
    "at least",
    "at most",
    "no more than",
    "no less than",
    "exactly",
    "never",
    "ensure",
    "make sure",
    "required",
    "requirement*",
    "constraint*",
    "do not",
    "don t",
    "avoid",
    "cannot",
    "can t",
    "should not",
    "include",
    "including",
    "then",
    "finally",
    "after that",
    // fr / de / es
    "doit",
    "sans",
    "muss",
    "ohne",
    "debe",
    "sin",
];

const DEFAULT_SIMPLE_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank you",
    "joke",
    "translat*",
    "proofread*",
    "grammar",
    "typo*",
    "spelling",
    "rephrase",
    "reword*",
    "paraphrase",
    "rewrite this",
    "make this shorter",
    "in one sentence",
    "in a sentence",
    "in one line",
    "briefly",
    "one word",
    "one liner",
    "yes or no",
    "true or false",
    "classify",
    "categori*",
    "tweet",
    "tl dr",
    "what is",
    "who is",
    "who was",
    "who wrote",
    "when did",
    "when was",
    "how many",
    "how much",
    "capital of",
    "define",
    "definition of",
    "meaning of",
    "convert",
    "synonym*",
    "suggest a",
    "ideas",
    "checklist",
    "out of office",
    // fr / de / es
    "bonjour",
    "merci",
    "traduire",
    "traduis",
    "danke",
    "übersetze",
    "gracias",
    "traduce",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_and_message(config: &RouterConfig) -> (ErrorKind, String) {
        let err = config.validate().unwrap_err();
        (err.kind(), err.message().to_string())
    }

    #[test]
    fn the_default_config_is_valid_and_round_trips_through_json() {
        let config = RouterConfig::default();
        config.validate().unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(RouterConfig::from_json(&json).unwrap(), config);
        assert_eq!(RouterConfig::from_json("{}").unwrap(), config);
    }

    #[test]
    fn partial_json_keeps_the_other_defaults() {
        let config = RouterConfig::from_value(json!({
            "tiers": { "simple": "openai/gpt-4.1-mini", "standard": "openai/gpt-4.1",
                       "complex": "openai/o3" },
            "thresholds": { "complex": null },
            "length": { "shortChars": 100 },
            "pinning": { "ttlMs": 300000 }
        }))
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.tiers.simple, "openai/gpt-4.1-mini");
        assert_eq!(config.thresholds.standard, 1.4);
        assert_eq!(config.thresholds.complex, None);
        assert_eq!(config.length.short_chars, 100);
        assert_eq!(config.length.long_chars, 4000);
        assert_eq!(config.pinning.capacity, 10_000);
        assert_eq!(config.signals, SignalKind::ALL.to_vec());
    }

    #[test]
    fn a_partial_keyword_block_keeps_its_category_defaults() {
        let config = RouterConfig::from_value(json!({
            "reasoningWords": { "points": 2.0 },
            "simpleWords": { "words": ["hiya"] },
            "constraints": { "max": 1.0 }
        }))
        .unwrap();
        let default = RouterConfig::default();
        assert_eq!(config.reasoning_words.points, 2.0);
        assert_eq!(config.reasoning_words.max, default.reasoning_words.max);
        assert_eq!(config.reasoning_words.words, default.reasoning_words.words);
        assert_eq!(config.simple_words.words, ["hiya"]);
        assert_eq!(config.simple_words.points, default.simple_words.points);
        assert_eq!(config.constraints.words, default.constraints.words);
        assert_eq!(config.constraints.max, 1.0);
        let err = RouterConfig::from_value(json!({ "codeWords": { "word": ["x"] } })).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[test]
    fn unknown_fields_and_partial_tier_maps_are_config_errors() {
        let err = RouterConfig::from_value(json!({ "treshold": 1 })).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("treshold"), "{}", err.message());
        let err = RouterConfig::from_value(json!({ "tiers": { "simple": "openai/gpt-4.1-mini" } }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("standard"), "{}", err.message());
        let err = RouterConfig::from_value(json!({ "signals": ["length", "vibes"] })).unwrap_err();
        assert!(err.message().contains("vibes"), "{}", err.message());
    }

    #[test]
    fn validation_names_the_offending_setting() {
        let mut config = RouterConfig::default();
        config.tiers.complex = "llama-3".into();
        let (kind, message) = kind_and_message(&config);
        assert_eq!(kind, ErrorKind::Config);
        assert!(
            message.starts_with("router config: tiers.complex:"),
            "{message}"
        );

        let config = RouterConfig {
            thresholds: Thresholds {
                standard: 3.0,
                complex: Some(2.0),
            },
            ..RouterConfig::default()
        };
        assert!(kind_and_message(&config).1.contains("thresholds.complex"));

        let mut config = RouterConfig::default();
        config.reasoning_words.words.push("opti*mise".into());
        assert!(kind_and_message(&config).1.contains("reasoningWords.words"));

        let mut config = RouterConfig::default();
        config.constraints.words.push("--".into());
        assert!(kind_and_message(&config).1.contains("constraints.words"));

        let mut config = RouterConfig::default();
        config.length.short_chars = 500;
        config.length.long_chars = 100;
        assert!(kind_and_message(&config).1.contains("shortChars"));

        let mut config = RouterConfig::default();
        config.tools.max = -1.0;
        assert!(kind_and_message(&config).1.contains("tools.max"));

        let mut config = RouterConfig::default();
        config.depth.points_per_turn = f64::NAN;
        assert!(kind_and_message(&config).1.contains("depth.pointsPerTurn"));

        let mut config = RouterConfig::default();
        config.pinning.capacity = 0;
        assert!(kind_and_message(&config).1.contains("pinning"));
        config.pinning.enabled = false;
        config.validate().unwrap();
    }

    #[test]
    fn route_names_must_not_shadow_models_or_auto() {
        for (name, expected) in [
            ("gpt-4o", "also a model name"),
            ("openai/gpt-4o", "also a model name"),
            ("auto", "configured by `tiers`"),
            (" fast", "surrounding spaces"),
        ] {
            let mut config = RouterConfig::default();
            config.routes.insert(name.into(), TierModels::default());
            let (kind, message) = kind_and_message(&config);
            assert_eq!(kind, ErrorKind::Config);
            assert!(message.contains(expected), "{name}: {message}");
        }
        let mut config = RouterConfig::default();
        config.routes.insert(
            "auto-openai".into(),
            TierModels {
                simple: "openai/gpt-4.1-mini".into(),
                standard: "openai/gpt-4.1".into(),
                complex: "gemini/gemini-2.5-pro".into(),
            },
        );
        config.validate().unwrap();
    }

    #[test]
    fn thresholds_map_scores_to_tiers() {
        let t = Thresholds::default();
        assert_eq!(t.tier_for(-1.0), Tier::Simple);
        assert_eq!(t.tier_for(1.39), Tier::Simple);
        assert_eq!(t.tier_for(1.4), Tier::Standard);
        assert_eq!(t.tier_for(4.99), Tier::Standard);
        assert_eq!(t.tier_for(5.0), Tier::Complex);
        let two_models = Thresholds {
            standard: 1.0,
            complex: None,
        };
        assert_eq!(two_models.tier_for(100.0), Tier::Standard);
        let skip_standard = Thresholds {
            standard: 1.0,
            complex: Some(1.0),
        };
        assert_eq!(skip_standard.tier_for(1.0), Tier::Complex);
        assert_eq!(skip_standard.tier_for(0.5), Tier::Simple);
    }

    #[test]
    fn the_tutorial_router_is_a_configuration() {
        let config = RouterConfig::length_and_keywords(200, TUTORIAL_KEYWORDS, Tier::Standard);
        config.validate().unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["signals"], json!(["length", "reasoningWords"]));
        assert_eq!(
            json["thresholds"],
            json!({ "standard": 1.0, "complex": null })
        );
        assert_eq!(RouterConfig::from_value(json).unwrap(), config);
    }
}
