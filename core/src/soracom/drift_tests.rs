//! Answers the spec allows but a strict reader refuses (issue 11 #7): `number` fields as
//! floats, int64 fields beyond u16, informational fields of another shape, and needed fields
//! missing — named in the error, skipped per item in lists.

use super::answer::{parse_answer, parse_items, AnswerError};
use super::*;

/// A drifted mapping: every `number` as a float, `placement` an object, unknown fields.
const DRIFTED_MAPPING: &str = r#"{"ipAddress":"203.0.113.9","port":40001.0,"duration":3600.0,
    "destination":{"port":22.0,"simId":"8942310022000012345","driftAddedField":{"rev":2}},
    "placement":{"infrastructureProvider":"aws","region":"ap-northeast-1"},
    "hostname":17,"expiredTime":1700003600000.0,"createdTime":1700000000000,
    "source":{"ipRanges":["198.51.100.7/32"]},"driftAddedField":{"note":"x"}}"#;

#[test]
fn number_fields_accept_integral_floats() {
    let m: PortMapping = from_api_bytes(DRIFTED_MAPPING.as_bytes()).unwrap();
    assert_eq!((m.port, m.destination.port), (40001, 22));
    assert_eq!(m.duration, Some(3600));
    assert_eq!(m.expired_time, Some(1_700_003_600_000));
    assert_eq!(m.target_sim_id(), Some("8942310022000012345"));
}

#[test]
fn informational_fields_of_another_shape_read_as_unknown() {
    let m: PortMapping = from_api_bytes(DRIFTED_MAPPING.as_bytes()).unwrap();
    assert_eq!((m.placement, m.hostname), (None, None));
    let sim = r#"{"simId":"1","speedClass":5,"status":{"a":1},"groupId":["g"],
        "tags":{"name":"kiosk","floor":3,"ok":true,"odd":{"x":1},"none":null},
        "sessionStatus":{"online":true,"imsi":"440101","imei":12,"lastUpdatedAt":"yesterday",
          "placement":{"infrastructureProvider":"aws","region":"ap-northeast-1"}},
        "createdTime":1.5,"profiles":{"p":{"primaryImsi":"440102","otaSupported":"yes"}}}"#;
    let sim: Sim = from_api_bytes(sim.as_bytes()).unwrap();
    assert_eq!(
        (&sim.speed_class, &sim.status, &sim.group_id),
        (&None, &None, &None)
    );
    let tags: Vec<_> = sim.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(tags, ["floor=3", "name=kiosk", "ok=true"]);
    let session = sim.session_status.clone().unwrap();
    assert!(session.online);
    assert_eq!((session.imei, session.last_updated_at), (None, None));
    assert_eq!(sim.created_time, None);
    assert_eq!(sim.all_imsis(), ["440102", "440101"]);
}

#[test]
fn a_session_status_of_another_shape_is_unknown_not_fatal() {
    let sim: Sim = from_api_bytes(br#"{"simId":"1","sessionStatus":"online"}"#).unwrap();
    assert_eq!(sim.session_status, None);
}

#[test]
fn audit_ports_beyond_u16_are_unknown_and_times_may_be_floats() {
    let body = r#"[{"type":"CONNECTED","createdAt":1700000000000.0,"tls":"no",
        "direction":{"sourceIPAddress":"198.51.100.7","sourcePort":1099511633331,
          "destinationIPAddress":"203.0.113.9","destinationPort":40001.0}}]"#;
    let entries: Vec<NapterAuditLogEntry> = from_api_bytes(body.as_bytes()).unwrap();
    let d = entries[0].direction.clone().unwrap();
    assert_eq!((d.source_port, d.destination_port), (None, Some(40001)));
    assert_eq!(entries[0].created_at, 1_700_000_000_000);
    assert_eq!(entries[0].tls, None);
}

#[test]
fn needed_numbers_that_are_not_whole_are_refused_by_name() {
    let bad = DRIFTED_MAPPING.replace("\"port\":22.0", "\"port\":22.5");
    let err = parse_answer::<PortMapping>(bad.as_bytes()).unwrap_err();
    assert_eq!(err.field(), Some("destination.port"));
    assert!(err.to_string().contains("22.5"), "{err}");
    let big = DRIFTED_MAPPING.replace("40001.0", "70000");
    let err = parse_answer::<PortMapping>(big.as_bytes()).unwrap_err();
    assert_eq!(err.field(), Some("port"), "{err}");
    let text = r#"[{"type":"CLOSED","createdAt":"noon"}]"#;
    let err = parse_answer::<Vec<NapterAuditLogEntry>>(text.as_bytes()).unwrap_err();
    assert_eq!(err.field(), Some("[0].createdAt"), "{err}");
}

#[test]
fn missing_needed_fields_are_named() {
    let err = parse_answer::<AuthResponse>(br#"{"apiKey":"k","operatorId":"OP1"}"#).unwrap_err();
    assert_eq!(err, AnswerError::Missing("token".into()));
    assert_eq!(
        err.describe("POST /v1/auth"),
        "Soracom's answer to POST /v1/auth has no `token`"
    );
    for (body, field) in [
        (r#"{"port":1,"destination":{"port":22}}"#, "ipAddress"),
        (r#"{"ipAddress":"a","destination":{"port":22}}"#, "port"),
        (r#"{"ipAddress":"a","port":1}"#, "destination"),
        (
            r#"{"ipAddress":"a","port":1,"destination":{}}"#,
            "destination.port",
        ),
    ] {
        let err = parse_answer::<PortMapping>(body.as_bytes()).unwrap_err();
        assert_eq!(err, AnswerError::Missing(field.into()), "{body}");
    }
    let err = parse_answer::<NapterAuditLogEntry>(br#"{"createdAt":1}"#).unwrap_err();
    assert_eq!(err.field(), Some("type"));
    let err = parse_answer::<Sim>(br#"{"simId":7}"#).unwrap_err();
    assert_eq!(err.field(), Some("simId"));
}

#[test]
fn a_list_skips_only_the_broken_item() {
    let body = br#"[{"simId":"1"},{"tags":{"name":"no id"}},{"simId":"3","speedClass":{}}]"#;
    let read = parse_items::<Sim>(body).unwrap();
    let ids: Vec<_> = read.items.iter().map(|s| s.sim_id.as_str()).collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(read.skipped_count, 1);
    assert_eq!(read.skipped[0].index, 1);
    assert_eq!(read.skipped[0].why, AnswerError::Missing("simId".into()));
    assert_eq!(read.notes.kept.len(), 1, "{:?}", read.notes);
    assert!(read.notes.kept[0].contains("{}"), "{:?}", read.notes);
}

#[test]
fn a_list_that_is_not_a_list_is_malformed() {
    let err = parse_items::<Sim>(br#"{"simId":"1"}"#).unwrap_err();
    assert!(matches!(err, AnswerError::Malformed(_)), "{err:?}");
    assert!(err
        .describe("GET /v1/sims")
        .starts_with("Soracom returned a malformed response to GET /v1/sims: expected a list"));
    assert!(matches!(
        parse_items::<Sim>(b"[{\"simId\":").unwrap_err(),
        AnswerError::Malformed(_)
    ));
}

#[test]
fn notes_are_bounded_per_parse() {
    let items: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"simId":"{i}","speedClass":{i}}}"#))
        .collect();
    let body = format!("[{}]", items.join(","));
    let read = parse_items::<Sim>(body.as_bytes()).unwrap();
    assert_eq!(read.items.len(), 100);
    assert_eq!(read.notes.kept.len() + read.notes.more, 100);
    assert!(read.notes.kept.len() <= 16);
}

#[test]
fn serialising_is_unchanged_by_tolerant_reading() {
    let spec = r#"{"ipAddress":"203.0.113.9","port":40001,"hostname":"h","endpoint":"203.0.113.9:40001","destination":{"port":22,"simId":"1"},"source":{"ipRanges":["198.51.100.7/32"]},"duration":3600,"createdTime":1,"expiredTime":2,"expired":false,"tlsRequired":false,"operatorId":"OP1","placement":"aws"}"#;
    let m: PortMapping = serde_json::from_str(spec).unwrap();
    assert_eq!(serde_json::to_string(&m).unwrap(), spec);
    let sim = r#"{"simId":"1","speedClass":"s1.standard","tags":{"name":"k"},"sessionStatus":{"online":true,"imsi":"4401"}}"#;
    let s: Sim = serde_json::from_str(sim).unwrap();
    assert_eq!(serde_json::to_string(&s).unwrap(), sim);
}
