//! The scan view of a text: lowercased, with lookalike letters folded to ASCII and invisible
//! characters set aside (recorded, not scanned), split into word tokens that remember where
//! they came from in the original text. Everything the detectors match runs on this view, so
//! `IgNoRe`, `ｉｇｎｏｒｅ`, `𝐢𝐠𝐧𝐨𝐫𝐞`, `ig\u{200B}nore`, `i.g.n.o.r.e` and `i g n o r e` all
//! read `ignore`.

/// Why a character is invisible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invisible {
    /// U+200B..U+200D, U+2060..U+2064, U+FEFF, U+180E.
    ZeroWidth,
    /// Embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069): they reorder what
    /// a reader sees without changing what the model reads.
    BidiControl,
    /// LRM, RLM, ALM: harmless direction marks used in ordinary right-to-left text.
    BidiMark,
    /// The Unicode tag block U+E0000..U+E007F, which mirrors ASCII invisibly.
    Tag,
    /// U+FE00..U+FE0F and U+E0100..U+E01EF.
    VariationSelector,
    SoftHyphen,
    /// Hangul fillers, rendered as blanks.
    Filler,
    /// C0/C1 control characters other than tab and line breaks.
    Control,
}

pub(crate) fn invisible_kind(c: char) -> Option<Invisible> {
    Some(match c {
        '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{180E}' => {
            Invisible::ZeroWidth
        }
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Invisible::BidiControl,
        '\u{200E}' | '\u{200F}' | '\u{061C}' => Invisible::BidiMark,
        '\u{E0000}'..='\u{E007F}' => Invisible::Tag,
        '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' => Invisible::VariationSelector,
        '\u{00AD}' => Invisible::SoftHyphen,
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => Invisible::Filler,
        '\t' | '\n' | '\r' | '\u{85}' => return None,
        c if c.is_control() => Invisible::Control,
        _ => return None,
    })
}

/// Pictographs that join into emoji sequences with ZWJ (an approximation of
/// `Extended_Pictographic` plus the modifiers that may precede a joiner).
fn is_emoji_like(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF
        | 0x2190..=0x21FF | 0x20E3 | 0xFE0F | 0x00A9 | 0x00AE | 0x2122 | 0x203C | 0x2049)
}

/// Scripts whose orthography uses ZWJ/ZWNJ between letters (Persian, Urdu, the Indic scripts).
fn is_joining_script(c: char) -> bool {
    matches!(c as u32,
        0x0600..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFE | 0x0900..=0x0DFF | 0x1000..=0x109F
        | 0x1780..=0x18AF)
}

/// Whether an invisible character is doing a legitimate job where it stands: ZWJ inside an
/// emoji sequence (👨‍👩‍👧) or between letters of a joining script, ZWNJ in Persian or
/// Hindi, one variation selector after its base character (❤️, CJK ideographic variants), tag
/// letters inside a subdivision flag (🏴 + tags), direction marks, a leading byte-order mark.
/// `prev` is the character before (visible or not), `next` the one after.
pub(crate) fn is_legitimate(
    kind: Invisible,
    c: char,
    prev: Option<char>,
    next: Option<char>,
    in_flag: bool,
) -> bool {
    match kind {
        Invisible::ZeroWidth => match c {
            '\u{200D}' => match (prev, next) {
                (Some(p), Some(n)) => {
                    (is_emoji_like(p) || (0x1F3FB..=0x1F3FF).contains(&(p as u32)))
                        && is_emoji_like(n)
                        || is_joining_script(p) && is_joining_script(n)
                }
                _ => false,
            },
            '\u{200C}' => matches!((prev, next), (Some(p), Some(n))
                if is_joining_script(p) && is_joining_script(n)),
            '\u{FEFF}' => prev.is_none(),
            _ => false,
        },
        Invisible::BidiMark => true,
        Invisible::Tag => in_flag,
        Invisible::VariationSelector => match prev {
            Some(p) => invisible_kind(p).is_none() && !p.is_whitespace(),
            None => false,
        },
        Invisible::BidiControl | Invisible::SoftHyphen | Invisible::Filler | Invisible::Control => {
            false
        }
    }
}

/// An invisible character found in the original text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HiddenChar {
    pub kind: Invisible,
    pub ch: char,
    /// Byte offset in the original text.
    pub at: usize,
    pub legitimate: bool,
}

/// What made a token readable: each is a sign that someone disguised the word.
pub(crate) mod disguise {
    pub const HOMOGLYPH: u8 = 1;
    pub const SPACED: u8 = 4;
    /// Invisible characters (or soft hyphens, or `*`) were removed from inside the word.
    pub const SPLIT: u8 = 8;
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// Byte range in the normalised text.
    pub start: usize,
    pub end: usize,
    /// The word's reading, as a range of `ScanText::forms` ([`ScanText::form`]).
    form: (u32, u32),
    /// The leetspeak reading (`1gn0r3` -> `ignore`) when the token mixes letters and digits.
    leet: Option<(u32, u32)>,
    pub sentence: u32,
    /// The first non-blank character after the token on its line (`:` marks a label).
    pub next_char: Option<char>,
    /// `disguise::*` bits.
    pub disguise: u8,
    /// `developer's`, `maintainers'`.
    pub possessive: bool,
}

pub(crate) struct ScanText<'a> {
    pub original: &'a str,
    /// Lowercased and folded; invisible and combining characters removed.
    pub text: String,
    /// For each byte of `text`, the offset of the original character that produced it.
    source: Vec<u32>,
    pub hidden: Vec<HiddenChar>,
    pub tokens: Vec<Token>,
    /// The tokens' readings, one after another (one allocation for all of them).
    forms: String,
    /// Byte ranges of `text` inside quotation marks.
    pub quoted: Vec<(usize, usize)>,
    /// Byte ranges of `text` inside code spans or fenced code blocks.
    pub code: Vec<(usize, usize)>,
}

impl<'a> ScanText<'a> {
    pub fn new(original: &'a str) -> ScanText<'a> {
        let mut text = String::with_capacity(original.len());
        let mut source = Vec::with_capacity(original.len());
        let mut hidden = Vec::new();
        let mut in_flag = false;
        let mut prev: Option<char> = None;
        for (at, c) in original.char_indices() {
            // Printable ASCII, the bulk of most texts, needs no other check.
            if c.is_ascii_graphic() || c == ' ' || c == '\n' || c == '\t' {
                text.push(if c == '\t' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                });
                source.push(at as u32);
                in_flag = false;
                prev = Some(c);
                continue;
            }
            let next = original[at + c.len_utf8()..].chars().next();
            if c == '\u{1F3F4}' {
                in_flag = true;
            } else if !matches!(c, '\u{E0020}'..='\u{E007F}') {
                in_flag = false;
            }
            if let Some(kind) = invisible_kind(c) {
                let legitimate = is_legitimate(kind, c, prev, next, in_flag);
                hidden.push(HiddenChar {
                    kind,
                    ch: c,
                    at,
                    legitimate,
                });
                prev = Some(c);
                continue;
            }
            let before = text.len();
            fold_char(c, next, &mut text);
            source.extend(std::iter::repeat_n(at as u32, text.len() - before));
            prev = Some(c);
        }
        let mut scan = ScanText {
            original,
            text,
            source,
            hidden,
            tokens: Vec::new(),
            forms: String::new(),
            quoted: Vec::new(),
            code: Vec::new(),
        };
        (scan.tokens, scan.forms) = tokenize(&scan);
        (scan.quoted, scan.code) = quoted_ranges(&scan.text);
        scan
    }

    pub fn form(&self, token: &Token) -> &str {
        &self.forms[token.form.0 as usize..token.form.1 as usize]
    }

    pub fn leet(&self, token: &Token) -> Option<&str> {
        token
            .leet
            .map(|(start, end)| &self.forms[start as usize..end as usize])
    }

    /// The original byte range behind a normalised byte range.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if self.source.is_empty() {
            return (0, 0);
        }
        let start = start.min(self.source.len() - 1);
        let last = end.saturating_sub(1).clamp(start, self.source.len() - 1);
        let from = self.source[start] as usize;
        let last_at = self.source[last] as usize;
        let to = last_at
            + self.original[last_at..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
        (from, to)
    }

    /// Whether the original characters behind a normalised range have something removed
    /// between them (an invisible character or a combining mark).
    fn has_gap(&self, start: usize, end: usize) -> bool {
        let mut expected = None;
        let mut i = start;
        while i < end {
            let at = self.source[i] as usize;
            if let Some(e) = expected.filter(|&e| e != at) {
                // Accents typed as separate combining marks are not a disguise.
                if !self.original[e..at].chars().all(is_combining_mark) {
                    return true;
                }
            }
            let c = self.original[at..].chars().next().unwrap_or(' ');
            // Skip the rest of this character's normalised bytes.
            while i < end && self.source[i] as usize == at {
                i += 1;
            }
            expected = Some(at + c.len_utf8());
        }
        false
    }

    pub fn in_ranges(ranges: &[(usize, usize)], pos: usize) -> bool {
        ranges.iter().any(|&(s, e)| s <= pos && pos < e)
    }
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Folds one visible character into the scan view: whitespace to a space or `\n`, fullwidth
/// and mathematical/circled letters to ASCII, lowercase, Latin diacritics dropped.
fn fold_char(c: char, next: Option<char>, out: &mut String) {
    if c.is_ascii_graphic() || c == ' ' {
        out.push(c.to_ascii_lowercase());
        return;
    }
    let c = match c {
        '\r' if next == Some('\n') => return,
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => '\n',
        c if c.is_whitespace() => ' ',
        // Accents written separately, "zalgo" text.
        c if is_combining_mark(c) => return,
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{1D400}'..='\u{1D6A3}' => {
            let i = (c as u32 - 0x1D400) % 52;
            char::from(if i < 26 {
                b'a' + i as u8
            } else {
                b'a' + (i - 26) as u8
            })
        }
        '\u{1D7CE}'..='\u{1D7FF}' => char::from(b'0' + ((c as u32 - 0x1D7CE) % 10) as u8),
        '\u{24D0}'..='\u{24E9}' => char::from(b'a' + (c as u32 - 0x24D0) as u8),
        '\u{24B6}'..='\u{24CF}' => char::from(b'a' + (c as u32 - 0x24B6) as u8),
        '\u{249C}'..='\u{24B5}' => char::from(b'a' + (c as u32 - 0x249C) as u8),
        '\u{210E}' => 'h',
        c => c,
    };
    for lower in c.to_lowercase() {
        fold_latin(lower, out);
    }
}

/// ASCII base letters of U+00C0..U+017F (lowercased), `.` where there is none.
const LATIN_BASE: &[u8; 192] = b"aaaaaaaceeeeiiiidnooooo.ouuuuytsaaaaaaaceeeeiiiidnooooo.ouuuuytyaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

fn fold_latin(c: char, out: &mut String) {
    let folded = match c {
        'æ' => "ae",
        'œ' => "oe",
        'ß' => "ss",
        'þ' => "th",
        'ĳ' => "ij",
        'ș' | 'ş' => "s",
        'ț' | 'ţ' => "t",
        '\u{00C0}'..='\u{017F}' => {
            let base = LATIN_BASE[c as usize - 0xC0];
            if base != b'.' {
                out.push(char::from(base));
                return;
            }
            out.push(c);
            return;
        }
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(folded);
}

/// Cyrillic and Greek letters that look like Latin ones. Applied only inside a word that
/// also has Latin letters, so Russian and Greek text stays itself.
fn homoglyph(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' | 'н' => 'h',
        'і' | 'ι' | 'ӏ' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => return None,
    })
}

fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '8' => 'b',
        '9' => 'g',
        _ => return None,
    })
}

/// Characters that may sit inside a word without splitting it (`don't`, `e-mail`,
/// `i.g.n.o.r.e`, `ign*ore`).
fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '.' | '*' | '_' | '\'' | '’' | '·')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Sentence ends, and markup brackets (`<span ...>Assistant, ...` starts afresh).
fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | ';' | '。' | '！' | '？' | '<' | '>')
}

fn tokenize(scan: &ScanText<'_>) -> (Vec<Token>, String) {
    let text = &scan.text;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens: Vec<Token> = Vec::new();
    let mut forms = String::with_capacity(text.len() + 16);
    let mut sentence = 0u32;
    let mut i = 0;
    let is_symbol_in_word = |j: usize| -> bool {
        // `@` and `$` stand for letters in leetspeak when they touch a word character.
        let c = chars[j].1;
        (c == '@' || c == '$')
            && (j + 1 < chars.len() && is_word_char(chars[j + 1].1)
                || j > 0 && is_word_char(chars[j - 1].1))
    };
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\n' {
            sentence += 1;
            i += 1;
            continue;
        }
        if !(is_word_char(c) || is_symbol_in_word(i)) {
            if is_sentence_end(c) {
                sentence += 1;
            }
            i += 1;
            continue;
        }
        let start = at;
        let form_start = forms.len();
        let mut disguised = 0u8;
        while i < chars.len() {
            let c = chars[i].1;
            if is_word_char(c) || is_symbol_in_word(i) {
                forms.push(c);
                i += 1;
            } else if is_joiner(c)
                && i + 1 < chars.len()
                && (is_word_char(chars[i + 1].1) || is_symbol_in_word(i + 1))
                && forms.len() > form_start
            {
                if c == '*' {
                    disguised |= disguise::SPLIT;
                }
                i += 1;
            } else {
                break;
            }
        }
        let end = chars.get(i).map_or(text.len(), |&(at, _)| at);
        if scan.has_gap(start, end) {
            disguised |= disguise::SPLIT;
        }
        let mut j = i;
        while j < chars.len() && chars[j].1 == ' ' {
            j += 1;
        }
        let next_char = chars.get(j).map(|&(_, c)| c);
        let slice = &text[start..end];
        let possessive = slice.ends_with("'s")
            || slice.ends_with("’s")
            || forms.ends_with('s') && matches!(chars.get(i).map(|&(_, c)| c), Some('\'' | '’'));
        let (form, leet, disguised) = finish_form(&mut forms, form_start, disguised);
        tokens.push(Token {
            start,
            end,
            form,
            leet,
            sentence,
            next_char,
            disguise: disguised,
            possessive,
        });
    }
    let tokens = merge_spaced_letters(text, &forms, tokens);
    (tokens, forms)
}

/// Finishes the reading of the word written at `forms[form_start..]`: lookalike letters
/// folded when the word mixes scripts, `$`/`@` dropped, and a leetspeak reading appended when
/// the word mixes letters and digits. Returns the ranges of both readings.
fn finish_form(
    forms: &mut String,
    form_start: usize,
    mut disguised: u8,
) -> ((u32, u32), Option<(u32, u32)>, u8) {
    let form = &forms[form_start..];
    let has_latin = form.bytes().any(|b| b.is_ascii_alphabetic());
    if has_latin && !form.is_ascii() && form.chars().any(|c| homoglyph(c).is_some()) {
        let folded: String = form.chars().map(|c| homoglyph(c).unwrap_or(c)).collect();
        forms.truncate(form_start);
        forms.push_str(&folded);
        disguised |= disguise::HOMOGLYPH;
    }
    let form = &forms[form_start..];
    let has_letter = form.chars().any(char::is_alphabetic);
    let leet_form: Option<String> = (has_letter && form.chars().any(|c| leet(c).is_some()))
        .then(|| form.chars().map(|c| leet(c).unwrap_or(c)).collect());
    // A bare `$` or `@` inside a word is not part of its plain reading.
    if form.contains(['$', '@']) {
        let plain: String = form.chars().filter(|&c| c != '$' && c != '@').collect();
        forms.truncate(form_start);
        forms.push_str(&plain);
    }
    let form = (form_start as u32, forms.len() as u32);
    let leet = leet_form.map(|leet| {
        let start = forms.len();
        forms.push_str(&leet);
        (start as u32, forms.len() as u32)
    });
    (form, leet, disguised)
}

/// Joins `i g n o r e` (single letters separated by exactly one space) into one token; a
/// wider gap ends the word. Single letters' readings are adjacent in `forms`, so the joined
/// reading is their combined range.
fn merge_spaced_letters(text: &str, forms: &str, tokens: Vec<Token>) -> Vec<Token> {
    let single = |t: &Token| {
        t.form.1 == t.form.0 + 1 && forms.as_bytes()[t.form.0 as usize].is_ascii_alphabetic()
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let mut j = i;
        while j + 1 < tokens.len()
            && single(&tokens[j])
            && single(&tokens[j + 1])
            && tokens[j].form.1 == tokens[j + 1].form.0
            && tokens[j].sentence == tokens[j + 1].sentence
            && &text[tokens[j].end..tokens[j + 1].start] == " "
        {
            j += 1;
        }
        if j - i + 1 >= 4 {
            runs.push((i, j));
        }
        i = j + 1;
    }
    if runs.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut runs = runs.into_iter().peekable();
    let mut merged: Option<Token> = None;
    for (k, token) in tokens.into_iter().enumerate() {
        match runs.peek().copied() {
            Some((first, last)) if (first..=last).contains(&k) => {
                match merged.as_mut() {
                    None => {
                        merged = Some(Token {
                            leet: None,
                            disguise: disguise::SPACED,
                            possessive: false,
                            ..token
                        })
                    }
                    Some(m) => {
                        m.form.1 = token.form.1;
                        m.end = token.end;
                        m.next_char = token.next_char;
                    }
                }
                if k == last {
                    out.extend(merged.take());
                    runs.next();
                }
            }
            _ => out.push(token),
        }
    }
    out
}

/// Byte ranges of the normalised text.
type Ranges = Vec<(usize, usize)>;

/// Ranges inside quotation marks, and ranges inside code (backtick spans, fenced blocks).
fn quoted_ranges(text: &str) -> (Ranges, Ranges) {
    let mut quoted = Vec::new();
    let mut code = Vec::new();
    // Fenced blocks first: everything between ``` lines.
    let mut fence_start: Option<usize> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            match fence_start.take() {
                Some(s) => code.push((s, line_start + line.len())),
                None => fence_start = Some(line_start),
            }
        }
        line_start += line.len();
    }
    if let Some(s) = fence_start {
        code.push((s, text.len()));
    }
    let bytes = text.as_bytes();
    // Inline code spans (pasted templates may hold blank lines, so those do not end one).
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' && !ScanText::in_ranges(&code, i) {
            let rest = &text[i + 1..];
            let mut limit = rest.len().min(4000);
            while !rest.is_char_boundary(limit) {
                limit -= 1;
            }
            if let Some(close) = rest[..limit].find('`') {
                code.push((i, i + 2 + close));
                i += close + 2;
                continue;
            }
        }
        i += 1;
    }
    for line_range in line_ranges(text) {
        let line = &text[line_range.0..line_range.1];
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let mut open: Option<(usize, char)> = None;
        for (k, &(at, c)) in chars.iter().enumerate() {
            let prev = k.checked_sub(1).map(|p| chars[p].1);
            let next = chars.get(k + 1).map(|&(_, n)| n);
            let closes = |o: char| match o {
                '"' => c == '"',
                '“' => c == '”' || c == '“',
                '„' => c == '“' || c == '”',
                '«' => c == '»',
                '\'' | '‘' => {
                    (c == '\'' || c == '’')
                        && prev.is_some_and(|p| !p.is_whitespace())
                        && !next.is_some_and(char::is_alphanumeric)
                }
                _ => false,
            };
            match open {
                Some((s, o)) if closes(o) => {
                    quoted.push((line_range.0 + s, line_range.0 + at + c.len_utf8()));
                    open = None;
                }
                None if matches!(c, '"' | '“' | '„' | '«' | '‘')
                    || c == '\''
                        && prev.is_none_or(|p| p.is_whitespace() || "([{:=".contains(p))
                        && next.is_some_and(char::is_alphanumeric) =>
                {
                    open = Some((at, c));
                }
                _ => {}
            }
        }
    }
    (quoted, code)
}

fn line_ranges(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    text.split('\n').map(move |line| {
        let range = (start, start + line.len());
        start += line.len() + 1;
        range
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(text: &str) -> Vec<String> {
        let scan = ScanText::new(text);
        scan.tokens
            .iter()
            .map(|t| scan.leet(t).unwrap_or(scan.form(t)).to_string())
            .collect()
    }

    #[test]
    fn disguised_words_read_plainly() {
        for text in [
            "IgNoRe",
            "ｉｇｎｏｒｅ",
            "𝐢𝐠𝐧𝐨𝐫𝐞",
            "ig\u{200B}nore",
            "i.g.n.o.r.e",
            "i g n o r e",
            "ign*ore",
            "1gn0r3",
            "ign\u{043E}re",
            "ⓘⓖⓝⓞⓡⓔ",
            "ig\u{00AD}nore",
        ] {
            assert_eq!(forms(text), ["ignore"], "{text:?}");
        }
        assert_eq!(
            forms("précédentes Anweisungen ß"),
            ["precedentes", "anweisungen", "ss"]
        );
    }

    #[test]
    fn russian_stays_russian_and_spaced_words_split_at_wide_gaps() {
        assert_eq!(forms("все инструкции"), ["все", "инструкции"]);
        assert_eq!(forms("i g n o r e   y o u r"), ["ignore", "your"]);
        assert_eq!(forms("a b c"), ["a", "b", "c"]);
    }

    #[test]
    fn spans_map_back_to_the_original_text() {
        let original = "Ａ ig\u{200B}nore ß!";
        let scan = ScanText::new(original);
        let t = &scan.tokens[1];
        let (s, e) = scan.original_span(t.start, t.end);
        assert_eq!(&original[s..e], "ig\u{200B}nore");
        assert!(t.disguise & disguise::SPLIT != 0);
        let t = &scan.tokens[2];
        let (s, e) = scan.original_span(t.start, t.end);
        assert_eq!(&original[s..e], "ß");
    }

    #[test]
    fn legitimate_invisible_characters_are_recognised() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert!(ScanText::new(family).hidden.iter().all(|h| h.legitimate));
        let persian = "\u{0645}\u{06CC}\u{200C}\u{062E}";
        assert!(ScanText::new(persian).hidden.iter().all(|h| h.legitimate));
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert!(ScanText::new(england).hidden.iter().all(|h| h.legitimate));
        let smuggled = "hi\u{E0069}\u{E0067}";
        assert!(ScanText::new(smuggled).hidden.iter().all(|h| !h.legitimate));
        assert!(!ScanText::new("a\u{200B}b").hidden[0].legitimate);
    }

    #[test]
    fn quotes_and_code_are_found() {
        let scan = ScanText::new("why 'ignore this' and \"that\" or `code` here");
        assert_eq!(scan.quoted.len(), 2);
        assert_eq!(scan.code.len(), 1);
        let scan = ScanText::new("it's fine, don't worry");
        assert!(scan.quoted.is_empty());
    }
}
