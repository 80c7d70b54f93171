//! The plugin's screens: the device list, a device's manual guide, and messages (denied
//! permissions, bad configuration). Each screen handles its keys and renders itself.

mod guide;
mod list;
mod message;
mod service;

pub use guide::GuideScreen;
pub use list::{ListScreen, ListStatus};
pub use message::MessageScreen;
pub use service::ServiceScreen;

use napsh_core::picker::{Picker, PickerIntent};
use zellij_tile::prelude::*;

/// What is on screen.
pub enum Screen {
    /// The device picker.
    List(ListScreen),
    /// The manual connection guide for one device.
    Guide(GuideScreen),
    /// A message that blocks the picker (permissions denied, bad configuration).
    Message(MessageScreen),
    /// The "host OS or service" prompt for one device.
    Service(ServiceScreen),
}

/// A screen's answer to an input.
pub struct KeyResponse {
    /// Whether to redraw even when `intent` says nothing.
    pub render: bool,
    /// The screen to switch to.
    pub new_screen: Option<Screen>,
    /// What the picker wants done.
    pub intent: PickerIntent,
}

impl KeyResponse {
    /// Nothing to do.
    pub fn none() -> Self {
        KeyResponse { render: false, new_screen: None, intent: PickerIntent::Nothing }
    }

    /// Just redraw.
    pub fn redraw() -> Self {
        KeyResponse { render: true, ..Self::none() }
    }

    /// Carry out a picker intent.
    pub fn intent(intent: PickerIntent) -> Self {
        KeyResponse { intent, ..Self::none() }
    }

    /// Switch screens.
    pub fn switch(screen: Screen) -> Self {
        KeyResponse { render: true, new_screen: Some(screen), intent: PickerIntent::Nothing }
    }
}

impl Screen {
    /// Routes a key to the current screen.
    pub fn handle_key(&mut self, key: &KeyWithModifier, picker: &mut Picker) -> KeyResponse {
        match self {
            Screen::List(list) => list.handle_key(key, picker),
            Screen::Guide(guide) => guide.handle_key(key),
            Screen::Message(message) => message.handle_key(key),
            Screen::Service(service) => service.handle_key(key),
        }
    }

    /// Routes a mouse event to the current screen.
    pub fn handle_mouse(&mut self, mouse: Mouse, picker: &mut Picker) -> KeyResponse {
        match self {
            Screen::List(list) => list.handle_mouse(mouse, picker),
            Screen::Guide(guide) => guide.handle_mouse(mouse),
            Screen::Message(_) | Screen::Service(_) => KeyResponse::none(),
        }
    }
}

/// Renders a help line the way Zellij's own plugins do: `<key> action` pairs, keys emphasised.
pub fn help_line(pairs: &[(&str, &str)], y: usize, cols: usize) {
    let mut text = String::new();
    let mut key_ranges = Vec::new();
    for (key, action) in pairs {
        if !text.is_empty() {
            text.push_str("  ");
        }
        let start = text.chars().count();
        text.push_str(&format!("<{key}>"));
        key_ranges.push(start..text.chars().count());
        text.push(' ');
        text.push_str(action);
    }
    let text = napsh_core::picker::pad_to_width(&text, cols);
    let mut styled = Text::new(&text);
    for range in key_ranges {
        styled = styled.color_range(3, range);
    }
    print_text_with_coordinates(styled, 0, y, Some(cols), Some(1));
}
