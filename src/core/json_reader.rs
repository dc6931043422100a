//! A small strict JSON reader for the hot path of stream decoding.
//!
//! A stream is thousands of near-identical chunks (`{"choices":[{"delta":{"content":"..."}}]}`
//! and its Anthropic and Gemini cousins). Through serde each costs a generic deserializer walk
//! with an owned value per field, which in the size-optimised wasm is most of what decoding a
//! stream costs (bench/README.md). The adapters read those common shapes with this reader and
//! hand anything else to serde.
//!
//! Every method returns `None` when the input is not what it expects: malformed JSON, another
//! type, an escape in a key, a number that is not a plain integer, too deep a nesting. `None`
//! is never an error here: the caller then decodes the same text with serde, which accepts or
//! rejects it and words the error. So the reader may refuse anything, but what it accepts must
//! be valid JSON that serde would read to the same values (tests/json_reader.rs checks both on
//! every stream fixture and on mutations of them).
use std::borrow::Cow;

// The few helpers called per byte or per token are `inline(always)`: the wasm is built for
// size (`opt-level = "z"`), which otherwise leaves each one a call (a third of the decoding
// time in a profile).

/// serde_json refuses deeper nesting at 128; refusing earlier only hands the text to serde.
const MAX_DEPTH: u32 = 64;

pub struct JsonReader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> JsonReader<'a> {
    pub fn new(text: &'a str) -> Self {
        JsonReader { text, pos: 0 }
    }

    /// The whole text was one value: only whitespace is left.
    pub fn end(mut self) -> Option<()> {
        self.skip_whitespace();
        (self.pos == self.text.len()).then_some(())
    }

    /// Visits the members of an object; `member` gets each key and must read its value.
    /// Keys are returned as written: a key with an escape is refused.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.members(&mut member)
    }

    /// One body for every caller's `member` (a copy per closure would cost the wasm ~1 KB each).
    fn members(&mut self, member: &mut dyn FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.expect(b'"')?;
            let key = self.plain_string_rest()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Visits the elements of an array; `element` must read each one.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.elements(&mut element)
    }

    fn elements(&mut self, element: &mut dyn FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Reads an object of which only member `name` matters: its value read by `value` (`None`
    /// when absent), the others skipped.
    pub fn one_member<T>(
        &mut self,
        name: &str,
        mut value: impl FnMut(&mut Self) -> Option<Option<T>>,
    ) -> Option<Option<T>> {
        let mut found = None;
        let mut seen = SeenFields::default();
        self.object(|reader, key| {
            if key != name {
                return reader.skip();
            }
            seen.first(0)?;
            found = value(reader)?;
            Some(())
        })?;
        Some(found)
    }

    /// Reads `null` if that is what comes next.
    #[inline(always)]
    pub fn null(&mut self) -> bool {
        if self.peek() == Some(b'n') && self.text.as_bytes()[self.pos..].starts_with(b"null") {
            self.pos += 4;
            return true;
        }
        false
    }

    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        self.string_rest()
    }

    /// A string or `null`.
    pub fn nullable_string(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(Some)
    }

    pub fn boolean(&mut self) -> Option<bool> {
        let first = self.peek()?;
        let rest = &self.text.as_bytes()[self.pos..];
        match first {
            b't' if rest.starts_with(b"true") => {
                self.pos += 4;
                Some(true)
            }
            b'f' if rest.starts_with(b"false") => {
                self.pos += 5;
                Some(false)
            }
            _ => None,
        }
    }

    /// A non-negative integer written without fraction or exponent (what serde reads into an
    /// unsigned field; `1.0`, `1e3` and `-1` are refused, as serde refuses them).
    pub fn unsigned(&mut self) -> Option<u64> {
        self.skip_whitespace();
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = bytes.get(self.pos) {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        let fraction_follows = matches!(bytes.get(self.pos), Some(b'.' | b'e' | b'E'));
        (digits > 0 && !leading_zero && !fraction_follows).then_some(value)
    }

    /// An unsigned integer or `null`.
    pub fn nullable_unsigned(&mut self) -> Option<Option<u64>> {
        if self.null() {
            return Some(None);
        }
        self.unsigned().map(Some)
    }

    /// An unsigned integer that fits 32 bits, or `null`.
    pub fn nullable_u32(&mut self) -> Option<Option<u32>> {
        match self.nullable_unsigned()? {
            Some(value) => u32::try_from(value).ok().map(Some),
            None => Some(None),
        }
    }

    /// Reads past any value, checking its syntax.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    /// Reads past any value and returns its text (for a member handed to serde on its own).
    pub fn raw(&mut self) -> Option<&'a str> {
        self.skip_whitespace();
        let start = self.pos;
        self.skip()?;
        Some(&self.text[start..self.pos])
    }

    fn skip_at(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => self.object(|reader, _| reader.skip_at(depth + 1)),
            b'[' => self.array(|reader| reader.skip_at(depth + 1)),
            b'"' => {
                self.pos += 1;
                self.string_rest().map(drop)
            }
            b't' | b'f' => self.boolean().map(drop),
            b'n' => self.null().then_some(()),
            _ => self.skip_number(),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn skip_number(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let digits = |pos: &mut usize| {
            let start = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - start
        };
        let mut pos = self.pos;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let start = pos;
        match digits(&mut pos) {
            0 => return None,
            1 => {}
            _ if bytes[start] == b'0' => return None,
            _ => {}
        }
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos) == 0 {
                return None;
            }
        }
        if matches!(bytes.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                return None;
            }
        }
        self.pos = pos;
        Some(())
    }

    /// After the opening quote: a string without escapes (object keys).
    fn plain_string_rest(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.pos = string_run_end(self.text.as_bytes(), self.pos);
        if self.text.as_bytes().get(self.pos) != Some(&b'"') {
            return None;
        }
        self.pos += 1;
        Some(&self.text[start..self.pos - 1])
    }

    /// After the opening quote: the string's value, borrowed when it has no escape.
    fn string_rest(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        self.pos = string_run_end(bytes, self.pos);
        match *bytes.get(self.pos)? {
            b'"' => {
                self.pos += 1;
                return Some(Cow::Borrowed(&self.text[start..self.pos - 1]));
            }
            b'\\' => {}
            _ => return None,
        }
        let mut value = String::with_capacity(self.pos - start + 16);
        let mut run = start;
        loop {
            match *bytes.get(self.pos)? {
                b'"' => {
                    value.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Some(Cow::Owned(value));
                }
                b'\\' => {
                    value.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    value.push(self.escape()?);
                    run = self.pos;
                    self.pos = string_run_end(bytes, self.pos);
                }
                _ => return None,
            }
        }
    }

    /// After a backslash: the escaped character (a surrogate pair joined; a lone surrogate,
    /// which serde refuses, refused).
    fn escape(&mut self) -> Option<char> {
        let byte = *self.text.as_bytes().get(self.pos)?;
        self.pos += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if !self.text.as_bytes()[self.pos..].starts_with(b"\\u") {
                            return None;
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(self.pos), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }
}

/// From `at`, the index of the first byte that ends a run of plain string content: a quote, a
/// backslash or a control character (`bytes.len()` when none does). Sixteen bytes at a time
/// in wasm SIMD: most of a stream chunk's bytes are inside strings.
#[inline(always)]
fn string_run_end(bytes: &[u8], mut at: usize) -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{
            u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128, v128_load, v128_or,
        };
        while at + 16 <= bytes.len() {
            // SAFETY: `at + 16 <= bytes.len()`, so the 16 bytes read are inside the slice;
            // `v128_load` needs no alignment.
            let block = unsafe { v128_load(bytes.as_ptr().add(at).cast::<v128>()) };
            let ends = v128_or(
                v128_or(
                    u8x16_eq(block, u8x16_splat(b'"')),
                    u8x16_eq(block, u8x16_splat(b'\\')),
                ),
                u8x16_lt(block, u8x16_splat(0x20)),
            );
            let mask = u8x16_bitmask(ends);
            if mask != 0 {
                return at + mask.trailing_zeros() as usize;
            }
            at += 16;
        }
    }
    while at < bytes.len() && !matches!(bytes[at], b'"' | b'\\' | 0..=0x1f) {
        at += 1;
    }
    at
}

/// Which of a struct's fields were read, so that a repeated one (which serde refuses) is
/// refused too.
#[derive(Default)]
pub struct SeenFields(u32);

impl SeenFields {
    /// Marks field `bit`; `None` when it was already seen.
    pub fn first(&mut self, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        if self.0 & mask != 0 {
            return None;
        }
        self.0 |= mask;
        Some(())
    }
}

/// What the adapters' tests and fuzz hooks of their chunk readers share.
#[cfg(any(test, fuzzing))]
pub mod tests_support {
    use std::fmt::Debug;

    /// How serde reads `data` into `T`, as text to compare (`None` when it refuses it).
    pub fn serde_reading<T: serde::de::DeserializeOwned + Debug>(data: &str) -> Option<String> {
        serde_json::from_str::<T>(data)
            .ok()
            .map(|value| format!("{value:?}"))
    }

    /// Panics unless serde reads `data` into `T` as a fast reader did (when it read anything).
    pub fn assert_reads_like_serde<T: serde::de::DeserializeOwned + Debug>(
        data: &str,
        fast: Option<impl Debug>,
    ) {
        if let Some(fast) = fast {
            assert_eq!(
                serde_reading::<T>(data),
                Some(format!("{fast:?}")),
                "on {data:?}"
            );
        }
    }

    /// The `data:` payloads of every stream fixture of `provider` (tests/fixtures/<provider>).
    #[cfg(test)]
    pub fn stream_fixture_data(provider: &str) -> Vec<String> {
        let dir = format!("{}/tests/fixtures/{provider}", env!("CARGO_MANIFEST_DIR"));
        let mut data = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sse") {
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    if let Some(payload) = line.strip_prefix("data:") {
                        data.push(payload.trim_start().to_string());
                    }
                }
            }
        }
        assert!(!data.is_empty());
        data
    }

    /// Checks that `read` (a fast reader) gives what `serde` gives whenever it reads anything,
    /// on `samples` and on mutations of them: whitespace added, every prefix, every byte
    /// replaced by a JSON delimiter, digit, letter, quote, backslash or control character.
    /// Returns how many of the unmutated samples `read` read.
    #[cfg(test)]
    pub fn agrees_with_serde(
        samples: &[String],
        read: impl Fn(&str) -> Option<String>,
        serde: impl Fn(&str) -> Option<String>,
    ) -> usize {
        let check = |text: &str| {
            if let Some(fast) = read(text) {
                assert_eq!(Some(&fast), serde(text).as_ref(), "on {text:?}");
            }
        };
        let mut read_count = 0;
        for sample in samples {
            read_count += usize::from(read(sample).is_some());
            check(sample);
            check(&sample.replace(':', " :\n\t").replace(',', "\r, "));
            check(&format!(" {sample}\n"));
            check(&format!("{sample}x"));
            for (at, _) in sample.char_indices() {
                check(&sample[..at]);
                for replacement in [
                    "\"", "\\", "}", "]", ",", ":", "1", "-", "n", "e", " ", "\u{1}", "{",
                ] {
                    let mut mutated = sample.clone();
                    let end = at + sample[at..].chars().next().unwrap().len_utf8();
                    mutated.replace_range(at..end, replacement);
                    check(&mutated);
                }
            }
        }
        read_count
    }
}

#[cfg(test)]
mod tests {
    use super::JsonReader;

    #[test]
    fn strings_unescape_like_json() {
        let mut reader = JsonReader::new(r#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#);
        assert_eq!(reader.string().as_deref(), Some("a\"b\\c/d\n\té😀"));
        assert!(reader.end().is_some());
    }

    #[test]
    fn refuses_what_json_refuses() {
        for text in [
            "\"\\ud83d\"",
            "\"\\ude00x\"",
            "\"\\x\"",
            "\"a\u{1}\"",
            "\"open",
            "01",
            "-",
            "1.",
            "1e",
            "nul",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "tru",
        ] {
            let mut reader = JsonReader::new(text);
            let read = reader.skip().and_then(|()| reader.end());
            assert!(read.is_none(), "{text:?} was accepted");
        }
    }

    #[test]
    fn skips_any_valid_value() {
        for text in [
            "0",
            "-0.5e+10",
            "12E-3",
            "true",
            "false",
            "null",
            "\"\\u0041\"",
            "[]",
            "{}",
            " [ 1 , {\"a\" : [null, \"x\"]} ] ",
        ] {
            let mut reader = JsonReader::new(text);
            assert!(
                reader.skip().and_then(|()| reader.end()).is_some(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn unsigned_integers_only() {
        let read = |text: &str| JsonReader::new(text).unsigned();
        assert_eq!(read("42"), Some(42));
        assert_eq!(read("0"), Some(0));
        assert_eq!(read("18446744073709551615"), Some(u64::MAX));
        for refused in ["-1", "1.0", "1e3", "007", "18446744073709551616", "\"1\""] {
            assert_eq!(read(refused), None, "{refused}");
        }
        assert_eq!(JsonReader::new("4294967296").nullable_u32(), None);
    }

    #[test]
    fn deep_nesting_is_left_to_serde() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(JsonReader::new(&deep).skip().is_none());
    }
}
