//! The device list screen: title, filter line, rows, status and help.

use super::{help_line, KeyResponse};
use crate::keys::picker_key;
use napsh_core::picker::{pad_to_width, Picker, PickerIntent};
use napsh_core::sanitize::for_terminal;
use zellij_tile::prelude::*;

/// Rows above the list: title and filter line.
const LIST_TOP: usize = 2;
/// Rows below the list: status and help.
const LIST_BOTTOM: usize = 2;

/// Whether the list is fresh, loading, or failed to refresh.
pub enum ListStatus {
    /// Nothing received yet.
    Loading,
    /// A refresh is running.
    Refreshing,
    /// The last refresh succeeded.
    Fresh,
    /// The last refresh failed; the sentence says why.
    Failed(String),
}

/// The device picker screen (its state lives in the core `Picker`).
pub struct ListScreen;

impl ListScreen {
    /// Maps a key to the picker.
    pub fn handle_key(&mut self, key: &KeyWithModifier, picker: &mut Picker) -> KeyResponse {
        match picker_key(key) {
            Some(k) => KeyResponse::intent(picker.handle_key(k)),
            None => KeyResponse::none(),
        }
    }

    /// Click selects, wheel scrolls.
    pub fn handle_mouse(&mut self, mouse: Mouse, picker: &mut Picker) -> KeyResponse {
        let intent = match mouse {
            Mouse::LeftClick(line, _) if line >= LIST_TOP as isize => picker.click_row(line as usize - LIST_TOP),
            Mouse::ScrollUp(n) => picker.scroll_by(-(n as isize)),
            Mouse::ScrollDown(n) => picker.scroll_by(n as isize),
            _ => PickerIntent::Nothing,
        };
        KeyResponse::intent(intent)
    }

    /// Draws the whole screen.
    pub fn render(&mut self, picker: &mut Picker, status: &ListStatus, rows: usize, cols: usize, now_ms: i64) {
        render_title(picker, cols);
        render_filter(picker, cols);
        let height = rows.saturating_sub(LIST_TOP + LIST_BOTTOM);
        let window = picker.window(height, cols, now_ms);
        if window.is_empty() {
            let empty = empty_message(picker, status);
            print_text_with_coordinates(Text::new(pad_to_width(&empty, cols)).dim_all(), 0, LIST_TOP, Some(cols), Some(1));
        }
        for (i, row) in window.iter().enumerate() {
            let mut text = Text::new(&row.text);
            if row.selected {
                text = text.color_range(2, 0..3);
            }
            text = if row.online { text.success_color_range(4..5) } else { text.dim_all() };
            if row.failed {
                text = text.error_color_all();
            }
            if row.highlighted {
                text = text.selected();
            }
            print_text_with_coordinates(text, 0, LIST_TOP + i, Some(cols), Some(1));
        }
        render_status(status, rows.saturating_sub(2), cols);
        help_line(
            &[("↑↓", "move"), ("Space", "select"), ("Ctrl a", "all"), ("Enter", "connect"), ("Ctrl f", "fleet tab"), ("Ctrl e", "service"), ("Ctrl o", "online only"), ("Ctrl r", "refresh"), ("Esc", "close")],
            rows.saturating_sub(1),
            cols,
        );
    }
}

fn render_title(picker: &Picker, cols: usize) {
    let mut title = format!(" napsh — {} devices", picker.total_count());
    if picker.visible_count() != picker.total_count() {
        title.push_str(&format!(", {} shown", picker.visible_count()));
    }
    if picker.selected_count() > 0 {
        title.push_str(&format!(" · {} selected", picker.selected_count()));
    }
    if picker.online_only() {
        title.push_str(" · online only");
    }
    print_text_with_coordinates(Text::new(pad_to_width(&title, cols)).color_range(0, 1..6), 0, 0, Some(cols), Some(1));
}

fn render_filter(picker: &Picker, cols: usize) {
    let line = format!(" Filter: {}_", for_terminal(picker.query()));
    print_text_with_coordinates(Text::new(pad_to_width(&line, cols)).color_range(1, 1..8), 0, 1, Some(cols), Some(1));
}

fn render_status(status: &ListStatus, y: usize, cols: usize) {
    let text = match status {
        ListStatus::Loading => Text::new(pad_to_width(" Loading devices…", cols)).dim_all(),
        ListStatus::Refreshing => Text::new(pad_to_width(" Refreshing…", cols)).dim_all(),
        ListStatus::Fresh => Text::new(pad_to_width("", cols)),
        ListStatus::Failed(why) => {
            Text::new(pad_to_width(&format!(" Refresh failed: {}", for_terminal(why)), cols)).error_color_all()
        }
    };
    print_text_with_coordinates(text, 0, y, Some(cols), Some(1));
}

fn empty_message(picker: &Picker, status: &ListStatus) -> String {
    match status {
        ListStatus::Loading if picker.total_count() == 0 => " Loading devices…".into(),
        ListStatus::Failed(_) if picker.total_count() == 0 => " No devices: the refresh failed (see below).".into(),
        _ if picker.total_count() == 0 => " No SIMs in this account.".into(),
        _ => format!(" No devices match '{}'.", for_terminal(picker.query())),
    }
}
