//! Tests of `sam`: the condition grammar, api wildcards, deny wins, bounds.

use super::*;
use rstest::rstest;

const SIM: &str = "8942310022000012345";

fn doc(statements: &str) -> Policy {
    Policy::parse(&format!(r#"{{"statements":[{statements}]}}"#)).unwrap()
}

#[rstest]
#[case::plain("pathVariable('sim_id') == '8942'", "sim_id", "8942")]
#[case::no_spaces("pathVariable('sim_id')=='8942'", "sim_id", "8942")]
#[case::outer_spaces(
    "  pathVariable('ip_address') ==  '203.0.113.9' ",
    "ip_address",
    "203.0.113.9"
)]
fn parses_the_path_variable_condition(#[case] text: &str, #[case] name: &str, #[case] value: &str) {
    let c = Condition::parse(text).unwrap();
    assert_eq!((c.name.as_str(), c.value.as_str()), (name, value));
}

#[rstest]
#[case::or("pathVariable('sim_id') == '1' || pathVariable('sim_id') == '2'")]
#[case::double_quotes("pathVariable(\"sim_id\") == \"1\"")]
#[case::not_equal("pathVariable('sim_id') != '1'")]
#[case::other_function("httpMethod('sim_id') == '1'")]
#[case::empty_value("pathVariable('sim_id') == ''")]
#[case::quote_in_value("pathVariable('sim_id') == '1'' || true || ''")]
#[case::upper_name("pathVariable('SIM_ID') == '1'")]
#[case::empty_name("pathVariable('') == '1'")]
#[case::tab("pathVariable('sim_id')\t== '1'")]
#[case::trailing("pathVariable('sim_id') == '1' x")]
#[case::wildcard_value("pathVariable('sim_id') == '*'")]
#[case::long_value(
    "pathVariable('sim_id') == '11111111111111111111111111111111111111111111111111111111111111111'"
)]
#[case::empty("")]
fn refuses_any_other_condition(#[case] text: &str) {
    let e = Condition::parse(text).unwrap_err();
    assert!(
        e.to_string().contains("condition") || e.to_string().contains("path variable"),
        "{e}"
    );
}

#[test]
fn a_condition_prints_as_it_parses() {
    let c = Condition::path_variable("sim_id", SIM).unwrap();
    assert_eq!(c.to_string(), format!("pathVariable('sim_id') == '{SIM}'"));
    assert_eq!(Condition::parse(&c.to_string()).unwrap(), c);
}

#[rstest]
#[case::exact("Sim:getSim", "Sim:getSim", true)]
#[case::other("Sim:getSim", "Sim:listSims", false)]
#[case::all("*", "PortMapping:createPortMapping", true)]
#[case::service("PortMapping:*", "PortMapping:deletePortMapping", true)]
#[case::service_other("PortMapping:*", "Sim:getSim", false)]
#[case::prefix("PortMapping:create*", "PortMapping:createPortMappingForSim", true)]
#[case::prefix_body_form("PortMapping:create*", "PortMapping:createPortMapping", true)]
#[case::prefix_miss("PortMapping:create*", "PortMapping:listPortMappings", false)]
#[case::no_substring("Sim:get", "Sim:getSim", false)]
fn api_patterns_match(#[case] pattern: &str, #[case] op: &str, #[case] expected: bool) {
    check_api(pattern).unwrap();
    assert_eq!(api_matches(pattern, op), expected);
}

#[rstest]
#[case::no_colon("getSim")]
#[case::inner_star("Sim:get*Sim")]
#[case::two_stars("Sim:**")]
#[case::service_star("*:getSim")]
#[case::empty_op("Sim:")]
#[case::empty_service(":getSim")]
#[case::regex("Sim:get.*")]
#[case::space("Sim: getSim")]
fn refuses_other_api_entries(#[case] api: &str) {
    assert!(check_api(api).is_err(), "{api}");
    let text = format!(r#"{{"statements":[{{"api":{api:?},"effect":"allow"}}]}}"#);
    assert!(Policy::parse(&text).is_err(), "{text}");
}

#[rstest]
#[case::allowed_for_its_sim("PortMapping:createPortMappingForSim", &[("sim_id", SIM)], Decision::Allowed)]
#[case::not_for_another_sim("PortMapping:listPortMappingsForSim", &[("sim_id", "1")], Decision::NotAllowed)]
#[case::not_without_the_variable("PortMapping:listPortMappingsForSim", &[], Decision::NotAllowed)]
#[case::deny_wins_over_wildcard("PortMapping:createPortMapping", &[], Decision::Denied)]
#[case::unscoped_allow("Sim:listSims", &[], Decision::Allowed)]
#[case::nothing_else("Sim:updateSimTags", &[("sim_id", SIM)], Decision::NotAllowed)]
fn decides(#[case] op: &str, #[case] vars: &[(&str, &str)], #[case] expected: Decision) {
    let policy = doc(&format!(
        r#"{{"api":["PortMapping:*"],"effect":"allow","condition":"pathVariable('sim_id') == '{SIM}'"}},
           {{"api":"PortMapping:createPortMapping","effect":"deny"}},
           {{"api":["PortMapping:create*"],"effect":"allow"}},
           {{"api":"Sim:listSims","effect":"allow"}}"#
    ));
    assert_eq!(policy.decide(op, vars), expected);
}

#[test]
fn a_conditional_deny_only_denies_where_it_holds() {
    let policy = doc(&format!(
        r#"{{"api":"*","effect":"allow"}},
           {{"api":"Sim:getSim","effect":"deny","condition":"pathVariable('sim_id') == '{SIM}'"}}"#
    ));
    assert_eq!(
        policy.decide("Sim:getSim", &[("sim_id", SIM)]),
        Decision::Denied
    );
    assert_eq!(
        policy.decide("Sim:getSim", &[("sim_id", "7")]),
        Decision::Allowed
    );
}

#[rstest]
#[case::unknown_field(r#"{"statements":[{"api":"*","effect":"allow","resource":"x"}]}"#)]
#[case::unknown_effect(r#"{"statements":[{"api":"*","effect":"maybe"}]}"#)]
#[case::no_effect(r#"{"statements":[{"api":"*"}]}"#)]
#[case::empty_api(r#"{"statements":[{"api":[],"effect":"allow"}]}"#)]
#[case::not_json("statements")]
#[case::top_level_field(r#"{"statements":[],"version":"1"}"#)]
fn refuses_documents_outside_the_subset(#[case] text: &str) {
    assert!(Policy::parse(text).is_err(), "{text}");
}

#[test]
fn bounds_are_enforced() {
    let big = format!(
        r#"{{"statements":[{{"api":"*","effect":"allow","condition":"{}"}}]}}"#,
        "x".repeat(MAX_DOCUMENT_BYTES)
    );
    assert!(Policy::parse(&big)
        .unwrap_err()
        .to_string()
        .contains("longer than"));
    let many = vec![r#"{"api":"*","effect":"allow"}"#; MAX_STATEMENTS + 1].join(",");
    assert!(Policy::parse(&format!(r#"{{"statements":[{many}]}}"#)).is_err());
    let apis = vec!["\"Sim:getSim\""; MAX_APIS + 1].join(",");
    assert!(Policy::parse(&format!(
        r#"{{"statements":[{{"api":[{apis}],"effect":"allow"}}]}}"#
    ))
    .is_err());
}

#[test]
fn an_empty_document_allows_nothing() {
    assert_eq!(doc("").decide("Sim:listSims", &[]), Decision::NotAllowed);
}

#[test]
fn serialising_and_parsing_round_trip() {
    let policy = doc(&format!(
        r#"{{"api":"Sim:getSim","effect":"allow","condition":"pathVariable('sim_id')=='{SIM}'"}}"#
    ));
    let text = policy.to_json(false);
    assert!(text.contains(r#""api":["Sim:getSim"]"#), "{text}");
    assert_eq!(Policy::parse(&text).unwrap(), policy);
    assert_eq!(Policy::parse(&policy.to_json(true)).unwrap(), policy);
}

#[test]
fn errors_are_terminal_safe() {
    for text in [
        r#"{"statements":[{"api":"*","effect":"\u001b[2J"}]}"#,
        r#"{"statements":[{"api":"*","effect":"allow","condition":"\u202e"}]}"#,
        r#"{"statements":[{"api":"\u001b]0;x\u0007","effect":"allow"}]}"#,
    ] {
        let e = Policy::parse(text).unwrap_err().to_string();
        assert!(!e.chars().any(crate::sanitize::is_unsafe), "{e:?}");
    }
}
