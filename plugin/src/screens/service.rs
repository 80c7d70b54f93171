//! The "host OS or service" prompt for the highlighted device: type a service (container)
//! name, Enter opens the device's pane inside it. State lives in core's `ServicePrompt`.

use super::{help_line, KeyResponse, ListScreen, Screen};
use crate::keys::picker_key;
use napsh_core::picker::PickerIntent;
use napsh_core::service_prompt::{PromptIntent, ServicePrompt};
use zellij_tile::prelude::*;

/// The prompt screen.
pub struct ServiceScreen {
    /// The prompt's state.
    prompt: ServicePrompt,
}

impl ServiceScreen {
    /// A prompt for the device `sim_id` shown as `label`, offering `suggestions`.
    pub fn new(sim_id: &str, label: &str, suggestions: &[String]) -> Self {
        ServiceScreen { prompt: ServicePrompt::new(sim_id, label, suggestions) }
    }

    /// Typing edits the name; Enter connects; Esc returns to the list.
    pub fn handle_key(&mut self, key: &KeyWithModifier) -> KeyResponse {
        let Some(key) = picker_key(key) else { return KeyResponse::none() };
        match self.prompt.handle_key(key) {
            PromptIntent::Nothing => KeyResponse::none(),
            PromptIntent::Redraw => KeyResponse::redraw(),
            PromptIntent::Cancel => KeyResponse::switch(Screen::List(ListScreen)),
            PromptIntent::Open { sim_id, service } => KeyResponse {
                render: true,
                new_screen: Some(Screen::List(ListScreen)),
                intent: match service {
                    Some(service) => PickerIntent::ConnectService { sim_id, service },
                    None => PickerIntent::Connect(vec![sim_id]),
                },
            },
        }
    }

    /// The prompt lines and the help line.
    pub fn render(&mut self, rows: usize, cols: usize) {
        for (i, line) in self.prompt.lines(cols).into_iter().enumerate() {
            let text = match i {
                0 => Text::new(&line).color_range(0, 1..5),
                2 => Text::new(&line).error_color_all(),
                3 | 4 => Text::new(&line).dim_all(),
                _ => Text::new(&line),
            };
            print_text_with_coordinates(text, 0, i, Some(cols), Some(1));
        }
        help_line(&[("Enter", "open"), ("Tab", "next service"), ("Esc", "back")], rows.saturating_sub(1), cols);
    }
}
