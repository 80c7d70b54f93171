//! Fuzz: any text as a SIM id or IMSI (core::ids). Accepted ids are 1 to 32 ASCII letters or
//! digits and survive Display, `FromStr` and JSON unchanged; JSON decoding agrees with
//! `TryFrom`; every refusal is a terminal-safe sentence naming the field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::ids::{Imsi, SimId, ID_MAX_LEN};
use napsh_core::sanitize::is_unsafe;

fuzz_target!(|text: &str| {
    let json = serde_json::to_string(text).unwrap();
    match SimId::try_from(text) {
        Ok(id) => {
            assert!(!text.is_empty() && text.len() <= ID_MAX_LEN, "{text:?}");
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text:?}");
            assert_eq!(id.to_string(), text);
            assert_eq!(text.parse::<SimId>().unwrap(), id);
            assert_eq!(serde_json::to_string(&id).unwrap(), json);
            assert_eq!(serde_json::from_str::<SimId>(&json).unwrap(), id);
            assert_eq!(Imsi::try_from(text).unwrap().as_str(), text);
        }
        Err(e) => {
            let said = e.to_string();
            assert!(said.starts_with("invalid SIM id "), "{said:?}");
            assert!(!said.chars().any(is_unsafe), "{said:?}");
            assert!(serde_json::from_str::<SimId>(&json).is_err());
            assert!(Imsi::try_from(text.to_string()).is_err());
        }
    }
});
