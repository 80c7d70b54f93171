#!/usr/bin/env bash
# The napsh demo: starts the Soracom/Napter emulator with a simulated fleet (real sshd per
# online device, a generated user key, a soracom-cli profile) and drops you into a shell
# where `napsh devices` and `napsh ssh kiosk-osaka-01` work. Exiting that shell stops the
# emulator and every sshd. No Soracom account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/ensure-tools.sh --no-zellij
cargo build --locked -q -p napsh -p napsh-emulator
bin="$root/target/debug"

demo=$(mktemp -d -t napsh-demo.XXXXXX)
emulator_pid=
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$demo"
}
trap cleanup EXIT INT TERM

ssh-keygen -q -t ed25519 -N '' -C napsh-demo -f "$demo/id_ed25519"
mkdir -p "$demo/emulator"
"$bin/napsh-emulator" --fleet demo/fleet.toml --authorized-keys "$demo/id_ed25519.pub" \
  --work-dir "$demo/emulator" >"$demo/emulator/ready.line" 2>"$demo/emulator/log" &
emulator_pid=$!
for _ in $(seq 1 100); do
  [ -s "$demo/emulator/ready.line" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$demo/emulator/log" >&2; exit 1; }
  sleep 0.1
done
api=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$demo/emulator/ready.line")

export XDG_CONFIG_HOME="$demo/config" XDG_CACHE_HOME="$demo/cache" XDG_STATE_HOME="$demo/state" \
  XDG_DATA_HOME="$demo/data" SORACOM_PROFILE_DIR="$demo/soracom" SORACOM_PROFILE=napsh-demo
mkdir -p "$SORACOM_PROFILE_DIR" "$XDG_CONFIG_HOME/napsh"
umask 077
cat >"$SORACOM_PROFILE_DIR/napsh-demo.json" <<JSON
{"coverageType":"jp","authKeyId":"keyId-demo","authKey":"secret-demo-0123456789","endpoint":"$api"}
JSON
cat >"$XDG_CONFIG_HOME/napsh/config.toml" <<TOML
default_user = "$(id -un)"
source_cidr = "127.0.0.1/32"
ssh_extra_args = ["-i", "$demo/id_ed25519", "-o", "IdentitiesOnly=yes"]
TOML

cat <<MSG

  napsh demo — a simulated fleet on the Soracom/Napter emulator at $api

    napsh devices                 list the fleet (a few devices are offline)
    napsh ssh kiosk-osaka-01      a shell on a device (through a fresh Napter mapping)
    napsh ssh gateway-factory-a -- uname -a
    napsh connect kiosk-tokyo-08  an offline device: the error and the manual guide
    napsh mappings                mappings napsh holds (deleted when sessions end)

  Type 'exit' to stop the emulator and every device.

MSG
PATH="$bin:$PATH" PS1='napsh-demo$ ' bash --norc -i || true
