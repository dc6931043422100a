//! The three API formats the proxy speaks to its clients, dispatched by route.
use crate::core::error::Error;
use crate::core::event::StreamEvent;
use crate::core::model::Response;
use crate::core::provider::inbound::InboundRequest;
use crate::core::provider::{anthropic, gemini, openai};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFormat {
    OpenAi,
    Anthropic,
    Gemini,
}

impl ApiFormat {
    /// Decodes a client's request body; `path` carries the model and method for Gemini.
    pub fn decode_request(self, path: &str, body: &[u8]) -> Result<InboundRequest, Error> {
        match self {
            ApiFormat::OpenAi => openai::inbound::decode_request(body),
            ApiFormat::Anthropic => anthropic::inbound::decode_request(body),
            ApiFormat::Gemini => gemini::inbound::decode_request_at(path, body),
        }
    }

    pub fn encode_response(
        self,
        response: &Response,
        model_echo: &str,
        created_unix_s: u64,
    ) -> String {
        match self {
            ApiFormat::OpenAi => {
                openai::inbound::encode_response(response, model_echo, created_unix_s)
            }
            ApiFormat::Anthropic => {
                anthropic::inbound::encode_response(response, model_echo, created_unix_s)
            }
            ApiFormat::Gemini => {
                gemini::inbound::encode_response(response, model_echo, created_unix_s)
            }
        }
    }

    /// The error as this API answers it: status and JSON body.
    pub fn encode_error(self, error: &Error) -> (u16, String) {
        match self {
            ApiFormat::OpenAi => openai::inbound::encode_error(error),
            ApiFormat::Anthropic => anthropic::inbound::encode_error(error),
            ApiFormat::Gemini => gemini::inbound::encode_error(error),
        }
    }

    pub fn stream_encoder(
        self,
        model_echo: &str,
        created_unix_s: u64,
        include_usage: bool,
        id: &str,
    ) -> StreamEncoder {
        match self {
            ApiFormat::OpenAi => StreamEncoder::OpenAi(openai::inbound::StreamEncoder::new(
                model_echo,
                created_unix_s,
                include_usage,
                id,
            )),
            ApiFormat::Anthropic => {
                StreamEncoder::Anthropic(anthropic::inbound::StreamEncoder::new(
                    model_echo,
                    created_unix_s,
                    include_usage,
                    id,
                ))
            }
            ApiFormat::Gemini => StreamEncoder::Gemini(gemini::inbound::StreamEncoder::new(
                model_echo,
                created_unix_s,
                include_usage,
                id,
            )),
        }
    }
}

/// Unified stream events in, the client's SSE text out.
pub enum StreamEncoder {
    OpenAi(openai::inbound::StreamEncoder),
    Anthropic(anthropic::inbound::StreamEncoder),
    Gemini(gemini::inbound::StreamEncoder),
}

impl StreamEncoder {
    pub fn event(&mut self, event: &StreamEvent, out: &mut String) {
        match self {
            StreamEncoder::OpenAi(e) => e.event(event, out),
            StreamEncoder::Anthropic(e) => e.event(event, out),
            StreamEncoder::Gemini(e) => e.event(event, out),
        }
    }

    /// Ends the stream with the format's in-stream error, never a clean end.
    pub fn error(&mut self, error: &Error, out: &mut String) {
        match self {
            StreamEncoder::OpenAi(e) => e.error(error, out),
            StreamEncoder::Anthropic(e) => e.error(error, out),
            StreamEncoder::Gemini(e) => e.error(error, out),
        }
    }
}
