//! Validated Soracom identifiers: [`SimId`] and [`Imsi`] can only hold 1 to
//! [`ID_MAX_LEN`] ASCII letters or digits, so an id read from the API can go into a
//! known_hosts line, an ssh option, a URL path or a command line as it is. Soracom's ids are
//! digits (19-digit SIM ids, 15-digit IMSIs); letters are allowed so that another id scheme
//! still works, anything else is refused with an error naming the field.

use crate::sanitize::for_terminal_truncated;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest id accepted (characters).
pub const ID_MAX_LEN: usize = 32;

/// Why a text is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError {
    /// What was being read (`SIM id`, `IMSI`).
    pub what: &'static str,
    /// The text, terminal-safe and cut short.
    pub shown: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.what, self.shown, self.reason)
    }
}

impl std::error::Error for IdError {}

/// Checks `text` as an id of kind `what`.
fn validate(what: &'static str, text: &str) -> Result<(), IdError> {
    let reason = if text.is_empty() {
        "it is empty".to_string()
    } else if text.len() > ID_MAX_LEN {
        format!("it is longer than {ID_MAX_LEN} characters")
    } else if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        "only ASCII letters and digits are allowed".to_string()
    } else {
        return Ok(());
    };
    Err(IdError {
        what,
        shown: for_terminal_truncated(text, 40),
        reason,
    })
}

/// Defines a validated id type: a `String` newtype whose only constructors validate.
macro_rules! validated_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// What this id is called in messages.
            pub const WHAT: &'static str = $what;

            /// The id as text (ASCII letters and digits only).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(text: &str) -> Result<Self, IdError> {
                validate($what, text)?;
                Ok($name(text.to_string()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                validate($what, &text)?;
                Ok($name(text))
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::try_from(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_id!(
    /// A SIM id (`simId`): the device's stable identity, its host-key alias and what napsh
    /// passes to `napsh proxy`.
    SimId,
    "SIM id"
);

validated_id!(
    /// An IMSI (`imsi`, `primaryImsi`): the subscriber a Napter mapping or audit query names.
    Imsi,
    "IMSI"
);

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::soracom_sim_id("8942310000000000001")]
    #[case::iccid_20("89811000012345678901")]
    #[case::imsi("440100000000001")]
    #[case::letters("AbC123")]
    #[case::one("7")]
    #[case::longest("12345678901234567890123456789012")]
    fn accepts_alphanumeric_ids(#[case] text: &str) {
        let sim = SimId::try_from(text).unwrap();
        assert_eq!(sim.as_str(), text);
        assert_eq!(sim.to_string(), text);
        assert_eq!(text.parse::<Imsi>().unwrap().as_ref(), text);
        let json = serde_json::to_string(&sim).unwrap();
        assert_eq!(json, format!("{text:?}"));
        assert_eq!(serde_json::from_str::<SimId>(&json).unwrap(), sim);
    }

    // Issue 11 #4: `*` became a known_hosts line matching every device; an IP address or a
    // `.local` name would become a LAN target; spaces and `%` would change ssh options.
    #[rstest]
    #[case::glob("*", "letters and digits")]
    #[case::empty("", "empty")]
    #[case::too_long("123456789012345678901234567890123", "longer than 32")]
    #[case::ip_address("192.168.1.20", "letters and digits")]
    #[case::mdns("kiosk.local", "letters and digits")]
    #[case::option("-oProxyCommand=x", "letters and digits")]
    #[case::space("8942 1", "letters and digits")]
    #[case::percent("8942%p", "letters and digits")]
    #[case::path("../../x", "letters and digits")]
    #[case::newline("8942\n@cert-authority *", "letters and digits")]
    #[case::escape("8942\u{1b}[2J", "letters and digits")]
    #[case::fullwidth_digits("８９４２", "letters and digits")]
    fn refuses_anything_else(#[case] text: &str, #[case] why: &str) {
        let err = SimId::try_from(text).unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
        assert!(err.to_string().starts_with("invalid SIM id"), "{err}");
        assert!(!err.to_string().chars().any(crate::sanitize::is_unsafe));
        assert!(Imsi::try_from(text.to_string()).is_err());
        let json = serde_json::to_string(text).unwrap();
        let from_json = serde_json::from_str::<Imsi>(&json).unwrap_err();
        assert!(
            from_json.to_string().contains("invalid IMSI"),
            "{from_json}"
        );
    }

    #[test]
    fn a_wrong_json_type_is_refused() {
        assert!(serde_json::from_str::<SimId>("8942").is_err());
        assert!(serde_json::from_str::<SimId>("null").is_err());
    }
}
