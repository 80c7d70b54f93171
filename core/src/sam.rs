//! SAM permission documents, the subset napsh writes and the emulator enforces: statements
//! with an `api` list (exact `Service:operation` names, `Service:*`-style trailing wildcards,
//! `*`), an `effect` (`allow`/`deny`, deny wins, nothing allowed unless a statement allows
//! it) and an optional condition `pathVariable('NAME') == 'VALUE'`. The parser is strict and
//! bounded (no regex, no pattern built from the text): anything outside the subset is an
//! error naming what was wrong. Tests: `sam_tests.rs`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest permission document read, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Most statements in one document.
pub const MAX_STATEMENTS: usize = 1_000;
/// Most `api` entries in one statement.
pub const MAX_APIS: usize = 100;
/// Longest `api` entry, in bytes.
pub const MAX_API_LEN: usize = 128;
/// Longest path-variable name.
pub const MAX_VAR_NAME: usize = 32;
/// Longest value compared in a condition.
pub const MAX_VALUE_LEN: usize = 64;

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Allows the operations (unless a matching deny exists).
    Allow,
    /// Denies the operations, whatever else allows them.
    Deny,
}

/// `pathVariable('name') == 'value'`: true when the call's path variable `name` is `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Path variable name (`sim_id`), lower-case letters, digits and `_`.
    pub name: String,
    /// The value it must equal: ASCII letters, digits, `.`, `-`, `_`, `:`.
    pub value: String,
}

/// One statement of a permission document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Operations (`Sim:getSim`, `PortMapping:*`, `*`).
    pub api: Vec<String>,
    /// Allow or deny.
    pub effect: Effect,
    /// When it applies (always when `None`).
    pub condition: Option<Condition>,
}

/// A parsed permission document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// What a policy says about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allowed,
    /// A statement denies it explicitly.
    Denied,
    /// No statement allows it (implicit deny).
    NotAllowed,
}

/// Why a document or part of it is outside the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "permission document: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(what: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(what.into()))
}

/// The wire form of a statement (`api` may be a string or a list).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireStatement {
    /// `api`: one entry or a list.
    api: ApiField,
    /// `condition` (fields in alphabetical order: the document reads the same however a
    /// JSON library orders keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    /// `effect`.
    effect: Effect,
}

/// `api` as written: a string or a list of strings.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ApiField {
    /// One operation.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// The wire form of a document.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDocument {
    /// `statements`.
    statements: Vec<WireStatement>,
}

impl Policy {
    /// Parses a permission document (the JSON text of a `permission` field).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return err(format!("longer than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let wire: WireDocument = serde_json::from_str(text).map_err(|e| {
            let why = crate::sanitize::for_terminal_truncated(&e.to_string(), 200);
            PolicyError(format!("not readable: {why}"))
        })?;
        if wire.statements.len() > MAX_STATEMENTS {
            return err(format!("more than {MAX_STATEMENTS} statements"));
        }
        let statements = wire
            .statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Statement::from_wire(s)
                    .map_err(|e| PolicyError(format!("statement {}: {}", i + 1, e.0)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// The document as JSON text (`api` always a list), pretty-printed when `pretty`.
    pub fn to_json(&self, pretty: bool) -> String {
        let wire = WireDocument {
            statements: self.statements.iter().map(Statement::to_wire).collect(),
        };
        let text = if pretty {
            serde_json::to_string_pretty(&wire)
        } else {
            serde_json::to_string(&wire)
        };
        text.expect("a permission document always serialises")
    }

    /// What the policy says about operation `op` (`Service:operation`) called with the path
    /// variables `vars`: deny wins, then allow, else not allowed.
    pub fn decide(&self, op: &str, vars: &[(&str, &str)]) -> Decision {
        let applies = |s: &&Statement| {
            s.api.iter().any(|p| api_matches(p, op))
                && s.condition.as_ref().is_none_or(|c| c.holds(vars))
        };
        let matching: Vec<&Statement> = self.statements.iter().filter(applies).collect();
        if matching.iter().any(|s| s.effect == Effect::Deny) {
            Decision::Denied
        } else if matching.iter().any(|s| s.effect == Effect::Allow) {
            Decision::Allowed
        } else {
            Decision::NotAllowed
        }
    }
}

impl Statement {
    fn from_wire(s: WireStatement) -> Result<Statement, PolicyError> {
        let api = match s.api {
            ApiField::One(a) => vec![a],
            ApiField::Many(list) => list,
        };
        if api.is_empty() || api.len() > MAX_APIS {
            return err(format!("`api` must list 1 to {MAX_APIS} operations"));
        }
        for a in &api {
            check_api(a)?;
        }
        let condition = s.condition.as_deref().map(Condition::parse).transpose()?;
        Ok(Statement {
            api,
            effect: s.effect,
            condition,
        })
    }

    fn to_wire(&self) -> WireStatement {
        WireStatement {
            api: ApiField::Many(self.api.clone()),
            condition: self.condition.as_ref().map(Condition::to_string),
            effect: self.effect,
        }
    }
}

/// Checks one `api` entry: `*`, or `Service:operation` with letters and digits, where the
/// operation may end in one `*` (a prefix wildcard) or be `*`.
pub fn check_api(api: &str) -> Result<(), PolicyError> {
    if api.len() > MAX_API_LEN {
        return err(format!("an `api` entry is longer than {MAX_API_LEN} bytes"));
    }
    if api == "*" {
        return Ok(());
    }
    let shown = crate::sanitize::for_terminal_truncated(api, 60);
    let Some((service, op)) = api.split_once(':') else {
        return err(format!("`api` entry {shown:?} is not `Service:operation`"));
    };
    let op_name = op.strip_suffix('*').unwrap_or(op);
    let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if service.is_empty() || op.is_empty() || !word(service) || !word(op_name) {
        return err(format!(
            "`api` entry {shown:?}: letters and digits only, with at most one `*` at the end"
        ));
    }
    Ok(())
}

/// Whether pattern `pattern` (checked by [`check_api`]) covers operation `op`.
pub fn api_matches(pattern: &str, op: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => op.starts_with(prefix),
        None => pattern == op,
    }
}

impl Condition {
    /// A condition on path variable `name` equal to `value`; both are checked.
    pub fn path_variable(name: &str, value: &str) -> Result<Condition, PolicyError> {
        check_name(name)?;
        check_value(value)?;
        Ok(Condition {
            name: name.to_string(),
            value: value.to_string(),
        })
    }

    /// Parses exactly `pathVariable('NAME') == 'VALUE'` (spaces allowed around `==` and at
    /// the ends, nothing else).
    pub fn parse(text: &str) -> Result<Condition, PolicyError> {
        let shown = crate::sanitize::for_terminal_truncated(text, 80);
        let unsupported = || {
            PolicyError(format!(
                "condition {shown:?}: only `pathVariable('name') == 'value'` is supported"
            ))
        };
        let rest = text
            .trim_matches(' ')
            .strip_prefix("pathVariable('")
            .ok_or_else(unsupported)?;
        let (name, rest) = rest.split_once("')").ok_or_else(unsupported)?;
        let rest = rest
            .trim_start_matches(' ')
            .strip_prefix("==")
            .ok_or_else(unsupported)?
            .trim_matches(' ');
        let value = rest
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .ok_or_else(unsupported)?;
        Condition::path_variable(name, value)
    }

    /// Whether the call's path variables satisfy it (a variable the call lacks: no).
    pub fn holds(&self, vars: &[(&str, &str)]) -> bool {
        vars.iter()
            .any(|(n, v)| *n == self.name && *v == self.value)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pathVariable('{}') == '{}'", self.name, self.value)
    }
}

fn check_name(name: &str) -> Result<(), PolicyError> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    check_text(
        "path variable name",
        name,
        MAX_VAR_NAME,
        allowed,
        "lower-case letters, digits or `_`",
    )
}

fn check_value(value: &str) -> Result<(), PolicyError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':');
    check_text(
        "condition value",
        value,
        MAX_VALUE_LEN,
        allowed,
        "letters, digits, `.`, `-`, `_` or `:`",
    )
}

/// `text` is 1 to `max` bytes, each `allowed`; else an error naming `what` and `chars`.
fn check_text(
    what: &str,
    text: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
    chars: &str,
) -> Result<(), PolicyError> {
    if !text.is_empty() && text.len() <= max && text.bytes().all(allowed) {
        return Ok(());
    }
    let shown = crate::sanitize::for_terminal_truncated(text, 40);
    err(format!("{what} {shown:?}: 1 to {max} {chars}"))
}

#[cfg(test)]
#[path = "sam_tests.rs"]
mod tests;
