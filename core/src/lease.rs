//! The mapping lease's decisions, as pure functions of what the API said (times on the
//! server's clock) and what napsh recorded: which mapping to reuse or whether to create, which
//! records to forget, what a failed create may adopt, whether a create answer is what was
//! asked for, whether a release may delete, and when to renew or retire a mapping.
//!
//! The invariants, written once:
//! - a recorded endpoint is used only when fresh evidence shows it still leads to this SIM and
//!   port; evidence that it is gone or serves another SIM forgets the record (never deletes);
//! - a mapping is reused only when every one of its source ranges lies within ours;
//! - after a failed create, only a mapping created after the request was sent (server clock),
//!   with exactly our source range and held by no other napsh, may be adopted;
//! - a release deletes only what evidence shows still leads to the SIM, and lets a mapping
//!   about to expire expire instead (its endpoint may be handed on at any moment);
//! - renewal margins scale with the lifetime, with at most one create per renewal period.

use crate::soracom::PortMapping;
use crate::source_range;
use ipnet::IpNet;
use std::net::IpAddr;

/// The longest renewal margin: a mapping is replaced this long before it expires.
pub const MAX_RENEW_MARGIN_MS: i64 = 90_000;
/// The shortest renewal margin.
pub const MIN_RENEW_MARGIN_MS: i64 = 1_000;
/// A mapping is reused only with at least this much left (or half its lifetime, if less).
pub const MAX_REUSE_LEFT_MS: i64 = 120_000;
/// A release never deletes a mapping with less than this left: it is left to expire.
pub const RELEASE_MIN_LEFT_MS: i64 = 5_000;

/// What a mapping is wanted for.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// The SIM it must lead to.
    pub sim_id: &'a str,
    /// Every IMSI of that SIM (mappings made in the IMSI form name one of these).
    pub imsis: &'a [String],
    /// The device port.
    pub device_port: u16,
    /// Our source range.
    pub source: IpNet,
    /// The lifetime of a new mapping, ms.
    pub lifetime_ms: i64,
}

/// A mapping napsh recorded (a registry entry of this profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Mapping address.
    pub ip: String,
    /// Mapping port.
    pub port: u16,
    /// The SIM it was created for.
    pub sim_id: String,
    /// The device port it was created for.
    pub device_port: u16,
    /// When it was recorded (local wall clock, ms; orders it against a listing).
    pub recorded_at_ms: i64,
}

/// What the API said about the mappings, and when.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The mappings listed (the SIM's own list, or a complete listing).
    pub mappings: &'a [PortMapping],
    /// The server's time when it answered.
    pub server_now_ms: i64,
    /// When the listing started (local wall clock, ms): a record written after that may be a
    /// concurrent napsh's brand-new mapping, unknown to this listing.
    pub listed_at_ms: i64,
}

/// What to do to get a mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Acquire {
    /// Use this live mapping; `recorded` when napsh created it (then it can be held).
    Reuse {
        /// The mapping, as the evidence shows it.
        mapping: Box<PortMapping>,
        /// Whether napsh recorded it.
        recorded: bool,
    },
    /// Nothing usable: create one.
    Create,
    /// napsh recorded a mapping but nothing fresh says where it leads: list the SIM's
    /// mappings first.
    NeedEvidence,
}

/// The acquire decision and the records the evidence proved stale.
#[derive(Debug, Clone, PartialEq)]
pub struct AcquirePlan {
    /// What to do.
    pub acquire: Acquire,
    /// Records (`ip`, `port`) to forget, never to delete: gone, or serving another device.
    pub forget: Vec<(String, u16)>,
}

/// The renewal margin for a lifetime: min(90 s, lifetime / 4), at least 1 s.
pub fn renew_margin_ms(lifetime_ms: i64) -> i64 {
    (lifetime_ms / 4).clamp(MIN_RENEW_MARGIN_MS, MAX_RENEW_MARGIN_MS)
}

/// The least time a reused mapping must have left: min(2 min, lifetime / 2).
pub fn reuse_min_left_ms(lifetime_ms: i64) -> i64 {
    (lifetime_ms / 2).clamp(MIN_RENEW_MARGIN_MS, MAX_REUSE_LEFT_MS)
}

/// Whether `m` points at the wanted SIM: every SIM id it names is ours and every IMSI it
/// names is one of ours, and it names at least one.
pub fn targets(m: &PortMapping, sim_id: &str, imsis: &[String]) -> bool {
    let sims = [m.sim_id.as_deref(), m.destination.sim_id.as_deref()];
    let subs = [m.imsi.as_deref(), m.destination.imsi.as_deref()];
    let named = sims.iter().chain(subs.iter()).any(Option::is_some);
    named
        && sims.iter().flatten().all(|s| *s == sim_id)
        && subs.iter().flatten().all(|i| imsis.iter().any(|o| o == i))
}

/// Whether `m` leads to the wanted SIM and device port.
pub fn leads_to(m: &PortMapping, want: &Want) -> bool {
    m.destination.port == want.device_port && targets(m, want.sim_id, want.imsis)
}

/// Whether `m` is the mapping `ip:port`.
pub fn is_endpoint(m: &PortMapping, ip: &str, port: u16) -> bool {
    m.port == port && m.ip_address == ip
}

/// Whether `m` can be handed to ssh: a real address and port, plain TCP, not flagged expired,
/// and at least `min_left_ms` before its (known) expiry on the server's clock.
pub fn usable(m: &PortMapping, server_now_ms: i64, min_left_ms: i64) -> bool {
    m.port != 0
        && m.ip_address.parse::<IpAddr>().is_ok()
        && m.tls_required != Some(true)
        && m.expired != Some(true)
        && m.expired_time
            .is_some_and(|t| t.saturating_sub(server_now_ms) > min_left_ms)
}

/// Decides how to get a mapping for `want` from napsh's `records` and the `evidence` (the
/// SIM's own list, or a complete listing younger than a few seconds; `None` when there is
/// none). Records never count without evidence.
pub fn plan_acquire(want: &Want, records: &[Recorded], evidence: Option<&Evidence>) -> AcquirePlan {
    let mine: Vec<&Recorded> = records
        .iter()
        .filter(|r| r.sim_id == want.sim_id && r.device_port == want.device_port)
        .collect();
    let Some(ev) = evidence else {
        let acquire = if mine.is_empty() {
            Acquire::Create
        } else {
            Acquire::NeedEvidence
        };
        return AcquirePlan {
            acquire,
            forget: Vec::new(),
        };
    };
    let forget = stale_records(want, &mine, ev);
    let min_left = reuse_min_left_ms(want.lifetime_ms);
    let is_recorded = |m: &PortMapping| mine.iter().any(|r| is_endpoint(m, &r.ip, r.port));
    let best = ev
        .mappings
        .iter()
        .filter(|m| leads_to(m, want) && usable(m, ev.server_now_ms, min_left))
        .filter(|m| source_ranges(m).is_some_and(|r| source_range::within(r, &want.source)))
        .max_by_key(|m| {
            let exact = source_ranges(m).is_some_and(|r| source_range::exactly(r, &want.source));
            (is_recorded(m), exact, m.expired_time.unwrap_or(i64::MIN))
        });
    let acquire = match best {
        Some(m) => Acquire::Reuse {
            mapping: Box::new(m.clone()),
            recorded: is_recorded(m),
        },
        None => Acquire::Create,
    };
    AcquirePlan { acquire, forget }
}

/// Records the evidence proves stale: not listed as leading to the SIM (when recorded before
/// the listing started), or listed as leading elsewhere (whenever recorded).
fn stale_records(want: &Want, mine: &[&Recorded], ev: &Evidence) -> Vec<(String, u16)> {
    mine.iter()
        .filter(|r| {
            let listed: Vec<&PortMapping> = ev
                .mappings
                .iter()
                .filter(|m| is_endpoint(m, &r.ip, r.port))
                .collect();
            let leads = listed
                .iter()
                .any(|m| leads_to(m, want) && m.expired != Some(true));
            let elsewhere = listed.iter().any(|m| !leads_to(m, want));
            elsewhere || (!leads && r.recorded_at_ms < ev.listed_at_ms)
        })
        .map(|r| (r.ip.clone(), r.port))
        .collect()
}

/// The source ranges of `m`, when it says.
pub fn source_ranges(m: &PortMapping) -> Option<&[String]> {
    m.source.as_ref().map(|s| s.ip_ranges.as_slice())
}

/// After a create whose answer was lost (5xx, timeout, reset), the mapping it may have
/// created anyway: one leading to the SIM and port, created at or after `sent_at_server_ms`
/// (the server's clock when the request left), allowing exactly our source range, live, and
/// not `held` (recorded by another napsh). The earliest such one; `None` when there is none.
pub fn adoptable<'a>(
    want: &Want,
    listed: &'a [PortMapping],
    sent_at_server_ms: i64,
    held: &[(String, u16)],
    server_now_ms: i64,
) -> Option<&'a PortMapping> {
    listed
        .iter()
        .filter(|m| leads_to(m, want) && usable(m, server_now_ms, 0))
        .filter(|m| m.created_time.is_some_and(|t| t >= sent_at_server_ms))
        .filter(|m| source_ranges(m).is_some_and(|r| source_range::exactly(r, &want.source)))
        .filter(|m| !held.iter().any(|(ip, port)| is_endpoint(m, ip, *port)))
        .min_by_key(|m| m.created_time)
}

/// The mappings of the SIM (any port, any range, live or flagged) created at or after
/// `sent_at_server_ms` and recorded by no napsh: what a create whose answer napsh refuses
/// may have made, to be deleted again. Never one without a `createdTime`.
pub fn created_since<'a>(
    sim_id: &str,
    imsis: &[String],
    listed: &'a [PortMapping],
    sent_at_server_ms: i64,
    held: &[(String, u16)],
) -> Vec<&'a PortMapping> {
    listed
        .iter()
        .filter(|m| targets(m, sim_id, imsis))
        .filter(|m| m.created_time.is_some_and(|t| t >= sent_at_server_ms))
        .filter(|m| !held.iter().any(|(ip, port)| is_endpoint(m, ip, *port)))
        .collect()
}

/// How a create answer differs from what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// No usable address or port (port 0, not an IP address).
    NoEndpoint,
    /// It names another SIM or IMSI.
    OtherDevice,
    /// Another device port.
    OtherPort(u16),
    /// Flagged expired, or its expiry has passed (server clock).
    Expired,
    /// It does not allow exactly our source range (or does not say).
    OtherSource(Vec<String>),
    /// TLS is required on the source side (ssh cannot speak it).
    Tls,
}

impl Mismatch {
    /// Says what the answer got wrong, in a few words (values are terminal-safe: numbers
    /// only, ranges are not repeated).
    pub fn describe(&self, want: &Want) -> String {
        match self {
            Mismatch::NoEndpoint => "it has no usable address and port".into(),
            Mismatch::OtherDevice => "it leads to another SIM".into(),
            Mismatch::OtherPort(p) => {
                format!("it leads to device port {p}, not {}", want.device_port)
            }
            Mismatch::Expired => "it has already expired".into(),
            Mismatch::OtherSource(_) => {
                format!("it does not allow exactly the source range {}", want.source)
            }
            Mismatch::Tls => "it requires TLS".into(),
        }
    }
}

/// Checks that a create answer is the mapping asked for. An answer that names no target at
/// all is taken as ours (the per-SIM create names the SIM in its path).
pub fn check_created(
    want: &Want,
    m: &PortMapping,
    server_now_ms: Option<i64>,
) -> Result<(), Mismatch> {
    if m.port == 0 || m.ip_address.parse::<IpAddr>().is_err() {
        return Err(Mismatch::NoEndpoint);
    }
    let names_any = m.sim_id.is_some()
        || m.destination.sim_id.is_some()
        || m.imsi.is_some()
        || m.destination.imsi.is_some();
    if names_any && !targets(m, want.sim_id, want.imsis) {
        return Err(Mismatch::OtherDevice);
    }
    if m.destination.port != want.device_port {
        return Err(Mismatch::OtherPort(m.destination.port));
    }
    let past = matches!((m.expired_time, server_now_ms), (Some(t), Some(now)) if t <= now);
    if m.expired == Some(true) || past || m.expired_time.is_none() {
        return Err(Mismatch::Expired);
    }
    match source_ranges(m) {
        Some(r) if source_range::exactly(r, &want.source) => {}
        other => return Err(Mismatch::OtherSource(other.unwrap_or(&[]).to_vec())),
    }
    if m.tls_required == Some(true) {
        return Err(Mismatch::Tls);
    }
    Ok(())
}

/// What the end of napsh's use of a mapping it created means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The evidence shows it still leads to the SIM: delete it.
    Delete,
    /// It is gone, serves another device, or expires within seconds: forget the record only.
    Forget,
}

/// Decides a release of `ip:port` (created for `want`) from `evidence` (the SIM's own list).
pub fn plan_release(want: &Want, ip: &str, port: u16, evidence: &Evidence) -> Release {
    let still = evidence
        .mappings
        .iter()
        .find(|m| is_endpoint(m, ip, port) && leads_to(m, want) && m.expired != Some(true));
    match still {
        Some(m)
            if m.expired_time
                .is_none_or(|t| t.saturating_sub(evidence.server_now_ms) > RELEASE_MIN_LEFT_MS) =>
        {
            Release::Delete
        }
        _ => Release::Forget,
    }
}

/// Whether a mapping expiring at `expiry_ms` is due for renewal at `server_now_ms`: inside
/// the margin, and not within a renewal period of the last create (`last_create_ms`), so
/// there is at most one create per period whatever the answers say.
pub fn renewal_due(
    expiry_ms: i64,
    lifetime_ms: i64,
    last_create_ms: Option<i64>,
    server_now_ms: i64,
) -> bool {
    let margin = renew_margin_ms(lifetime_ms);
    let period = (lifetime_ms - margin).max(MIN_RENEW_MARGIN_MS);
    server_now_ms >= expiry_ms.saturating_sub(margin)
        && last_create_ms.is_none_or(|t| server_now_ms.saturating_sub(t) >= period)
}

/// What to do with a mapping that renewal replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// Connections still run through it: keep it until they end or it expires.
    Keep,
    /// Its last connection ended before its expiry: release it now.
    Release,
    /// It has expired (Napter deleted it): forget it.
    Expired,
}

/// Decides the fate of a replaced mapping with `open` connections.
pub fn plan_retire(open: usize, expiry_ms: i64, server_now_ms: i64) -> Retire {
    if server_now_ms >= expiry_ms {
        Retire::Expired
    } else if open == 0 {
        Retire::Release
    } else {
        Retire::Keep
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
