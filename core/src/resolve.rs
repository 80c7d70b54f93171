//! Resolving a device argument (SIM id, IMSI or exact name tag) against the fleet, and
//! splitting `[USER@]DEVICE` arguments.

use crate::device::Device;
use crate::sanitize::for_terminal;
use std::fmt;

/// Why a device argument did not name exactly one device.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveError {
    /// Nothing matched; `suggestions` are close names (best first).
    Unknown {
        query: String,
        suggestions: Vec<String>,
    },
    /// Several devices share that name; `candidates` are "name (SIM id)".
    Ambiguous {
        query: String,
        candidates: Vec<String>,
    },
    /// The argument was empty.
    Empty,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Empty => write!(f, "no device given: pass a name tag, SIM id or IMSI"),
            ResolveError::Unknown { query, suggestions } => {
                write!(
                    f,
                    "no device named '{}' (nor with that SIM id or IMSI)",
                    for_terminal(query)
                )?;
                if suggestions.is_empty() {
                    write!(f, "; run `napsh devices` to list them")
                } else {
                    write!(f, "; did you mean: {}?", suggestions.join(", "))
                }
            }
            ResolveError::Ambiguous { query, candidates } => write!(
                f,
                "'{}' names {} devices: {}; use a SIM id instead",
                for_terminal(query),
                candidates.len(),
                candidates.join(", ")
            ),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Finds the one device `query` names: an exact SIM id or IMSI first, then an exact name tag.
pub fn resolve<'a>(devices: &'a [Device], query: &str) -> Result<&'a Device, ResolveError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(ResolveError::Empty);
    }
    if let Some(d) = devices.iter().find(|d| d.sim_id == query) {
        return Ok(d);
    }
    if let Some(d) = devices.iter().find(|d| d.imsi.as_deref() == Some(query)) {
        return Ok(d);
    }
    let named: Vec<&Device> = devices.iter().filter(|d| d.name == query).collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(ResolveError::Unknown {
            query: query.into(),
            suggestions: suggest(devices, query),
        }),
        many => Err(ResolveError::Ambiguous {
            query: query.into(),
            candidates: many
                .iter()
                .map(|d| format!("{} ({})", for_terminal(&d.name), d.sim_id))
                .collect(),
        }),
    }
}

/// Up to five names close to `query` (edit similarity or substring), best first.
pub fn suggest(devices: &[Device], query: &str) -> Vec<String> {
    let q = query.to_lowercase();
    let mut scored: Vec<(f64, &str)> = devices
        .iter()
        .filter(|d| !d.name.is_empty())
        .map(|d| {
            let name = d.name.to_lowercase();
            let mut score = strsim::jaro_winkler(&q, &name);
            if name.contains(&q) || q.contains(&name) {
                score = score.max(0.9);
            }
            (score, d.name.as_str())
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, name) in scored {
        let shown = for_terminal(name);
        if !out.contains(&shown) {
            out.push(shown);
        }
        if out.len() == 5 {
            break;
        }
    }
    out
}

/// Splits `user@device` into its parts; a plain `device` has no user.
pub fn split_user(arg: &str) -> (Option<&str>, &str) {
    match arg.rsplit_once('@') {
        Some((user, device)) if !user.is_empty() => (Some(user), device),
        _ => (None, arg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(sim_id: &str, imsi: &str, name: &str) -> Device {
        Device {
            imsi: Some(imsi.into()),
            online: true,
            ..Device::named(sim_id, name)
        }
    }

    fn fleet() -> Vec<Device> {
        vec![
            device("8981000000000000001", "440100000000001", "kiosk-12"),
            device("8981000000000000002", "440100000000002", "kiosk-13"),
            device("8981000000000000003", "440100000000003", "twin"),
            device("8981000000000000004", "440100000000004", "twin"),
        ]
    }

    #[test]
    fn resolves_by_name_sim_id_and_imsi() {
        let f = fleet();
        assert_eq!(
            resolve(&f, "kiosk-12").unwrap().sim_id,
            "8981000000000000001"
        );
        assert_eq!(resolve(&f, "8981000000000000002").unwrap().name, "kiosk-13");
        assert_eq!(
            resolve(&f, "440100000000003").unwrap().sim_id,
            "8981000000000000003"
        );
    }

    #[test]
    fn ambiguous_name_lists_candidates() {
        let err = resolve(&fleet(), "twin").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("8981000000000000003") && text.contains("8981000000000000004"),
            "{text}"
        );
    }

    #[test]
    fn unknown_name_suggests_close_ones() {
        let err = resolve(&fleet(), "kiosk12").unwrap_err();
        match err {
            ResolveError::Unknown { suggestions, .. } => {
                assert!(suggestions.contains(&"kiosk-12".to_string()))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn hostile_query_is_not_echoed_raw() {
        let err = resolve(&fleet(), "\x1b[2Jx").unwrap_err();
        assert!(!err.to_string().contains('\x1b'));
    }

    #[test]
    fn splits_user() {
        assert_eq!(split_user("pi@kiosk"), (Some("pi"), "kiosk"));
        assert_eq!(split_user("kiosk"), (None, "kiosk"));
        assert_eq!(split_user("@kiosk"), (None, "@kiosk"));
    }
}
