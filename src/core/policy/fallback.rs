//! Fallback targets: other models, possibly of other providers, tried in order after the
//! requested one. The same unified request is translated for each (the adapters speak every
//! provider), with optional per-target overrides of the generation settings.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::core::error::{Error, ErrorKind};
use crate::core::model::{ModelRef, Request};

use super::config_error;

/// One fallback target: `"provider/model"` (or a bare well-known model name), or an object
/// `{ model, maxTokens?, temperature?, topP?, topK? }` whose settings replace the request's
/// for this target only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TargetSpec")]
#[serde(rename_all = "camelCase")]
pub struct FallbackTarget {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TargetSpec {
    Model(String),
    Detailed(DetailedTarget),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DetailedTarget {
    model: String,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<u32>,
}

impl From<TargetSpec> for FallbackTarget {
    fn from(spec: TargetSpec) -> Self {
        match spec {
            TargetSpec::Model(model) => FallbackTarget::new(model),
            TargetSpec::Detailed(d) => FallbackTarget {
                model: d.model,
                max_tokens: d.max_tokens,
                temperature: d.temperature,
                top_p: d.top_p,
                top_k: d.top_k,
            },
        }
    }
}

impl FallbackTarget {
    pub fn new(model: impl Into<String>) -> Self {
        FallbackTarget {
            model: model.into(),
            max_tokens: None,
            temperature: None,
            top_p: None,
            top_k: None,
        }
    }

    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    pub fn with_temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    pub(crate) fn has_overrides(&self) -> bool {
        self.max_tokens.is_some()
            || self.temperature.is_some()
            || self.top_p.is_some()
            || self.top_k.is_some()
    }

    /// The request this target is sent: the caller's, with this target's settings on top.
    pub(crate) fn apply<'r>(&self, request: &'r Request) -> Cow<'r, Request> {
        if !self.has_overrides() {
            return Cow::Borrowed(request);
        }
        let mut request = request.clone();
        request.max_tokens = self.max_tokens.or(request.max_tokens);
        request.temperature = self.temperature.or(request.temperature);
        request.top_p = self.top_p.or(request.top_p);
        request.top_k = self.top_k.or(request.top_k);
        Cow::Owned(request)
    }

    /// Resolves the model spec; `position` is the target's index in the list, for the message.
    pub(crate) fn resolve(&self, position: usize) -> Result<ModelRef, Error> {
        ModelRef::parse(&self.model).map_err(|e| {
            config_error(format!(
                "fallback[{position}] `{}` is not a usable target: {}",
                self.model,
                e.message()
            ))
        })
    }
}

/// The error kinds another target may fix, by default: the target is unavailable (overloaded,
/// server error, per-attempt timeout, network), rate limited or out of quota, does not know the
/// model, answered a broken or unreadable stream, or rejected the credentials (a key missing
/// or revoked for one provider should not take the application down when another can serve).
/// Problems with the request itself (invalid request, context length, content filtered) are
/// not in the list: another model would most likely refuse the same request.
pub fn default_fallback_on() -> Vec<ErrorKind> {
    vec![
        ErrorKind::Overloaded,
        ErrorKind::ServerError,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::RateLimited,
        ErrorKind::QuotaExceeded,
        ErrorKind::NotFound,
        ErrorKind::TruncatedStream,
        ErrorKind::InvalidResponse,
        ErrorKind::Authentication,
        ErrorKind::Permission,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Message, Provider};
    use serde_json::json;

    #[test]
    fn targets_deserialise_from_strings_and_objects() {
        let targets: Vec<FallbackTarget> = serde_json::from_value(json!([
            "openai/gpt-4o",
            { "model": "gemini/gemini-2.5-flash", "maxTokens": 512, "temperature": 0.2 }
        ]))
        .unwrap();
        assert_eq!(targets[0], FallbackTarget::new("openai/gpt-4o"));
        assert_eq!(
            targets[1],
            FallbackTarget::new("gemini/gemini-2.5-flash")
                .with_max_tokens(512)
                .with_temperature(0.2)
        );
        let typo = serde_json::from_value::<FallbackTarget>(json!({ "model": "x", "maxToken": 1 }));
        assert!(typo.is_err());
    }

    #[test]
    fn overrides_replace_only_the_settings_they_name() {
        let mut request = Request::new("anthropic/claude-haiku-4-5", vec![Message::user("Hi")]);
        request.max_tokens = Some(100);
        request.top_p = Some(0.9);
        let plain = FallbackTarget::new("openai/gpt-4o");
        assert!(matches!(plain.apply(&request), Cow::Borrowed(_)));
        let tuned = FallbackTarget::new("openai/gpt-4o").with_max_tokens(50);
        let applied = tuned.apply(&request);
        assert_eq!(applied.max_tokens, Some(50));
        assert_eq!(applied.top_p, Some(0.9));
    }

    #[test]
    fn unknown_model_specs_are_config_errors() {
        let target = FallbackTarget::new("mistral/large");
        let e = target.resolve(2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().starts_with("fallback[2] `mistral/large`"),
            "{e}"
        );
        let ok = FallbackTarget::new("gemini/gemini-2.5-flash")
            .resolve(0)
            .unwrap();
        assert_eq!(ok.provider, Provider::Gemini);
    }
}
