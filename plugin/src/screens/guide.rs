//! The manual connection guide for one device: the reason it failed, the console steps, and
//! the exact ssh line when a mapping exists. Retry or go back from here.

use super::{help_line, KeyResponse, ListScreen, Screen};
use napsh_core::guide::{paragraphs, reason_lines};
use napsh_core::messages::GuideReport;
use napsh_core::picker::{pad_to_width, window_start, wrap_to_width, PickerIntent};
use napsh_core::sanitize::for_terminal;
use zellij_tile::prelude::*;

/// The guide screen for one device.
pub struct GuideScreen {
    /// What napsh reported.
    report: GuideReport,
    /// First guide line shown (scrolling).
    scroll: usize,
}

impl GuideScreen {
    /// A guide screen for a report.
    pub fn new(report: GuideReport) -> Self {
        GuideScreen { report, scroll: 0 }
    }

    /// `r` retries the device, Esc returns to the list, arrows scroll.
    pub fn handle_key(&mut self, key: &KeyWithModifier) -> KeyResponse {
        if !key.key_modifiers.is_empty() {
            return KeyResponse::none();
        }
        match key.bare_key {
            BareKey::Char('r') => match &self.report.sim_id {
                Some(sim) => KeyResponse {
                    render: true,
                    new_screen: Some(Screen::List(ListScreen)),
                    intent: PickerIntent::Connect(vec![sim.clone()]),
                },
                None => KeyResponse::none(),
            },
            BareKey::Esc | BareKey::Char('q') | BareKey::Char('b') => KeyResponse::switch(Screen::List(ListScreen)),
            BareKey::Up => self.scroll_by(-1),
            BareKey::Down => self.scroll_by(1),
            _ => KeyResponse::none(),
        }
    }

    /// The wheel scrolls.
    pub fn handle_mouse(&mut self, mouse: Mouse) -> KeyResponse {
        match mouse {
            Mouse::ScrollUp(n) => self.scroll_by(-(n as isize)),
            Mouse::ScrollDown(n) => self.scroll_by(n as isize),
            _ => KeyResponse::none(),
        }
    }

    fn scroll_by(&mut self, delta: isize) -> KeyResponse {
        self.scroll = (self.scroll as isize + delta).max(0) as usize;
        KeyResponse::redraw()
    }

    /// The guide text without its own heading (the screen has one), sanitised and wrapped.
    fn body_lines(&self, width: usize) -> Vec<String> {
        let text = &self.report.text;
        let body: Vec<&str> = if text.starts_with("Manual connection guide") {
            text.lines().skip_while(|l| !l.trim().is_empty()).skip(1).collect()
        } else {
            text.lines().collect()
        };
        paragraphs(body).iter().flat_map(|line| wrap_to_width(&for_terminal(line), width)).collect()
    }

    /// Title, reason, guide lines, help.
    pub fn render(&mut self, rows: usize, cols: usize) {
        let title = format!(" Cannot connect to {}", for_terminal(&self.report.device));
        print_text_with_coordinates(Text::new(pad_to_width(&title, cols)).error_color_all(), 0, 0, Some(cols), Some(1));
        // The reason is the most important sentence: wrapped, never cut (at most half the pane).
        let reason = self.report.reason.as_deref().unwrap_or("napsh could not open a session to this device.");
        let reason = reason_lines(reason, cols);
        let reason_rows = reason.len().clamp(1, (rows / 2).max(1));
        for (i, line) in reason.iter().take(reason_rows).enumerate() {
            print_text_with_coordinates(Text::new(pad_to_width(line, cols)), 0, 1 + i, Some(cols), Some(1));
        }
        let top = 2 + reason_rows;
        let lines = self.body_lines(cols.saturating_sub(2));
        let height = rows.saturating_sub(top + 1);
        self.scroll = window_start(self.scroll, self.scroll, height, lines.len()).min(lines.len().saturating_sub(height));
        for (i, line) in lines.iter().skip(self.scroll).take(height).enumerate() {
            let text = Text::new(pad_to_width(&format!(" {line}"), cols));
            let text = if line.trim_start().starts_with("ssh ") { text.color_all(2) } else { text };
            print_text_with_coordinates(text, 0, top + i, Some(cols), Some(1));
        }
        let mut keys = vec![("Esc", "back to the list"), ("↑↓", "scroll")];
        if self.report.sim_id.is_some() {
            keys.insert(0, ("r", "retry"));
        }
        help_line(&keys, rows.saturating_sub(1), cols);
    }
}
