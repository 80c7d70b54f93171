//! Reading a whole API answer into wire types, tolerantly: [`parse_answer`] for one value
//! (an error names the field napsh needs: "has no `token`"), [`parse_items`] for a list
//! whose broken items are skipped one by one (one odd SIM never hides the fleet).

use super::lenient::{excerpt, take_notes};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;

/// Skipped items of one list whose reasons are kept (the rest are only counted).
const MAX_SKIP_REASONS: usize = 3;

/// Why an answer (or one item of a list) could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// Not JSON, or not the expected shape at all.
    Malformed(String),
    /// A field napsh needs is absent; its path, e.g. `destination.port`.
    Missing(String),
    /// A field napsh needs holds something it cannot use.
    Unusable {
        /// Path of the field, e.g. `port`.
        field: String,
        /// What was wrong with it.
        why: String,
    },
}

impl AnswerError {
    /// The field napsh needed, when one is to blame.
    pub fn field(&self) -> Option<&str> {
        match self {
            AnswerError::Malformed(_) => None,
            AnswerError::Missing(f) | AnswerError::Unusable { field: f, .. } => Some(f),
        }
    }

    /// One sentence about the answer to `what` (`POST /v1/auth`): "Soracom's answer to
    /// POST /v1/auth has no `token`".
    pub fn describe(&self, what: &str) -> String {
        match self {
            AnswerError::Malformed(why) => {
                format!("Soracom returned a malformed response to {what}: {why}")
            }
            _ => format!("Soracom's answer to {what} {self}"),
        }
    }
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Malformed(why) => write!(f, "is malformed: {why}"),
            AnswerError::Missing(field) => write!(f, "has no `{field}`"),
            AnswerError::Unusable { field, why } => write!(f, "has an unusable `{field}`: {why}"),
        }
    }
}

/// Informational fields read as unknown during one parse (for a debug log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftNotes {
    /// The first few notes.
    pub kept: Vec<String>,
    /// How many more there were.
    pub more: usize,
}

impl DriftNotes {
    /// The notes this thread gathered since the last call.
    fn take() -> Self {
        let (kept, more) = take_notes();
        DriftNotes { kept, more }
    }
}

/// One list item that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    /// Its position in the answer (0-based).
    pub index: usize,
    /// Why.
    pub why: AnswerError,
}

/// A list answer read item by item.
#[derive(Debug, Clone, PartialEq)]
pub struct Items<T> {
    /// The items that read well, in order.
    pub items: Vec<T>,
    /// The first skipped items (at most a few).
    pub skipped: Vec<SkippedItem>,
    /// How many items were skipped in all.
    pub skipped_count: usize,
    /// Informational fields read as unknown.
    pub notes: DriftNotes,
}

/// Reads one answer body as a `T`. Invalid UTF-8 is replaced (see
/// [`super::from_api_bytes`]); a missing or unusable needed field is named.
pub fn parse_answer<T: DeserializeOwned>(body: &[u8]) -> Result<(T, DriftNotes), AnswerError> {
    let value = parse_json(body)?;
    let _ = take_notes();
    let parsed = from_value(value);
    let notes = DriftNotes::take();
    parsed.map(|t| (t, notes))
}

/// Reads a list answer (a JSON array) item by item: an item that does not read as a `T` is
/// skipped and counted; the answer fails only when it is not an array at all.
pub fn parse_items<T: DeserializeOwned>(body: &[u8]) -> Result<Items<T>, AnswerError> {
    let values = match parse_json(body)? {
        Value::Array(values) => values,
        other => {
            return Err(AnswerError::Malformed(format!(
                "expected a list, got {}",
                excerpt(&other)
            )))
        }
    };
    let _ = take_notes();
    let mut out = Items {
        items: Vec::with_capacity(values.len()),
        skipped: Vec::new(),
        skipped_count: 0,
        notes: DriftNotes::default(),
    };
    for (index, value) in values.into_iter().enumerate() {
        match from_value(value) {
            Ok(item) => out.items.push(item),
            Err(why) => {
                out.skipped_count += 1;
                if out.skipped.len() < MAX_SKIP_REASONS {
                    out.skipped.push(SkippedItem { index, why });
                }
            }
        }
    }
    out.notes = DriftNotes::take();
    Ok(out)
}

/// The body as JSON (invalid UTF-8 replaced), or why it is not.
fn parse_json(body: &[u8]) -> Result<Value, AnswerError> {
    super::from_api_bytes(body).map_err(|e| AnswerError::Malformed(e.to_string()))
}

/// `value` as a `T`, naming the field to blame when it is not one.
fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, AnswerError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let why = crate::sanitize::for_terminal(&e.inner().to_string());
        let mut path: Vec<String> = e.path().iter().map(|s| s.to_string()).collect();
        if let Some(field) = missing_field(&why) {
            path.push(field.to_string());
            return AnswerError::Missing(join_path(&path));
        }
        if path.is_empty() {
            return AnswerError::Malformed(why);
        }
        AnswerError::Unusable {
            field: join_path(&path),
            why,
        }
    })
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// `destination.port`, `[3].simId`: list positions stick to what precedes them.
fn join_path(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if !out.is_empty() && !s.starts_with('[') {
            out.push('.');
        }
        out.push_str(s);
    }
    out
}
