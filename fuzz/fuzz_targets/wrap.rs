//! Fuzz: the guide pane's word wrapper (core::wrap) on any text at widths 0–20. It ends (a
//! hang is a libFuzzer timeout), loses no text but runs of whitespace, and a line is wider
//! than the width only when it is a single character (with its combining marks) that is.
//! Input: the first byte picks the width (modulo 21), the rest is the text (lossy UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::wrap::{cells, wrap_to_width};

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let width = usize::from(w % 21);
    let text = String::from_utf8_lossy(rest);
    let lines = wrap_to_width(&text, width);
    assert!(!lines.is_empty());
    let visible = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    assert_eq!(visible(&lines.concat()), visible(&text), "{lines:?}");
    for line in &lines {
        let wide = line.chars().filter(|c| cells(&c.to_string()) > 0).count();
        assert!(
            cells(line) <= width || (wide == 1 && !line.starts_with(' ')),
            "{line:?} at width {width}: {lines:?}"
        );
    }
});
