#!/usr/bin/env bash
# Picker benchmarks with 10,000 devices: the native filter and first-paint figures
# (criterion, napsh-core), then the same in a real Zellij: keypress → first paint of the
# picker from napsh's cache, and one filter keystroke → on screen (polled through tmux, so
# each figure includes up to ~20 ms of polling), and the memory the picker holds: the Zellij
# server's resident set (VmRSS; the plugin's wasm instance lives in it) before the picker
# opens, after its first paint and after a keystroke. The delta is what opening the picker
# costs: the compiled plugin module, its wasm linear memory (the device list, the filter's
# state) and Zellij's own bookkeeping for one more pane.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
count=${NAPSH_BENCH_DEVICES:-10000}

scripts/ensure-tools.sh
scripts/build-plugin.sh
cargo build --release --locked -q -p napsh -p napsh-emulator
cargo bench --locked -q -p napsh-core --bench picker 2>/dev/null | grep -E "^[a-z]|time:|feed" || true

b=$(mktemp -d -t napsh-bench.XXXXXX)
session="napsh-bench-$$"
export XDG_CONFIG_HOME=$b/config XDG_CACHE_HOME=$b/cache XDG_STATE_HOME=$b/state XDG_DATA_HOME=$b/data \
  SORACOM_PROFILE_DIR=$b/soracom SORACOM_PROFILE=bench ZELLIJ_SOCKET_DIR=$b/sock TMPDIR=$b/tmp
emulator_pid=
cleanup() {
  zellij kill-session "$session" >/dev/null 2>&1 || true
  tmux -L "$session" kill-server >/dev/null 2>&1 || true
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$b"
}
trap cleanup EXIT
umask 077
mkdir -p "$SORACOM_PROFILE_DIR" "$XDG_CACHE_HOME/zellij" "$ZELLIJ_SOCKET_DIR" "$TMPDIR"
printf 'page_size = 100\n[[credentials]]\nauth_key_id = "k"\nauth_key = "s"\n' >"$b/fleet.toml"
"$target/release/napsh-emulator" --fleet "$b/fleet.toml" --generate "$count" >"$b/ready" 2>"$b/emulator.log" &
emulator_pid=$!
for _ in $(seq 300); do [ -s "$b/ready" ] && break; sleep 0.1; done
api=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$b/ready")
printf '{"authKeyId":"k","authKey":"s","endpoint":"%s"}\n' "$api" >"$SORACOM_PROFILE_DIR/bench.json"
napsh="$target/release/napsh"
wasm="$root/plugin/target/wasm32-wasip1/release/napsh.wasm"
"$napsh" devices --refresh >/dev/null
printf '"%s" {\n    RunCommands\n    ReadApplicationState\n    ChangeApplicationState\n}\n' "$wasm" >"$XDG_CACHE_HOME/zellij/permissions.kdl"
cat >"$b/config.kdl" <<KDL
show_startup_tips false
show_release_notes false
keybinds {
    shared_except "locked" {
        bind "Alt s" { LaunchOrFocusPlugin "file:$wasm" { floating true; move_to_focused_tab true; helper "$napsh"; }; }
    }
}
KDL
tmux -L "$session" -f /dev/null new-session -d -s b -x 200 -y 50 \
  "env XDG_CONFIG_HOME=$XDG_CONFIG_HOME XDG_CACHE_HOME=$XDG_CACHE_HOME XDG_STATE_HOME=$XDG_STATE_HOME XDG_DATA_HOME=$XDG_DATA_HOME SORACOM_PROFILE_DIR=$SORACOM_PROFILE_DIR SORACOM_PROFILE=bench ZELLIJ_SOCKET_DIR=$ZELLIJ_SOCKET_DIR TMPDIR=$TMPDIR zellij --config $b/config.kdl --session $session"
screen() { tmux -L "$session" capture-pane -p -t b; }
until_screen() { for _ in $(seq 1500); do screen | grep -qF "$1" && return 0; sleep 0.02; done; echo "timed out waiting for: $1" >&2; screen >&2; return 1; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# The Zellij server of this session: its command line names our socket directory.
server_pid() {
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--server $ZELLIJ_SOCKET_DIR"; then
      basename "$p"
      return
    fi
  done
}
rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
until_screen "Zellij"; sleep 1
server=$(server_pid)
before=$(rss_mb "$server")
start=$(date +%s%N); tmux -L "$session" send-keys -t b M-s; until_screen "napsh — $count devices"
echo "zellij: keypress → first paint with $count cached devices: $(ms "$start") ms"
sleep 1
opened=$(rss_mb "$server")
start=$(date +%s%N); tmux -L "$session" send-keys -t b -l k; until_screen "Filter: k_"
echo "zellij: one filter keystroke over $count devices, on screen: $(ms "$start") ms"
sleep 1
filtered=$(rss_mb "$server")
echo "zellij server RSS: $before MB before the picker, $opened MB after its first paint (+$(awk "BEGIN { print $opened - $before }") MB), $filtered MB after a keystroke"
