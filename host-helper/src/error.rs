//! The typed napsh error (an [`ErrorKind`] for the exit code, the Soracom code, a hint) and
//! how a failure is rendered: one line on stderr, or an [`ErrorEnvelope`] with `--json`.

use napsh_core::messages::{ErrorEnvelope, ErrorInfo, ErrorKind};
use napsh_core::sanitize::for_terminal;
use std::fmt;

/// A failure napsh understands: carries the exit code family and what the user can do.
#[derive(Debug, Clone, PartialEq)]
pub struct NapshError {
    /// Category; decides the exit code.
    pub kind: ErrorKind,
    /// Why it failed (one clause; untrusted parts already sanitised).
    pub why: String,
    /// What to do about it, when napsh knows.
    pub hint: Option<String>,
    /// Soracom error code (`SEM0095`…), when the API gave one.
    pub code: Option<String>,
}

impl NapshError {
    /// A new error of `kind` saying `why`.
    pub fn new(kind: ErrorKind, why: impl Into<String>) -> Self {
        NapshError {
            kind,
            why: why.into(),
            hint: None,
            code: None,
        }
    }

    /// Adds what the user should do.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds the Soracom error code.
    pub fn code(mut self, code: Option<String>) -> Self {
        self.code = code;
        self
    }

    /// Shorthand for a configuration / usage error.
    pub fn config(why: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, why)
    }
}

impl fmt::Display for NapshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.why)?;
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        if let Some(code) = &self.code {
            write!(f, " [{}]", for_terminal(code))?;
        }
        Ok(())
    }
}

impl std::error::Error for NapshError {}

/// The napsh error inside an `anyhow` chain, if any.
pub fn find(err: &anyhow::Error) -> Option<&NapshError> {
    err.chain().find_map(|e| e.downcast_ref::<NapshError>())
}

/// The kind of a failure: the typed one in the chain, else `Internal`.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    find(err).map(|e| e.kind).unwrap_or(ErrorKind::Internal)
}

/// One line describing the failure: the outer contexts, then the typed error (or the root
/// causes of an untyped one). Sanitised: safe for a terminal.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        if let Some(typed) = cause.downcast_ref::<NapshError>() {
            parts.push(typed.to_string());
            break;
        }
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    for_terminal(&parts.join(": "))
}

/// The failure as the JSON `ErrorInfo`.
pub fn info(err: &anyhow::Error) -> ErrorInfo {
    ErrorInfo {
        kind: kind_of(err),
        code: find(err).and_then(|e| e.code.clone()),
        message: one_line(err),
    }
}

/// The failure as the JSON envelope `--json` commands print.
pub fn envelope(err: &anyhow::Error) -> ErrorEnvelope {
    ErrorEnvelope { error: info(err) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn contexts_then_typed_error_with_hint_and_code() {
        let err: anyhow::Result<()> = Err(NapshError::new(ErrorKind::PermissionDenied, "403")
            .hint("grant it")
            .code(Some("SEM0049".into()))
            .into());
        let err = err.context("creating a mapping for kiosk").unwrap_err();
        assert_eq!(
            one_line(&err),
            "creating a mapping for kiosk: 403 — grant it [SEM0049]"
        );
        assert_eq!(kind_of(&err), ErrorKind::PermissionDenied);
        assert_eq!(info(&err).code.as_deref(), Some("SEM0049"));
    }

    #[test]
    fn untyped_errors_are_internal_and_sanitised() {
        let err = anyhow::anyhow!("bad \x1b[2J thing");
        assert_eq!(kind_of(&err), ErrorKind::Internal);
        assert!(!one_line(&err).contains('\x1b'));
    }
}
