#!/usr/bin/env bash
# End-to-end test of the napsh Zellij plugin through Zellij's web client, in headless Chromium.
#
#   web-e2e/run.sh            # install what is missing, run the test, tear everything down
#
# Environment (all optional):
#   NAPSH_WASM               plugin to test (default: plugin/target/wasm32-wasip1/release/napsh.wasm)
#   NAPSH_WEB_SCREENSHOT     where the picker screenshot goes (default: web-e2e/artifacts/picker.png;
#                            shell.png, and failure.png on failure, are written beside it)
#   NAPSH_WEB_E2E_MODE       browser (default): the browser creates the session from /<session>;
#                            tmux: a terminal client under tmux starts the session, shared with
#                            `web_sharing "on"`, and the browser attaches as a second client
#   NAPSH_WEB_E2E_KEEP=1     keep the temp dir (config, logs, token db) for inspection
#   NAPSH_WEB_E2E_TIMEOUT_MS per-step deadline in the Node test (default 20000)
#   NAPSH_WEB_E2E_DEBUG=1    trace the teardown
#
# Everything the run starts (zellij web server, zellij session server, tmux, chromium) carries
# NAPSH_WEB_E2E_RUN=<temp dir> in its environment; teardown stops exactly those processes, by pid.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MODE=${NAPSH_WEB_E2E_MODE:-browser}
WASM_SRC=${NAPSH_WASM:-$ROOT/plugin/target/wasm32-wasip1/release/napsh.wasm}
SCREENSHOT=${NAPSH_WEB_SCREENSHOT:-$HERE/artifacts/picker.png}
ZELLIJ_WANT=0.45.1
START=$(date +%s)

say() { printf 'web-e2e: %s\n' "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

case "$MODE" in browser|tmux) ;; *) die "NAPSH_WEB_E2E_MODE must be browser or tmux, not '$MODE'" ;; esac

# --- 1. install what is missing ------------------------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian chromium + chromium-driver"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
fi
[ "$MODE" = tmux ] && ! command -v tmux >/dev/null && {
    say "installing tmux"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq tmux >/dev/null
}
command -v node >/dev/null || die "node is not installed (Node.js >= 20 is needed)"
command -v curl >/dev/null || die "curl is not installed"
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
    say "npm ci (playwright-core only; it never downloads a browser)"
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
command -v zellij >/dev/null || die "zellij is not on PATH (cargo install --locked zellij --version $ZELLIJ_WANT)"
ZV=$(zellij --version | awk '{print $2}')
[ "$ZV" = "$ZELLIJ_WANT" ] || say "warning: zellij $ZV, this recipe was verified with $ZELLIJ_WANT"
[ -f "$WASM_SRC" ] || die "plugin not built: $WASM_SRC (cd plugin && cargo build --release)"

# --- 2. an isolated Zellij world -------------------------------------------------------------
T=$(mktemp -d /tmp/napsh-web-e2e.XXXXXX)
MARK=NAPSH_WEB_E2E_RUN=$T   # set only on what we start (not on this shell or its helpers)
export ZELLIJ_SOCKET_DIR=$T/sock XDG_CACHE_HOME=$T/cache XDG_CONFIG_HOME=$T/config
export XDG_DATA_HOME=$T/data XDG_RUNTIME_DIR=$T/run TMPDIR=$T/tmp HOME=$T/home SHELL=/bin/sh
unset ZELLIJ ZELLIJ_SESSION_NAME ZELLIJ_PANE_ID TMUX
mkdir -p "$ZELLIJ_SOCKET_DIR" "$XDG_CACHE_HOME/zellij" "$XDG_CONFIG_HOME/zellij" "$XDG_DATA_HOME" \
    "$XDG_RUNTIME_DIR" "$TMPDIR" "$HOME" "$T/work"
chmod 700 "$XDG_RUNTIME_DIR"
SESSION=napsh-web-$$
TMUX_SOCK=napsh-web-e2e-${T##*.}
CFG=$T/config.kdl
WASM=$T/napsh.wasm          # absolute path: it is the permission key
HELPER=$T/fake-napsh
cp "$WASM_SRC" "$WASM"
cp "$HERE/fake-napsh" "$HELPER"
chmod +x "$HELPER"
export NAPSH_FAKE_LOG=$T/helper.log
: > "$NAPSH_FAKE_LOG"

# Every process this run started: those with our marker in their environment.
our_pids() {
    grep -lzxF "$MARK" /proc/[0-9]*/environ 2>/dev/null | sed 's|^/proc/\([0-9]*\)/environ$|\1|'
    return 0
}

RC=1
teardown() {
    RC=${RC:-$?}
    set +e
    trap - EXIT
    trap '' INT TERM           # a second signal must not cut the teardown short
    local mine; mine=$(our_pids)
    # 0. the test (playwright closes chromium on SIGTERM), 1. the web server (its own process),
    # 2. the session (its panes go with it), 3. the tmux server, 4. whatever is left, by pid.
    dbg() { [ -n "${NAPSH_WEB_E2E_DEBUG:-}" ] && say "teardown: $* ($(date +%T.%N | cut -c1-12))"; return 0; }
    dbg start
    [ -n "${NODE_PID:-}" ] && { kill -TERM "$NODE_PID" 2>/dev/null; wait "$NODE_PID" 2>/dev/null; dbg "node gone"; }
    zellij --config "$CFG" web --stop >/dev/null 2>&1
    zellij kill-session "$SESSION" >/dev/null 2>&1
    zellij delete-all-sessions --yes --force >/dev/null 2>&1
    [ "$MODE" = tmux ] && tmux -L "$TMUX_SOCK" kill-server >/dev/null 2>&1
    dbg "zellij stopped"
    # Wait until every process of ours is gone from /proc, zombies included (they are
    # reaped by init once their parent died); escalate to TERM, then KILL, by pid.
    local left i p
    alive() { for p in $mine $(our_pids); do [ -e "/proc/$p" ] && echo "$p"; done | sort -u; return 0; }
    for i in $(seq 60); do
        left=$(alive)
        [ -z "$left" ] && break
        [ "$i" = 20 ] && { [ -n "${NAPSH_WEB_E2E_DEBUG:-}" ] && ps -o pid,ppid,stat,cmd -p "$(echo $left | tr " " ,)" >&2; kill -TERM $left 2>/dev/null; }
        [ "$i" = 40 ] && kill -KILL $left 2>/dev/null
        sleep 0.1
    done
    left=$(alive)
    if [ -n "$left" ]; then
        say "FAIL: processes left behind:"; ps -o pid,stat,cmd -p "$(echo $left | tr ' ' ,)" >&2
        RC=1
    fi
    if [ "$RC" != 0 ]; then
        say "zellij log tail ($T/tmp/zellij-$(id -u)/zellij-log/zellij.log):"
        tail -n 20 "$T"/tmp/zellij-*/zellij-log/zellij.log 2>/dev/null >&2
        say "helper calls:"; cat "$NAPSH_FAKE_LOG" >&2 2>/dev/null
    fi
    if [ "${NAPSH_WEB_E2E_KEEP:-0}" = 1 ]; then say "kept $T"; else rm -rf "$T"; fi
    if [ "$RC" = 0 ]; then
        say "PASS in $(( $(date +%s) - START ))s; screenshots in $(dirname "$SCREENSHOT")"
    else
        say "FAILED (exit $RC) after $(( $(date +%s) - START ))s"
    fi
    exit "$RC"
}
trap 'RC=$?; teardown' EXIT
trap 'RC=130; teardown' INT
trap 'RC=143; teardown' TERM

# A free port on 127.0.0.1 (bound then released; the web server takes it right after).
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

cat > "$XDG_CACHE_HOME/zellij/permissions.kdl" <<KDL
"$WASM" {
    RunCommands
    ReadApplicationState
    ChangeApplicationState
    OpenTerminalsOrPlugins
}
KDL

# web_sharing "on" only matters for sessions started from a terminal (mode tmux); sessions
# the browser creates are always shared. The web server reads this same config and hands it to
# the sessions it creates, so the keybinding is there in both modes.
cat > "$CFG" <<KDL
show_startup_tips false
show_release_notes false
default_shell "/bin/sh"
web_server_ip "127.0.0.1"
web_server_port $PORT
web_sharing "on"
keybinds {
    shared_except "locked" {
        bind "Alt y" { LaunchOrFocusPlugin "file:$WASM" { floating true; move_to_focused_tab true; helper "$HELPER"; }; }
    }
}
KDL

cd "$T/work"     # the cwd of the servers, so of every pane

# --- 3. session (tmux mode) and web server ---------------------------------------------------
if [ "$MODE" = tmux ]; then
    env "$MARK" tmux -L "$TMUX_SOCK" -f /dev/null new-session -d -s e2e -x 120 -y 35 \
        "zellij --config '$CFG' --session '$SESSION'"
    for i in $(seq 100); do
        zellij list-sessions --no-formatting 2>/dev/null | grep -q "^$SESSION " && break
        [ "$i" = 100 ] && die "zellij session $SESSION did not start under tmux"
        sleep 0.1
    done
fi

env "$MARK" zellij --config "$CFG" web --daemonize --ip 127.0.0.1 --port "$PORT" >"$T/web.out" 2>&1 \
    || { cat "$T/web.out" >&2; die "zellij web --daemonize failed"; }
URL=http://127.0.0.1:$PORT
for i in $(seq 100); do
    [ "$(curl -fsS "$URL/info/version" 2>/dev/null)" = "$ZV" ] && break
    [ "$i" = 100 ] && die "web server did not answer on $URL/info/version"
    sleep 0.1
done
say "zellij web on $URL (mode $MODE, session $SESSION)"

# --- 4. a login token (shown once; stored hashed in $XDG_DATA_HOME/zellij/tokens.db) --------
TOKEN=$(zellij --config "$CFG" web --create-token | sed -n 's/^token_[0-9]*: *//p')
[ -n "$TOKEN" ] || die "zellij web --create-token printed no token"

# --- 5. the browser test ---------------------------------------------------------------------
mkdir -p "$(dirname "$SCREENSHOT")"
# In the background + wait, so that a signal to this script is acted on at once.
set +e
NAPSH_WEB_URL=$URL NAPSH_WEB_TOKEN=$TOKEN NAPSH_WEB_SESSION=$SESSION NAPSH_WEB_MODE=$MODE \
NAPSH_WEB_SCREENSHOT=$SCREENSHOT NAPSH_SIM=8981100000000000001 \
    env "$MARK" node --test-reporter=spec "$HERE/picker.test.mjs" &
NODE_PID=$!
wait "$NODE_PID"
RC=$?
NODE_PID=
set -e
[ "$RC" = 0 ] || say "the browser test failed (see above; $(dirname "$SCREENSHOT")/failure.png)"
exit "$RC"
