//! Service targets (`napsh ssh DEVICE SERVICE [-- CMD]`): validating the service name and
//! building the one remote script that checks the service is running and runs the shell or
//! command inside it, from the configurable `service_exec` / `service_list` templates.

use crate::sanitize::for_terminal;
use crate::shell::{quote, render, require_placeholders};

/// Default `service_exec`: Docker. `{tty}` is `-it` for an interactive shell on a terminal,
/// else `-i`; `{service}` and `{command}` arrive shell-quoted.
pub const DEFAULT_EXEC: &str = "docker exec {tty} {service} sh -c {command}";
/// Default `service_list`: the names of the running services, one per line.
pub const DEFAULT_LIST: &str = "docker ps --format '{{.Names}}'";
/// What an interactive service session runs: bash when the service has it, else sh (unlike
/// `bash || sh`, leaving bash with a failed last command does not start a second shell).
pub const LOGIN_SHELL: &str =
    "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi";
/// Exit code of the remote script when the service is not among the running ones (napsh then
/// asks for the list and, when the service is really missing, says so).
pub const MISSING_EXIT: i32 = 125;
/// Longest service name accepted.
const MAX_NAME_CHARS: usize = 200;

/// Checks a service name: not empty, not an option (`-…`), no control characters or
/// whitespace, at most 200 characters. Anything else is allowed (it is quoted anyway), so
/// templates for other tools (podman, systemd units, lxc) keep working.
pub fn validate_name(name: &str) -> Result<(), String> {
    let shown = for_terminal(name);
    if name.is_empty() {
        return Err("the service name is empty".into());
    }
    if name.starts_with('-') {
        return Err(format!(
            "service name \"{shown}\" starts with '-' (it would be read as an option)"
        ));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "service name \"{shown}\" contains whitespace or control characters"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "service name \"{:.40}…\" is longer than {MAX_NAME_CHARS} characters",
            shown
        ));
    }
    Ok(())
}

/// Checks the two templates of a config (global or rule); errors name the key.
pub fn validate_templates(exec: Option<&str>, list: Option<&str>) -> Result<(), String> {
    if let Some(exec) = exec {
        require_placeholders("service_exec", exec, &["service", "command"])?;
    }
    if let Some(list) = list {
        require_placeholders("service_list", list, &[])?;
    }
    Ok(())
}

/// What to run in a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRun<'a> {
    /// `service_exec` template.
    pub exec_template: &'a str,
    /// `service_list` template.
    pub list_template: &'a str,
    /// The service (validated with [`validate_name`]).
    pub service: &'a str,
    /// The command words after `--` (joined with spaces, like ssh does); empty = a shell.
    pub command: &'a [String],
    /// Whether the session has a terminal (`{tty}` becomes `-it`, else `-i`).
    pub tty: bool,
}

impl ServiceRun<'_> {
    /// The command `sh -c` runs inside the service: the user's, else [`LOGIN_SHELL`].
    pub fn inner_command(&self) -> String {
        if self.command.is_empty() {
            LOGIN_SHELL.to_string()
        } else {
            self.command.join(" ")
        }
    }

    /// The exec template with the service, command and tty flag substituted.
    pub fn exec_command(&self) -> String {
        let tty = if self.tty { "-it" } else { "-i" };
        render(
            self.exec_template,
            &[
                ("tty", tty),
                ("service", &quote(self.service)),
                ("command", &quote(&self.inner_command())),
            ],
        )
    }

    /// The whole remote script: run the exec command when the service is listed as running,
    /// else exit with [`MISSING_EXIT`].
    pub fn remote_script(&self) -> String {
        self.remote_script_running(&self.exec_command())
    }

    /// [`ServiceRun::remote_script`] running `run` instead of the bare exec command, after
    /// the same check (a resumed session runs the exec command inside tmux or screen).
    pub fn remote_script_running(&self, run: &str) -> String {
        format!(
            "if ( {}\n) 2>/dev/null | grep -qxF -e {}\nthen {run}\nelse exit {MISSING_EXIT}\nfi",
            self.list_template,
            quote(self.service),
        )
    }
}

/// The running services in `service_list`'s output: one name per line, trimmed, no blanks.
pub fn parse_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// One sentence: the service is not running on the device, and which ones are (sanitised).
pub fn missing_message(service: &str, device: &str, running: &[String]) -> String {
    let (service, device) = (for_terminal(service), for_terminal(device));
    if running.is_empty() {
        return format!(
            "no service \"{service}\" is running on {device}; no service is running there"
        );
    }
    let names: Vec<String> = running.iter().map(|n| for_terminal(n)).collect();
    format!(
        "no service \"{service}\" is running on {device}; running: {}",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn run<'a>(service: &'a str, command: &'a [String], tty: bool) -> ServiceRun<'a> {
        ServiceRun {
            exec_template: DEFAULT_EXEC,
            list_template: DEFAULT_LIST,
            service,
            command,
            tty,
        }
    }

    #[rstest]
    #[case::plain("web", true)]
    #[case::compose("proj_web_1", true)]
    #[case::dotted("web.1.abc-def", true)]
    #[case::unit("getty@tty1.service", true)]
    #[case::hostile_but_quoted("web;$(id)'\"", true)]
    #[case::empty("", false)]
    #[case::option("-v", false)]
    #[case::space("my web", false)]
    #[case::newline("web\nrm", false)]
    #[case::escape("web\x1b[2J", false)]
    fn validates_names(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(validate_name(name).is_ok(), ok, "{name:?}");
    }

    #[test]
    fn long_names_are_refused() {
        assert!(validate_name(&"a".repeat(200)).is_ok());
        assert!(validate_name(&"a".repeat(201))
            .unwrap_err()
            .contains("longer"));
    }

    #[test]
    fn interactive_shell_on_a_terminal_uses_it() {
        assert_eq!(
            run("web", &[], true).exec_command(),
            format!("docker exec -it 'web' sh -c '{LOGIN_SHELL}'")
        );
        assert_eq!(
            run("web", &[], false).exec_command(),
            format!("docker exec -i 'web' sh -c '{LOGIN_SHELL}'")
        );
    }

    #[rstest]
    #[case::words(&["ls", "-la", "/tmp"], "docker exec -i 'db' sh -c 'ls -la /tmp'")]
    #[case::quote(&["echo", "it's"], "docker exec -i 'db' sh -c 'echo it'\\''s'")]
    #[case::dollar_semicolon(&["echo $HOME; id"], "docker exec -i 'db' sh -c 'echo $HOME; id'")]
    #[case::newline(&["echo a\necho b"], "docker exec -i 'db' sh -c 'echo a\necho b'")]
    fn commands_are_quoted_for_sh_c(#[case] command: &[&str], #[case] expected: &str) {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        assert_eq!(run("db", &command, false).exec_command(), expected);
    }

    #[test]
    fn the_script_checks_the_list_then_execs() {
        let script = run("web", &[], true).remote_script();
        assert!(script.starts_with("if ( docker ps --format '{{.Names}}'\n) 2>/dev/null | grep -qxF -e 'web'\nthen docker exec -it 'web'"), "{script}");
        assert!(script.ends_with("\nelse exit 125\nfi"), "{script}");
    }

    /// The script run by a real sh against a fake list/exec: the command runs only for a
    /// listed service, hostile names and commands stay literal.
    #[rstest]
    #[case::listed("web", &["echo", "ran"], 0, "in web: ran\n")]
    #[case::missing("nope", &["echo", "ran"], MISSING_EXIT, "")]
    #[case::hostile_name("web';touch${IFS}/tmp/x;'", &["echo", "ran"], MISSING_EXIT, "")]
    #[case::hostile_command("web", &["echo '$(id)' \"$0\"; echo two"], 0, "in web: $(id) sh\ntwo\n")]
    fn script_runs_in_a_real_shell(
        #[case] service: &str,
        #[case] command: &[&str],
        #[case] code: i32,
        #[case] stdout: &str,
    ) {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let script = ServiceRun {
            exec_template: "printf 'in %s: ' {service}; sh -c {command}",
            list_template: "printf 'web\\ndb\\n'",
            service,
            command: &command,
            tty: false,
        }
        .remote_script();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{script}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), stdout);
    }

    #[test]
    fn templates_are_validated() {
        assert!(validate_templates(Some(DEFAULT_EXEC), Some(DEFAULT_LIST)).is_ok());
        assert!(validate_templates(Some("docker exec {service}"), None)
            .unwrap_err()
            .contains("{command}"));
        assert!(validate_templates(None, Some(" "))
            .unwrap_err()
            .contains("service_list"));
    }

    #[test]
    fn lists_and_messages() {
        assert_eq!(parse_list("web\n\n db \n"), ["web", "db"]);
        let msg = missing_message("nope", "kiosk-12", &["web".into(), "evil\x1b[2J".into()]);
        assert_eq!(
            msg,
            "no service \"nope\" is running on kiosk-12; running: web, evil\\e[2J"
        );
        assert!(missing_message("x", "d", &[]).contains("no service is running there"));
    }
}
