//! Sanitising untrusted text (SIM name tags, API messages) before it reaches a terminal.
//!
//! Tag values are set by whoever can edit a SIM and arrive verbatim from the API: they may
//! carry ESC/CSI/OSC sequences, C1 controls, bidi overrides or be thousands of characters
//! long. Everything displayed by napsh or its plugin goes through [`for_terminal`].

/// Characters that reorder or hide text (bidi controls, zero-width joiners, BOM).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        | '\u{061C}' | '\u{180E}')
}

/// Whether `c` must never be written raw to a terminal.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Replaces every control or invisible-format character with `�`-free visible escapes
/// (`\e`, `\n`, `\u{202e}`…) so the text stays recognisable but inert.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_inert(&mut out, c);
    }
    out
}

/// Appends `c`, or its visible escape when [`is_unsafe`].
fn push_inert(out: &mut String, c: char) {
    match c {
        '\x1b' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Resets colours and attributes (`ESC [0m`).
pub const SGR_RESET: &str = "\x1b[0m";
/// Longest parameter list of an SGR sequence kept by [`output_for_terminal`] (bytes).
const SGR_MAX_PARAMS: usize = 64;

/// A line of device output for a terminal: SGR sequences (`ESC [` digits, `;`, `:` `m`:
/// colours and attributes) and tabs are kept; every other control, escape sequence (cursor
/// movement, OSC title or clipboard, DCS…), C1, bidi or invisible character is shown as in
/// [`for_terminal`], and a byte that is not UTF-8 as `\xNN`. A line that set an attribute
/// ends with [`SGR_RESET`] so that nothing leaks into the next line.
pub fn output_for_terminal(line: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(line.len());
    let mut styled = false;
    for chunk in line.utf8_chunks() {
        let mut text = chunk.valid();
        while let Some(c) = text.chars().next() {
            let len = match sgr_len(text) {
                Some(len) => {
                    out.push_str(&text[..len]);
                    styled = true;
                    len
                }
                None if c == '\t' => {
                    out.push(c);
                    1
                }
                None => {
                    push_inert(&mut out, c);
                    c.len_utf8()
                }
            };
            text = &text[len..];
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if styled {
        out.push_str(SGR_RESET);
    }
    out.into_bytes()
}

/// The length of the SGR sequence `text` starts with, if it starts with one.
fn sgr_len(text: &str) -> Option<usize> {
    let params = text.strip_prefix("\x1b[")?.as_bytes();
    let n = params
        .iter()
        .take(SGR_MAX_PARAMS + 1)
        .take_while(|b| b.is_ascii_digit() || matches!(b, b';' | b':'))
        .count();
    (n <= SGR_MAX_PARAMS && params.get(n) == Some(&b'm')).then_some(2 + n + 1)
}

/// [`for_terminal`], then cut to at most `max_chars` display characters with a trailing `…`.
pub fn for_terminal_truncated(text: &str, max_chars: usize) -> String {
    truncate(&for_terminal(text), max_chars)
}

/// Longest pane or tab title napsh gives (characters).
pub const TITLE_MAX_CHARS: usize = 48;

/// A Zellij pane or tab title made from untrusted text (a device name, `name/service`):
/// Zellij draws titles into pane frames and the tab bar unfiltered, so every title napsh sets
/// goes through here: [`for_terminal`], cut to [`TITLE_MAX_CHARS`].
pub fn pane_title(text: &str) -> String {
    for_terminal_truncated(text, TITLE_MAX_CHARS)
}

/// Cuts `text` to at most `max_chars` characters, marking the cut with `…`.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// Decodes bytes from the network as UTF-8, replacing invalid sequences, then sanitises.
pub fn bytes_for_terminal(bytes: &[u8]) -> String {
    for_terminal(&String::from_utf8_lossy(bytes))
}

/// Escapes, in serialised JSON, every character [`is_unsafe`] lets through serde_json (C1
/// controls, DEL, bidi and invisible format characters) as `\uXXXX`: the same JSON value,
/// but nothing a terminal would act on when a person prints `--json` output. Such characters
/// can only occur inside JSON strings, where the escape means the same character.
pub fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t') {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("kiosk-12", "kiosk-12")]
    #[case::csi("a\x1b[2Jb", "a\\e[2Jb")]
    #[case::osc_title("\x1b]0;pwned\x07x", "\\e]0;pwned\\u{7}x")]
    #[case::c1_csi("a\u{9b}31mb", "a\\u{9b}31mb")]
    #[case::bidi("abc\u{202e}fed", "abc\\u{202e}fed")]
    #[case::newline("line1\nline2", "line1\\nline2")]
    #[case::unicode("東京-ラズパイ", "東京-ラズパイ")]
    fn neutralises_control_sequences(#[case] input: &str, #[case] expected: &str) {
        let out = for_terminal(input);
        assert_eq!(out, expected);
        assert!(!out.chars().any(is_unsafe));
    }

    #[test]
    fn truncates_long_names_with_marker() {
        let long = "x".repeat(10_000);
        let out = for_terminal_truncated(&long, 40);
        assert_eq!(out.chars().count(), 40);
        assert!(out.ends_with('…'));
    }

    #[rstest]
    #[case::c1_csi("a\u{9b}2J")]
    #[case::bidi("\u{202e}gnp.exe\u{2066}")]
    #[case::del_and_zero_width("x\u{7f}\u{200b}y")]
    #[case::plain_and_cjk("東京 kiosk \"quoted\"")]
    fn json_escapes_keep_the_value_and_reach_no_terminal(#[case] text: &str) {
        let json = serde_json::to_string(&serde_json::json!({ "name": text })).unwrap();
        let safe = json_for_terminal(&json);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["name"], text);
    }

    // Issue 13: Zellij drew a device name with ESC[31m into the pane frame as it was.
    #[rstest]
    #[case::sgr("lab-bench-\x1b[31mred", "lab-bench-\\e[31mred")]
    #[case::osc52("x\x1b]52;c;ZXZpbA==\x07", "x\\e]52;c;ZXZpbA==\\u{7}")]
    #[case::title("\x1b]0;pwned\x1b\\/web", "\\e]0;pwned\\e\\/web")]
    #[case::c1_and_bidi("a\u{9b}2J\u{202e}b", "a\\u{9b}2J\\u{202e}b")]
    #[case::plain("kiosk-12/web", "kiosk-12/web")]
    fn pane_titles_are_inert(#[case] name: &str, #[case] want: &str) {
        assert_eq!(pane_title(name), want);
    }

    #[test]
    fn pane_titles_are_short() {
        let title = pane_title(&format!("{}\x1b[2J", "x".repeat(500)));
        assert_eq!(title.chars().count(), TITLE_MAX_CHARS);
        assert!(!title.chars().any(is_unsafe));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let out = bytes_for_terminal(b"ok\xff\x1b[0m");
        assert_eq!(out, "ok\u{fffd}\\e[0m");
    }
}
