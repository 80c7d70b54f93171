//! Fuzz: any text as a soracom-cli profile. Parsing, the credential form and the endpoint
//! never panic; `Debug` of credentials shows who, never the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::profile_file::ProfileFile;

fuzz_target!(|text: &str| {
    let Ok(file) = ProfileFile::parse(text) else {
        return;
    };
    if let Ok(Some(credentials)) = file.credentials() {
        assert_eq!(
            format!("{credentials:?}"),
            format!("Credentials({})", credentials.identity())
        );
        let _ = credentials.auth_request(3600);
    }
    if let Ok(endpoint) = file.endpoint(None) {
        assert!(!endpoint.ends_with('/'), "{endpoint:?}");
    }
    let _ = file.clone().or_defaults_from(&file);
});
