//! Tolerant reading of API fields (`#[serde(deserialize_with = "…")]` helpers): a field napsh
//! needs accepts every form the spec allows (a `number` as `22.0`) and is refused otherwise,
//! with serde's error; a field napsh only shows degrades to "unknown" (`None`, empty) when it
//! arrives in another shape, and leaves a note ([`take_notes`]) for the caller's debug log.
//!
//! Every helper reads the value into a `serde_json::Value` first, so one odd field never
//! leaves the deserializer half-consumed.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Notes kept per thread between two [`take_notes`] (the rest are only counted).
const MAX_NOTES: usize = 16;

/// Longest excerpt of an odd value quoted in a note.
const MAX_EXCERPT: usize = 60;

/// The notes of this thread since the last [`take_notes`].
#[derive(Debug, Default)]
struct Notes {
    /// The first [`MAX_NOTES`] notes.
    kept: Vec<String>,
    /// How many more were dropped.
    dropped: usize,
}

thread_local! {
    /// Degraded informational fields seen by this thread's parses.
    static NOTES: RefCell<Notes> = RefCell::new(Notes::default());
}

/// The degraded-field notes of this thread since the last call (at most [`MAX_NOTES`]), and
/// how many more there were.
pub fn take_notes() -> (Vec<String>, usize) {
    NOTES.with(|n| {
        let n = std::mem::take(&mut *n.borrow_mut());
        (n.kept, n.dropped)
    })
}

/// Records that an informational field holding `got` was read as unknown.
fn note(expected: &str, got: &Value) {
    let text = format!(
        "expected {expected}, got {}: shown as unknown",
        excerpt(got)
    );
    NOTES.with(|n| {
        let mut n = n.borrow_mut();
        if n.kept.len() < MAX_NOTES {
            n.kept.push(text);
        } else {
            n.dropped += 1;
        }
    });
}

/// An integer type a whole JSON number can be read into.
pub trait Whole: Sized + TryFrom<i128> {
    /// The accepted range, as told in errors (`0–65535`).
    const RANGE: &'static str;
}

impl Whole for u16 {
    const RANGE: &'static str = "from 0 to 65535";
}

impl Whole for u64 {
    const RANGE: &'static str = "from 0 to 2^64-1";
}

impl Whole for i64 {
    const RANGE: &'static str = "from -2^63 to 2^63-1";
}

/// `v` as a whole number when it is one: an integer, or a float without a fraction (the spec
/// types ports and durations `number`, so `22.0` is as good as `22`).
fn whole_number(v: &Value) -> Option<i128> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    // 2^64 bounds every target type; beyond it a float has no meaningful integer anyway.
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0)
        .then_some(f as i128)
}

/// `v` as a `T` when it is a whole number in range.
fn whole_in_range<T: Whole>(v: &Value) -> Option<T> {
    whole_number(v).and_then(|n| T::try_from(n).ok())
}

/// A number napsh needs (a port, a time): a whole number in `T`'s range, else an error.
pub fn whole<'de, D: Deserializer<'de>, T: Whole>(d: D) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    whole_in_range(&v).ok_or_else(|| {
        D::Error::custom(format!(
            "expected a whole number {}, got {}",
            T::RANGE,
            excerpt(&v)
        ))
    })
}

/// `v` through `pick`, or `None` (with a note saying `expected`) when `pick` finds nothing
/// usable; `null` is simply unknown.
fn shown<T>(v: Value, expected: &str, pick: impl FnOnce(&Value) -> Option<T>) -> Option<T> {
    if v.is_null() {
        return None;
    }
    let picked = pick(&v);
    if picked.is_none() {
        note(expected, &v);
    }
    picked
}

/// A number napsh only shows: `None` (with a note) unless a whole number in `T`'s range.
pub fn whole_or_unknown<'de, D: Deserializer<'de>, T: Whole>(d: D) -> Result<Option<T>, D::Error> {
    let expected = format!("a whole number {}", T::RANGE);
    Ok(shown(Value::deserialize(d)?, &expected, whole_in_range))
}

/// Text napsh only shows: `None` (with a note) unless a string.
pub fn text_or_unknown<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let pick = |v: &Value| v.as_str().map(str::to_string);
    Ok(shown(Value::deserialize(d)?, "a string", pick))
}

/// A SIM id, which napsh needs and routes on: refused (the item is skipped by a list) unless
/// it is a valid [`crate::ids::SimId`].
pub fn sim_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    crate::ids::SimId::try_from(text.as_str())
        .map(|id| id.as_str().to_string())
        .map_err(|e| D::Error::custom(e.to_string()))
}

/// An IMSI of a SIM: `None` (with a note) unless a valid [`crate::ids::Imsi`], so that no
/// other text is ever matched, resolved or shown as one.
pub fn imsi_or_unknown<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if crate::ids::Imsi::try_from(s.as_str()).is_ok() => Ok(Some(s)),
        other => {
            note("an IMSI", &other);
            Ok(None)
        }
    }
}

/// A flag napsh only shows: `None` (with a note) unless a boolean.
pub fn flag_or_unknown<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(shown(
        Value::deserialize(d)?,
        "true or false",
        Value::as_bool,
    ))
}

/// A flag whose unknown value reads as `false` (`sessionStatus.online`: not known online).
pub fn flag_or_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(flag_or_unknown(d)?.unwrap_or(false))
}

/// A part napsh reads only for display (a session status, a source, a direction): `None`
/// (with a note) when it does not read as a `T`.
pub fn part_or_unknown<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let expected = format!("a valid {}", short_type_name::<T>());
    Ok(shown(Value::deserialize(d)?, &expected, |v| {
        T::deserialize(v).ok()
    }))
}

/// Like [`part_or_unknown`] for a part that is empty when unknown (profiles, source ranges).
pub fn part_or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(part_or_unknown(d)?.unwrap_or_default())
}

/// Tags: a string value is kept, a number or boolean becomes its JSON text, anything else
/// (an object, an array, null) drops that tag with a note; not an object at all, no tags.
pub fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = match Value::deserialize(d)? {
        Value::Object(map) => map,
        Value::Null => return Ok(BTreeMap::new()),
        other => {
            note("an object of tags", &other);
            return Ok(BTreeMap::new());
        }
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        match value {
            Value::String(s) => {
                out.insert(key, s);
            }
            Value::Number(_) | Value::Bool(_) => {
                out.insert(key, value.to_string());
            }
            other => note("a tag value (a string)", &other),
        }
    }
    Ok(out)
}

/// The last segment of `T`'s type name (`SessionStatus`).
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// A short, terminal-safe rendering of `v` for an error or a note.
pub(crate) fn excerpt(v: &Value) -> String {
    crate::sanitize::for_terminal_truncated(&v.to_string(), MAX_EXCERPT)
}
