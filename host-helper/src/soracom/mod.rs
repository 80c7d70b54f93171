//! Talking to Soracom: the API client (`api`) with its bounded paging (`paging`) and safe
//! paths (`path`), the API session and its token cache (`auth`), and soracom-cli profiles
//! (`profile`): which credentials and endpoint napsh uses; SAM users (`users`) for
//! `napsh access`.

pub mod api;
pub mod auth;
pub mod paging;
pub mod path;
pub mod profile;
pub mod users;
