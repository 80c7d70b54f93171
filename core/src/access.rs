//! Delegated maintenance (`napsh access`): the permission document napsh grants a
//! contractor for chosen SIMs — exactly the operations napsh calls, scoped per SIM with a
//! `sim_id` condition where the API has that path variable, the few unscopable ones it
//! needs, and the body-form create denied — and reading the SIMs back from such a document.
//! Condition values come only from validated [`SimId`]s. Tests: `access_tests.rs`.

use crate::ids::SimId;
use crate::sam::{Condition, Effect, Policy, Statement};

/// The path variable the per-SIM operations are scoped on.
pub const SIM_VAR: &str = "sim_id";

/// Operations napsh calls for one device, each with a `sim_id` path variable:
/// `GET /sims/{sim_id}`, `GET /port_mappings/sims/{sim_id}`, `POST /port_mappings/sims/{sim_id}`.
pub const SCOPED: [&str; 3] = [
    "Sim:getSim",
    "PortMapping:listPortMappingsForSim",
    "PortMapping:createPortMappingForSim",
];

/// Operations napsh needs that have no `sim_id` to scope on, with what each exposes.
pub const UNSCOPED: [(&str, &str); 2] = [
    (
        "Sim:listSims",
        "the list of every SIM of the account: SIM id, IMSIs, name and other tags, group, \
         online state and last-seen time (napsh needs it to resolve device names)",
    ),
    (
        "PortMapping:deletePortMapping",
        "deleting any mapping of the account whose IP address and port are known (the path \
         is `/port_mappings/{ip}/{port}`; napsh deletes the mappings it created when a \
         session ends)",
    ),
];

/// Operations denied explicitly: the body-form create names its SIM in the body, so a
/// condition cannot scope it.
pub const DENIED: [&str; 1] = ["PortMapping:createPortMapping"];

/// Marker napsh writes into the SAM user's description, so `napsh access list` shows only
/// the users it manages.
pub const DESCRIPTION: &str =
    "napsh access: delegated maintenance (managed by `napsh access grant`)";

/// The permission document for `sims` (deduplicated and sorted, so that the same grant is
/// always the same document): the denial, the unscoped operations, then one statement per SIM.
pub fn grant_document(sims: &[SimId]) -> Policy {
    let mut sims: Vec<&SimId> = sims.iter().collect();
    sims.sort();
    sims.dedup();
    let mut statements = vec![
        Statement {
            api: DENIED.iter().map(|s| s.to_string()).collect(),
            effect: Effect::Deny,
            condition: None,
        },
        Statement {
            api: UNSCOPED.iter().map(|(op, _)| op.to_string()).collect(),
            effect: Effect::Allow,
            condition: None,
        },
    ];
    statements.extend(sims.into_iter().map(|sim| {
        Statement {
            api: SCOPED.iter().map(|s| s.to_string()).collect(),
            effect: Effect::Allow,
            condition: Some(
                Condition::path_variable(SIM_VAR, sim.as_str())
                    .expect("a SIM id is a valid condition value"),
            ),
        }
    }));
    Policy { statements }
}

/// Why a document is not one `napsh access grant` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOurs(pub String);

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SIMs a document napsh wrote grants, in document order; an error when the document
/// is anything else (another statement, another operation, an unscoped allow of a scoped
/// operation), so that napsh never rewrites a permission it did not write.
pub fn granted_sims(policy: &Policy) -> Result<Vec<SimId>, NotOurs> {
    let plain = grant_document(&[]);
    let fixed = plain.statements.len();
    if policy.statements.len() < fixed || policy.statements[..fixed] != plain.statements[..] {
        return Err(NotOurs(
            "its first statements are not the denial and the unscoped operations napsh writes"
                .into(),
        ));
    }
    policy.statements[fixed..]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            sim_of(s).ok_or_else(|| {
                NotOurs(format!(
                    "statement {} is not a per-SIM grant",
                    fixed + i + 1
                ))
            })
        })
        .collect()
}

/// The SIM of a per-SIM statement exactly as [`grant_document`] writes it.
fn sim_of(s: &Statement) -> Option<SimId> {
    let c = s.condition.as_ref()?;
    let same_ops = s.api.iter().map(String::as_str).eq(SCOPED.iter().copied());
    (s.effect == Effect::Allow && same_ops && c.name == SIM_VAR)
        .then(|| SimId::try_from(c.value.as_str()).ok())
        .flatten()
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
