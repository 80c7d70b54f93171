//! Progress on stderr for anything that waits more than a moment (fetching the device list,
//! creating mappings, waiting for a device): an indicatif spinner, drawn only when stderr is a
//! terminal and the command prints neither JSON nor `-v` logs, and erased when done.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether this invocation may draw spinners (set once by `main`).
static ALLOWED: AtomicBool = AtomicBool::new(false);

/// Allows spinners for this invocation unless it prints JSON or logs (`-v`); a non-terminal
/// stderr never gets one anyway.
pub fn init(json: bool, verbose: u8) {
    ALLOWED.store(!json && verbose == 0, Ordering::Relaxed);
}

/// A running spinner; erased when finished or dropped. Does nothing when not allowed.
pub struct Spinner {
    /// The bar, when one is drawn.
    bar: Option<ProgressBar>,
}

impl Spinner {
    /// Starts a spinner showing `message` ("creating a mapping to kiosk-12…").
    pub fn start(message: impl Into<String>) -> Self {
        if !ALLOWED.load(Ordering::Relaxed) || !std::io::stderr().is_terminal() {
            return Spinner { bar: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner { bar: Some(bar) }
    }

    /// Erases the spinner (before printing results or handing the terminal to ssh).
    pub fn finish(self) {}
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
