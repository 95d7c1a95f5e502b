# peer-bench plugin for clawherd (this project): ../../target/release/clawherd, built by
# `cargo build --release` (scripts/bench does it). Usage, from the peer-bench folder:
#   ./run.sh --sups bash-loop,runit,s6,/path/to/clawherd/benches/peer-bench/clawherd.sh
#
# Fleet: N profiles c1..cN, `flavor: process` (no readiness probe: ready once spawned),
# command = the benchmark child, restart policy always. c1 has role main, the others rescue
# (a role is required for names other than main/rescue).
#   default: clawherd's own defaults (backoff initial 1s, max 60s, reset_after 60s;
#            crash_loop 6 starts / 5m). A child killed after 1.3 s of uptime is a crash "in the
#            first minute", so each kill waits the doubling backoff: 1 s, 2 s, 4 s, 8 s, 16 s...
#            and the 7th start within 5 min puts the instance in `crash-loop` (slow retries).
#   fast:    backoff initial 0s (the smallest value `clawherd check` accepts; 0 * 2^n = 0),
#            crash_loop.max_starts 1000000.
# `run --quiet`: gateway output is not mirrored to stdout (it is still written to run_dir/logs).
# Shutdown: SIGTERM to clawherd (SIGTERM to every instance's process group at once, exit 0).
# The control socket must fit in ~100 bytes; if $WORK is long it goes under /tmp.

# CLAWHERD_BIN overrides it (e.g. a build of another commit).
BIN="${CLAWHERD_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../target/release/clawherd}"

sup_available() { [ -x "$BIN" ] || { echo "build it first: cargo build --release ($BIN)"; return 1; }; }
sup_version()   { "$BIN" --version 2>/dev/null || echo "clawherd (unknown version)"; }
sup_info() {
    echo stop_signal=TERM
    echo "notes=1 process (tokio current-thread runtime + writer threads for logs/events); flavor process, ready once spawned; MODE=fast: backoff initial 0s, crash_loop.max_starts 1e6"
}

# Short per-instance socket dir under /tmp, used only when $WORK is too long.
_clawherd_sockdir() { printf '/tmp/clawherd-bench-%s' "$(printf '%s' "$WORK" | cksum | cut -d' ' -f1)"; }

sup_prepare() {
    local f="$WORK/fleet.yaml" i role sock cmd state
    {
        echo "version: 1"
        echo "run_dir: .clawherd"
        # "<WORK>/.clawherd/clawherd.sock" plus the NUL must fit sun_path (108); stay well below.
        if [ $(( ${#WORK} + 24 )) -gt 90 ]; then
            sock="$(_clawherd_sockdir)"
            mkdir -p "$sock"
            echo "control: {socket: \"$sock/clawherd.sock\"}"
        fi
        echo "defaults:"
        if [ "$MODE" = fast ]; then
            echo "  restart: {policy: always, backoff: {initial: 0s}, crash_loop: {max_starts: 1000000}}"
        else
            echo "  restart: {policy: always}"
        fi
        echo "profiles:"
        for i in $(seq 1 "$N"); do
            if [ "$i" = 1 ]; then role=main; else role=rescue; fi
            # child_cmd prints "CHILD STATE" (both absolute, no spaces in the harness's paths)
            read -r cmd state <<<"$(child_cmd "$i")"
            echo "  c$i:"
            echo "    role: $role"
            echo "    flavor: process"
            echo "    command: [\"$cmd\", \"$state\"]"
            echo "    args: []"
        done
    } > "$f"
}

sup_start() { exec "$BIN" run --quiet "$WORK/fleet.yaml"; }

sup_cleanup() {
    local d
    d="$(_clawherd_sockdir)"
    [ -d "$d" ] && rm -rf "$d"
    return 0
}
