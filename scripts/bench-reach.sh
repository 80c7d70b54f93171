#!/usr/bin/env bash
# Throughput and latency of napsh's reach, side by side in one run, against the emulator
# (release builds) with a real sshd device:
#   (a) a TCP stream of BENCH_MB through `napsh tunnel` vs a direct loopback connection to the
#       same target, and vs the Napter mapping endpoint itself (the emulator's forwarder) so the
#       ratio isolates napsh's own cost; plus the added latency per round trip. Both relays on
#       that path (napsh's and the emulator's Napter stand-in) are the same kernel splice relay
#       (the napsh-relay crate), so the path is also measured through two bare relay hops
#       (relay/examples/relay-hop.rs, no napsh) — the floor any two-hop relay path has here —
#       and the CPU seconds each path burns per GB (sender + relays + receiver), which bounds
#       the ratio on a CPU-bound box. Peers through the same mapping, side by side: `socat
#       TCP-LISTEN,fork TCP:<mapping endpoint>` (what one would run by hand) and `ssh -L` to the
#       device through the mapping (the encrypted way).
#   (b) `scp` of a BENCH_SCP_MB file through `napsh proxy` (the ssh-config ProxyCommand) vs scp
#       direct to the same sshd, and vs scp to the mapping endpoint.
# Goals: tunnel / two bare hops >= 0.95, tunnel / socat >= 1.0, scp through proxy >= 0.9.
# Numbers are noisy on a shared 2-core box.
# Usage: scripts/bench-reach.sh   (env: BENCH_MB=200 BENCH_SCP_MB=200 BENCH_REPS=5 BENCH_RTT=2000;
#        BENCH_DEBUG=1 uses debug builds, only to try the script)
set -euo pipefail
cd "$(dirname "$0")/.."

MB=${BENCH_MB:-200}
SCP_MB=${BENCH_SCP_MB:-200}
REPS=${BENCH_REPS:-5}
RTT=${BENCH_RTT:-2000}

scripts/ensure-tools.sh --bench --no-zellij
profile=release
[ "${BENCH_DEBUG:-0}" = 1 ] && profile=debug   # only to try the script quickly
cargo build --profile "${profile/debug/dev}" --locked -q -p napsh -p napsh-emulator
cargo build --profile "${profile/debug/dev}" --locked -q -p napsh-relay --example relay-hop
bin="${CARGO_TARGET_DIR:-$(pwd)/target}/$profile"

work=$(mktemp -d -t napsh-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache" XDG_STATE_HOME="$work/state" \
  XDG_DATA_HOME="$work/data" SORACOM_PROFILE_DIR="$work/soracom" SORACOM_PROFILE=bench HOME="$work/home"
umask 077
mkdir -p "$SORACOM_PROFILE_DIR" "$XDG_CONFIG_HOME/napsh" "$HOME" "$work/emulator"
napsh="$bin/napsh"

# A loopback target: port A streams BYTES then closes, port B echoes. Plus its clients.
cat >"$work/net.py" <<'PY'
import socket, sys, threading, time, statistics
def serve(n_bytes):
    chunk = memoryview(b"\x5a" * (1 << 20))
    def stream(c):
        left = n_bytes
        while left > 0:
            k = min(left, len(chunk)); c.sendall(chunk[:k]); left -= k
        c.close()
    def echo(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d)
        c.close()
    ports = []
    for handler in (stream, echo):
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); ports.append(s.getsockname()[1])
        def loop(s=s, h=handler):
            while True:
                c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
    print(*ports, flush=True)
    threading.Event().wait()
def pull(port):
    import resource
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    s = socket.create_connection(("127.0.0.1", int(port)))
    buf = bytearray(1 << 20); view = memoryview(buf); total = 0; t = time.perf_counter()
    while True:
        n = s.recv_into(view)
        if not n: break
        total += n
    dt = time.perf_counter() - t
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{total / dt / 1e6:.1f} {r.ru_utime + r.ru_stime - r0.ru_utime - r0.ru_stime:.3f}")  # MB/s, own CPU seconds
def rtt(port, count):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for _ in range(int(count)):
        t = time.perf_counter(); s.sendall(b"x"); s.recv(1); samples.append(time.perf_counter() - t)
    print(f"{statistics.median(samples) * 1e6:.1f}")
{"serve": lambda a: serve(int(a[0])), "pull": lambda a: pull(a[0]), "rtt": lambda a: rtt(*a)}[sys.argv[1]](sys.argv[2:])
PY

python3 "$work/net.py" serve $((MB * 1000 * 1000)) >"$work/targets" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/targets" ] && break; sleep 0.1; done
read -r stream_port echo_port <"$work/targets"

ssh-keygen -q -t ed25519 -N '' -C napsh-bench -f "$work/id_ed25519"
cat >"$work/fleet.toml" <<TOML
[ssh]
authorized_keys = "$work/id_ed25519.pub"
[[credentials]]
auth_key_id = "keyId-bench"
auth_key = "secret-bench-0123456789"
[[devices]]
name = "bench-1"
online = true
ssh = "spawn"
ports = { 9000 = "127.0.0.1:$stream_port", 9001 = "127.0.0.1:$echo_port" }
TOML
"$bin/napsh-emulator" --fleet "$work/fleet.toml" --work-dir "$work/emulator" \
  >"$work/emulator/ready.line" 2>"$work/emulator/log" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/emulator/ready.line" ] && break; sleep 0.1; done
api=$(sed -n 's/.*"api":"\([^"]*\)".*/\1/p' "$work/emulator/ready.line")
sshd_port=$(sed -n 's/.*"sshPort":\([0-9]*\).*/\1/p' "$work/emulator/ready.line")
[ -n "$api" ] && [ -n "$sshd_port" ] || { echo "bench: the emulator did not start" >&2; cat "$work/emulator/log" >&2; exit 1; }
cat >"$SORACOM_PROFILE_DIR/bench.json" <<JSON
{"coverageType":"jp","authKeyId":"keyId-bench","authKey":"secret-bench-0123456789","endpoint":"$api"}
JSON
cat >"$XDG_CONFIG_HOME/napsh/config.toml" <<TOML
default_user = "$(id -un)"
source_cidr = "127.0.0.1/32"
ssh_extra_args = ["-i", "$work/id_ed25519", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
TOML

# Best and median of a list of numbers (higher is better for MB/s).
stats() { python3 -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:]]; print(f"{max(v):.1f} {s.median(v):.1f}")' "$@"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "== (a) napsh tunnel: $MB MB streams x $REPS, $RTT round trips" >&2
"$napsh" tunnel bench-1 -p 9000:0 -p 9001:0 >"$work/tunnel.out" 2>"$work/tunnel.err" &
tunnel_pid=$!
pids+=("$tunnel_pid")
for _ in $(seq 1 200); do grep -q "tunnel open" "$work/tunnel.err" 2>/dev/null && break; sleep 0.1; done
grep -q "tunnel open" "$work/tunnel.err" || { cat "$work/tunnel.err" >&2; exit 1; }
line_for() { grep "⇒ bench-1:$1 " "$work/tunnel.out"; }
tunnel_stream=$(line_for 9000 | sed -n 's/^127\.0\.0\.1:\([0-9]*\) .*/\1/p')
tunnel_echo=$(line_for 9001 | sed -n 's/^127\.0\.0\.1:\([0-9]*\) .*/\1/p')
mapping_stream=$(line_for 9000 | sed -n 's/.*(mapping 127\.0\.0\.1:\([0-9]*\)).*/\1/p')
mapping_echo=$(line_for 9001 | sed -n 's/.*(mapping 127\.0\.0\.1:\([0-9]*\)).*/\1/p')

# Two bare relay hops in front of the same target: client → hop 2 → hop 1 → target.
start_hop() { # start_hop TARGET N: a relay-hop to TARGET, its port written to $work/hop.N
  "$bin/examples/relay-hop" "$1" >"$work/hop.$2" &
  pids+=($!)
}
hop_port() { # hop_port N: the port relay-hop N listens on, once it said so
  for _ in $(seq 1 100); do [ -s "$work/hop.$1" ] && break; sleep 0.05; done
  sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/hop.$1"
}
start_hop "127.0.0.1:$stream_port" 1
start_hop "127.0.0.1:$(hop_port 1)" 2
floor_stream=$(hop_port 2)
start_hop "127.0.0.1:$echo_port" 3
start_hop "127.0.0.1:$(hop_port 3)" 4
floor_echo=$(hop_port 4)
[ -n "$floor_stream" ] && [ -n "$floor_echo" ] || { echo "bench: relay-hop did not start" >&2; exit 1; }

# The peers, in front of the same mapping: socat relaying to the mapping endpoint, and ssh -L
# through the mapping's device sshd (port 22, its own mapping) to the same targets.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_socat() { # start_socat PORT TARGET_PORT: a socat relay on PORT to TARGET_PORT
  socat "TCP-LISTEN:$1,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$2" >/dev/null 2>&1 &
  pids+=($!)
}
socat_stream=$(free_port) socat_echo=$(free_port)
start_socat "$socat_stream" "$mapping_stream"
start_socat "$socat_echo" "$mapping_echo"
"$napsh" connect --keep bench-1 >"$work/connect.out"
mapping_ssh=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/connect.out" | head -1)
sshl_stream=$(free_port) sshl_echo=$(free_port)
ssh -N -i "$work/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ExitOnForwardFailure=yes -p "$mapping_ssh" \
  -L "127.0.0.1:$sshl_stream:127.0.0.1:$stream_port" -L "127.0.0.1:$sshl_echo:127.0.0.1:$echo_port" \
  "$(id -un)@127.0.0.1" &
pids+=($!)
# Each tool opens both of its listeners at once: probing the echo ones (a probe of a stream
# port would start a stream) says both are up.
for port in "$socat_echo" "$sshl_echo"; do
  for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break; sleep 0.1; done
done

# CPU ticks (user + system, every thread) of the processes that may carry a stream.
ticks() { local t=0 p; for p in "${pids[@]}"; do
  t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
declare -A cpu=()
measure() { # measure NAME PORT: one pull; appends its MB/s to NAME's list, adds its CPU seconds
  local before rate own; before=$(ticks)
  read -r rate own <<<"$(python3 "$work/net.py" pull "$2" 2>/dev/null)"
  cpu[$1]=$(python3 -c "print(${cpu[$1]:-0} + $own + ($(ticks) - $before) / $(getconf CLK_TCK))")
  eval "$1+=($rate)"
}
direct=() mapping=() tunnel=() floor=() socat=() sshl=()
for _ in $(seq 1 "$REPS"); do
  measure direct "$stream_port"
  measure mapping "$mapping_stream"
  measure tunnel "$tunnel_stream"
  measure floor "$floor_stream"
  measure socat "$socat_stream"
  measure sshl "$sshl_stream"
done
read -r d_best d_med <<<"$(stats "${direct[@]}")"
read -r m_best m_med <<<"$(stats "${mapping[@]}")"
read -r t_best t_med <<<"$(stats "${tunnel[@]}")"
read -r f_best f_med <<<"$(stats "${floor[@]}")"
read -r so_best so_med <<<"$(stats "${socat[@]}")"
read -r sl_best sl_med <<<"$(stats "${sshl[@]}")"
per_gb() { python3 -c "print(f'{${cpu[$1]} / ($REPS * $MB / 1000):.2f}')"; }
rtt_direct=$(python3 "$work/net.py" rtt "$echo_port" "$RTT")
rtt_mapping=$(python3 "$work/net.py" rtt "$mapping_echo" "$RTT")
rtt_tunnel=$(python3 "$work/net.py" rtt "$tunnel_echo" "$RTT")
rtt_floor=$(python3 "$work/net.py" rtt "$floor_echo" "$RTT")
rtt_socat=$(python3 "$work/net.py" rtt "$socat_echo" "$RTT")
rtt_sshl=$(python3 "$work/net.py" rtt "$sshl_echo" "$RTT")
kill -TERM "$tunnel_pid"; wait "$tunnel_pid" 2>/dev/null || true

echo "== (b) scp of $SCP_MB MB x $REPS: through napsh proxy vs direct" >&2
head -c $((SCP_MB * 1000 * 1000)) /dev/urandom >"$work/big.bin"
"$napsh" ssh-config >"$work/ssh_config"
ssh_opts=(-i "$work/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
user=$(id -un)
scp_rate() { # prints MB/s of one scp
  local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
  python3 -c "print(f'{$SCP_MB/($t1-$t0):.1f}')"
}
s_direct=() s_mapping=() s_proxy=()
for _ in $(seq 1 "$REPS"); do
  s_direct+=("$(scp_rate scp -q "${ssh_opts[@]}" -P "$sshd_port" "$work/big.bin" "$user@127.0.0.1:$work/dst.bin")")
  s_mapping+=("$(scp_rate scp -q "${ssh_opts[@]}" -P "$mapping_ssh" "$work/big.bin" "$user@127.0.0.1:$work/dst.bin")")
  s_proxy+=("$(scp_rate scp -q -F "$work/ssh_config" -o LogLevel=ERROR "$work/big.bin" bench-1.napsh:$work/dst.bin)")
done
"$napsh" mappings close --all >/dev/null
read -r sd_best sd_med <<<"$(stats "${s_direct[@]}")"
read -r sm_best sm_med <<<"$(stats "${s_mapping[@]}")"
read -r sp_best sp_med <<<"$(stats "${s_proxy[@]}")"

verdict() { python3 -c "print('ok' if $1 >= $2 else 'MISSES the goal')"; }
cat <<REPORT

napsh reach benchmark ($(nproc) cores, release builds; MB/s, best / median of $REPS)
  (a) TCP stream of $MB MB
      direct to the target          $d_best / $d_med
      Napter mapping endpoint       $m_best / $m_med   (the emulator's forwarder alone)
      napsh tunnel                  $t_best / $t_med
      two bare relay hops           $f_best / $f_med   (napsh-relay alone, no napsh: the floor)
      socat → mapping endpoint      $so_best / $so_med   (socat TCP-LISTEN,fork TCP:endpoint)
      ssh -L through the mapping    $sl_best / $sl_med   (encrypted, via the device's sshd)
      ratio tunnel/two bare hops    $(ratio "$t_med" "$f_med")  (goal >= 0.95: $(verdict "$(ratio "$t_med" "$f_med")" 0.95))
      ratio tunnel/socat            $(ratio "$t_med" "$so_med")  (goal >= 1.0: $(verdict "$(ratio "$t_med" "$so_med")" 1.0))
      ratio tunnel/ssh -L           $(ratio "$t_med" "$sl_med")
      ratio tunnel/mapping          $(ratio "$t_med" "$m_med")  (napsh's own cost on top of the mapping)
      ratio two bare hops/direct    $(ratio "$f_med" "$d_med")  (the floor of a two-hop path on this box)
      CPU s per GB (all processes)  direct $(per_gb direct), mapping $(per_gb mapping), tunnel $(per_gb tunnel), two bare hops $(per_gb floor), socat $(per_gb socat), ssh -L $(per_gb sshl)
      round trip (median of $RTT)   direct ${rtt_direct} µs, mapping ${rtt_mapping} µs, tunnel ${rtt_tunnel} µs, two bare hops ${rtt_floor} µs, socat ${rtt_socat} µs, ssh -L ${rtt_sshl} µs
      added per round trip          tunnel $(python3 -c "print(f'{$rtt_tunnel-$rtt_mapping:.1f}')") µs, socat $(python3 -c "print(f'{$rtt_socat-$rtt_mapping:.1f}')") µs, ssh -L $(python3 -c "print(f'{$rtt_sshl-$rtt_mapping:.1f}')") µs (over the mapping endpoint alone)
  (b) scp of $SCP_MB MB
      scp direct to sshd            $sd_best / $sd_med
      scp to the mapping endpoint   $sm_best / $sm_med
      scp via napsh proxy           $sp_best / $sp_med
      ratio proxy/direct            $(ratio "$sp_med" "$sd_med")  (goal >= 0.9: $(verdict "$(ratio "$sp_med" "$sd_med")" 0.9))
      ratio proxy/mapping           $(ratio "$sp_med" "$sm_med")  (napsh's own cost: $(verdict "$(ratio "$sp_med" "$sm_med")" 0.9))
REPORT
