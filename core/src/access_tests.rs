//! Tests of `access`: the grant document and reading SIMs back from it.

use super::*;
use crate::sam::Decision;

fn sim(s: &str) -> SimId {
    SimId::try_from(s).unwrap()
}

#[test]
fn the_grant_allows_what_napsh_needs_for_exactly_those_sims() {
    let policy = grant_document(&[sim("8942000000000000002"), sim("8942000000000000001")]);
    for granted in ["8942000000000000001", "8942000000000000002"] {
        for op in SCOPED {
            assert_eq!(
                policy.decide(op, &[(SIM_VAR, granted)]),
                Decision::Allowed,
                "{op}"
            );
        }
    }
    for op in SCOPED {
        assert_eq!(
            policy.decide(op, &[(SIM_VAR, "8942000000000000003")]),
            Decision::NotAllowed
        );
    }
    for (op, _) in UNSCOPED {
        assert_eq!(policy.decide(op, &[]), Decision::Allowed, "{op}");
    }
    assert_eq!(
        policy.decide("PortMapping:createPortMapping", &[]),
        Decision::Denied
    );
    for op in [
        "PortMapping:listPortMappings",
        "Sim:updateSimTags",
        "User:createUser",
        "AuditLog:getNapterAuditLogs",
    ] {
        assert_eq!(
            policy.decide(op, &[(SIM_VAR, "8942000000000000001")]),
            Decision::NotAllowed,
            "{op}"
        );
    }
}

#[test]
fn the_same_grant_is_the_same_document() {
    let a = grant_document(&[sim("2"), sim("1"), sim("2")]);
    let b = grant_document(&[sim("1"), sim("2")]);
    assert_eq!(a.to_json(true), b.to_json(true));
    assert_eq!(a.statements.len(), 4);
}

#[test]
fn sims_read_back_from_a_grant() {
    let sims = vec![sim("1"), sim("2")];
    let text = grant_document(&sims).to_json(false);
    let parsed = crate::sam::Policy::parse(&text).unwrap();
    assert_eq!(granted_sims(&parsed).unwrap(), sims);
    assert_eq!(granted_sims(&grant_document(&[])).unwrap(), vec![]);
}

#[test]
fn a_document_napsh_did_not_write_is_not_read_as_a_grant() {
    for text in [
        r#"{"statements":[{"api":"*","effect":"allow"}]}"#,
        r#"{"statements":[]}"#,
    ] {
        let p = crate::sam::Policy::parse(text).unwrap();
        assert!(granted_sims(&p).is_err(), "{text}");
    }
    let mut p = grant_document(&[sim("1")]);
    p.statements[2].api.push("Sim:updateSimTags".into());
    assert!(granted_sims(&p).is_err());
    let mut p = grant_document(&[sim("1")]);
    p.statements[2].condition = None;
    assert!(granted_sims(&p).is_err());
}
