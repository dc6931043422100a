//! A validator for the JSON Schema subset that providers accept for structured output, used to
//! check a model's answer against `responseFormat` and to tell the model what to fix.
//!
//! Supported: `type` (a name or an array of names, `"null"` included; `integer` is a number
//! with no fraction), `properties`, `required`, `additionalProperties` (boolean or schema),
//! `enum`, `const`, `items` (one schema), `minItems`/`maxItems`, `minimum`/`maximum`,
//! `exclusiveMinimum`/`exclusiveMaximum` (numbers), `minLength`/`maxLength` (in characters),
//! `anyOf`, and `$ref` to local pointers (`#`, `#/$defs/...`, `#/definitions/...`), plus boolean
//! schemas (`true`, `false`). `description`, `title`, `default`, `examples`, `$schema`, `$id`,
//! `$comment`, `deprecated`, `readOnly`, `writeOnly` and `format` are annotations (JSON Schema
//! 2020-12 makes `format` an annotation unless a validator opts in) and are ignored.
//!
//! Everything else (`pattern`, `oneOf`, `allOf`, `not`, `prefixItems`, `uniqueItems`, ...) is
//! unsupported: [`check_schema`] rejects it, and [`validate`] reports it as an error rather
//! than pretending the value passed. Recursion is bounded ([`MAX_DEPTH`]) and reference cycles
//! that never descend into the value are rejected, so a hostile schema cannot exhaust the stack.
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{Error, ErrorKind};

/// Deepest nesting of schemas (through properties, items, anyOf and `$ref`) followed.
pub const MAX_DEPTH: usize = 64;
/// Errors reported at most, so that a repair prompt stays short.
pub const MAX_ERRORS: usize = 32;
/// Schema applications per validation. Nested `anyOf`s multiply the work; this bounds it.
pub const MAX_STEPS: usize = 100_000;

const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "format",
    "$defs",
    "definitions",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// One way the value fails the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    /// JSON Pointer (RFC 6901) to the offending part of the value; `""` is the whole value.
    pub path: String,
    /// The schema keyword that failed (`type`, `required`, ...).
    pub keyword: &'static str,
    /// A sentence a model can act on: what was expected and what was found.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "at the top level: {}", self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

/// The errors as a bulleted list, ready for a repair prompt ("Your answer does not match the
/// schema: ...").
pub fn describe_errors(errors: &[ValidationError]) -> String {
    errors
        .iter()
        .map(|e| format!("- {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks `instance` against `schema`. Call [`check_schema`] once first: an unsupported keyword
/// met here is reported as an error, never skipped.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<ValidationError>> {
    let steps = Cell::new(0);
    let mut v = Validator {
        root: schema,
        errors: Vec::new(),
        steps: &steps,
    };
    let mut path = String::new();
    v.check(schema, instance, &mut path, 0, 0);
    if steps.get() > MAX_STEPS {
        return Err(vec![ValidationError {
            path: String::new(),
            keyword: "schema",
            message: too_complex(),
        }]);
    }
    if v.errors.is_empty() {
        Ok(())
    } else {
        v.errors.truncate(MAX_ERRORS);
        Err(v.errors)
    }
}

fn too_complex() -> String {
    format!("the schema is too complex to check (more than {MAX_STEPS} steps); the value was not accepted")
}

struct Validator<'s, 'c> {
    root: &'s Value,
    errors: Vec<ValidationError>,
    /// Shared by `anyOf` branches.
    steps: &'c Cell<usize>,
}

impl<'s> Validator<'s, '_> {
    fn fail(&mut self, path: &str, keyword: &'static str, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ValidationError {
                path: path.to_string(),
                keyword,
                message,
            });
        }
    }

    /// `depth` counts every schema applied; `refs` counts `$ref`s followed since the last step
    /// into the value (a chain longer than the depth limit is a cycle).
    fn check(
        &mut self,
        schema: &'s Value,
        instance: &Value,
        path: &mut String,
        depth: usize,
        refs: usize,
    ) {
        if depth > MAX_DEPTH || refs > MAX_DEPTH {
            self.fail(
                path,
                "$ref",
                format!("schema nesting deeper than {MAX_DEPTH} levels (a reference cycle?)"),
            );
            return;
        }
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > MAX_STEPS {
            // Fail closed: an `anyOf` branch cut short must not count as a match.
            self.fail(path, "schema", too_complex());
            return;
        }
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                self.fail(path, "false", "no value is allowed here".into());
                return;
            }
            Value::Object(schema) => schema,
            _ => {
                self.fail(
                    path,
                    "schema",
                    "the schema here is not an object or a boolean".into(),
                );
                return;
            }
        };
        for (keyword, value) in schema {
            match keyword.as_str() {
                "type" => self.check_type(value, instance, path),
                "enum" => {
                    let options = value.as_array().map(Vec::as_slice).unwrap_or_default();
                    if !options.iter().any(|o| json_equal(o, instance)) {
                        let listed: Vec<String> = options.iter().take(10).map(show).collect();
                        let more = if options.len() > 10 { ", ..." } else { "" };
                        self.fail(path, "enum", format!("must be one of {}{more}; got {}", listed.join(", "), show(instance)));
                    }
                }
                "const" => {
                    if !json_equal(value, instance) {
                        self.fail(path, "const", format!("must be exactly {}; got {}", show(value), show(instance)));
                    }
                }
                "properties" | "required" | "additionalProperties" => {}
                "items" | "minItems" | "maxItems" => {}
                "minimum" => self.check_bound("minimum", value, instance, path),
                "maximum" => self.check_bound("maximum", value, instance, path),
                "exclusiveMinimum" => self.check_bound("exclusiveMinimum", value, instance, path),
                "exclusiveMaximum" => self.check_bound("exclusiveMaximum", value, instance, path),
                "minLength" => self.check_length("minLength", value, instance, path),
                "maxLength" => self.check_length("maxLength", value, instance, path),
                "anyOf" => self.check_any_of(value, instance, path, depth, refs),
                "$ref" => match value.as_str().and_then(|r| resolve(self.root, r)) {
                    Some(target) => self.check(target, instance, path, depth + 1, refs + 1),
                    None => self.fail(path, "$ref", format!("the schema reference {} cannot be resolved", show(value))),
                },
                k if ANNOTATIONS.contains(&k) => {}
                _ => self.fail(
                    path,
                    "unsupported",
                    format!("the schema keyword `{keyword}` is not supported by this validator, so the value was not checked against it"),
                ),
            }
        }
        if let Value::Object(object) = instance {
            self.check_object(schema, object, path, depth);
        }
        if let Value::Array(items) = instance {
            self.check_array(schema, items, path, depth);
        }
    }

    fn check_type(&mut self, expected: &Value, instance: &Value, path: &str) {
        let names: Vec<&str> = match expected {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.iter().any(|name| has_type(instance, name)) {
            let expected = match names.as_slice() {
                [one] => article(one),
                many => format!("one of {}", many.join(", ")),
            };
            self.fail(
                path,
                "type",
                format!("expected {expected}, got {}", describe_value(instance)),
            );
        }
    }

    fn check_bound(&mut self, keyword: &'static str, bound: &Value, instance: &Value, path: &str) {
        let (Some(bound), Some(n)) = (
            bound.as_f64(),
            instance.as_f64().filter(|_| instance.is_number()),
        ) else {
            return;
        };
        let (ok, relation) = match keyword {
            "minimum" => (n >= bound, ">="),
            "maximum" => (n <= bound, "<="),
            "exclusiveMinimum" => (n > bound, ">"),
            _ => (n < bound, "<"),
        };
        if !ok {
            self.fail(
                path,
                keyword,
                format!("must be {relation} {}; got {instance}", number(bound)),
            );
        }
    }

    fn check_length(&mut self, keyword: &'static str, limit: &Value, instance: &Value, path: &str) {
        let (Some(limit), Value::String(text)) = (limit.as_u64(), instance) else {
            return;
        };
        // JSON Schema counts characters (code points), not bytes.
        let length = text.chars().count() as u64;
        let (ok, word) = if keyword == "minLength" {
            (length >= limit, "at least")
        } else {
            (length <= limit, "at most")
        };
        if !ok {
            self.fail(
                path,
                keyword,
                format!("must be {word} {limit} characters long; is {length}"),
            );
        }
    }

    fn check_any_of(
        &mut self,
        options: &'s Value,
        instance: &Value,
        path: &mut String,
        depth: usize,
        refs: usize,
    ) {
        let Some(options) = options.as_array() else {
            self.fail(path, "anyOf", "`anyOf` must be an array of schemas".into());
            return;
        };
        // The closest alternative: one whose type fits the value, then the fewest errors.
        let here = path.clone();
        let distance = |errors: &[ValidationError]| {
            let wrong_type = errors.iter().any(|e| e.path == here && e.keyword == "type");
            (wrong_type, errors.len())
        };
        let mut closest: Option<(usize, Vec<ValidationError>)> = None;
        for (i, option) in options.iter().enumerate() {
            let mut branch = Validator {
                root: self.root,
                errors: Vec::new(),
                steps: self.steps,
            };
            branch.check(option, instance, path, depth + 1, refs);
            if branch.errors.is_empty() {
                return;
            }
            if closest
                .as_ref()
                .is_none_or(|(_, best)| distance(&branch.errors) < distance(best))
            {
                closest = Some((i, branch.errors));
            }
        }
        let Some((index, errors)) = closest else {
            self.fail(
                path,
                "anyOf",
                "`anyOf` is empty, so no value can match".into(),
            );
            return;
        };
        // Nested `anyOf`s at the same place say the same thing: keep the innermost summary.
        let summarised = errors
            .first()
            .is_some_and(|e| e.keyword == "anyOf" && e.path == here);
        if !summarised {
            self.fail(
                path,
                "anyOf",
                format!(
                    "matches none of the {} allowed alternatives; the closest (alternative {}) fails as follows",
                    options.len(),
                    index + 1
                ),
            );
        }
        for error in errors {
            if self.errors.len() < MAX_ERRORS {
                self.errors.push(error);
            }
        }
    }

    fn check_object(
        &mut self,
        schema: &'s Map<String, Value>,
        object: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    self.fail(
                        path,
                        "required",
                        format!("missing required property `{name}`"),
                    );
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (name, value) in object {
            let len = path.len();
            push_pointer(path, name);
            match properties.and_then(|p| p.get(name)) {
                Some(property) => self.check(property, value, path, depth + 1, 0),
                None => match additional {
                    Some(Value::Bool(false)) => {
                        path.truncate(len);
                        let mut allowed: Vec<&str> = properties
                            .map(|p| p.keys().map(String::as_str).collect())
                            .unwrap_or_default();
                        allowed.sort_unstable();
                        let hint = if allowed.is_empty() {
                            "no properties are allowed".to_string()
                        } else {
                            format!("allowed: {}", allowed.join(", "))
                        };
                        self.fail(
                            path,
                            "additionalProperties",
                            format!("property `{name}` is not allowed ({hint})"),
                        );
                    }
                    Some(extra @ Value::Object(_)) => self.check(extra, value, path, depth + 1, 0),
                    _ => {}
                },
            }
            path.truncate(len);
        }
    }

    fn check_array(
        &mut self,
        schema: &'s Map<String, Value>,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) {
        let count = items.len() as u64;
        if let Some(min) = schema
            .get("minItems")
            .and_then(Value::as_u64)
            .filter(|&m| count < m)
        {
            self.fail(
                path,
                "minItems",
                format!("must have at least {min} items; has {count}"),
            );
        }
        if let Some(max) = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .filter(|&m| count > m)
        {
            self.fail(
                path,
                "maxItems",
                format!("must have at most {max} items; has {count}"),
            );
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                push_pointer(path, &i.to_string());
                self.check(item_schema, item, path, depth + 1, 0);
                path.truncate(len);
            }
        }
    }
}

/// RFC 6901: `~` becomes `~0` and `/` becomes `~1`.
fn push_pointer(path: &mut String, segment: &str) {
    path.push('/');
    for c in segment.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// Resolves a local reference (`#`, `#/$defs/Name`, any `#/...` pointer) against the root.
fn resolve<'s>(root: &'s Value, reference: &str) -> Option<&'s Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    if !pointer.starts_with('/') {
        return None;
    }
    // `Value::pointer` applies the `~0`/`~1` escapes; percent-escapes of the URI fragment are
    // decoded first.
    root.pointer(&percent_decode(pointer)?)
}

fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// JSON equality, with numbers compared by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "object" | "array" | "integer" => format!("an {type_name}"),
        "null" => "null".to_string(),
        _ => format!("a {type_name}"),
    }
}

/// `string "abc"`, `number 3.5`, `an object`, `null`.
fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => format!("string {}", show(value)),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A value written out for a message, shortened to about 60 characters.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let mut short: String = text.chars().take(57).collect();
    short.push_str("...");
    short
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

// ------------------------------------------------------------------------------- checking

/// Rejects a schema that is malformed or uses keywords outside the supported subset, with
/// every problem (up to [`MAX_ERRORS`]) and its location as a JSON Pointer into the schema.
/// `ErrorKind::InvalidRequest`: the schema came with the request.
pub fn check_schema(schema: &Value) -> Result<(), Error> {
    let mut checker = Checker {
        root: schema,
        problems: Vec::new(),
        chain_lengths: HashMap::new(),
    };
    let mut at = String::from("#");
    checker.schema(schema, &mut at, 0);
    if checker.problems.is_empty() {
        return Ok(());
    }
    let count = checker.problems.len();
    let listed: Vec<String> = checker.problems.into_iter().take(MAX_ERRORS).collect();
    Err(Error::new(
        ErrorKind::InvalidRequest,
        format!(
            "unsupported or malformed JSON schema ({count} problem{}): {}",
            if count == 1 { "" } else { "s" },
            listed.join("; ")
        ),
    )
    .with_provider_code("invalid_json_schema"))
}

struct Checker<'s> {
    root: &'s Value,
    problems: Vec<String>,
    /// For schemas (by address) already explored: the longest run of `$ref`/`anyOf` steps
    /// from there, so each schema is explored once whatever the order.
    chain_lengths: HashMap<*const Value, usize>,
}

impl<'s> Checker<'s> {
    fn problem(&mut self, at: &str, message: impl fmt::Display) {
        self.problems.push(format!("at {at}: {message}"));
    }

    fn schema(&mut self, schema: &'s Value, at: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            self.problem(at, format!("schemas nested deeper than {MAX_DEPTH} levels"));
            return;
        }
        let object = match schema {
            Value::Bool(_) => return,
            Value::Object(object) => object,
            other => {
                self.problem(
                    at,
                    format!(
                        "a schema must be an object or a boolean, found {}",
                        describe_value(other)
                    ),
                );
                return;
            }
        };
        for (keyword, value) in object {
            let len = at.len();
            push_pointer(at, keyword);
            self.keyword(keyword, value, object, at, depth);
            at.truncate(len);
        }
        if object.contains_key("$ref") {
            let mut chain = Vec::new();
            if let Err(cycle) = self.pure_chain(schema, &mut chain) {
                self.problem(
                    at,
                    format!("`$ref` cycle that never reaches a value: {cycle}"),
                );
            }
        }
    }

    fn keyword(
        &mut self,
        keyword: &str,
        value: &'s Value,
        object: &Map<String, Value>,
        at: &mut String,
        depth: usize,
    ) {
        match keyword {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(names) if !names.is_empty() => names.iter().collect(),
                    Value::Array(_) => {
                        self.problem(at, "`type` is an empty array");
                        return;
                    }
                    one => vec![one],
                };
                for name in names {
                    match name.as_str() {
                        Some(n) if TYPES.contains(&n) => {}
                        _ => self.problem(at, format!("unknown type {} (expected one of {})", show(name), TYPES.join(", "))),
                    }
                }
            }
            "properties" | "$defs" | "definitions" => match value {
                Value::Object(children) => {
                    for (name, child) in children {
                        let len = at.len();
                        push_pointer(at, name);
                        self.schema(child, at, depth + 1);
                        at.truncate(len);
                    }
                }
                _ => self.problem(at, format!("`{keyword}` must be an object of schemas")),
            },
            "required" => match value.as_array() {
                Some(names) if names.iter().all(Value::is_string) => {
                    if let Some(Value::Object(properties)) = object.get("properties") {
                        for name in names.iter().filter_map(Value::as_str) {
                            if !properties.contains_key(name)
                                && object.get("additionalProperties") == Some(&Value::Bool(false))
                            {
                                self.problem(at, format!("`{name}` is required but not among `properties`, and no other property is allowed"));
                            }
                        }
                    }
                }
                _ => self.problem(at, "`required` must be an array of property names"),
            },
            "additionalProperties" | "items" => match value {
                Value::Bool(_) | Value::Object(_) => self.schema(value, at, depth + 1),
                Value::Array(_) if keyword == "items" => {
                    self.problem(at, "the array (tuple) form of `items` is not supported; use one schema for every item")
                }
                _ => self.problem(at, format!("`{keyword}` must be a schema or a boolean")),
            },
            "enum" => match value.as_array() {
                Some(options) if !options.is_empty() => {}
                _ => self.problem(at, "`enum` must be a non-empty array"),
            },
            "const" => {}
            "minItems" | "maxItems" | "minLength" | "maxLength" => {
                if value.as_u64().is_none() {
                    self.problem(at, format!("`{keyword}` must be a non-negative integer"));
                }
                let (min, max) = if keyword.ends_with("Items") { ("minItems", "maxItems") } else { ("minLength", "maxLength") };
                if keyword == max {
                    if let (Some(lo), Some(hi)) = (object.get(min).and_then(Value::as_u64), value.as_u64()) {
                        if lo > hi {
                            self.problem(at, format!("`{min}` ({lo}) is greater than `{max}` ({hi})"));
                        }
                    }
                }
            }
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => match value {
                Value::Number(_) => {}
                Value::Bool(_) => self.problem(
                    at,
                    format!("`{keyword}` as a boolean is draft-4 syntax; give the bound as a number"),
                ),
                _ => self.problem(at, format!("`{keyword}` must be a number")),
            },
            "anyOf" => match value.as_array() {
                Some(options) if !options.is_empty() => {
                    for (i, option) in options.iter().enumerate() {
                        let len = at.len();
                        push_pointer(at, &i.to_string());
                        self.schema(option, at, depth + 1);
                        at.truncate(len);
                    }
                }
                _ => self.problem(at, "`anyOf` must be a non-empty array of schemas"),
            },
            "$ref" => match value.as_str() {
                Some(reference) if resolve(self.root, reference).is_some() => {}
                Some(reference) if !reference.starts_with('#') => self.problem(
                    at,
                    format!("only local references (`#/$defs/...`) are supported, not {}", show(value)),
                ),
                Some(_) => self.problem(at, format!("the reference {} points nowhere in this schema", show(value))),
                None => self.problem(at, "`$ref` must be a string"),
            },
            k if ANNOTATIONS.contains(&k) => {}
            _ => self.problem(
                at,
                format!(
                    "`{keyword}` is not supported (supported: type, properties, required, additionalProperties, \
                     enum, const, items, minItems, maxItems, minimum, maximum, exclusiveMinimum, \
                     exclusiveMaximum, minLength, maxLength, anyOf, $ref)"
                ),
            ),
        }
    }

    /// Follows `$ref` and `anyOf` (which apply to the same value, so never make progress
    /// through it) from `schema`; returns the longest such run, or the problem: a cycle, or a
    /// run longer than [`MAX_DEPTH`] (which validation could not follow either).
    fn pure_chain(
        &mut self,
        schema: &'s Value,
        chain: &mut Vec<*const Value>,
    ) -> Result<usize, String> {
        let key = schema as *const Value;
        if let Some(&length) = self.chain_lengths.get(&key) {
            return Ok(length);
        }
        if chain.contains(&key) {
            return Err(format!("{} references back to itself", chain.len()));
        }
        let Some(object) = schema.as_object() else {
            return Ok(0);
        };
        let mut next: Vec<&'s Value> = Vec::new();
        if let Some(target) = object
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| resolve(self.root, r))
        {
            next.push(target);
        }
        if let Some(options) = object.get("anyOf").and_then(Value::as_array) {
            next.extend(options.iter());
        }
        chain.push(key);
        let mut longest = 0;
        for n in next {
            let length = 1 + self.pure_chain(n, chain)?;
            if length > MAX_DEPTH {
                chain.pop();
                return Err(format!("more than {MAX_DEPTH} references in a row"));
            }
            longest = longest.max(length);
        }
        chain.pop();
        self.chain_lengths.insert(key, longest);
        Ok(longest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value, instance: Value) -> Vec<ValidationError> {
        check_schema(&schema).unwrap_or_else(|e| panic!("schema rejected: {e}"));
        validate(&schema, &instance).err().unwrap_or_default()
    }

    #[track_caller]
    fn valid(schema: Value, instance: Value) {
        assert_eq!(errors(schema, instance), vec![]);
    }

    /// The single error's (path, keyword).
    #[track_caller]
    fn fails(schema: Value, instance: Value) -> (String, &'static str, String) {
        let e = errors(schema, instance);
        assert_eq!(e.len(), 1, "{e:?}");
        (e[0].path.clone(), e[0].keyword, e[0].message.clone())
    }

    #[test]
    fn type_names_arrays_of_names_and_null() {
        for (ty, good, bad) in [
            ("object", json!({}), json!([])),
            ("array", json!([1]), json!({})),
            ("string", json!("x"), json!(1)),
            ("number", json!(1.5), json!("1.5")),
            ("integer", json!(3), json!(3.5)),
            ("boolean", json!(false), json!(0)),
            ("null", json!(null), json!(false)),
        ] {
            valid(json!({ "type": ty }), good);
            let (path, keyword, _) = fails(json!({ "type": ty }), bad);
            assert_eq!((path.as_str(), keyword), ("", "type"));
        }
        valid(json!({ "type": "integer" }), json!(2.0));
        valid(json!({ "type": "integer" }), json!(u64::MAX));
        valid(json!({ "type": ["string", "null"] }), json!(null));
        let (_, _, message) = fails(json!({ "type": ["string", "null"] }), json!(7));
        assert_eq!(message, "expected one of string, null, got number 7");
        let (_, _, message) = fails(json!({ "type": "integer" }), json!("7"));
        assert_eq!(message, "expected an integer, got string \"7\"");
    }

    #[test]
    fn properties_required_and_additional_properties() {
        let schema = json!({
            "type": "object",
            "properties": { "name": { "type": "string" }, "age": { "type": "integer" } },
            "required": ["name"],
            "additionalProperties": false
        });
        valid(schema.clone(), json!({ "name": "Ada" }));
        assert_eq!(fails(schema.clone(), json!({ "age": 3 })).1, "required");
        let (path, keyword, message) = fails(schema.clone(), json!({ "name": "Ada", "nick": "A" }));
        assert_eq!((path.as_str(), keyword), ("", "additionalProperties"));
        assert_eq!(
            message,
            "property `nick` is not allowed (allowed: age, name)"
        );
        assert_eq!(fails(schema, json!({ "name": 5 })).0, "/name");
        // Additional properties allowed by default, or checked against a schema.
        valid(json!({ "properties": {} }), json!({ "x": 1 }));
        let typed = json!({ "additionalProperties": { "type": "number" } });
        valid(typed.clone(), json!({ "a": 1, "b": 2.5 }));
        assert_eq!(fails(typed, json!({ "a": "1" })).0, "/a");
        // Property names are escaped in pointers (RFC 6901).
        let odd = json!({ "properties": { "a/b~c": { "type": "string" } } });
        assert_eq!(fails(odd, json!({ "a/b~c": 1 })).0, "/a~1b~0c");
    }

    #[test]
    fn enum_and_const_compare_json_values() {
        valid(json!({ "enum": ["red", "green", 1, null] }), json!("green"));
        valid(json!({ "enum": [1] }), json!(1.0));
        let (_, keyword, message) = fails(json!({ "enum": ["red", "green"] }), json!("blue"));
        assert_eq!(keyword, "enum");
        assert_eq!(message, "must be one of \"red\", \"green\"; got \"blue\"");
        valid(
            json!({ "const": { "a": [1, 2] } }),
            json!({ "a": [1.0, 2] }),
        );
        assert_eq!(
            fails(json!({ "const": { "a": [1, 2] } }), json!({ "a": [2, 1] })).1,
            "const"
        );
    }

    #[test]
    fn items_and_item_counts() {
        let schema = json!({ "type": "array", "items": { "type": "integer" }, "minItems": 1, "maxItems": 3 });
        valid(schema.clone(), json!([1, 2]));
        assert_eq!(fails(schema.clone(), json!([])).1, "minItems");
        assert_eq!(fails(schema.clone(), json!([1, 2, 3, 4])).1, "maxItems");
        let (path, keyword, _) = fails(schema, json!([1, "two"]));
        assert_eq!((path.as_str(), keyword), ("/1", "type"));
    }

    #[test]
    fn numeric_bounds() {
        let schema = json!({ "minimum": 0, "maximum": 10 });
        valid(schema.clone(), json!(0));
        valid(schema.clone(), json!(10));
        let (_, keyword, message) = fails(schema.clone(), json!(-1));
        assert_eq!(
            (keyword, message.as_str()),
            ("minimum", "must be >= 0; got -1")
        );
        assert_eq!(fails(schema.clone(), json!(10.5)).1, "maximum");
        valid(schema, json!("not a number: bounds do not apply"));
        let exclusive = json!({ "exclusiveMinimum": 0, "exclusiveMaximum": 1 });
        valid(exclusive.clone(), json!(0.5));
        assert_eq!(fails(exclusive.clone(), json!(0)).1, "exclusiveMinimum");
        assert_eq!(fails(exclusive, json!(1)).1, "exclusiveMaximum");
    }

    #[test]
    fn string_lengths_count_characters() {
        let schema = json!({ "minLength": 2, "maxLength": 3 });
        valid(schema.clone(), json!("hé"));
        valid(schema.clone(), json!("日本語"));
        let (_, keyword, message) = fails(schema.clone(), json!("x"));
        assert_eq!(
            (keyword, message.as_str()),
            ("minLength", "must be at least 2 characters long; is 1")
        );
        assert_eq!(fails(schema, json!("abcd")).1, "maxLength");
    }

    #[test]
    fn any_of_reports_the_closest_alternative() {
        let schema = json!({ "anyOf": [
            { "type": "string" },
            { "type": "object", "properties": { "id": { "type": "integer" } }, "required": ["id"] }
        ]});
        valid(schema.clone(), json!("x"));
        valid(schema.clone(), json!({ "id": 3 }));
        let e = errors(schema, json!({ "id": "3" }));
        assert_eq!(e[0].keyword, "anyOf");
        assert!(e[0].message.contains("alternative 2"), "{}", e[0].message);
        assert_eq!((e[1].path.as_str(), e[1].keyword), ("/id", "type"));
    }

    #[test]
    fn refs_to_defs_definitions_and_the_root() {
        let schema = json!({
            "$defs": { "id": { "type": "integer" } },
            "definitions": { "name": { "type": "string" } },
            "type": "object",
            "properties": {
                "id": { "$ref": "#/$defs/id" },
                "name": { "$ref": "#/definitions/name" },
                "child": { "anyOf": [{ "$ref": "#" }, { "type": "null" }] }
            }
        });
        valid(
            schema.clone(),
            json!({ "id": 1, "name": "a", "child": { "id": 2, "child": null } }),
        );
        let e = errors(schema, json!({ "id": 1, "child": { "id": "two" } }));
        assert!(
            e.iter()
                .any(|e| e.path == "/child/id" && e.keyword == "type"),
            "{e:?}"
        );
    }

    #[test]
    fn ref_cycles_are_rejected_and_cannot_recurse_forever() {
        for schema in [
            json!({ "$defs": { "a": { "$ref": "#/$defs/b" }, "b": { "$ref": "#/$defs/a" } }, "$ref": "#/$defs/a" }),
            json!({ "$ref": "#" }),
            json!({ "$defs": { "a": { "anyOf": [{ "$ref": "#/$defs/a" }] } }, "$ref": "#/$defs/a" }),
        ] {
            let err = check_schema(&schema).unwrap_err();
            assert!(err.message().contains("cycle"), "{}", err.message());
            // Even unchecked, validation stops with an error instead of overflowing the stack.
            let e = validate(&schema, &json!(1)).unwrap_err();
            assert!(e.iter().any(|e| e.message.contains("deeper than")), "{e:?}");
        }
        // Recursion through the value (a tree) is fine.
        let tree = json!({ "type": "object", "properties": { "kids": { "type": "array", "items": { "$ref": "#" } } } });
        check_schema(&tree).unwrap();
        valid(tree, json!({ "kids": [{ "kids": [] }, {}] }));
    }

    #[test]
    fn deep_schemas_and_deep_values_are_bounded() {
        let mut schema = json!({ "type": "integer" });
        for _ in 0..(MAX_DEPTH + 10) {
            schema = json!({ "type": "array", "items": schema });
        }
        let err = check_schema(&schema).unwrap_err();
        assert!(err.message().contains("deeper than"), "{}", err.message());
        let mut value = json!(1);
        for _ in 0..(MAX_DEPTH + 10) {
            value = json!([value]);
        }
        let e = validate(&schema, &value).unwrap_err();
        assert!(e[0].message.contains("deeper than"), "{e:?}");
        // A self-referencing item schema against a deeply nested value also stops.
        let recursive = json!({ "type": "array", "items": { "$ref": "#" } });
        assert!(validate(&recursive, &value).is_err());
    }

    #[test]
    fn unsupported_keywords_are_never_silently_accepted() {
        let schema = json!({ "type": "object", "properties": { "code": { "type": "string", "pattern": "^[A-Z]+$" } } });
        let err = check_schema(&schema).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message()
                .contains("at #/properties/code/pattern: `pattern` is not supported"),
            "{}",
            err.message()
        );
        let e = validate(&schema, &json!({ "code": "abc" })).unwrap_err();
        assert_eq!((e[0].path.as_str(), e[0].keyword), ("/code", "unsupported"));
        for keyword in [
            "oneOf",
            "allOf",
            "not",
            "prefixItems",
            "uniqueItems",
            "patternProperties",
        ] {
            assert!(check_schema(&json!({ keyword: [] })).is_err(), "{keyword}");
        }
    }

    #[test]
    fn malformed_schemas_are_rejected_with_their_location() {
        for (schema, expected) in [
            (
                json!({ "type": "text" }),
                "at #/type: unknown type \"text\"",
            ),
            (json!({ "type": [] }), "`type` is an empty array"),
            (
                json!({ "properties": [] }),
                "`properties` must be an object of schemas",
            ),
            (
                json!({ "properties": { "a": 5 } }),
                "at #/properties/a: a schema must be an object or a boolean",
            ),
            (json!({ "required": "a" }), "`required` must be an array"),
            (json!({ "enum": [] }), "`enum` must be a non-empty array"),
            (json!({ "items": [{}] }), "tuple"),
            (json!({ "minItems": -1 }), "non-negative integer"),
            (
                json!({ "minLength": 3, "maxLength": 2 }),
                "`minLength` (3) is greater than `maxLength` (2)",
            ),
            (json!({ "exclusiveMinimum": true }), "draft-4"),
            (json!({ "anyOf": [] }), "`anyOf` must be a non-empty array"),
            (json!({ "$ref": "#/$defs/missing" }), "points nowhere"),
            (
                json!({ "$ref": "https://example.com/s.json" }),
                "only local references",
            ),
            (
                json!({ "properties": {}, "required": ["x"], "additionalProperties": false }),
                "`x` is required",
            ),
            (json!(3), "a schema must be an object or a boolean"),
        ] {
            let err = check_schema(&schema).unwrap_err();
            assert!(
                err.message().contains(expected),
                "{schema}: {}",
                err.message()
            );
            assert_eq!(err.provider_code(), Some("invalid_json_schema"));
        }
        // Annotations are ignored, boolean schemas are schemas.
        check_schema(
            &json!({ "title": "T", "description": "d", "format": "date-time", "default": 1,
                              "$schema": "https://json-schema.org/draft/2020-12/schema",
                              "properties": { "a": true, "b": false } }),
        )
        .unwrap();
        valid(
            json!({ "format": "date-time" }),
            json!("not checked: an annotation"),
        );
        let (path, keyword, _) = fails(json!({ "properties": { "b": false } }), json!({ "b": 1 }));
        assert_eq!((path.as_str(), keyword), ("/b", "false"));
    }

    #[test]
    fn errors_read_well_in_a_repair_prompt() {
        let schema = json!({
            "type": "object",
            "properties": { "items": { "type": "array", "items": { "type": "object",
                "properties": { "qty": { "type": "integer", "minimum": 1 } }, "required": ["qty"] } } },
            "required": ["items", "total"]
        });
        let e = errors(schema, json!({ "items": [{ "qty": 0 }, {}] }));
        assert_eq!(
            describe_errors(&e),
            "- at the top level: missing required property `total`\n\
             - at /items/0/qty: must be >= 1; got 0\n\
             - at /items/1: missing required property `qty`"
        );
        assert_eq!(serde_json::to_value(&e[0]).unwrap()["keyword"], "required");
    }

    /// `d{n}` is `anyOf: [d{n-1}, d{n-1}]`: linear in size, 2^n paths.
    fn doubling_chain(levels: usize) -> Value {
        let mut defs = Map::new();
        defs.insert("d0".into(), json!({ "type": "string" }));
        for i in 1..=levels {
            let previous = format!("#/$defs/d{}", i - 1);
            defs.insert(
                format!("d{i}"),
                json!({ "anyOf": [{ "$ref": previous }, { "$ref": previous }] }),
            );
        }
        json!({ "$defs": defs, "$ref": format!("#/$defs/d{levels}") })
    }

    #[test]
    fn nested_any_of_cannot_blow_up() {
        // 2^25 paths: checking explores each schema once, validation stops at the step budget.
        let schema = doubling_chain(25);
        check_schema(&schema).unwrap();
        valid(schema.clone(), json!("ok"));
        let e = validate(&schema, &json!(1)).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("too complex"), "{e:?}");
        // Longer pure chains are refused outright.
        let err = check_schema(&doubling_chain(40)).unwrap_err();
        assert!(
            err.message().contains("references in a row"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn error_count_is_capped() {
        let schema = json!({ "type": "array", "items": { "type": "string" } });
        let value = Value::Array((0..100).map(|i| json!(i)).collect());
        assert_eq!(validate(&schema, &value).unwrap_err().len(), MAX_ERRORS);
    }
}
