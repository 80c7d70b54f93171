//! Translating Zellij key events into the picker's keys (the key table lives here only).

use napsh_core::picker::PickerKey;
use zellij_tile::prelude::{BareKey, KeyModifier, KeyWithModifier};

/// The picker key for a Zellij key, if it means anything in the list.
pub fn picker_key(key: &KeyWithModifier) -> Option<PickerKey> {
    if key.has_modifiers(&[KeyModifier::Ctrl]) {
        return match key.bare_key {
            BareKey::Char('a') => Some(PickerKey::SelectAllVisible),
            BareKey::Char('o') => Some(PickerKey::ToggleOnlineOnly),
            BareKey::Char('r') => Some(PickerKey::Refresh),
            BareKey::Char('e') => Some(PickerKey::AskService),
            BareKey::Char('f') => Some(PickerKey::OpenFleet),
            BareKey::Char('n') => Some(PickerKey::Down),
            BareKey::Char('p') => Some(PickerKey::Up),
            _ => None,
        };
    }
    if !key.key_modifiers.is_empty() && !key.has_only_modifiers(&[KeyModifier::Shift]) {
        return None;
    }
    Some(match key.bare_key {
        BareKey::Char(' ') | BareKey::Tab => PickerKey::ToggleSelect,
        BareKey::Char(c) => PickerKey::Char(c),
        BareKey::Backspace => PickerKey::Backspace,
        BareKey::Up => PickerKey::Up,
        BareKey::Down => PickerKey::Down,
        BareKey::PageUp => PickerKey::PageUp,
        BareKey::PageDown => PickerKey::PageDown,
        BareKey::Home => PickerKey::Home,
        BareKey::End => PickerKey::End,
        BareKey::Enter => PickerKey::Enter,
        BareKey::Esc => PickerKey::Escape,
        _ => return None,
    })
}
