//! `napsh history`: the local session journal as a table (newest last) or JSON.

use crate::app::App;
use crate::cli::HistoryArgs;
use crate::output;
use anyhow::Result;
use napsh_core::journal::{history_rows, select, HISTORY_HEADER};

/// Runs `napsh history`.
pub fn run(app: &App, args: HistoryArgs) -> Result<i32> {
    let entries = crate::state::journal::read(&app.dirs.state)?;
    let picked = select(&entries, args.device.as_deref(), args.limit);
    if args.json {
        output::json(&picked);
        return Ok(0);
    }
    if picked.is_empty() {
        output::note(
            "napsh: no sessions recorded yet (napsh ssh, exec, keys, proxy and tunnel record them)",
        );
        return Ok(0);
    }
    for line in output::table(&HISTORY_HEADER, &history_rows(&picked)) {
        output::line(&line);
    }
    Ok(0)
}
