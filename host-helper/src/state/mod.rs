//! What napsh keeps on disk between runs: its XDG directories and private-file I/O (`paths`),
//! the session journal (`journal`), the last failure per device (`failures`) and when
//! `napsh access` granted each device (`grants`).

pub mod failures;
pub mod grants;
pub mod journal;
pub mod paths;
