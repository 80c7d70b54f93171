//! What napsh keeps on disk between runs: its XDG directories and private-file I/O (`paths`),
//! the session journal (`journal`) and the last failure per device (`failures`).

pub mod failures;
pub mod journal;
pub mod paths;
