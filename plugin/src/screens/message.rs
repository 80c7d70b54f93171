//! A blocking message screen: permissions denied or a bad plugin configuration, with what to do.

use super::{help_line, KeyResponse};
use napsh_core::picker::{pad_to_width, PickerIntent};
use zellij_tile::prelude::*;

/// A message with a title and lines of advice.
pub struct MessageScreen {
    /// One line saying what is wrong.
    title: String,
    /// What to do about it.
    lines: Vec<String>,
}

impl MessageScreen {
    /// Shown when the user denied the plugin's permissions.
    pub fn permissions_denied() -> Self {
        MessageScreen {
            title: "napsh needs permission to run commands and open panes.".into(),
            lines: vec![
                "It runs the napsh helper for the device list and opens one SSH pane per device.".into(),
                "To be asked again, remove this plugin's entry from".into(),
                "  ~/.cache/zellij/permissions.kdl".into(),
                "and open the picker again.".into(),
            ],
        }
    }

    /// Shown when the plugin block in config.kdl has a bad value.
    pub fn config_error(error: &str) -> Self {
        MessageScreen {
            title: format!("napsh plugin configuration: {error}"),
            lines: vec![
                "Fix the napsh plugin block in your Zellij config.kdl (see `napsh zellij install --print`),".into(),
                "then reopen the picker.".into(),
            ],
        }
    }

    /// Esc closes.
    pub fn handle_key(&mut self, key: &KeyWithModifier) -> KeyResponse {
        match key.bare_key {
            BareKey::Esc | BareKey::Enter | BareKey::Char('q') => KeyResponse::intent(PickerIntent::Close),
            _ => KeyResponse::none(),
        }
    }

    /// Title and advice.
    pub fn render(&mut self, rows: usize, cols: usize) {
        print_text_with_coordinates(Text::new(pad_to_width(&format!(" {}", self.title), cols)).error_color_all(), 0, 0, Some(cols), Some(1));
        for (i, line) in self.lines.iter().enumerate().take(rows.saturating_sub(3)) {
            print_text_with_coordinates(Text::new(pad_to_width(&format!(" {line}"), cols)), 0, 2 + i, Some(cols), Some(1));
        }
        help_line(&[("Esc", "close")], rows.saturating_sub(1), cols);
    }
}
