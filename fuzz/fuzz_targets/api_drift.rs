//! Fuzz: drifted Soracom answers (issue 11 #7). The input perturbs well-formed SIMs,
//! mappings, `/auth` and audit answers — a field removed, or replaced by another shape (null,
//! a boolean, a float, a whole float, a huge int64, a string, an object, an array) — and the
//! tolerant reader must hold its contract:
//! - no panic;
//! - only informational fields perturbed: the answer reads;
//! - an error always names a needed field that was perturbed;
//! - in a list, the untouched neighbour of a broken item always survives.
//!
//! The first byte 0xFF instead feeds the rest as a raw body to every reader: no panic, and a
//! field error names its field in backticks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::soracom::answer::{parse_answer, parse_items, AnswerError};
use napsh_core::soracom::{AuthResponse, NapterAuditLogEntry, PortMapping, Sim};
use serde_json::{json, Value};

/// One kind of answer: a pristine item, and its fields by JSON pointer (needed or not).
struct Kind {
    /// A well-formed item.
    item: fn() -> Value,
    /// Pointers of fields napsh needs.
    needed: &'static [&'static str],
    /// Pointers of fields napsh only shows.
    shown: &'static [&'static str],
}

fn sim() -> Value {
    json!({"simId":"8942310022000012345","speedClass":"s1.standard","status":"active",
        "groupId":"g","type":"uicc","operatorId":"OP1","createdTime":1,"lastModifiedTime":2,
        "tags":{"name":"kiosk-12","site":"osaka"},
        "sessionStatus":{"online":true,"imsi":"440101","imei":"35","lastUpdatedAt":3,
            "placement":"aws"},
        "activeProfileId":"8981","profiles":{"8981":{"primaryImsi":"440101",
            "subscribers":{"440101":{"imsi":"440101","status":"active"}}}}})
}

fn mapping() -> Value {
    json!({"ipAddress":"203.0.113.9","port":40001,"hostname":"h","endpoint":"203.0.113.9:40001",
        "destination":{"port":22,"simId":"8942310022000012345","imsi":"440101"},
        "source":{"ipRanges":["198.51.100.7/32"]},"duration":3600,"createdTime":1,
        "expiredTime":2,"expired":false,"tlsRequired":false,"placement":"aws","simId":"1"})
}

fn auth() -> Value {
    json!({"apiKey":"api-key","token":"tok","operatorId":"OP1","userName":"u"})
}

fn audit() -> Value {
    json!({"type":"CONNECTED","createdAt":1700000000000i64,"imsi":"440101","tls":false,
        "connectionId":"c","operatorId":"OP1",
        "direction":{"sourceIPAddress":"198.51.100.7","sourcePort":5555,
            "destinationIPAddress":"203.0.113.9","destinationPort":40001}})
}

const KINDS: [Kind; 4] = [
    Kind {
        item: sim,
        needed: &["/simId"],
        shown: &[
            "/speedClass",
            "/status",
            "/groupId",
            "/type",
            "/operatorId",
            "/createdTime",
            "/tags",
            "/tags/name",
            "/sessionStatus",
            "/sessionStatus/online",
            "/sessionStatus/imsi",
            "/sessionStatus/placement",
            "/sessionStatus/lastUpdatedAt",
            "/profiles",
            "/profiles/8981",
            "/profiles/8981/subscribers",
            "/activeProfileId",
        ],
    },
    Kind {
        item: mapping,
        needed: &["/ipAddress", "/port", "/destination", "/destination/port"],
        shown: &[
            "/hostname",
            "/endpoint",
            "/destination/simId",
            "/destination/imsi",
            "/source",
            "/source/ipRanges",
            "/duration",
            "/createdTime",
            "/expiredTime",
            "/expired",
            "/tlsRequired",
            "/placement",
            "/simId",
        ],
    },
    Kind {
        item: auth,
        needed: &["/apiKey", "/token", "/operatorId"],
        shown: &["/userName"],
    },
    Kind {
        item: audit,
        needed: &["/type", "/createdAt"],
        shown: &[
            "/tls",
            "/imsi",
            "/connectionId",
            "/operatorId",
            "/direction",
            "/direction/sourcePort",
            "/direction/destinationPort",
            "/direction/sourceIPAddress",
        ],
    },
];

/// The replacement shape `b` selects (`None` = remove the field).
fn shape(b: u8) -> Option<Value> {
    Some(match b % 10 {
        0 => return None,
        1 => Value::Null,
        2 => json!(true),
        3 => json!(22.5),
        4 => json!(22.0),
        5 => json!(1_099_511_627_776i64),
        6 => json!("x"),
        7 => json!({"infrastructureProvider": "aws"}),
        8 => json!([1]),
        _ => json!(-1),
    })
}

/// Applies `shape` at `pointer`; false when the parent is gone (an earlier perturbation).
fn perturb(item: &mut Value, pointer: &str, shape: Option<Value>) -> bool {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let Some(parent) = item.pointer_mut(parent).and_then(Value::as_object_mut) else {
        return false;
    };
    match shape {
        None => parent.remove(key).is_some(),
        Some(v) => {
            parent.insert(key.to_string(), v);
            true
        }
    }
}

/// `/destination/port` as the reader names it: `destination.port`.
fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// Checks an error against the needed fields that were perturbed.
fn check_error(err: &AnswerError, touched_needed: &[String]) {
    let field = err
        .field()
        .unwrap_or_else(|| panic!("no field named: {err:?}"));
    assert!(
        touched_needed
            .iter()
            .any(|t| field == t || field.starts_with(&format!("{t}."))),
        "error names {field:?}, not one of the perturbed needed fields {touched_needed:?}"
    );
    assert!(err.describe("GET /v1/x").contains(&format!("`{field}`")));
}

/// Parses one perturbed item of kind `k` (alone, and in a list next to a pristine one).
fn run<T: serde::de::DeserializeOwned>(k: &Kind, item: Value, touched_needed: &[String]) {
    let body = serde_json::to_vec(&item).unwrap();
    match parse_answer::<T>(&body) {
        Ok(_) => {}
        Err(e) => check_error(&e, touched_needed),
    }
    if touched_needed.is_empty() {
        assert!(
            parse_answer::<T>(&body).is_ok(),
            "only informational fields: {item}"
        );
    }
    let list = serde_json::to_vec(&json!([(k.item)(), item])).unwrap();
    let read = parse_items::<T>(&list).expect("a list stays a list");
    assert!(!read.items.is_empty(), "the pristine neighbour survives");
    for s in &read.skipped {
        assert_eq!(s.index, 1);
        check_error(&s.why, touched_needed);
    }
}

/// The raw-body mode: any bytes into every reader.
fn raw(body: &[u8]) {
    fn one<T: serde::de::DeserializeOwned>(body: &[u8]) {
        if let Err(e) = parse_answer::<T>(body) {
            if let Some(f) = e.field() {
                assert!(e.describe("GET /v1/x").contains(&format!("`{f}`")));
            }
        }
        let _ = parse_items::<T>(body);
    }
    one::<Sim>(body);
    one::<PortMapping>(body);
    one::<AuthResponse>(body);
    one::<NapterAuditLogEntry>(body);
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if first == 0xFF {
        return raw(rest);
    }
    let k = &KINDS[usize::from(first) % KINDS.len()];
    let mut item = (k.item)();
    let mut touched_needed = Vec::new();
    for op in rest.chunks_exact(2).take(8) {
        let fields = k.needed.len() + k.shown.len();
        let i = usize::from(op[0]) % fields;
        let (pointer, needed) = match k.needed.get(i) {
            Some(p) => (*p, true),
            None => (k.shown[i - k.needed.len()], false),
        };
        if perturb(&mut item, pointer, shape(op[1])) && needed {
            touched_needed.push(dotted(pointer));
        }
    }
    match usize::from(first) % KINDS.len() {
        0 => run::<Sim>(k, item, &touched_needed),
        1 => run::<PortMapping>(k, item, &touched_needed),
        2 => run::<AuthResponse>(k, item, &touched_needed),
        _ => run::<NapterAuditLogEntry>(k, item, &touched_needed),
    }
});
