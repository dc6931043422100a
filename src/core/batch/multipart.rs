//! `multipart/form-data` bodies (RFC 7578) of text parts: what `POST /v1/files` takes. Built
//! by hand because it is a few lines of framing, not worth a crate in the wasm.
//!
//! The body is deterministic for a given boundary, so tests compare it byte for byte; the
//! boundary only has to be absent from the parts, which [`FormData::new`] ensures.

/// The boundary [`super::submit`] uses.
pub const DEFAULT_BOUNDARY: &str = "llm-edge-batch-5f0c2a9d7e";

/// The longest boundary accepted from a caller, leaving room for a collision suffix within the
/// 70 characters RFC 2046 allows.
const MAX_BOUNDARY_CHARS: usize = 60;

/// One part: a form field, or a file with its name and media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: &'a str,
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub data: &'a str,
}

impl<'a> Part<'a> {
    pub fn field(name: &'a str, value: &'a str) -> Self {
        Part {
            name,
            filename: None,
            content_type: None,
            data: value,
        }
    }

    pub fn file(name: &'a str, filename: &'a str, content_type: &'a str, data: &'a str) -> Self {
        Part {
            name,
            filename: Some(filename),
            content_type: Some(content_type),
            data,
        }
    }
}

/// An encoded body and the boundary that frames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormData {
    pub boundary: String,
    pub body: String,
}

impl FormData {
    /// Frames `parts` with `boundary`: 1-60 characters of `[A-Za-z0-9_-]` (anything else is
    /// replaced by [`DEFAULT_BOUNDARY`]). If the delimiter `--boundary` occurs in a part's data,
    /// `-1`, `-2`, ... is appended until it does not, so the body always splits back into the
    /// same parts.
    pub fn new(boundary: &str, parts: &[Part<'_>]) -> FormData {
        let valid = (1..=MAX_BOUNDARY_CHARS).contains(&boundary.len())
            && boundary
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let base = if valid { boundary } else { DEFAULT_BOUNDARY };
        let collides = |candidate: &str| {
            let delimiter = format!("--{candidate}");
            parts.iter().any(|part| part.data.contains(&delimiter))
        };
        let mut boundary = base.to_string();
        let mut suffix = 0u64;
        while collides(&boundary) {
            suffix += 1;
            boundary = format!("{base}-{suffix}");
        }

        let mut body = String::with_capacity(parts.iter().map(|p| p.data.len() + 160).sum());
        for part in parts {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
                escape(part.name)
            ));
            if let Some(filename) = part.filename {
                body.push_str(&format!("; filename=\"{}\"", escape(filename)));
            }
            body.push_str("\r\n");
            if let Some(content_type) = part.content_type {
                body.push_str(&format!("Content-Type: {content_type}\r\n"));
            }
            body.push_str("\r\n");
            body.push_str(part.data);
            body.push_str("\r\n");
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        FormData { boundary, body }
    }

    /// The `content-type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

/// A name or filename inside quotes: `"`, CR and LF percent-encoded, as browsers do (WHATWG
/// "multipart/form-data encoding algorithm").
fn escape(value: &str) -> String {
    value
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_and_a_file_framed_with_crlf() {
        let form = FormData::new(
            "b0undary",
            &[
                Part::field("purpose", "batch"),
                Part::file("file", "in.jsonl", "application/jsonl", "{\"a\":1}\n"),
            ],
        );
        assert_eq!(form.boundary, "b0undary");
        assert_eq!(
            form.body,
            "--b0undary\r\n\
             Content-Disposition: form-data; name=\"purpose\"\r\n\
             \r\n\
             batch\r\n\
             --b0undary\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\
             Content-Type: application/jsonl\r\n\
             \r\n\
             {\"a\":1}\n\r\n\
             --b0undary--\r\n"
        );
        assert_eq!(
            form.content_type(),
            "multipart/form-data; boundary=b0undary"
        );
    }

    #[test]
    fn a_boundary_found_in_the_data_gets_a_suffix() {
        let data = "text with --xyz and --xyz-1 inside";
        let form = FormData::new("xyz", &[Part::field("f", data)]);
        assert_eq!(form.boundary, "xyz-2");
        assert!(form.body.starts_with("--xyz-2\r\n"));
        assert!(form.body.ends_with("--xyz-2--\r\n"));
    }

    #[test]
    fn unusable_boundaries_fall_back_to_the_default() {
        for bad in ["", "has space", "quote\"", &"x".repeat(61)] {
            let form = FormData::new(bad, &[Part::field("f", "v")]);
            assert_eq!(form.boundary, DEFAULT_BOUNDARY, "{bad:?}");
        }
    }

    #[test]
    fn quotes_and_line_breaks_in_names_cannot_break_the_header() {
        let form = FormData::new("b", &[Part::file("f", "a\"b\r\nc.jsonl", "text/plain", "")]);
        assert!(form.body.contains("filename=\"a%22b%0D%0Ac.jsonl\""));
    }
}
