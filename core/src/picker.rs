//! The device picker's state machine: list, filter-as-you-type, online-only toggle,
//! multi-select, scrolling and per-device connection progress. Pure: the Zellij plugin maps
//! keys and mouse events in and turns [`PickerIntent`]s into Zellij calls.

use crate::device::{format_age, format_duration};
use crate::filter::DeviceFilter;
use crate::picker_feed::PickerDevice;
use crate::sanitize::for_terminal;
pub use crate::wrap::wrap_to_width;
use std::collections::{BTreeMap, BTreeSet};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Keys the picker understands (the plugin translates Zellij keys into these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKey {
    /// A printable character: extends the filter.
    Char(char),
    /// Removes the last filter character.
    Backspace,
    /// Moves the highlight up one row.
    Up,
    /// Moves the highlight down one row.
    Down,
    /// Moves the highlight up one page.
    PageUp,
    /// Moves the highlight down one page.
    PageDown,
    /// Highlights the first row.
    Home,
    /// Highlights the last row.
    End,
    /// Toggles the selection of the highlighted device (Space/Tab).
    ToggleSelect,
    /// Selects every visible device, or clears the selection when all are selected.
    SelectAllVisible,
    /// Shows only online devices, or all.
    ToggleOnlineOnly,
    /// Asks for a fresh device list.
    Refresh,
    /// Connects the selection, or the highlighted device when nothing is selected.
    Enter,
    /// Clears the filter, or closes the picker when the filter is empty.
    Escape,
    /// Asks which service (container) of the highlighted device to open.
    AskService,
    /// Opens the selection (or the highlighted device) in a fleet tab with synchronized input.
    OpenFleet,
}

/// What the plugin should do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerIntent {
    /// Nothing changed.
    Nothing,
    /// The screen must be redrawn.
    Redraw,
    /// Open one SSH pane per SIM id (in this order).
    Connect(Vec<String>),
    /// Open one SSH pane per SIM id (in this order) together in a new tab whose input is
    /// synchronized (see [`crate::fleet_tab`]).
    OpenFleet(Vec<String>),
    /// Fetch the device list again.
    Refresh,
    /// Hide or close the picker.
    Close,
    /// Ask for a service of this device (SIM id), then open a pane inside it.
    AskService(String),
    /// Open one SSH pane inside a service of a device.
    ConnectService {
        /// The device's SIM id.
        sim_id: String,
        /// The service (validated).
        service: String,
    },
}

/// Connection progress of one device, shown next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The mapping is being ensured.
    Connecting,
    /// A pane with a session is open.
    Connected,
    /// It failed; the sentence says why.
    Failed(String),
}

/// The picker: device list, filter, selection and viewport.
pub struct Picker {
    /// Devices in display order (online first, then name).
    entries: Vec<PickerDevice>,
    /// Search index over `entries`.
    filter: DeviceFilter,
    /// The filter text typed so far.
    query: String,
    /// Whether offline devices are hidden.
    online_only: bool,
    /// Indexes into `entries` that pass the filter, in the order shown.
    visible: Vec<usize>,
    /// Position of the highlight within `visible`.
    cursor: usize,
    /// First row of `visible` shown on screen.
    scroll: usize,
    /// Rows available for the list at the last render.
    page_height: usize,
    /// Selected SIM ids.
    selected: BTreeSet<String>,
    /// SIM ids with a session pane open in this Zellij session.
    open_sessions: BTreeSet<String>,
    /// Per-SIM connection progress.
    progress: BTreeMap<String, Progress>,
}

impl Picker {
    /// A picker over `entries`, showing every device.
    pub fn new(entries: Vec<PickerDevice>, online_only: bool) -> Self {
        let mut picker = Picker {
            entries: Vec::new(),
            filter: DeviceFilter::new(&[]),
            query: String::new(),
            online_only,
            visible: Vec::new(),
            cursor: 0,
            scroll: 0,
            page_height: 10,
            selected: BTreeSet::new(),
            open_sessions: BTreeSet::new(),
            progress: BTreeMap::new(),
        };
        picker.set_devices(entries);
        picker
    }

    /// Replaces the device list (e.g. after a background refresh), keeping the filter, the
    /// selection (of devices still present) and the highlighted device where possible.
    pub fn set_devices(&mut self, mut entries: Vec<PickerDevice>) {
        let highlighted = self.highlighted().map(|d| d.sim_id.clone());
        entries.sort_by(PickerDevice::display_order);
        self.filter = DeviceFilter::new(&entries);
        self.entries = entries;
        let present: BTreeSet<&str> = self.entries.iter().map(|e| e.sim_id.as_str()).collect();
        self.selected.retain(|s| present.contains(s.as_str()));
        self.recompute_visible();
        if let Some(id) = highlighted {
            if let Some(pos) = self
                .visible
                .iter()
                .position(|&i| self.entries[i].sim_id == id)
            {
                self.cursor = pos;
            }
        }
    }

    /// Handles one key.
    pub fn handle_key(&mut self, key: PickerKey) -> PickerIntent {
        match key {
            PickerKey::Char(c) if !c.is_control() => self.edit_query(|q| q.push(c)),
            PickerKey::Char(_) => PickerIntent::Nothing,
            PickerKey::Backspace => self.edit_query(|q| {
                q.pop();
            }),
            PickerKey::Up => self.move_cursor(-1),
            PickerKey::Down => self.move_cursor(1),
            PickerKey::PageUp => self.move_cursor(-(self.page_height.max(1) as isize)),
            PickerKey::PageDown => self.move_cursor(self.page_height.max(1) as isize),
            PickerKey::Home => self.move_cursor(isize::MIN / 2),
            PickerKey::End => self.move_cursor(isize::MAX / 2),
            PickerKey::ToggleSelect => self.toggle_highlighted(),
            PickerKey::SelectAllVisible => self.toggle_all_visible(),
            PickerKey::ToggleOnlineOnly => {
                self.online_only = !self.online_only;
                self.recompute_visible();
                PickerIntent::Redraw
            }
            PickerKey::Refresh => PickerIntent::Refresh,
            PickerKey::Enter => self.chosen_intent(PickerIntent::Connect),
            PickerKey::OpenFleet => self.chosen_intent(PickerIntent::OpenFleet),
            PickerKey::Escape if !self.query.is_empty() => self.edit_query(String::clear),
            PickerKey::Escape => PickerIntent::Close,
            PickerKey::AskService => self
                .highlighted()
                .map(|d| PickerIntent::AskService(d.sim_id.clone()))
                .unwrap_or(PickerIntent::Nothing),
        }
    }

    /// Handles a click on screen row `row` of the list (0 = first list row): highlights it
    /// and toggles its selection.
    pub fn click_row(&mut self, row: usize) -> PickerIntent {
        let index = self.scroll + row;
        if index >= self.visible.len() {
            return PickerIntent::Nothing;
        }
        self.cursor = index;
        self.toggle_highlighted()
    }

    /// Scrolls the highlight by `delta` rows (mouse wheel).
    pub fn scroll_by(&mut self, delta: isize) -> PickerIntent {
        self.move_cursor(delta)
    }

    /// Records connection progress for a device. A connected one clears the filter, so that
    /// the next name typed replaces it instead of being appended.
    pub fn set_progress(&mut self, sim_id: &str, progress: Progress) {
        if progress == Progress::Connected {
            self.open_sessions.insert(sim_id.to_string());
            if !self.query.is_empty() {
                self.edit_query(String::clear);
            }
        }
        self.progress.insert(sim_id.to_string(), progress);
    }

    /// Records that the session pane of a device closed.
    pub fn session_closed(&mut self, sim_id: &str) {
        self.open_sessions.remove(sim_id);
        if self.progress.get(sim_id) == Some(&Progress::Connected) {
            self.progress.remove(sim_id);
        }
    }

    /// Forgets the selection (after connecting it).
    pub fn clear_selection(&mut self) {
        self.selected.clear();
    }

    /// The device under the highlight.
    pub fn highlighted(&self) -> Option<&PickerDevice> {
        self.visible.get(self.cursor).map(|&i| &self.entries[i])
    }

    /// Looks a device up by SIM id.
    pub fn device(&self, sim_id: &str) -> Option<&PickerDevice> {
        self.entries.iter().find(|e| e.sim_id == sim_id)
    }

    /// The filter text.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Whether offline devices are hidden.
    pub fn online_only(&self) -> bool {
        self.online_only
    }

    /// Number of devices passing the filter.
    pub fn visible_count(&self) -> usize {
        self.visible.len()
    }

    /// Number of devices in the list.
    pub fn total_count(&self) -> usize {
        self.entries.len()
    }

    /// Number of selected devices.
    pub fn selected_count(&self) -> usize {
        self.selected.len()
    }

    /// The rows to draw in a list area `height` rows tall, `width` columns wide, at `now_ms`.
    /// Adjusts the scroll position so the highlight stays on screen.
    pub fn window(&mut self, height: usize, width: usize, now_ms: i64) -> Vec<RowView> {
        self.page_height = height;
        self.scroll = window_start(self.cursor, self.scroll, height, self.visible.len());
        let columns = Columns::for_width(width);
        self.visible
            .iter()
            .enumerate()
            .skip(self.scroll)
            .take(height)
            .map(|(pos, &i)| self.row_view(&self.entries[i], pos == self.cursor, &columns, now_ms))
            .collect()
    }

    fn row_view(
        &self,
        d: &PickerDevice,
        highlighted: bool,
        columns: &Columns,
        now_ms: i64,
    ) -> RowView {
        let mapping = match (d.has_mapping, d.mapping_expires) {
            (false, _) => String::new(),
            (true, Some(t)) => format!("⇄ {}", format_duration((t - now_ms) / 1000)),
            (true, None) => "⇄".into(),
        };
        let status = match self.progress.get(&d.sim_id) {
            Some(Progress::Connecting) => "connecting…".to_string(),
            Some(Progress::Failed(_)) => "failed".to_string(),
            _ if self.open_sessions.contains(&d.sim_id) => "● session".to_string(),
            _ => String::new(),
        };
        let cells = [
            if self.selected.contains(&d.sim_id) {
                "[x]"
            } else {
                "[ ]"
            }
            .to_string(),
            if d.online { "●" } else { "○" }.to_string(),
            for_terminal(d.label()),
            // The feed is napsh's, but the SIM id in it comes from the API: never raw.
            for_terminal(&short_sim_id(&d.sim_id)),
            for_terminal(if d.group.is_empty() { "-" } else { &d.group }),
            format_age(d.last_seen, now_ms),
            mapping,
            status,
        ];
        RowView {
            sim_id: d.sim_id.clone(),
            online: d.online,
            selected: self.selected.contains(&d.sim_id),
            highlighted,
            failed: matches!(self.progress.get(&d.sim_id), Some(Progress::Failed(_))),
            text: columns.line(&cells),
        }
    }

    fn edit_query(&mut self, edit: impl FnOnce(&mut String)) -> PickerIntent {
        edit(&mut self.query);
        self.recompute_visible();
        self.cursor = 0;
        PickerIntent::Redraw
    }

    fn recompute_visible(&mut self) {
        let entries = &self.entries;
        let online_only = self.online_only;
        self.visible = self
            .filter
            .matching(&self.query)
            .into_iter()
            .filter(|&i| !online_only || entries[i].online)
            .collect();
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    fn move_cursor(&mut self, delta: isize) -> PickerIntent {
        if self.visible.is_empty() {
            return PickerIntent::Nothing;
        }
        let last = self.visible.len() as isize - 1;
        let next = (self.cursor as isize).saturating_add(delta).clamp(0, last) as usize;
        if next == self.cursor {
            return PickerIntent::Nothing;
        }
        self.cursor = next;
        PickerIntent::Redraw
    }

    fn toggle_highlighted(&mut self) -> PickerIntent {
        let Some(id) = self.highlighted().map(|d| d.sim_id.clone()) else {
            return PickerIntent::Nothing;
        };
        if !self.selected.remove(&id) {
            self.selected.insert(id);
        }
        PickerIntent::Redraw
    }

    fn toggle_all_visible(&mut self) -> PickerIntent {
        let ids: Vec<String> = self
            .visible
            .iter()
            .map(|&i| self.entries[i].sim_id.clone())
            .collect();
        if ids.iter().all(|id| self.selected.contains(id)) {
            for id in &ids {
                self.selected.remove(id);
            }
        } else {
            self.selected.extend(ids);
        }
        PickerIntent::Redraw
    }

    /// `intent` over the selection (or the highlighted device when nothing is selected).
    fn chosen_intent(&self, intent: fn(Vec<String>) -> PickerIntent) -> PickerIntent {
        let chosen: Vec<String> = if self.selected.is_empty() {
            self.highlighted()
                .map(|d| d.sim_id.clone())
                .into_iter()
                .collect()
        } else {
            // Keep display order, not selection order, so panes open in the order shown.
            self.entries
                .iter()
                .map(|e| &e.sim_id)
                .filter(|id| self.selected.contains(*id))
                .cloned()
                .collect()
        };
        if chosen.is_empty() {
            PickerIntent::Nothing
        } else {
            intent(chosen)
        }
    }
}

/// One drawn row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowView {
    /// The device's SIM id.
    pub sim_id: String,
    /// Whether it is online (offline rows are dimmed).
    pub online: bool,
    /// Whether it is selected.
    pub selected: bool,
    /// Whether the highlight is on it.
    pub highlighted: bool,
    /// Whether its last connection attempt failed.
    pub failed: bool,
    /// The row's text: sanitised, exactly the list width, never wrapping.
    pub text: String,
}

/// First visible row so that `cursor` is on screen, moving the window as little as possible.
pub fn window_start(cursor: usize, scroll: usize, height: usize, total: usize) -> usize {
    if height == 0 || total <= height {
        return 0;
    }
    let max_start = total - height;
    let start = if cursor < scroll {
        cursor
    } else if cursor >= scroll + height {
        cursor + 1 - height
    } else {
        scroll
    };
    start.min(max_start)
}

/// The last 6 digits of a SIM id, prefixed with `…` (full ids are 19 digits).
pub fn short_sim_id(sim_id: &str) -> String {
    let chars: Vec<char> = sim_id.chars().collect();
    if chars.len() <= 8 {
        return sim_id.to_string();
    }
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("…{tail}")
}

/// Column widths for one list width. The name column takes what the others leave.
struct Columns {
    /// Width of each column, in display cells.
    widths: [usize; 8],
    /// Total width of a line.
    total: usize,
}

impl Columns {
    /// Fixed columns: select, online, name, SIM, group, last seen, mapping, status.
    const FIXED: [usize; 8] = [3, 1, 0, 7, 12, 8, 9, 11];

    fn for_width(width: usize) -> Self {
        let mut widths = Self::FIXED;
        let gaps = widths.len() - 1;
        let fixed: usize = widths.iter().sum::<usize>() + gaps;
        // On narrow screens drop the trailing columns before squeezing the name.
        let mut spare = width.saturating_sub(fixed) as isize;
        for col in [4, 5, 3] {
            if spare < 12 {
                spare += widths[col] as isize + 1;
                widths[col] = 0;
            }
        }
        widths[2] = spare.max(4) as usize;
        Columns {
            widths,
            total: width,
        }
    }

    fn line(&self, cells: &[String; 8]) -> String {
        let mut line = String::new();
        for (cell, &w) in cells.iter().zip(&self.widths) {
            if w == 0 {
                continue;
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&pad_to_width(cell, w));
        }
        pad_to_width(&line, self.total)
    }
}

/// Cuts `text` to `width` display cells (marking a cut with `…`) and pads it with spaces.
pub fn pad_to_width(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let fits = UnicodeWidthStr::width(text) <= width;
    let budget = if fits { width } else { width.saturating_sub(1) };
    for c in text.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > budget {
            break;
        }
        out.push(c);
        used += w;
    }
    if !fits && width > 0 {
        out.push('…');
        used += 1;
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::tests::entry;
    use rstest::rstest;

    fn picker() -> Picker {
        Picker::new(
            vec![
                entry("8981000000000000003", "weather", false, &[]),
                entry("8981000000000000001", "kiosk-b", true, &[]),
                entry("8981000000000000002", "kiosk-a", true, &[]),
                entry("8981000000000000004", "gateway", true, &[]),
            ],
            false,
        )
    }

    fn names(p: &mut Picker) -> Vec<String> {
        p.window(10, 80, 0)
            .iter()
            .map(|r| r.text.split_whitespace().nth(3).unwrap().to_string())
            .collect()
    }

    #[test]
    fn sorted_online_first_then_name() {
        assert_eq!(
            names(&mut picker()),
            ["gateway", "kiosk-a", "kiosk-b", "weather"]
        );
    }

    #[test]
    fn typing_filters_and_escape_clears_then_closes() {
        let mut p = picker();
        for c in "kio".chars() {
            assert_eq!(p.handle_key(PickerKey::Char(c)), PickerIntent::Redraw);
        }
        assert_eq!(names(&mut p), ["kiosk-a", "kiosk-b"]);
        assert_eq!(p.handle_key(PickerKey::Escape), PickerIntent::Redraw);
        assert_eq!(p.visible_count(), 4);
        assert_eq!(p.handle_key(PickerKey::Escape), PickerIntent::Close);
    }

    #[test]
    fn a_connected_device_clears_the_filter_for_the_next_name() {
        let mut p = picker();
        for c in "kiosk-a".chars() {
            p.handle_key(PickerKey::Char(c));
        }
        p.set_progress("8981000000000000002", Progress::Connecting);
        assert_eq!(p.query(), "kiosk-a", "kept while connecting");
        p.set_progress("8981000000000000002", Progress::Connected);
        assert_eq!(p.query(), "");
        assert_eq!(p.visible_count(), 4);
        p.handle_key(PickerKey::Char('w'));
        assert_eq!(p.query(), "w", "typing replaces, not appends");
        p.set_progress("8981000000000000004", Progress::Failed("offline".into()));
        assert_eq!(p.query(), "w", "a failure keeps the filter (retry)");
    }

    #[test]
    fn online_only_hides_offline() {
        let mut p = picker();
        p.handle_key(PickerKey::ToggleOnlineOnly);
        assert_eq!(names(&mut p), ["gateway", "kiosk-a", "kiosk-b"]);
    }

    #[test]
    fn enter_connects_highlighted_when_nothing_selected() {
        let mut p = picker();
        p.handle_key(PickerKey::Down);
        assert_eq!(
            p.handle_key(PickerKey::Enter),
            PickerIntent::Connect(vec!["8981000000000000002".into()])
        );
    }

    #[test]
    fn ask_service_names_the_highlighted_device() {
        let mut p = picker();
        p.handle_key(PickerKey::Down);
        assert_eq!(
            p.handle_key(PickerKey::AskService),
            PickerIntent::AskService("8981000000000000002".into())
        );
        p.handle_key(PickerKey::Char('z'));
        assert_eq!(p.handle_key(PickerKey::AskService), PickerIntent::Nothing);
    }

    #[test]
    fn multi_select_connects_in_display_order() {
        let mut p = picker();
        p.handle_key(PickerKey::Down);
        p.handle_key(PickerKey::Down);
        p.handle_key(PickerKey::ToggleSelect); // kiosk-b
        p.handle_key(PickerKey::Home);
        p.handle_key(PickerKey::ToggleSelect); // gateway
        assert_eq!(
            p.handle_key(PickerKey::Enter),
            PickerIntent::Connect(vec![
                "8981000000000000004".into(),
                "8981000000000000001".into()
            ])
        );
    }

    #[test]
    fn fleet_key_opens_the_selection_or_the_highlighted_device() {
        let mut p = picker();
        p.handle_key(PickerKey::Down);
        assert_eq!(
            p.handle_key(PickerKey::OpenFleet),
            PickerIntent::OpenFleet(vec!["8981000000000000002".into()])
        );
        p.handle_key(PickerKey::SelectAllVisible);
        let PickerIntent::OpenFleet(all) = p.handle_key(PickerKey::OpenFleet) else {
            panic!("a fleet of the selection")
        };
        assert_eq!(all.len(), 4);
        p.handle_key(PickerKey::Char('z'));
        p.clear_selection();
        assert_eq!(p.handle_key(PickerKey::OpenFleet), PickerIntent::Nothing);
    }

    #[test]
    fn select_all_visible_toggles() {
        let mut p = picker();
        p.handle_key(PickerKey::Char('k'));
        p.handle_key(PickerKey::Char('i'));
        p.handle_key(PickerKey::SelectAllVisible);
        assert_eq!(p.selected_count(), 2);
        p.handle_key(PickerKey::SelectAllVisible);
        assert_eq!(p.selected_count(), 0);
    }

    #[test]
    fn refresh_keeps_selection_and_highlight() {
        let mut p = picker();
        p.handle_key(PickerKey::End);
        p.handle_key(PickerKey::ToggleSelect);
        let highlighted = p.highlighted().unwrap().sim_id.clone();
        let mut updated = vec![entry("8981000000000000009", "aaa-new", true, &[])];
        updated.extend(
            [
                "8981000000000000001",
                "8981000000000000002",
                "8981000000000000003",
            ]
            .map(|id| entry(id, id, true, &[])),
        );
        p.set_devices(updated);
        assert_eq!(p.highlighted().unwrap().sim_id, highlighted);
        assert_eq!(p.selected_count(), 1);
    }

    #[test]
    fn click_selects_row_and_scroll_moves() {
        let mut p = picker();
        p.window(2, 80, 0);
        assert_eq!(p.click_row(1), PickerIntent::Redraw);
        assert_eq!(p.highlighted().unwrap().name, "kiosk-a");
        assert_eq!(p.selected_count(), 1);
        assert_eq!(p.click_row(7), PickerIntent::Nothing);
        p.scroll_by(2);
        assert_eq!(p.highlighted().unwrap().name, "weather");
    }

    #[rstest]
    #[case::fits(3, 0, 10, 20, 0)]
    #[case::below(12, 0, 10, 20, 3)]
    #[case::above(2, 5, 10, 20, 2)]
    #[case::short_list(4, 3, 10, 5, 0)]
    #[case::end(19, 0, 10, 20, 10)]
    fn window_math(
        #[case] cursor: usize,
        #[case] scroll: usize,
        #[case] height: usize,
        #[case] total: usize,
        #[case] expected: usize,
    ) {
        assert_eq!(window_start(cursor, scroll, height, total), expected);
    }

    #[test]
    fn scrolling_keeps_highlight_visible() {
        let many: Vec<_> = (0..50)
            .map(|i| entry(&format!("{i:019}"), &format!("dev-{i:02}"), true, &[]))
            .collect();
        let mut p = Picker::new(many, false);
        for _ in 0..30 {
            p.handle_key(PickerKey::Down);
        }
        let rows = p.window(10, 80, 0);
        assert!(rows.iter().any(|r| r.highlighted));
        assert!(rows.last().unwrap().highlighted);
    }

    #[rstest]
    #[case::long_name(60)]
    #[case::narrow(30)]
    #[case::wide(200)]
    fn rows_are_exactly_the_width_and_never_wrap(#[case] width: usize) {
        let long = "x".repeat(10_000);
        let hostile = "evil\x1b[2J\u{202e}name".to_string();
        let wide = "ラズパイ京都ラズパイ京都ラズパイ京都ラズパイ京都".to_string();
        let mut p = Picker::new(
            vec![
                entry("1", &long, true, &[]),
                entry("2", &hostile, true, &[]),
                entry("3", &wide, true, &[]),
                // Found by fuzzing (fuzz/seeds/picker_feed): control bytes in the SIM id.
                entry("8042310022\x0f\0\0\0\x006", "x", true, &[]),
            ],
            false,
        );
        for row in p.window(10, width, 0) {
            assert_eq!(
                UnicodeWidthStr::width(row.text.as_str()),
                width,
                "{:?}",
                row.text
            );
            assert!(
                !row.text.chars().any(crate::sanitize::is_unsafe),
                "{:?}",
                row.text
            );
        }
    }

    #[test]
    fn progress_and_sessions_show_in_rows() {
        let mut p = picker();
        p.set_progress("8981000000000000004", Progress::Connecting);
        assert!(p.window(10, 100, 0)[0].text.contains("connecting"));
        p.set_progress("8981000000000000004", Progress::Connected);
        assert!(p.window(10, 100, 0)[0].text.contains("session"));
        p.session_closed("8981000000000000004");
        assert!(!p.window(10, 100, 0)[0].text.contains("session"));
    }

    #[test]
    fn pads_and_cuts_by_display_width() {
        assert_eq!(pad_to_width("ab", 4), "ab  ");
        assert_eq!(pad_to_width("abcdef", 4), "abc…");
        assert_eq!(pad_to_width("京都京都", 5), "京都…");
    }
}
