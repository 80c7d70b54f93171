//! Drift mode: every `/v1` answer stays valid per the spec but is perturbed the way a real API
//! drifts (docs/DESIGN.md "Drift mode" lists exactly what): unknown fields in every object,
//! `number`-typed fields as floats, optional informational fields missing or of another
//! shape, large int64 values. Fields a client needs to work (SIM id, IMSI, mapping
//! `ipAddress`/`port`/`destination`, times, auth keys) keep their meaning.

use crate::api::operation_for;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Name of the unknown field added to every object.
pub const EXTRA_FIELD: &str = "driftAddedField";
/// Name of the extra tag added to every SIM's tags.
pub const EXTRA_TAG: &str = "drift:added-tag";
/// Added to audit `direction.sourcePort` (an int64 in the spec): far outside u16.
pub const LARGE_INT64: i64 = 1 << 40;

/// Middleware: when drift mode is on, rewrites the JSON body of every answer.
pub async fn perturb(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let op = operation_for(req.method().as_str(), req.uri().path()).unwrap_or("Unknown");
    let resp = next.run(req).await;
    if !state.drift() {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    perturb_body(op, parts.status.is_success(), &mut value);
    let out = serde_json::to_vec(&value).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// Perturbs the body of operation `op` (an error body when `!success`).
pub fn perturb_body(op: &str, success: bool, body: &mut Value) {
    let each = |body: &mut Value, f: fn(&mut Map<String, Value>)| match body {
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(f),
        Value::Object(o) => f(o),
        _ => {}
    };
    if !success {
        return each(body, add_extra);
    }
    match op {
        "Auth:auth" => each(body, add_extra),
        "AuditLog:getNapterAuditLogs" => each(body, audit_entry),
        op if op.starts_with("Sim:") => each(body, sim),
        op if op.starts_with("PortMapping:") => each(body, mapping),
        _ => {}
    }
}

/// Adds the unknown field [`EXTRA_FIELD`] (an object of unknown fields).
fn add_extra(o: &mut Map<String, Value>) {
    o.insert(
        EXTRA_FIELD.to_string(),
        json!({"note": "unknown field added by drift mode", "rev": 2}),
    );
}

/// `o[key]`, when it is an object.
fn child<'a>(o: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    o.get_mut(key).and_then(Value::as_object_mut)
}

/// Re-sends an integral number as a float (`3600` → `3600.0`).
fn as_float(o: &mut Map<String, Value>, key: &str) {
    if let Some(n) = o.get(key).and_then(Value::as_f64) {
        o.insert(key.to_string(), json!(n));
    }
}

/// A PortMapping: floats for `duration`, `port`, `destination.port` (typed `number`);
/// `hostname` and `placement` omitted; unknown fields in it, its destination and source.
fn mapping(o: &mut Map<String, Value>) {
    add_extra(o);
    as_float(o, "duration");
    as_float(o, "port");
    o.remove("hostname");
    o.remove("placement");
    if let Some(d) = child(o, "destination") {
        add_extra(d);
        as_float(d, "port");
    }
    if let Some(s) = child(o, "source") {
        add_extra(s);
    }
}

/// A Sim: `speedClass` omitted, an extra tag, `sessionStatus.placement` as an object, unknown
/// fields in it, its session status, profiles and subscribers.
fn sim(o: &mut Map<String, Value>) {
    add_extra(o);
    o.remove("speedClass");
    if let Some(tags) = child(o, "tags") {
        tags.insert(EXTRA_TAG.to_string(), json!("added by drift mode"));
    }
    if let Some(s) = child(o, "sessionStatus") {
        add_extra(s);
        s.insert(
            "placement".to_string(),
            json!({"infrastructureProvider": "aws", "region": "ap-northeast-1"}),
        );
    }
    for profile in child(o, "profiles")
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        let Some(profile) = profile.as_object_mut() else {
            continue;
        };
        add_extra(profile);
        for sub in child(profile, "subscribers")
            .into_iter()
            .flat_map(|s| s.values_mut())
        {
            if let Some(sub) = sub.as_object_mut() {
                add_extra(sub);
            }
        }
    }
}

/// A Napter audit entry: `tls` omitted, `direction.sourcePort` + [`LARGE_INT64`], unknown
/// fields in it and its direction.
fn audit_entry(o: &mut Map<String, Value>) {
    add_extra(o);
    o.remove("tls");
    if let Some(d) = child(o, "direction") {
        add_extra(d);
        if let Some(p) = d.get("sourcePort").and_then(Value::as_i64) {
            d.insert("sourcePort".to_string(), json!(p + LARGE_INT64));
        }
    }
}
