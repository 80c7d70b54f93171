//! The picker's "host OS or service" prompt: on the highlighted device, a key asks for a
//! service (container) name; Enter opens the device's pane inside that service
//! (`napsh ssh DEVICE SERVICE`), an empty name opens the host OS as usual, Esc goes back.
//! Pure state; the plugin feeds keys and draws [`ServicePrompt::lines`].

use crate::picker::{pad_to_width, PickerKey};
use crate::sanitize::for_terminal;
use crate::service::validate_name;

/// What the plugin should do after a key in the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptIntent {
    /// Nothing changed.
    Nothing,
    /// Redraw the prompt.
    Redraw,
    /// Back to the list.
    Cancel,
    /// Connect the device; `service: None` = the host OS.
    Open {
        /// The device's SIM id.
        sim_id: String,
        /// The service to open, validated.
        service: Option<String>,
    },
}

/// The prompt for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrompt {
    /// The device's SIM id.
    sim_id: String,
    /// The device's name as shown (untrusted: sanitised when drawn).
    label: String,
    /// The service name typed so far.
    input: String,
    /// Why the last Enter was refused.
    error: Option<String>,
    /// Service names to offer (the plugin's `services` setting); Tab/Space picks the next.
    suggestions: Vec<String>,
}

impl ServicePrompt {
    /// A prompt for the device `sim_id` shown as `label`, offering `suggestions`.
    pub fn new(sim_id: &str, label: &str, suggestions: &[String]) -> Self {
        ServicePrompt {
            sim_id: sim_id.to_string(),
            label: label.to_string(),
            input: String::new(),
            error: None,
            suggestions: suggestions.to_vec(),
        }
    }

    /// Handles one key.
    pub fn handle_key(&mut self, key: PickerKey) -> PromptIntent {
        match key {
            PickerKey::Char(c) if !c.is_control() && !c.is_whitespace() => {
                self.input.push(c);
                self.error = None;
                PromptIntent::Redraw
            }
            PickerKey::Backspace => {
                self.input.pop();
                self.error = None;
                PromptIntent::Redraw
            }
            PickerKey::ToggleSelect => self.next_suggestion(),
            PickerKey::Enter => self.submit(),
            PickerKey::Escape => PromptIntent::Cancel,
            _ => PromptIntent::Nothing,
        }
    }

    /// Completes the input to the first suggestion it starts; on a complete suggestion, moves
    /// to the next one (wrapping).
    fn next_suggestion(&mut self) -> PromptIntent {
        let next = match self.suggestions.iter().position(|s| *s == self.input) {
            Some(i) => self.suggestions.get((i + 1) % self.suggestions.len()),
            None => self.suggestions.iter().find(|s| s.starts_with(&self.input)),
        };
        match next {
            Some(name) => {
                self.input = name.clone();
                self.error = None;
                PromptIntent::Redraw
            }
            None => PromptIntent::Nothing,
        }
    }

    fn submit(&mut self) -> PromptIntent {
        if self.input.is_empty() {
            return PromptIntent::Open {
                sim_id: self.sim_id.clone(),
                service: None,
            };
        }
        match validate_name(&self.input) {
            Ok(()) => PromptIntent::Open {
                sim_id: self.sim_id.clone(),
                service: Some(self.input.clone()),
            },
            Err(why) => {
                self.error = Some(why);
                PromptIntent::Redraw
            }
        }
    }

    /// The typed name.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The prompt's lines, each exactly `width` cells: title, input, error (or blank), hint,
    /// suggestions (or blank).
    pub fn lines(&self, width: usize) -> Vec<String> {
        let suggestions: Vec<String> = self.suggestions.iter().map(|s| for_terminal(s)).collect();
        let texts = [
            format!(
                " Open {} in a service (container)",
                for_terminal(&self.label)
            ),
            format!(" Service: {}_", for_terminal(&self.input)),
            self.error
                .as_ref()
                .map(|e| format!(" {}", for_terminal(e)))
                .unwrap_or_default(),
            " Enter: open the service (empty: the host OS)  Esc: back".to_string(),
            if suggestions.is_empty() {
                String::new()
            } else {
                format!(" Tab: {}", suggestions.join(", "))
            },
        ];
        texts.iter().map(|t| pad_to_width(t, width)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use unicode_width::UnicodeWidthStr;

    fn typed(text: &str) -> ServicePrompt {
        let mut p = ServicePrompt::new("8981", "kiosk-12", &[]);
        for c in text.chars() {
            p.handle_key(PickerKey::Char(c));
        }
        p
    }

    #[rstest]
    #[case::service("web", Some("web"))]
    #[case::empty_is_host("", None)]
    #[case::spaces_are_not_typed("w e b", Some("web"))]
    fn enter_opens(#[case] text: &str, #[case] service: Option<&str>) {
        assert_eq!(
            typed(text).handle_key(PickerKey::Enter),
            PromptIntent::Open {
                sim_id: "8981".into(),
                service: service.map(str::to_string)
            }
        );
    }

    #[test]
    fn an_invalid_name_is_explained_and_kept() {
        let mut p = typed("-it");
        assert_eq!(p.handle_key(PickerKey::Enter), PromptIntent::Redraw);
        assert!(p.lines(80)[2].contains("starts with '-'"));
        p.handle_key(PickerKey::Backspace);
        assert_eq!(p.input(), "-i");
        assert!(p.lines(80)[2].trim().is_empty(), "editing clears the error");
    }

    #[rstest]
    #[case::first_match("w", &["web"])]
    #[case::cycles_from_a_full_name("", &["db", "web", "worker", "db"])]
    #[case::prefix_then_cycle("wo", &["worker", "db"])]
    fn tab_picks_suggestions(#[case] start: &str, #[case] expected: &[&str]) {
        let names = ["db", "web", "worker"].map(str::to_string);
        let mut p = ServicePrompt::new("8981", "kiosk-12", &names);
        for c in start.chars() {
            p.handle_key(PickerKey::Char(c));
        }
        for want in expected {
            assert_eq!(p.handle_key(PickerKey::ToggleSelect), PromptIntent::Redraw);
            assert_eq!(p.input(), *want);
        }
        assert!(p.lines(80)[4].contains("Tab: db, web, worker"));
    }

    #[test]
    fn tab_without_a_match_does_nothing() {
        let mut p = typed("x");
        assert_eq!(p.handle_key(PickerKey::ToggleSelect), PromptIntent::Nothing);
        assert!(p.lines(80)[4].trim().is_empty());
    }

    #[test]
    fn escape_cancels_and_other_keys_do_nothing() {
        let mut p = typed("db");
        assert_eq!(p.handle_key(PickerKey::Down), PromptIntent::Nothing);
        assert_eq!(p.handle_key(PickerKey::Escape), PromptIntent::Cancel);
    }

    #[test]
    fn lines_are_sanitised_and_exactly_the_width() {
        let p = ServicePrompt::new("8981", "evil\x1b[2J", &["db\x1b[1m".to_string()]);
        for line in p.lines(40) {
            assert_eq!(UnicodeWidthStr::width(line.as_str()), 40, "{line:?}");
            assert!(!line.contains('\x1b'));
        }
    }
}
