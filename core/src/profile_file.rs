//! soracom-cli profile files, parsed without I/O: the JSON fields soracom-cli writes, which
//! of the three credential forms a file holds (or which field it lacks), and the API
//! endpoint it selects. Reading files, running `profileCommand` and following
//! `sourceProfile` stay in the CLI. Secrets never appear in `Debug` output.

use crate::soracom::AuthRequest;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// A profile file as soracom-cli writes it (unknown fields ignored).
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileFile {
    /// `jp` or `g`.
    pub coverage_type: Option<String>,
    /// Use the sandbox endpoints.
    #[serde(default)]
    pub sandbox: bool,
    /// AuthKey id.
    pub auth_key_id: Option<String>,
    /// AuthKey secret.
    pub auth_key: Option<String>,
    /// Root e-mail.
    pub email: Option<String>,
    /// Root or SAM password.
    pub password: Option<String>,
    /// Operator id (SAM login).
    pub operator_id: Option<String>,
    /// SAM user name (`username` in the file).
    #[serde(alias = "userName")]
    pub username: Option<String>,
    /// API endpoint without `/v1`.
    pub endpoint: Option<String>,
    /// A command printing the real profile JSON.
    pub profile_command: Option<String>,
    /// Another profile to take credentials from.
    pub source_profile: Option<String>,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The credentials of a profile: one of the three forms `/v1/auth` accepts.
#[derive(Clone, PartialEq)]
pub enum Credentials {
    /// Root or SAM user AuthKey (recommended).
    AuthKey {
        /// AuthKey id (not secret).
        id: String,
        /// AuthKey secret.
        key: String,
    },
    /// Root account e-mail and password.
    Email {
        /// Root e-mail.
        email: String,
        /// Password.
        password: String,
    },
    /// SAM user password login.
    Sam {
        /// Operator id.
        operator_id: String,
        /// SAM user name.
        username: String,
        /// Password.
        password: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({})", self.identity())
    }
}

impl Credentials {
    /// Who these credentials are, without any secret (for cache keys and messages).
    pub fn identity(&self) -> String {
        match self {
            Credentials::AuthKey { id, .. } => format!("authKeyId:{id}"),
            Credentials::Email { email, .. } => format!("email:{email}"),
            Credentials::Sam {
                operator_id,
                username,
                ..
            } => format!("sam:{operator_id}/{username}"),
        }
    }

    /// The body of `POST /v1/auth` (SAM `username` becomes `userName`).
    pub fn auth_request(&self, token_timeout_seconds: u64) -> AuthRequest {
        let mut req = AuthRequest {
            token_timeout_seconds: Some(token_timeout_seconds),
            ..Default::default()
        };
        match self.clone() {
            Credentials::AuthKey { id, key } => {
                req.auth_key_id = Some(id);
                req.auth_key = Some(key);
            }
            Credentials::Email { email, password } => {
                req.email = Some(email);
                req.password = Some(password);
            }
            Credentials::Sam {
                operator_id,
                username,
                password,
            } => {
                req.operator_id = Some(operator_id);
                req.user_name = Some(username);
                req.password = Some(password);
            }
        }
        req
    }
}

/// A credential field a profile lacks, given the ones it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingField {
    /// The fields the profile has (`"authKeyId"`, `"operatorId and username"`…).
    pub have: &'static str,
    /// The field it needs with them.
    pub field: &'static str,
}

impl ProfileFile {
    /// Parses a profile file's JSON.
    pub fn parse(text: &str) -> serde_json::Result<ProfileFile> {
        serde_json::from_str(text)
    }

    /// Fills endpoint-related fields the command output lacks from the file that named it.
    pub fn or_defaults_from(mut self, file: &ProfileFile) -> ProfileFile {
        self.coverage_type = self.coverage_type.or(file.coverage_type.clone());
        self.endpoint = self.endpoint.or(file.endpoint.clone());
        self.sandbox |= file.sandbox;
        if self.headers.is_empty() {
            self.headers = file.headers.clone();
        }
        self.profile_command = None;
        self
    }

    /// The credentials the file holds, `None` when it holds none at all.
    pub fn credentials(&self) -> Result<Option<Credentials>, MissingField> {
        let f = self.clone();
        let missing = |have, field| MissingField { have, field };
        if let Some(id) = f.auth_key_id {
            let key = f.auth_key.ok_or(missing("authKeyId", "authKey"))?;
            return Ok(Some(Credentials::AuthKey { id, key }));
        }
        if f.auth_key.is_some() {
            return Err(missing("authKey", "authKeyId"));
        }
        if let Some(operator_id) = f.operator_id {
            let username = f.username.ok_or(missing("operatorId", "username"))?;
            let password = f
                .password
                .ok_or(missing("operatorId and username", "password"))?;
            return Ok(Some(Credentials::Sam {
                operator_id,
                username,
                password,
            }));
        }
        if f.username.is_some() {
            return Err(missing("username", "operatorId"));
        }
        if let Some(email) = f.email {
            let password = f.password.ok_or(missing("email", "password"))?;
            return Ok(Some(Credentials::Email { email, password }));
        }
        if f.password.is_some() {
            return Err(missing("password", "email"));
        }
        Ok(None)
    }

    /// The endpoint: `env_endpoint` (`SORACOM_ENDPOINT`) > `endpoint` > `coverageType`
    /// (+ `sandbox`). `Err` carries an unknown coverage type.
    pub fn endpoint(&self, env_endpoint: Option<&str>) -> Result<String, String> {
        if let Some(e) = env_endpoint.or(self.endpoint.as_deref()) {
            return Ok(normalise_endpoint(e));
        }
        let coverage = self.coverage_type.as_deref().unwrap_or("jp");
        let url = match (coverage, self.sandbox) {
            ("jp", false) => "https://api.soracom.io",
            ("jp", true) => "https://api-sandbox.soracom.io",
            ("g", false) => "https://g.api.soracom.io",
            ("g", true) => "https://g.api-sandbox.soracom.io",
            (other, _) => return Err(other.to_string()),
        };
        Ok(url.to_string())
    }
}

/// Trims whitespace, trailing slashes and a stray `/v1` suffix (and the slashes before it:
/// found by fuzzing, `http://x//v1/` must not leave `http://x/`).
pub fn normalise_endpoint(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    e.strip_suffix("/v1")
        .unwrap_or(e)
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::auth_key(r#"{"authKeyId":"k","authKey":"s"}"#, Ok(Some("authKeyId:k")))]
    #[case::sam(
        r#"{"operatorId":"OP1","username":"u","password":"p"}"#,
        Ok(Some("sam:OP1/u"))
    )]
    #[case::email(r#"{"email":"a@b","password":"p"}"#, Ok(Some("email:a@b")))]
    #[case::none(r#"{"coverageType":"g"}"#, Ok(None))]
    #[case::key_without_id(r#"{"authKey":"s"}"#, Err(("authKey", "authKeyId")))]
    #[case::sam_without_password(r#"{"operatorId":"OP1","username":"u"}"#, Err(("operatorId and username", "password")))]
    fn credential_forms(#[case] json: &str, #[case] expected: Result<Option<&str>, (&str, &str)>) {
        let got = ProfileFile::parse(json).unwrap().credentials();
        let got = got
            .map(|c| c.map(|c| c.identity()))
            .map_err(|m| (m.have, m.field));
        let expected = expected.map(|c| c.map(str::to_string));
        assert_eq!(got, expected);
    }

    #[rstest]
    #[case(r#"{}"#, None, Ok("https://api.soracom.io"))]
    #[case(
        r#"{"coverageType":"g","sandbox":true}"#,
        None,
        Ok("https://g.api-sandbox.soracom.io")
    )]
    #[case(r#"{"endpoint":"http://x/v1/"}"#, None, Ok("http://x"))]
    #[case(r#"{"endpoint":"http://x//v1/"}"#, None, Ok("http://x"))]
    #[case(r#"{"endpoint":"http://x"}"#, Some(" http://env/ "), Ok("http://env"))]
    #[case(r#"{"coverageType":"mars"}"#, None, Err("mars"))]
    fn endpoints(
        #[case] json: &str,
        #[case] env: Option<&str>,
        #[case] expected: Result<&str, &str>,
    ) {
        let got = ProfileFile::parse(json).unwrap().endpoint(env);
        assert_eq!(got, expected.map(str::to_string).map_err(str::to_string));
    }
}
