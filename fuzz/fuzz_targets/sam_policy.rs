//! Fuzz: any text as a SAM permission document and as a condition (core::sam). Never a
//! panic; an accepted document prints back to one that parses to itself and decides the
//! same; an accepted condition prints back to itself; every refusal is terminal-safe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::sam::{Condition, Policy};
use napsh_core::sanitize::is_unsafe;

fuzz_target!(|text: &str| {
    match Policy::parse(text) {
        Ok(policy) => {
            let again = Policy::parse(&policy.to_json(false)).expect("printed documents parse");
            assert_eq!(again, policy);
            let vars = [("sim_id", "8942310000000000001")];
            for op in ["Sim:getSim", "PortMapping:createPortMapping", "X:y"] {
                assert_eq!(again.decide(op, &vars), policy.decide(op, &vars));
            }
        }
        Err(e) => assert!(!e.to_string().chars().any(is_unsafe), "{e}"),
    }
    match Condition::parse(text) {
        Ok(c) => assert_eq!(Condition::parse(&c.to_string()).unwrap(), c),
        Err(e) => assert!(!e.to_string().chars().any(is_unsafe), "{e}"),
    }
});
