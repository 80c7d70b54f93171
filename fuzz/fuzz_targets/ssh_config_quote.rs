//! Fuzz: any text through ssh_config and sh quoting. Nothing panics; every quoted form reads
//! back as the original through small models of the readers: a POSIX sh word splitter (a
//! strict subset of sh: unquoted, only characters sh treats literally), OpenSSH's config
//! tokenizer (`argv_split`) and its `%` token expansion. So a quoted token never holds an
//! unescaped `%`, a raw line break, or a word sh would read as an assignment.
//! Input: fields separated by U+001F (napsh path, profile, then more words).
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::ssh_config::{
    alias_for_name, config_path, include_line, proxy_command, shell_join, shell_quote,
    shell_quote_command,
};

/// What `%p` expands to in the model of ssh.
const PORT: &str = "2222";

fuzz_target!(|text: &str| {
    let fields: Vec<String> = text.split('\u{1f}').map(String::from).collect();
    for word in &fields {
        let as_argument = format!("x {}", shell_quote(word));
        assert_eq!(sh_words(&as_argument), Ok(vec!["x".into(), word.clone()]));
        let as_command = shell_quote_command(word);
        assert_eq!(
            sh_words(&as_command),
            Ok(vec![word.clone()]),
            "{as_command:?}"
        );
        check_config_path(word);
        check_include(word);
        check_alias(word);
    }
    assert_eq!(sh_words(&shell_join(&fields)), Ok(fields.clone()));
    check_proxy_command(&fields[0], fields.get(1).map(String::as_str));
});

/// `config_path` refuses, or gives one double-quoted token that ssh reads back (tokenize,
/// then expand `%`) as the path; a leading `~` is ssh's own home expansion, so left out.
fn check_config_path(path: &str) {
    let Ok(token) = config_path("p", path) else {
        assert!(unwritable(path), "{path:?} refused");
        return;
    };
    assert!(!unwritable(path), "{path:?} accepted as {token:?}");
    assert!(token.starts_with('"') && token.ends_with('"'), "{token:?}");
    assert!(!token.contains(['\n', '\r', '\0']), "{token:?}");
    if !path.starts_with('~') {
        let read = ssh_args(&token).map(|a| a.iter().map(|w| percent_expand(w)).collect());
        assert_eq!(
            read,
            Ok(vec![Ok(path.to_string())]),
            "{path:?} as {token:?}"
        );
    }
}

/// `include_line` refuses globs and unwritable paths, else ssh reads the path back.
fn check_include(path: &str) {
    let Ok(line) = include_line(path) else {
        return;
    };
    assert!(
        !path.contains(['*', '?', '[', ']']) && !unwritable(path),
        "{path:?}"
    );
    let rest = line.strip_prefix("Include ").expect("an Include line");
    assert_eq!(ssh_args(rest), Ok(vec![path.to_string()]), "{line:?}");
}

/// The ProxyCommand ssh expands (`%%`, `%p`) and hands to `sh -c` gives napsh exactly its
/// words, the port last.
fn check_proxy_command(napsh: &str, profile: Option<&str>) {
    let Ok(command) = proxy_command(napsh, profile, "8942") else {
        assert!(unwritable(napsh) || profile.is_some_and(unwritable));
        return;
    };
    assert!(!command.contains(['\n', '\r', '\0']), "{command:?}");
    let expanded = percent_expand(&command).unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut want = vec![napsh.to_string()];
    if let Some(p) = profile {
        want.extend(["--profile".to_string(), p.to_string()]);
    }
    want.extend(["proxy", "8942", PORT].map(String::from));
    assert_eq!(sh_words(&expanded), Ok(want), "{command:?}");
}

/// A `.napsh` alias: `[a-z0-9_-]`, no `-` at either end, stable (a `--` of the name stays).
fn check_alias(name: &str) {
    let Some(alias) = alias_for_name(name) else {
        return;
    };
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    assert!(alias.chars().all(allowed), "{alias:?}");
    assert!(!alias.starts_with('-') && !alias.ends_with('-'), "{alias:?}");
    assert_eq!(alias_for_name(&alias), Some(alias.clone()));
}

/// What no ssh_config quoting can carry (napsh refuses it).
fn unwritable(text: &str) -> bool {
    text.contains(['\n', '\r', '\0']) || text.contains("${")
}

/// ssh's token expansion: `%%` → `%`, `%p` → the port; any other `%` is an error.
fn percent_expand(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('p') => out.push_str(PORT),
            other => return Err(format!("unknown token %{other:?}")),
        }
    }
    Ok(out)
}

/// OpenSSH's `argv_split` (misc.c): words split on unquoted blanks; `'` and `"` quote; a `\`
/// before `\`, `'`, `"` (or a blank, unquoted) is dropped, before anything else kept.
fn ssh_args(text: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\t' {
            i += 1;
            continue;
        }
        let (mut word, mut quote) = (String::new(), None);
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c == '\\' && matches!(next, Some('\\' | '\'' | '"'))
                || c == '\\' && quote.is_none() && next == Some(' ')
            {
                word.push(next.unwrap_or(c));
                i += 2;
                continue;
            }
            match (quote, c) {
                (None, ' ' | '\t') => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if q == c => quote = None,
                _ => word.push(c),
            }
            i += 1;
        }
        if quote.is_some() {
            return Err(format!("unterminated quote in {text:?}"));
        }
        words.push(word);
    }
    Ok(words)
}

/// A strict POSIX sh word splitter: blanks separate words; `'…'` is literal; `\` escapes
/// the next character; unquoted, only characters sh never treats specially are allowed, and
/// the first word must not be an assignment (`NAME=…` makes sh run the next word).
fn sh_words(line: &str) -> Result<Vec<String>, String> {
    let literal = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    let mut words: Vec<String> = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' || c == '\t' {
            chars.next();
            continue;
        }
        let (mut word, mut bare_prefix) = (String::new(), String::new());
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' => break,
                '\'' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(q) => word.push(q),
                            None => return Err(format!("unterminated ' in {line:?}")),
                        }
                    }
                }
                '\\' => {
                    quoted = true;
                    word.push(chars.next().ok_or("a trailing backslash")?);
                }
                c if literal(c) => {
                    word.push(c);
                    if !quoted {
                        bare_prefix.push(c);
                    }
                }
                c => return Err(format!("unquoted {c:?} is special to sh in {line:?}")),
            }
        }
        if words.is_empty() && is_assignment(&bare_prefix) {
            return Err(format!("{line:?} starts with an assignment"));
        }
        words.push(word);
    }
    Ok(words)
}

/// `NAME=…` with NAME a shell variable name.
fn is_assignment(bare: &str) -> bool {
    let Some((name, _)) = bare.split_once('=') else {
        return false;
    };
    let mut cs = name.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
