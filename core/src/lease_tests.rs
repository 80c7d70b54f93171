//! Tables for the lease's decisions.

use super::*;
use crate::soracom::{PortMappingDestination, PortMappingSource};
use rstest::rstest;

const SIM: &str = "8981100000000000001";
const OTHER: &str = "8981100000000000002";
const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn ours() -> IpNet {
    "198.51.100.7/32".parse().unwrap()
}

fn imsis() -> Vec<String> {
    vec!["440100000000001".to_string()]
}

fn want(imsis: &[String]) -> Want<'_> {
    Want {
        sim_id: SIM,
        imsis,
        device_port: 22,
        source: ours(),
        lifetime_ms: HOUR,
    }
}

/// A live mapping of SIM on port 22 at `ip:40000`, allowing our /32, expiring in an hour.
fn mapping(ip: &str) -> PortMapping {
    PortMapping {
        ip_address: ip.into(),
        port: 40000,
        destination: PortMappingDestination {
            port: 22,
            sim_id: Some(SIM.into()),
            ..Default::default()
        },
        sim_id: Some(SIM.into()),
        source: Some(PortMappingSource {
            ip_ranges: vec!["198.51.100.7/32".into()],
        }),
        created_time: Some(NOW - 1000),
        expired_time: Some(NOW + HOUR),
        tls_required: Some(false),
        ..Default::default()
    }
}

fn record(ip: &str, recorded_at_ms: i64) -> Recorded {
    Recorded {
        ip: ip.into(),
        port: 40000,
        sim_id: SIM.into(),
        device_port: 22,
        recorded_at_ms,
    }
}

fn evidence(mappings: &[PortMapping]) -> Evidence<'_> {
    Evidence {
        mappings,
        server_now_ms: NOW,
        listed_at_ms: 500,
    }
}

fn reassigned(m: PortMapping) -> PortMapping {
    PortMapping {
        sim_id: Some(OTHER.into()),
        destination: PortMappingDestination {
            sim_id: Some(OTHER.into()),
            ..m.destination.clone()
        },
        ..m
    }
}

#[test]
fn a_record_without_evidence_is_never_used() {
    let imsis = imsis();
    let plan = plan_acquire(&want(&imsis), &[record("203.0.113.1", 100)], None);
    assert_eq!(plan.acquire, Acquire::NeedEvidence);
    assert!(plan.forget.is_empty());
}

#[test]
fn nothing_recorded_and_no_evidence_creates() {
    let imsis = imsis();
    let plan = plan_acquire(&want(&imsis), &[], None);
    assert_eq!(plan.acquire, Acquire::Create);
}

#[test]
fn a_record_handed_to_another_device_is_forgotten_and_a_new_one_created() {
    let imsis = imsis();
    let listed = [reassigned(mapping("203.0.113.1"))];
    // Recorded *after* the listing started still loses: the listing shows it elsewhere.
    let plan = plan_acquire(
        &want(&imsis),
        &[record("203.0.113.1", 900)],
        Some(&evidence(&listed)),
    );
    assert_eq!(plan.acquire, Acquire::Create);
    assert_eq!(plan.forget, vec![("203.0.113.1".to_string(), 40000)]);
}

#[rstest]
#[case::recorded_before_listing(100, true)]
#[case::recorded_after_listing_started(900, false)]
fn a_vanished_record(#[case] recorded_at: i64, #[case] forgotten: bool) {
    let imsis = imsis();
    let plan = plan_acquire(
        &want(&imsis),
        &[record("203.0.113.1", recorded_at)],
        Some(&evidence(&[])),
    );
    assert_eq!(plan.acquire, Acquire::Create);
    assert_eq!(plan.forget.len(), usize::from(forgotten));
}

#[test]
fn a_confirmed_record_is_reused_before_anyone_elses() {
    let imsis = imsis();
    let foreign = PortMapping {
        expired_time: Some(NOW + 2 * HOUR),
        ..mapping("203.0.113.9")
    };
    let listed = [foreign, mapping("203.0.113.1")];
    let plan = plan_acquire(
        &want(&imsis),
        &[record("203.0.113.1", 100)],
        Some(&evidence(&listed)),
    );
    assert!(matches!(plan.acquire,
        Acquire::Reuse { ref mapping, recorded: true } if mapping.ip_address == "203.0.113.1"));
    assert!(plan.forget.is_empty());
}

#[rstest]
#[case::exact(&["198.51.100.7/32"], true)]
#[case::narrower_bare(&["198.51.100.7"], true)]
#[case::wider(&["198.51.100.0/24"], false)]
#[case::world_open(&["0.0.0.0/0"], false)]
#[case::ours_and_another(&["198.51.100.7/32", "203.0.113.5/32"], false)]
#[case::none(&[], false)]
fn reuse_only_within_our_range(#[case] ranges: &[&str], #[case] reused: bool) {
    let imsis = imsis();
    let m = PortMapping {
        source: Some(PortMappingSource {
            ip_ranges: ranges.iter().map(|s| s.to_string()).collect(),
        }),
        ..mapping("203.0.113.9")
    };
    let listed = [m];
    let plan = plan_acquire(&want(&imsis), &[], Some(&evidence(&listed)));
    assert_eq!(matches!(plan.acquire, Acquire::Reuse { .. }), reused);
}

#[rstest]
#[case::plenty_left(HOUR, true)]
#[case::two_minutes_and_a_bit(120_001, true)]
#[case::under_two_minutes(119_000, false)]
#[case::expired(-1, false)]
fn reuse_needs_time_left_on_the_servers_clock(#[case] left: i64, #[case] reused: bool) {
    let imsis = imsis();
    let listed = [PortMapping {
        expired_time: Some(NOW + left),
        ..mapping("203.0.113.9")
    }];
    let plan = plan_acquire(&want(&imsis), &[], Some(&evidence(&listed)));
    assert_eq!(matches!(plan.acquire, Acquire::Reuse { .. }), reused);
}

#[rstest]
#[case::other_port(PortMapping { destination: PortMappingDestination { port: 80, ..mapping("203.0.113.9").destination }, ..mapping("203.0.113.9") })]
#[case::other_sim(reassigned(mapping("203.0.113.9")))]
#[case::tls(PortMapping { tls_required: Some(true), ..mapping("203.0.113.9") })]
#[case::flagged_expired(PortMapping { expired: Some(true), ..mapping("203.0.113.9") })]
#[case::no_expiry(PortMapping { expired_time: None, ..mapping("203.0.113.9") })]
#[case::port_zero(PortMapping { port: 0, ..mapping("203.0.113.9") })]
#[case::not_an_address(PortMapping { ip_address: "evil; rm".into(), ..mapping("203.0.113.9") })]
#[case::ids_disagree(PortMapping { sim_id: Some(OTHER.into()), ..mapping("203.0.113.9") })]
fn never_reused(#[case] m: PortMapping) {
    let imsis = imsis();
    let listed = [m];
    let plan = plan_acquire(&want(&imsis), &[], Some(&evidence(&listed)));
    assert_eq!(plan.acquire, Acquire::Create);
}

#[test]
fn an_imsi_form_mapping_of_our_sim_is_reusable() {
    let imsis = imsis();
    let listed = [PortMapping {
        sim_id: None,
        imsi: Some("440100000000001".into()),
        destination: PortMappingDestination {
            port: 22,
            imsi: Some("440100000000001".into()),
            ..Default::default()
        },
        ..mapping("203.0.113.9")
    }];
    let plan = plan_acquire(&want(&imsis), &[], Some(&evidence(&listed)));
    assert!(matches!(
        plan.acquire,
        Acquire::Reuse {
            recorded: false,
            ..
        }
    ));
}

#[rstest]
#[case::created_after_send(NOW - 500, &["198.51.100.7/32"], false, true)]
#[case::older_colleague(NOW - 60_000, &["198.51.100.7/32"], false, false)]
#[case::other_range(NOW - 500, &["198.51.100.0/24"], false, false)]
#[case::held_by_another_napsh(NOW - 500, &["198.51.100.7/32"], true, false)]
fn adoption_after_a_failed_create(
    #[case] created: i64,
    #[case] ranges: &[&str],
    #[case] held: bool,
    #[case] adopted: bool,
) {
    let imsis = imsis();
    let listed = [PortMapping {
        created_time: Some(created),
        source: Some(PortMappingSource {
            ip_ranges: ranges.iter().map(|s| s.to_string()).collect(),
        }),
        ..mapping("203.0.113.9")
    }];
    let held: Vec<(String, u16)> = if held {
        vec![("203.0.113.9".into(), 40000)]
    } else {
        vec![]
    };
    let sent_at = NOW - 1000;
    let got = adoptable(&want(&imsis), &listed, sent_at, &held, NOW);
    assert_eq!(got.is_some(), adopted);
}

#[test]
fn adoption_takes_the_earliest_candidate_and_never_one_without_created_time() {
    let imsis = imsis();
    let listed = [
        PortMapping {
            created_time: None,
            ..mapping("203.0.113.1")
        },
        PortMapping {
            created_time: Some(NOW - 200),
            ..mapping("203.0.113.2")
        },
        PortMapping {
            created_time: Some(NOW - 700),
            ..mapping("203.0.113.3")
        },
    ];
    let got = adoptable(&want(&imsis), &listed, NOW - 1000, &[], NOW).unwrap();
    assert_eq!(got.ip_address, "203.0.113.3");
}

#[rstest]
#[case::as_asked(mapping("203.0.113.1"), Ok(()))]
#[case::port_zero(PortMapping { port: 0, ..mapping("203.0.113.1") }, Err(Mismatch::NoEndpoint))]
#[case::other_device_port(PortMapping { destination: PortMappingDestination { port: 2222, ..mapping("203.0.113.1").destination }, ..mapping("203.0.113.1") }, Err(Mismatch::OtherPort(2222)))]
#[case::flagged_expired(PortMapping { expired: Some(true), ..mapping("203.0.113.1") }, Err(Mismatch::Expired))]
#[case::expiry_past(PortMapping { expired_time: Some(NOW - 1), ..mapping("203.0.113.1") }, Err(Mismatch::Expired))]
#[case::other_sim(reassigned(mapping("203.0.113.1")), Err(Mismatch::OtherDevice))]
#[case::wider_source(PortMapping { source: Some(PortMappingSource { ip_ranges: vec!["0.0.0.0/0".into()] }), ..mapping("203.0.113.1") }, Err(Mismatch::OtherSource(vec!["0.0.0.0/0".into()])))]
#[case::no_source(PortMapping { source: None, ..mapping("203.0.113.1") }, Err(Mismatch::OtherSource(vec![])))]
#[case::tls(PortMapping { tls_required: Some(true), ..mapping("203.0.113.1") }, Err(Mismatch::Tls))]
#[case::names_no_target(PortMapping { sim_id: None, destination: PortMappingDestination { port: 22, ..Default::default() }, ..mapping("203.0.113.1") }, Ok(()))]
fn create_answers_are_checked(#[case] m: PortMapping, #[case] expected: Result<(), Mismatch>) {
    let imsis = imsis();
    assert_eq!(check_created(&want(&imsis), &m, Some(NOW)), expected);
}

#[rstest]
#[case::still_ours(vec![mapping("203.0.113.1")], Release::Delete)]
#[case::gone(vec![], Release::Forget)]
#[case::handed_to_another_device(vec![reassigned(mapping("203.0.113.1"))], Release::Forget)]
#[case::about_to_expire(vec![PortMapping { expired_time: Some(NOW + 3_000), ..mapping("203.0.113.1") }], Release::Forget)]
#[case::flagged_expired(vec![PortMapping { expired: Some(true), ..mapping("203.0.113.1") }], Release::Forget)]
#[case::another_endpoint_of_ours(vec![mapping("203.0.113.2")], Release::Forget)]
fn release_deletes_only_with_evidence(#[case] listed: Vec<PortMapping>, #[case] expected: Release) {
    let imsis = imsis();
    let got = plan_release(&want(&imsis), "203.0.113.1", 40000, &evidence(&listed));
    assert_eq!(got, expected);
}

#[rstest]
#[case::one_hour(HOUR, 90_000)]
#[case::two_minutes(120_000, 30_000)]
#[case::one_minute(60_000, 15_000)]
#[case::tiny(2_000, 1_000)]
fn the_margin_scales_with_the_lifetime(#[case] lifetime: i64, #[case] margin: i64) {
    assert_eq!(renew_margin_ms(lifetime), margin);
}

#[rstest]
#[case::early(NOW + HOUR, None, NOW, false)]
#[case::inside_margin(NOW + 60_000, None, NOW, true)]
#[case::inside_margin_but_just_created(NOW + 60_000, Some(NOW - 10_000), NOW, false)]
#[case::a_period_after_the_last_create(NOW + 60_000, Some(NOW - HOUR + 90_000), NOW, true)]
fn renewal_is_due(
    #[case] expiry: i64,
    #[case] last_create: Option<i64>,
    #[case] now: i64,
    #[case] due: bool,
) {
    assert_eq!(renewal_due(expiry, HOUR, last_create, now), due);
}

/// A simulated hour of a tunnel with a 1 h lifetime, on the server's clock, ticking every
/// 20 s: the number of creates the schedule makes (the first one included).
fn creates_in(hours: i64, lifetime: i64, answered_lifetime: i64) -> usize {
    let mut expiry = answered_lifetime;
    let mut last = Some(0);
    let mut creates = 1;
    let mut now = 0;
    while now < hours * HOUR {
        now += 20_000;
        if renewal_due(expiry, lifetime, last, now) {
            creates += 1;
            last = Some(now);
            expiry = now + answered_lifetime;
        }
    }
    creates
}

#[test]
fn one_create_per_renewal_period() {
    assert_eq!(creates_in(1, HOUR, HOUR), 2, "the first, then one renewal");
    assert_eq!(creates_in(10, HOUR, HOUR), 11);
    // A server answering 10-second mappings cannot make napsh create every tick.
    assert!(creates_in(1, HOUR, 10_000) <= 2);
    // A 120 s lifetime renews every 90 s.
    assert_eq!(creates_in(1, 120_000, 120_000), 1 + 3_600_000 / 100_000);
}

#[rstest]
#[case(2, NOW + 1, NOW, Retire::Keep)]
#[case(0, NOW + 1, NOW, Retire::Release)]
#[case(2, NOW, NOW, Retire::Expired)]
fn retiring(#[case] open: usize, #[case] expiry: i64, #[case] now: i64, #[case] r: Retire) {
    assert_eq!(plan_retire(open, expiry, now), r);
}

#[test]
fn what_a_refused_create_made_is_found_whatever_its_range_or_port() {
    let listed = [
        PortMapping {
            created_time: Some(NOW - 60_000),
            ..mapping("203.0.113.1")
        },
        PortMapping {
            created_time: Some(NOW - 200),
            source: Some(PortMappingSource {
                ip_ranges: vec!["0.0.0.0/0".into()],
            }),
            destination: PortMappingDestination {
                port: 2222,
                ..mapping("203.0.113.2").destination
            },
            ..mapping("203.0.113.2")
        },
        PortMapping {
            created_time: Some(NOW - 100),
            ..mapping("203.0.113.3")
        },
        reassigned(PortMapping {
            created_time: Some(NOW - 100),
            ..mapping("203.0.113.4")
        }),
    ];
    let held = vec![("203.0.113.3".to_string(), 40000)];
    let got: Vec<&str> = created_since(SIM, &imsis(), &listed, NOW - 1000, &held)
        .iter()
        .map(|m| m.ip_address.as_str())
        .collect();
    assert_eq!(got, ["203.0.113.2"]);
}
