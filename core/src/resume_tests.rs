//! Tests of `resume`: the remote script run by a real sh against fake tmux/screen, the
//! classification of ssh's ends from what OpenSSH prints, the backoff and the status line.

use super::*;
use rstest::rstest;
use std::path::Path;

/// Runs `script` with `sh -c` and a PATH holding only fake `tools` (each prints its name and
/// arguments) and `sh` (the machine's real tmux must not be found); returns stdout and stderr.
fn run_with(tools: &[&str], script: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    for tool in tools {
        let path = dir.path().join(tool);
        std::fs::write(&path, format!("#!/bin/sh\necho {tool} \"$@\"\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::symlink("/bin/sh", dir.path().join("sh")).unwrap();
    let path = dir.path().display().to_string();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .env("SHELL", fake_shell(dir.path()))
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&out.stdout), text(&out.stderr))
}

/// A fake login shell that says how it was started.
fn fake_shell(dir: &Path) -> String {
    let path = dir.join("fakeshell");
    std::fs::write(&path, "#!/bin/sh\necho shell \"$@\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[rstest]
#[case::auto_tmux(ResumeMode::Auto, &["tmux", "screen"], "tmux new-session -A -s napsh\n", "")]
#[case::auto_screen(ResumeMode::Auto, &["screen"], "screen -xRR -S napsh\n", "")]
#[case::auto_none(ResumeMode::Auto, &[], "shell -l\n", PLAIN_NOTICE)]
#[case::tmux_only(ResumeMode::Tmux, &["screen"], "shell -l\n", PLAIN_NOTICE)]
#[case::screen_only(ResumeMode::Screen, &["tmux", "screen"], "screen -xRR -S napsh\n", "")]
#[case::off(ResumeMode::Off, &["tmux"], "shell -l\n", "")]
fn the_device_runs_what_it_has(
    #[case] mode: ResumeMode,
    #[case] tools: &[&str],
    #[case] stdout: &str,
    #[case] notice: &str,
) {
    let (out, err) = run_with(tools, &remote_command(mode, HOST_SESSION, None));
    assert_eq!(out, stdout);
    assert_eq!(err.trim_end(), notice);
}

#[rstest]
#[case::tmux(&["tmux"], "tmux new-session -A -s napsh-web.1 docker exec -it 'web' sh\n")]
#[case::screen(&["screen"], "screen -xRR -S napsh-web.1 sh -c docker exec -it 'web' sh\n")]
fn a_service_shell_runs_inside_the_session(#[case] tools: &[&str], #[case] stdout: &str) {
    let inner = "docker exec -it 'web' sh";
    let script = remote_command(ResumeMode::Auto, "napsh-web.1", Some(inner));
    assert_eq!(run_with(tools, &script).0, stdout);
}

#[test]
fn without_tmux_a_service_command_runs_plain() {
    let script = remote_command(
        ResumeMode::Auto,
        "napsh-web",
        Some("echo in'side'; echo $((6*7))"),
    );
    let (out, err) = run_with(&[], &script);
    assert_eq!(out, "inside\n42\n");
    assert_eq!(err.trim_end(), PLAIN_NOTICE);
}

#[rstest]
#[case::host(None, "napsh")]
#[case::plain(Some("web"), "napsh-web")]
#[case::dots_and_colons(Some("web.1:x"), "napsh-web_1_x")]
#[case::hostile(Some("w'$(id)"), "napsh-w___id_")]
fn session_names_are_tmux_safe(#[case] service: Option<&str>, #[case] name: &str) {
    assert_eq!(session_name(service), name);
}

#[rstest]
#[case::tmux("tmux", ResumeMode::Tmux)]
#[case::auto(" auto ", ResumeMode::Auto)]
#[case::off("off", ResumeMode::Off)]
fn modes_parse(#[case] text: &str, #[case] mode: ResumeMode) {
    assert_eq!(text.parse::<ResumeMode>(), Ok(mode));
}

#[test]
fn a_bad_mode_names_the_choices() {
    let err = "always".parse::<ResumeMode>().unwrap_err();
    assert!(err.contains("auto, tmux, screen, off"), "{err}");
}

/// What OpenSSH 9 prints on each kind of end (stderr, 255 unless said).
#[rstest]
#[case::reset("Read from remote host 203.0.113.4: Connection reset by peer\r\nConnection to 203.0.113.4 closed.\r\n", 255, SessionEnd::LinkLost)]
#[case::broken_pipe(
    "client_loop: send disconnect: Broken pipe\r\n",
    255,
    SessionEnd::LinkLost
)]
#[case::keepalive(
    "Timeout, server 203.0.113.4 not responding.\r\n",
    255,
    SessionEnd::LinkLost
)]
#[case::server_gone(
    "Connection to 203.0.113.4 closed by remote host.\r\n",
    255,
    SessionEnd::LinkLost
)]
#[case::refused(
    "ssh: connect to host 203.0.113.4 port 40001: Connection refused\r\n",
    255,
    SessionEnd::LinkLost
)]
#[case::banner("Connection timed out during banner exchange\r\nConnection to 203.0.113.4 port 40001 timed out\r\n", 255, SessionEnd::LinkLost)]
#[case::kex(
    "kex_exchange_identification: Connection closed by remote host\r\n",
    255,
    SessionEnd::LinkLost
)]
#[case::tilde_dot("Connection to 203.0.113.4 closed.\r\n", 255, SessionEnd::Finished)]
#[case::remote_exit_255("Connection to 203.0.113.4 closed.\r\n", 255, SessionEnd::Finished)]
#[case::detached("Connection to 203.0.113.4 closed.\r\n", 0, SessionEnd::Finished)]
#[case::remote_code("", 3, SessionEnd::Finished)]
#[case::auth(
    "pi@203.0.113.4: Permission denied (publickey,password).\r\n",
    255,
    SessionEnd::Refused
)]
#[case::host_key("@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.\r\n", 255, SessionEnd::Refused)]
fn ends_are_judged_from_what_ssh_printed(
    #[case] stderr: &str,
    #[case] code: i32,
    #[case] end: SessionEnd,
) {
    assert_eq!(classify(code, None, StderrSigns::of(stderr)), end);
}

#[test]
fn a_signal_always_finishes() {
    let signs = StderrSigns::of("Connection reset by peer");
    assert_eq!(classify(255, Some(2), signs), SessionEnd::Finished);
}

#[test]
fn backoff_doubles_up_to_ten_seconds() {
    let waits: Vec<u64> = (1..=8).map(backoff_secs).collect();
    assert_eq!(waits, [1, 2, 4, 8, 10, 10, 10, 10]);
    assert_eq!(backoff_secs(u32::MAX), MAX_BACKOFF_SECS);
}

#[test]
fn keepalives_find_a_dead_link_within_twenty_seconds() {
    const { assert!((KEEPALIVE_COUNT + 1) * KEEPALIVE_SECS <= 20) };
}

#[test]
fn the_status_line_reads_as_promised() {
    assert_eq!(
        status_line("kiosk-12", 3, 4),
        "link to kiosk-12 lost — reconnecting (attempt 3, next in 4s) — Ctrl-C gives up"
    );
}

#[rstest]
#[case::offline(ErrorKind::Offline, true)]
#[case::network(ErrorKind::Network, true)]
#[case::rate_limited(ErrorKind::RateLimited, true)]
#[case::api(ErrorKind::Api, true)]
#[case::permission(ErrorKind::PermissionDenied, false)]
#[case::credentials(ErrorKind::NoCredentials, false)]
#[case::config(ErrorKind::Config, false)]
fn only_passing_failures_are_retried(#[case] kind: ErrorKind, #[case] retry: bool) {
    assert_eq!(retry_after(kind), retry);
}

#[rstest]
#[case::first_connect_fails(SessionEnd::LinkLost, false, false, false, 0, Next::Done)]
#[case::signalled(SessionEnd::LinkLost, true, true, true, 0, Next::Done)]
#[case::session_ended(SessionEnd::Finished, true, true, false, 0, Next::Done)]
#[case::link_lost(SessionEnd::LinkLost, true, true, false, 0, Next::Reconnect(1))]
#[case::lost_again_after_a_reconnect(
    SessionEnd::LinkLost,
    true,
    true,
    false,
    4,
    Next::Reconnect(1)
)]
#[case::attempt_failed(SessionEnd::LinkLost, false, true, false, 2, Next::Reconnect(3))]
#[case::attempt_ended_oddly(SessionEnd::Finished, false, true, false, 2, Next::Reconnect(3))]
#[case::attempt_refused(SessionEnd::Refused, false, true, false, 2, Next::Done)]
#[case::refused_once_up(SessionEnd::Refused, true, true, false, 0, Next::Done)]
fn the_loop_goes_on_only_for_a_session_that_was_up(
    #[case] end: SessionEnd,
    #[case] up: bool,
    #[case] up_once: bool,
    #[case] signalled: bool,
    #[case] attempt: u32,
    #[case] next: Next,
) {
    assert_eq!(after_run(end, up, up_once, signalled, attempt), next);
}
