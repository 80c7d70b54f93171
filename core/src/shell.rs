//! POSIX shell quoting and `{placeholder}` templates for the commands napsh runs on a device:
//! every untrusted value (service name, user command) reaches the remote shell as one literal
//! word.

/// `text` as one POSIX shell word: single-quoted, with each `'` written as `'\''`. Newlines,
/// `$`, `;`, backquotes and spaces stay literal inside single quotes.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Replaces each `{name}` of `values` in `template`, in one pass (a substituted value is never
/// scanned again, so a value containing `{tty}` stays as it is). Other braces — such as
/// docker's `{{.Names}}` — are left alone.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match values.iter().find(|(name, _)| {
            after[1..].starts_with(name) && after[1 + name.len()..].starts_with('}')
        }) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &after[name.len() + 2..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks that `template` uses each of `required` (`{service}`, …); the error names the key
/// and the missing placeholder.
pub fn require_placeholders(key: &str, template: &str, required: &[&str]) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err(format!("{key} is empty"));
    }
    match required
        .iter()
        .find(|name| !template.contains(&format!("{{{name}}}")))
    {
        Some(name) => Err(format!("{key} \"{template}\" does not contain {{{name}}}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Runs `sh -c 'printf %s WORD'` and returns what the shell saw as that word.
    fn through_sh(word: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {word}"))
            .output()
            .expect("sh");
        assert!(out.status.success(), "sh failed for {word}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[rstest]
    #[case::plain("web", "'web'")]
    #[case::empty("", "''")]
    #[case::space("a b", "'a b'")]
    #[case::single_quote("it's", "'it'\\''s'")]
    #[case::dollar("$HOME", "'$HOME'")]
    #[case::semicolon("web; rm -rf /", "'web; rm -rf /'")]
    #[case::newline("a\nb", "'a\nb'")]
    #[case::subst("$(id)`id`", "'$(id)`id`'")]
    fn quotes(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(quote(text), expected);
    }

    #[rstest]
    #[case("web")]
    #[case("")]
    #[case("it's a 'quoted' \"word\"")]
    #[case("$HOME ${PATH} $(touch /tmp/napsh-pwned) `id`")]
    #[case("a; b && c | d > e < f & g")]
    #[case("line1\nline2\r\n\ttab")]
    #[case("'\\''")]
    #[case("ラズパイ * ? [x] ~ #")]
    fn the_shell_sees_the_literal_text(#[case] text: &str) {
        assert_eq!(through_sh(&quote(text)), text);
    }

    #[rstest]
    #[case::basic(
        "docker exec {tty} {service} sh -c {command}",
        "docker exec -it 'web' sh -c 'ls'"
    )]
    #[case::docker_braces(
        "docker ps --format '{{.Names}}' {service}",
        "docker ps --format '{{.Names}}' 'web'"
    )]
    #[case::unknown_left("echo {other} {service}", "echo {other} 'web'")]
    #[case::trailing_brace("x {", "x {")]
    fn renders(#[case] template: &str, #[case] expected: &str) {
        let values = [("tty", "-it"), ("service", "'web'"), ("command", "'ls'")];
        assert_eq!(render(template, &values), expected);
    }

    #[test]
    fn a_value_is_never_substituted_again() {
        let values = [("service", "'{command}'"), ("command", "'ls'")];
        assert_eq!(render("{service} {command}", &values), "'{command}' 'ls'");
    }

    #[rstest]
    #[case::ok("docker exec {tty} {service} sh -c {command}", None)]
    #[case::missing_command("docker exec {service}", Some("{command}"))]
    #[case::empty("  ", Some("empty"))]
    fn checks_placeholders(#[case] template: &str, #[case] error_part: Option<&str>) {
        let got = require_placeholders("service_exec", template, &["service", "command"]);
        match error_part {
            None => assert!(got.is_ok(), "{got:?}"),
            Some(part) => {
                let err = got.unwrap_err();
                assert!(err.contains(part) && err.contains("service_exec"), "{err}");
            }
        }
    }
}
