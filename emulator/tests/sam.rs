//! SAM users over real TCP: users, auth keys and permission documents, enforced on every
//! call of a SAM user's token (scoped per SIM by `pathVariable('sim_id')`, deny wins, the
//! body-form create denied), tokens keeping their permission until revoked.

mod common;

use common::{assert_denied, error_body, start, Client, BASE_FLEET};
use reqwest::Method;
use serde_json::{json, Value};

const USERS: &str = "/v1/operators/OP0012345678/users";
const GRANTED: &str = "8942310022000000001";
const OTHER: &str = "8942310022000000004";

fn permission_for(sim: &str) -> String {
    json!({"statements":[
        {"api":["PortMapping:createPortMapping"],"effect":"deny"},
        {"api":["Sim:listSims","PortMapping:deletePortMapping"],"effect":"allow"},
        {"api":["Sim:getSim","PortMapping:listPortMappingsForSim","PortMapping:createPortMappingForSim"],
         "effect":"allow","condition":format!("pathVariable('sim_id') == '{sim}'")}
    ]})
    .to_string()
}

/// Creates SAM user `name` with `permission` and an auth key; returns the key's login body.
async fn contractor(owner: &Client, name: &str, permission: &str) -> Value {
    let user = format!("{USERS}/{name}");
    assert_eq!(
        owner.post(&user, json!({"description":"c"})).await.status(),
        201
    );
    let set = owner
        .req(Method::PUT, &format!("{user}/permission"))
        .json(&json!({ "permission": permission }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let key: Value = owner
        .post(&format!("{user}/auth_keys"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    json!({"authKeyId": key["authKeyId"], "authKey": key["authKey"]})
}

#[tokio::test]
async fn a_scoped_user_reaches_exactly_its_sim() {
    let emu = start(BASE_FLEET).await;
    let owner = Client::login(&emu).await;
    let login = contractor(&owner, "maint", &permission_for(GRANTED)).await;
    let auth: Value = reqwest::Client::new()
        .post(format!("{}/v1/auth", emu.api_url()))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(auth["userName"], "maint");
    let c = Client::login_with(&emu, login).await;
    assert_eq!(c.get("/v1/sims").await.status(), 200);
    assert_eq!(c.get(&format!("/v1/sims/{GRANTED}")).await.status(), 200);
    let mapping = c.create_for_sim(GRANTED, 600).await;
    let listed = c.get(&format!("/v1/port_mappings/sims/{GRANTED}")).await;
    assert_eq!(listed.status(), 200);
    let del = format!(
        "/v1/port_mappings/{}/{}",
        mapping["ipAddress"].as_str().unwrap(),
        mapping["port"]
    );
    assert_eq!(c.delete(&del).await.status(), 204);

    for (method, path) in [
        (Method::GET, format!("/v1/sims/{OTHER}")),
        (Method::POST, format!("/v1/port_mappings/sims/{OTHER}")),
        (Method::GET, format!("/v1/port_mappings/sims/{OTHER}")),
        (Method::GET, "/v1/port_mappings".to_string()),
        (Method::GET, USERS.to_string()),
    ] {
        let resp = c
            .req(method.clone(), &path)
            .json(&json!({"destination":{"port":22}}))
            .send()
            .await
            .unwrap();
        let msg = error_body(resp, 403, "AUM").await;
        assert!(msg.contains(':'), "{method} {path}: {msg}");
    }
    let body_form = c
        .post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":"440103200000001","port":22}}),
        )
        .await;
    assert_denied(body_form, "PortMapping:createPortMapping").await;
    let sim_denied = c
        .post(
            &format!("/v1/port_mappings/sims/{OTHER}"),
            json!({"destination":{"port":22}}),
        )
        .await;
    assert_denied(sim_denied, "PortMapping:createPortMappingForSim").await;
}

#[tokio::test]
async fn a_percent_encoded_sim_id_is_the_same_sim() {
    let emu = start(BASE_FLEET).await;
    let owner = Client::login(&emu).await;
    let deny_one = json!({"statements":[
        {"api":"*","effect":"allow"},
        {"api":"Sim:getSim","effect":"deny","condition":format!("pathVariable('sim_id') == '{GRANTED}'")}
    ]});
    let c = Client::login_with(&emu, contractor(&owner, "enc", &deny_one.to_string()).await).await;
    let encoded = format!("/v1/sims/%38{}", &GRANTED[1..]);
    error_body(c.get(&encoded).await, 403, "AUM").await;
    assert_eq!(c.get(&format!("/v1/sims/{OTHER}")).await.status(), 200);
}

#[tokio::test]
async fn tokens_keep_their_permission_until_revoked() {
    let emu = start(BASE_FLEET).await;
    let owner = Client::login(&emu).await;
    let login = contractor(&owner, "maint", &permission_for(GRANTED)).await;
    let c = Client::login_with(&emu, login.clone()).await;
    let user = format!("{USERS}/maint");
    assert_eq!(
        owner.delete(&format!("{user}/permission")).await.status(),
        204
    );
    assert_eq!(
        c.get("/v1/sims").await.status(),
        200,
        "the old token keeps its permission"
    );
    let fresh = Client::login_with(&emu, login.clone()).await;
    error_body(fresh.get("/v1/sims").await, 403, "AUM").await;
    assert_eq!(owner.delete(&format!("{user}/tokens")).await.status(), 204);
    error_body(c.get("/v1/sims").await, 401, "AUM").await;

    let keys: Value = owner.get_json(&format!("{user}/auth_keys")).await;
    let id = keys[0]["authKeyId"].as_str().unwrap();
    assert!(
        keys[0].get("authKey").is_none(),
        "a listing never shows a secret"
    );
    assert_eq!(
        owner
            .delete(&format!("{user}/auth_keys/{id}"))
            .await
            .status(),
        204
    );
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/auth", emu.api_url()))
        .json(&login)
        .send()
        .await
        .unwrap();
    error_body(refused, 401, "AUM").await;
}

#[tokio::test]
async fn users_are_created_listed_read_and_deleted() {
    let emu = start(BASE_FLEET).await;
    let owner = Client::login(&emu).await;
    let user = format!("{USERS}/maint");
    error_body(owner.get(&user).await, 404, "AUM").await;
    let login = contractor(&owner, "maint", &permission_for(GRANTED)).await;
    error_body(owner.post(&user, json!({})).await, 400, "AUM").await;
    let detail = owner.get_json(&user).await;
    assert_eq!(detail["userName"], "maint");
    assert_eq!(detail["permission"], permission_for(GRANTED));
    assert_eq!(detail["authKeyList"].as_array().unwrap().len(), 1);
    let perm = owner.get_json(&format!("{user}/permission")).await;
    assert_eq!(perm["permission"], permission_for(GRANTED));
    let listed = owner.get_json(USERS).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let bad = owner
        .req(Method::PUT, &format!("{user}/permission"))
        .json(&json!({"permission": "{\"statements\":[{\"api\":\"Sim:get.*\",\"effect\":\"allow\"}]}"}))
        .send()
        .await
        .unwrap();
    error_body(bad, 400, "AUM").await;
    let c = Client::login_with(&emu, login.clone()).await;
    assert_eq!(owner.delete(&user).await.status(), 204);
    error_body(c.get("/v1/sims").await, 401, "AUM").await;
    error_body(owner.get(&user).await, 404, "AUM").await;
    let wrong_operator = owner.get("/v1/operators/OP9/users").await;
    error_body(wrong_operator, 400, "AUM").await;
}
