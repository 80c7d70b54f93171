//! `napsh devices`: the fleet as a table or JSON, from the cache when fresh.

use crate::app::App;
use crate::cli::DevicesArgs;
use crate::napter::devices::{list, matches_filter};
use crate::output;
use anyhow::Result;

/// Runs `napsh devices`.
pub async fn run(app: &App, args: DevicesArgs) -> Result<i32> {
    let list = list(app, args.refresh, args.cache_only).await?;
    let entries: Vec<_> = list
        .entries
        .into_iter()
        .filter(|e| !args.online || e.device.online)
        .filter(|e| args.filter.as_deref().is_none_or(|f| matches_filter(e, f)))
        .collect();
    if args.picker {
        print!("{}", napsh_core::picker_feed::encode(&entries));
    } else if args.json {
        output::json(&entries);
    } else if entries.is_empty() {
        output::note("no devices match");
    } else {
        for line in output::devices_table(&entries, crate::state::paths::now_ms()) {
            output::line(&line);
        }
    }
    Ok(0)
}
