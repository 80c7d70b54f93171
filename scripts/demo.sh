#!/usr/bin/env bash
# The napsh demo: a simulated fleet of a dozen devices on the Soracom/Napter emulator (each
# online device a real sshd with its own host key), a soracom-cli profile for it, and Zellij
# with the napsh picker one keypress away (Alt s). Quitting Zellij (Ctrl q) stops the emulator
# and every device. No Soracom account needed; your own Zellij and napsh settings are untouched.
#
# Only the demo's tools are installed (scripts/ensure-tools.sh --demo). On a fresh machine Zellij
# builds while the plugin and napsh do. NAPSH_DEMO_BIN=DIR runs the napsh and napsh-emulator
# binaries in DIR instead of building them, NAPSH_DEMO_SESSION names the Zellij session (the
# demo's own end-to-end test uses both).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

demo=$(mktemp -d -t napsh-demo.XXXXXX)
session="${NAPSH_DEMO_SESSION:-napsh-demo-$$}"
emulator_pid='' tools_pid=''
# Says something on the terminal, which may be gone (closed window): never fails.
say() { echo "$@" 2>/dev/null || true; }
cleanup() {
  if [ -n "$tools_pid" ]; then kill -- "-$tools_pid" 2>/dev/null || true; fi
  zellij delete-session --force "$session" >/dev/null 2>&1 || true
  if [ -n "$emulator_pid" ]; then
    close_leftover_mappings
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    say "demo: the emulator and every device stopped"
  fi
  rm -rf "$demo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 129' HUP

# Each device pane's napsh deletes its mapping as Zellij closes it; a few seconds for that,
# then whatever is still open is deleted here (and said).
close_leftover_mappings() {
  local json=''
  for _ in $(seq 1 50); do
    # No answer: the emulator stopped already (SIGHUP), and its mappings with it.
    json=$(napsh mappings --json 2>/dev/null) || return 0
    [ "$json" = "[]" ] && break
    sleep 0.1
  done
  if [ "$json" = "[]" ]; then
    say "demo: no mapping left"
  else
    say "demo: mappings were still open; deleting them"
    napsh mappings close --all --any >/dev/null 2>&1 || true
  fi
}

if [ -n "${NAPSH_DEMO_BIN:-}" ]; then
  bin=$(cd "$NAPSH_DEMO_BIN" && pwd)
  scripts/ensure-tools.sh --demo
else
  scripts/ensure-tools.sh --demo --no-zellij
  # Its own process group, so that an interrupted demo stops the whole cargo build.
  setsid scripts/ensure-tools.sh --demo & tools_pid=$!
  scripts/build-plugin.sh
  cargo build --locked -q -p napsh -p napsh-emulator
  wait "$tools_pid" || { tools_pid=''; echo "demo: installing Zellij failed (see above)" >&2; exit 1; }
  tools_pid=''
  bin="$root/target/debug"
fi

# Everything the demo writes lives under $demo: napsh's and Zellij's config, cache and state.
export XDG_CONFIG_HOME="$demo/config" XDG_CACHE_HOME="$demo/cache" XDG_STATE_HOME="$demo/state" \
  XDG_DATA_HOME="$demo/data" SORACOM_PROFILE_DIR="$demo/soracom" SORACOM_PROFILE=napsh-demo \
  ZELLIJ_CONFIG_DIR="$demo/config/zellij" PATH="$bin:$PATH"
umask 077
mkdir -p "$SORACOM_PROFILE_DIR" "$XDG_CONFIG_HOME/napsh" "$ZELLIJ_CONFIG_DIR" "$XDG_CACHE_HOME/zellij" "$demo/emulator"

ssh-keygen -q -t ed25519 -N '' -C napsh-demo -f "$demo/id_ed25519"
napsh-emulator --authorized-keys "$demo/id_ed25519.pub" --work-dir "$demo/emulator" \
  >"$demo/emulator/ready.line" 2>"$demo/emulator/log" &
emulator_pid=$!
for _ in $(seq 1 200); do
  [ -s "$demo/emulator/ready.line" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$demo/emulator/log" >&2; exit 1; }
  sleep 0.1
done
api=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$demo/emulator/ready.line")
[ -n "$api" ] || { echo "demo: the emulator did not start; its log:" >&2; cat "$demo/emulator/log" >&2; exit 1; }

cat >"$SORACOM_PROFILE_DIR/napsh-demo.json" <<JSON
{"coverageType":"jp","authKeyId":"keyId-demo","authKey":"secret-demo-0123456789","endpoint":"$api"}
JSON
cat >"$XDG_CONFIG_HOME/napsh/config.toml" <<TOML
default_user = "$(id -un)"
source_cidr = "127.0.0.1/32"
ssh_extra_args = ["-i", "$demo/id_ed25519", "-o", "IdentitiesOnly=yes"]
TOML

# The picker: installed exactly as a user would, then its permissions granted up front so that
# it opens without a prompt.
printf 'show_startup_tips false\nshow_release_notes false\n' >"$ZELLIJ_CONFIG_DIR/config.kdl"
napsh zellij install >/dev/null
cat >"$XDG_CACHE_HOME/zellij/permissions.kdl" <<KDL
"$ZELLIJ_CONFIG_DIR/plugins/napsh.wasm" {
    RunCommands
    ReadApplicationState
    ChangeApplicationState
}
KDL
napsh devices --refresh >/dev/null   # warm the cache: the picker paints from it at once

cat >"$demo/welcome.sh" <<WELCOME
clear
cat <<'TEXT'
  napsh demo: a simulated fleet on the Soracom/Napter emulator ($api)

    Alt s     open the device picker: type to filter, Space to select, Enter to connect
              (each device opens in its own pane; an offline one shows the manual guide)

  In this shell:
    napsh devices                 the fleet (a few devices are offline)
    napsh ssh kiosk-osaka-01      a shell through a fresh Napter mapping, host key pinned
    napsh ssh gateway-factory-a -- uname -a
    napsh mappings                mappings napsh holds (deleted when sessions end)

  Ctrl q quits Zellij and stops the emulator and every device.
TEXT
PS1='napsh-demo\$ '
WELCOME
cat >"$demo/layout.kdl" <<KDL
layout {
    default_tab_template {
        pane size=1 borderless=true { plugin location="zellij:tab-bar"; }
        children
        pane size=2 borderless=true { plugin location="zellij:status-bar"; }
    }
    tab name="napsh demo" {
        pane command="bash" { args "--rcfile" "$demo/welcome.sh" "-i"; }
    }
}
KDL
zellij --session "$session" --new-session-with-layout "$demo/layout.kdl"
