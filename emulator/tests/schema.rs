//! Schema conformance: every response body the emulator produces for the operations napsh
//! uses is validated against that operation's response schema in the official OpenAPI spec
//! (`shared/soracom/soracom-api.en.yaml`), including that every field we send is declared —
//! and, in drift mode, that the perturbed answers still are valid (undeclared fields allowed,
//! as JSON Schema allows them).

mod common;

use common::{eventually, start, Client};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// Where CI has the spec: `shared/` beside the repository's checkout.
const SHARED_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/soracom/soracom-api.en.yaml"
);

/// The spec's path: `$SORACOM_API_SPEC`, else [`SHARED_SPEC`].
fn spec_path() -> std::path::PathBuf {
    std::env::var_os("SORACOM_API_SPEC")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| SHARED_SPEC.into())
}

/// The spec's text, or a failure that says how to get it and where to point `SORACOM_API_SPEC`
/// (a clone of the repository alone has no spec; this is a failure, not a skip).
fn read_spec(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "the conformance tests need Soracom's OpenAPI spec, and reading {} failed: {e}.\n\
             Get soracom-api.en.yaml from the soracom/soracom-cli repository \
             (generators/assets/soracom-api.en.yaml) and run the tests with \
             SORACOM_API_SPEC=/path/to/soracom-api.en.yaml (or put it at \
             shared/soracom/soracom-api.en.yaml beside your checkout, where CI has it).",
            path.display()
        )
    })
}

/// The parsed OpenAPI document plus a small validator for the schema subset it uses.
struct Spec {
    /// The whole document as JSON.
    doc: Value,
    /// Accept fields the schema does not declare (JSON Schema's default; drift mode adds some).
    allow_undeclared: bool,
}

impl Spec {
    fn load() -> Spec {
        let text = read_spec(&spec_path()).unwrap_or_else(|e| panic!("{e}"));
        let doc: Value = serde_yaml::from_str(&text).expect("spec parses as YAML");
        Spec {
            doc,
            allow_undeclared: false,
        }
    }

    /// Follows `$ref` chains into `#/components/schemas/…`.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external $ref {r}"));
            schema = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        schema
    }

    fn operation(&self, path: &str, method: &str) -> &Value {
        self.doc["paths"]
            .get(path)
            .and_then(|p| p.get(method))
            .unwrap_or_else(|| panic!("spec has no {method} {path}"))
    }

    /// Names of the statuses the spec documents for an operation.
    fn statuses(&self, path: &str, method: &str) -> Vec<String> {
        self.operation(path, method)["responses"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The JSON schema of a response, if the spec gives one.
    fn response_schema(&self, path: &str, method: &str, status: u16) -> Option<&Value> {
        self.operation(path, method)["responses"]
            .get(status.to_string())?
            .pointer("/content/application~1json/schema")
    }

    /// Validates `value` against `schema`, appending `at: problem` lines to `errors`.
    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.validate(s, value, at, errors);
            }
            return;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = schema.get(key).and_then(Value::as_array) {
                let ok = alts.iter().any(|s| {
                    let mut e = Vec::new();
                    self.validate(s, value, at, &mut e);
                    e.is_empty()
                });
                if !ok {
                    errors.push(format!("{at}: matches none of {key}"));
                }
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        let ty = schema
            .get("type")
            .and_then(Value::as_str)
            .or_else(|| schema.get("properties").map(|_| "object"));
        match ty {
            Some("object") => self.validate_object(schema, value, at, errors),
            Some("array") => match value.as_array() {
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.validate(item_schema, item, &format!("{at}[{i}]"), errors);
                        }
                    }
                }
                None => errors.push(format!("{at}: expected array, got {value}")),
            },
            Some("string") if !value.is_string() => {
                errors.push(format!("{at}: expected string, got {value}"))
            }
            Some("boolean") if !value.is_boolean() => {
                errors.push(format!("{at}: expected boolean, got {value}"))
            }
            Some("number") if !value.is_number() => {
                errors.push(format!("{at}: expected number, got {value}"))
            }
            Some("integer") => check_integer(schema, value, at, errors),
            _ => {}
        }
    }

    fn validate_object(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(obj) = value.as_object() else {
            errors.push(format!("{at}: expected object, got {value}"));
            return;
        };
        let props = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, v) in obj {
            let field_at = format!("{at}.{key}");
            if let Some(s) = props.and_then(|p| p.get(key)) {
                self.validate(s, v, &field_at, errors);
            } else if let Some(s) = additional.filter(|a| a.is_object()) {
                self.validate(s, v, &field_at, errors);
            } else if additional == Some(&Value::Bool(true))
                || (props.is_none() && additional.is_none())
                || (self.allow_undeclared && additional != Some(&Value::Bool(false)))
            {
                // free-form object
            } else {
                let known: Vec<&String> = props.map(|p| p.keys().collect()).unwrap_or_default();
                errors.push(format!(
                    "{field_at}: field not declared in the schema (declared: {known:?})"
                ));
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: required field `{r}` missing"));
                }
            }
        }
    }
}

fn check_integer(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(n) = value.as_i64().or_else(|| value.as_u64().map(|u| u as i64)) else {
        errors.push(format!("{at}: expected integer, got {value}"));
        return;
    };
    if schema.get("format").and_then(Value::as_str) == Some("int32") && i32::try_from(n).is_err() {
        errors.push(format!("{at}: {n} does not fit format int32"));
    }
}

/// One observed API exchange.
struct Call {
    /// Spec path template.
    path: &'static str,
    /// Lower-case method.
    method: &'static str,
    /// Answered status.
    status: u16,
    /// Parsed body (None when empty).
    body: Option<Value>,
}

async fn record(
    calls: &mut Vec<Call>,
    path: &'static str,
    method: &'static str,
    resp: reqwest::Response,
) -> Option<Value> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {path} {status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        }))
    };
    calls.push(Call {
        path,
        method,
        status,
        body: body.clone(),
    });
    body
}

const FLEET: &str = r#"
operator_id = "OP0012345678"
page_size = 2

[[credentials]]
auth_key_id = "keyId-demo"
auth_key = "secret-demo"

[[credentials]]
operator_id = "OP0012345678"
user_name = "napsh"
password = "pw"

[[devices]]
name = "pi-1"
sim_id = "8942310099000000001"
imsi = "440109900000001"
online = true
group_id = "grp-a"
tags = { site = "osaka" }
ssh = "spawn"

[[devices]]
name = "pi-2"
sim_id = "8942310099000000002"
imsi = "440109900000002"
online = false

[[devices]]
name = "pi-3"
sim_id = "8942310099000000003"
imsi = "440109900000003"
online = true
"#;

/// A mapping's port, read as a tolerant client would (`40001` or, under drift, `40001.0`).
fn port_of(mapping: &Value) -> u16 {
    mapping["port"].as_f64().expect("a numeric port") as u16
}

/// Drives every operation napsh uses (with drift mode on or off) and returns what the
/// emulator answered.
async fn exercise(drift: bool) -> Vec<Call> {
    let emu = start(FLEET).await;
    emu.set_drift(drift);
    let mut calls = Vec::new();
    let http = reqwest::Client::new();
    let base = emu.api_url();
    let auth = |body: Value| http.post(format!("{base}/v1/auth")).json(&body).send();
    record(
        &mut calls,
        "/auth",
        "post",
        auth(json!({"authKeyId":"keyId-demo","authKey":"secret-demo"}))
            .await
            .unwrap(),
    )
    .await;
    record(
        &mut calls,
        "/auth",
        "post",
        auth(json!({"operatorId":"OP0012345678","userName":"napsh","password":"pw"}))
            .await
            .unwrap(),
    )
    .await;
    record(
        &mut calls,
        "/auth",
        "post",
        auth(json!({"authKeyId":"keyId-demo","authKey":"bad"}))
            .await
            .unwrap(),
    )
    .await;
    let c = Client::login(&emu).await;

    record(&mut calls, "/sims", "get", c.get("/v1/sims").await).await;
    record(
        &mut calls,
        "/sims/{sim_id}",
        "get",
        c.get("/v1/sims/8942310099000000001").await,
    )
    .await;
    record(
        &mut calls,
        "/sims/{sim_id}",
        "get",
        c.get("/v1/sims/nope").await,
    )
    .await;
    record(
        &mut calls,
        "/query/sims",
        "get",
        c.get("/v1/query/sims?name=pi&session_status=ONLINE").await,
    )
    .await;
    record(
        &mut calls,
        "/query/sims",
        "get",
        c.get("/v1/query/sims?name=p").await,
    )
    .await;

    let m = record(&mut calls, "/port_mappings", "post", c.post("/v1/port_mappings",
        json!({"destination":{"imsi":"440109900000001","port":22},"duration":600,"tlsRequired":false,
               "source":{"ipRanges":["127.0.0.1/32"]}})).await).await.expect("mapping");
    let denied = record(
        &mut calls,
        "/port_mappings/sims/{sim_id}",
        "post",
        c.post(
            "/v1/port_mappings/sims/8942310099000000001",
            json!({"destination":{"port":22,"service":"air"},"duration":60,"tlsRequired":false,
               "source":{"ipRanges":["10.0.0.0/8"]}}),
        )
        .await,
    )
    .await
    .expect("mapping");
    record(
        &mut calls,
        "/port_mappings",
        "get",
        c.get("/v1/port_mappings").await,
    )
    .await;
    record(
        &mut calls,
        "/port_mappings/sims/{sim_id}",
        "get",
        c.get("/v1/port_mappings/sims/8942310099000000001").await,
    )
    .await;
    record(
        &mut calls,
        "/port_mappings/sims/{sim_id}",
        "get",
        c.get("/v1/port_mappings/sims/8942310099000000002").await,
    )
    .await;
    record(
        &mut calls,
        "/port_mappings/subscribers/{imsi}",
        "get",
        c.get("/v1/port_mappings/subscribers/440109900000001").await,
    )
    .await;
    record(
        &mut calls,
        "/port_mappings/subscribers/{imsi}",
        "get",
        c.get("/v1/port_mappings/subscribers/440109900000002").await,
    )
    .await;

    // real traffic for CONNECTED / CLOSED / DENIED audit entries
    for mapping in [&m, &denied] {
        let addr = format!(
            "{}:{}",
            mapping["ipAddress"].as_str().unwrap(),
            port_of(mapping)
        );
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut line = String::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::BufReader::new(stream).read_line(&mut line),
        )
        .await;
    }
    assert!(eventually(|| emu.audit_log().iter().any(|e| e.entry_type == "CLOSED")).await);

    let del = format!(
        "/v1/port_mappings/{}/{}",
        m["ipAddress"].as_str().unwrap(),
        port_of(&m)
    );
    record(
        &mut calls,
        "/port_mappings/{ip_address}/{port}",
        "delete",
        c.delete(&del).await,
    )
    .await;
    record(
        &mut calls,
        "/port_mappings/{ip_address}/{port}",
        "delete",
        c.delete(&del).await,
    )
    .await;
    // page through the whole audit log so that every entry kind gets validated
    let mut url =
        "/v1/audit_logs/napter?resource_type=Subscriber&resource_id=440109900000001".to_string();
    let mut kinds = Vec::new();
    loop {
        let resp = c.get(&url).await;
        let next = resp
            .headers()
            .get("x-soracom-next-key")
            .map(|v| v.to_str().unwrap().to_string());
        let page = record(&mut calls, "/audit_logs/napter", "get", resp)
            .await
            .unwrap();
        kinds.extend(
            page.as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["type"].as_str().map(str::to_string)),
        );
        let Some(key) = next else { break };
        url = format!("/v1/audit_logs/napter?resource_type=Subscriber&resource_id=440109900000001&last_evaluated_key={key}");
    }
    for kind in ["CREATED", "CONNECTED", "CLOSED", "DENIED", "DELETED"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    exercise_users(&c, &mut calls).await;
    record(
        &mut calls,
        "/auth/logout",
        "post",
        c.req(reqwest::Method::POST, "/v1/auth/logout")
            .send()
            .await
            .unwrap(),
    )
    .await;
    calls
}

/// The SAM user operations `napsh access` calls, each in its documented answers.
async fn exercise_users(c: &Client, calls: &mut Vec<Call>) {
    const U: &str = "/operators/{operator_id}/users/{user_name}";
    const USER: &str = "/v1/operators/OP0012345678/users/maint";
    let put = |path: &str, body: Value| c.req(reqwest::Method::PUT, path).json(&body).send();
    let perm = json!({"permission":"{\"statements\":[{\"api\":[\"Sim:listSims\"],\"effect\":\"allow\"}]}"});
    record(
        calls,
        U,
        "post",
        c.post(USER, json!({"description":"d"})).await,
    )
    .await;
    record(calls, U, "post", c.post(USER, json!({})).await).await;
    record(
        calls,
        U,
        "put",
        put(USER, json!({"description":"e"})).await.unwrap(),
    )
    .await;
    record(
        calls,
        "/operators/{operator_id}/users/{user_name}/permission",
        "put",
        put(&format!("{USER}/permission"), perm).await.unwrap(),
    )
    .await;
    record(
        calls,
        "/operators/{operator_id}/users/{user_name}/permission",
        "get",
        c.get(&format!("{USER}/permission")).await,
    )
    .await;
    let key = record(
        calls,
        "/operators/{operator_id}/users/{user_name}/auth_keys",
        "post",
        c.post(&format!("{USER}/auth_keys"), json!({})).await,
    )
    .await
    .unwrap();
    record(
        calls,
        "/operators/{operator_id}/users/{user_name}/auth_keys",
        "get",
        c.get(&format!("{USER}/auth_keys")).await,
    )
    .await;
    record(calls, U, "get", c.get(USER).await).await;
    record(
        calls,
        "/operators/{operator_id}/users",
        "get",
        c.get("/v1/operators/OP0012345678/users").await,
    )
    .await;
    let id = key["authKeyId"].as_str().unwrap();
    let key_path = "/operators/{operator_id}/users/{user_name}/auth_keys/{auth_key_id}";
    record(
        calls,
        key_path,
        "delete",
        c.delete(&format!("{USER}/auth_keys/{id}")).await,
    )
    .await;
    record(
        calls,
        "/operators/{operator_id}/users/{user_name}/permission",
        "delete",
        c.delete(&format!("{USER}/permission")).await,
    )
    .await;
    record(
        calls,
        "/operators/{operator_id}/users/{user_name}/tokens",
        "delete",
        c.delete(&format!("{USER}/tokens")).await,
    )
    .await;
    record(calls, U, "delete", c.delete(USER).await).await;
}

/// Every departure from the spec in `calls`, one line each.
fn problems(spec: &Spec, calls: &[Call]) -> Vec<String> {
    let error_schema = json!({"$ref": "#/components/schemas/APICallErrorMessage"});
    let mut problems = Vec::new();
    for call in calls {
        let op = format!(
            "{} {} -> {}",
            call.method.to_uppercase(),
            call.path,
            call.status
        );
        let documented = spec.statuses(call.path, call.method);
        if !documented.contains(&call.status.to_string()) {
            problems.push(format!(
                "{op}: status not documented (spec has {documented:?})"
            ));
        }
        let mut errors = Vec::new();
        match (
            spec.response_schema(call.path, call.method, call.status),
            &call.body,
        ) {
            (Some(schema), Some(body)) => spec.validate(schema, body, "body", &mut errors),
            (Some(_), None) => errors.push("body: missing".into()),
            (None, Some(body)) if call.status >= 400 => {
                spec.validate(&error_schema, body, "error body", &mut errors);
                for k in ["code", "message"] {
                    if !body[k].is_string() {
                        errors.push(format!("error body: `{k}` missing"));
                    }
                }
            }
            (None, Some(body)) => errors.push(format!("body: spec documents none, got {body}")),
            (None, None) => {}
        }
        problems.extend(errors.into_iter().map(|e| format!("{op}: {e}")));
    }
    assert!(calls.len() >= 20, "exercised {} calls", calls.len());
    problems
}

#[tokio::test]
async fn every_response_matches_the_official_spec() {
    let problems = problems(&Spec::load(), &exercise(false).await);
    assert!(
        problems.is_empty(),
        "spec conformance problems:\n{}",
        problems.join("\n")
    );
}

/// The bodies of the `method` calls to `path` that answered `status`.
fn bodies<'a>(calls: &'a [Call], path: &str, method: &str, status: u16) -> Vec<&'a Value> {
    calls
        .iter()
        .filter(|c| c.path == path && c.method == method && c.status == status)
        .filter_map(|c| c.body.as_ref())
        .collect()
}

#[tokio::test]
async fn drift_answers_still_match_the_official_spec() {
    let spec = Spec {
        allow_undeclared: true,
        ..Spec::load()
    };
    let calls = exercise(true).await;
    let problems = problems(&spec, &calls);
    assert!(
        problems.is_empty(),
        "drift answers off the spec:\n{}",
        problems.join("\n")
    );
    // and they did drift
    let extra = napsh_emulator::drift::EXTRA_FIELD;
    let created = bodies(&calls, "/port_mappings", "post", 201)[0];
    assert!(
        created["port"].is_f64() && created["duration"].is_f64(),
        "{created}"
    );
    assert!(created["destination"]["port"].is_f64(), "{created}");
    assert!(created.get("hostname").is_none() && created.get(extra).is_some());
    assert!(created["ipAddress"].is_string() && created["destination"]["imsi"].is_string());
    let sim = bodies(&calls, "/sims/{sim_id}", "get", 200)[0];
    assert!(
        sim.get("speedClass").is_none() && sim.get(extra).is_some(),
        "{sim}"
    );
    assert!(sim["sessionStatus"]["placement"].is_object(), "{sim}");
    assert!(sim["tags"][napsh_emulator::drift::EXTRA_TAG].is_string());
    assert_eq!(sim["simId"], "8942310099000000001");
    let audit = bodies(&calls, "/audit_logs/napter", "get", 200);
    let large = audit
        .iter()
        .flat_map(|page| page.as_array().unwrap())
        .any(|e| {
            e["direction"]["sourcePort"]
                .as_i64()
                .is_some_and(|p| p > i64::from(u16::MAX))
        });
    assert!(large, "no large int64 in the audit log");
    let error = bodies(&calls, "/sims/{sim_id}", "get", 404)[0];
    assert!(
        error.get(extra).is_some() && error["code"].is_string(),
        "{error}"
    );
}

#[test]
fn validator_catches_misspelt_fields_and_wrong_types() {
    let spec = Spec::load();
    let sim = json!({"$ref": "#/components/schemas/Sim"});
    let mut errors = Vec::new();
    spec.validate(
        &sim,
        &json!({"simID": "1", "status": "happy", "createdTime": "yesterday",
        "tags": {"name": 3}, "sessionStatus": {"online": "yes"}}),
        "body",
        &mut errors,
    );
    let all = errors.join("\n");
    for needle in [
        "body.simID: field not declared",
        "body.status",
        "body.createdTime: expected integer",
        "body.tags.name: expected string",
        "body.sessionStatus.online: expected boolean",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    let mut ok = Vec::new();
    spec.validate(
        &sim,
        &json!({"simId": "1", "tags": {"name": "", "x": "y"}}),
        "body",
        &mut ok,
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn a_missing_spec_fails_saying_how_to_get_it() {
    let err = read_spec(std::path::Path::new("/nonexistent/soracom-api.en.yaml")).unwrap_err();
    for needle in [
        "/nonexistent/soracom-api.en.yaml",
        "soracom/soracom-cli",
        "generators/assets/soracom-api.en.yaml",
        "SORACOM_API_SPEC=",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in: {err}");
    }
}

#[test]
fn the_spec_path_follows_soracom_api_spec() {
    // Without the variable, the shared copy CI uses; with it, that file.
    match std::env::var_os("SORACOM_API_SPEC") {
        Some(path) => assert_eq!(spec_path(), std::path::PathBuf::from(path)),
        None => assert_eq!(spec_path(), std::path::PathBuf::from(SHARED_SPEC)),
    }
}
