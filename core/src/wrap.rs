//! Word-wrapping display text to a width in terminal cells (the plugin's guide pane): every
//! step consumes a character, so it always ends, whatever the width and the characters.

use unicode_width::UnicodeWidthChar;

/// Display cells of one character (controls and combining marks take none).
fn char_cells(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Display cells of `text`, counted per character (what [`wrap_to_width`] measures).
pub fn cells(text: &str) -> usize {
    text.chars().map(char_cells).sum()
}

/// Word-wraps `text` into lines of at most `width` cells. Continuation lines keep the first
/// line's indentation where it leaves room for their first character; words longer than a
/// line are cut. A line is wider than `width` only when a single character is (a wide
/// character at width 1, any character at width 0). Nothing but runs of whitespace is lost;
/// a blank `text` gives one empty line.
pub fn wrap_to_width(text: &str, width: usize) -> Vec<String> {
    if cells(text) <= width {
        return vec![text.to_string()];
    }
    let mut wrapper = Wrapper {
        width,
        indent: text.chars().take_while(|c| *c == ' ').count(),
        lines: Vec::new(),
        line: String::new(),
        used: 0,
    };
    for word in text.split_whitespace() {
        wrapper.word(word);
    }
    wrapper.finish()
}

/// The state of one [`wrap_to_width`] run.
struct Wrapper {
    /// Cells per line.
    width: usize,
    /// Spaces that start every line (fewer when the first character would not fit).
    indent: usize,
    /// Finished lines.
    lines: Vec<String>,
    /// The line being filled, with its indentation; empty when it holds no word yet.
    line: String,
    /// Cells of `line`.
    used: usize,
}

impl Wrapper {
    /// Adds a word: on the current line when it fits there, else on new lines, cut where a
    /// line is full.
    fn word(&mut self, word: &str) {
        if !self.line.is_empty() {
            if self.used + 1 + cells(word) <= self.width {
                self.line.push(' ');
                self.line.push_str(word);
                self.used += 1 + cells(word);
                return;
            }
            self.flush();
        }
        for c in word.chars() {
            self.char(c);
        }
    }

    /// Adds one character of a word that is being cut.
    fn char(&mut self, c: char) {
        let cells = char_cells(c);
        if !self.line.is_empty() && self.used + cells > self.width {
            self.flush();
        }
        if self.line.is_empty() {
            let indent = self.indent.min(self.width.saturating_sub(cells));
            self.line.extend(std::iter::repeat_n(' ', indent));
            self.used = indent;
        }
        self.line.push(c);
        self.used += cells;
    }

    /// Ends the current line (when it holds anything).
    fn flush(&mut self) {
        if !self.line.is_empty() {
            self.lines.push(std::mem::take(&mut self.line));
        }
        self.used = 0;
    }

    /// The lines, the last one included; one empty line when there was no word.
    fn finish(mut self) -> Vec<String> {
        self.flush();
        if self.lines.is_empty() {
            self.lines.push(String::new());
        }
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use unicode_width::UnicodeWidthStr;

    #[rstest]
    #[case::short("  ssh -p 1 pi@h", 40, &["  ssh -p 1 pi@h"])]
    #[case::wraps_keeping_indent("  one two three four", 12, &["  one two", "  three four"])]
    #[case::cuts_long_words("abcdefghijklmnop", 8, &["abcdefgh", "ijklmnop"])]
    fn wraps(#[case] text: &str, #[case] width: usize, #[case] expected: &[&str]) {
        let lines = wrap_to_width(text, width);
        assert_eq!(lines, expected);
        assert!(lines
            .iter()
            .all(|l| UnicodeWidthStr::width(l.as_str()) <= width));
    }

    /// The wrapper's promises: no text lost, and a line wider than `width` only when one
    /// character (with its combining marks, without indent) is.
    fn assert_wrapped(text: &str, width: usize) {
        let lines = wrap_to_width(text, width);
        assert!(!lines.is_empty(), "{text:?}");
        let visible = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
        assert_eq!(visible(&lines.concat()), visible(text), "{lines:?}");
        for line in &lines {
            let wide_chars = line.chars().filter(|c| cells(&c.to_string()) > 0).count();
            assert!(
                cells(line) <= width || (wide_chars == 1 && !line.starts_with(' ')),
                "{line:?} at width {width}: {lines:?}"
            );
        }
    }

    // Found in the guide pane (issue 11): an indent plus a wide character wider than the
    // line made the wrapper loop for ever.
    #[rstest]
    #[case::indent_then_wide("       京都 ssh", 8)]
    #[case::indent_wider_than_line("            ssh -p 22 pi@host", 8)]
    #[case::wide_at_width_one("京都", 1)]
    #[case::nothing_fits("abc def", 0)]
    #[case::combining("  e\u{301}e\u{301}e\u{301} x\u{20dd}", 3)]
    #[case::wide_user("    ssh -p 1 ラズパイ@host", 6)]
    fn wrapping_always_ends_and_loses_nothing(#[case] text: &str, #[case] width: usize) {
        assert_wrapped(text, width);
    }

    #[rstest]
    fn every_width_from_0_to_20_fits(
        #[values(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20
        )]
        width: usize,
        #[values(
            "  one two three four",
            "        ssh -p 2222 ラズパイ@kiosk.example",
            "京都京都京都 a",
            "a\u{301}\u{301}b c\u{20dd}",
            "  ",
            ""
        )]
        text: &str,
    ) {
        assert_wrapped(text, width);
    }
}
