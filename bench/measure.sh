#!/bin/bash
# Measures vpn-firewall's performance and writes the raw results to target/bench/ (see
# bench/report.py, which turns them into docs/benchmark.md). Run as root, from anywhere:
#
#     bash bench/measure.sh [RUNS]     (timed runs per measurement, at least 3; default 15)
#
# Everything that loads rules or sends packets runs inside network namespaces made here
# (vpnfwb-PID-*) and deleted on exit, also on failure or Ctrl-C: the machine's own firewall is
# never touched. `check` and `show` run outside them: they read files and print, nothing more.
#
# What it writes (tab-separated, one header line each; a new run replaces the whole folder):
#   machine.tsv  fact, value: what this machine is, as measured here, and how the run was made
#   methods.tsv  method, limit, label: the ways of loading that the load rounds time
#   results.tsv  group, round, case, kind, value: every single measurement
#
# The sizes can be cut down for a quick try (the report says what was measured):
#     LOAD_CASES="lan0 lan1000" BASELINE_SIZES=0 THROUGHPUT_ROUNDS=2 bash bench/measure.sh 3
set -euo pipefail

RUNS=${1:-15}
[[ $RUNS =~ ^[0-9]+$ ]] && (( RUNS >= 3 )) || { echo "usage: bash bench/measure.sh [RUNS >= 3]" >&2; exit 2; }
# 30000 networks beyond the sizes asked for: the linearity check needs sizes at which the
# networks, not the fixed cost of a transaction (some 15 ms), make most of the time.
LOAD_CASES=${LOAD_CASES-lan0 lan100 lan1000 lan10000 lan30000 servers1000}
# The per-rule baseline runs for these sizes only: iptables-nft reads the whole ruleset back
# at every command, so 10000 networks (30000 commands) would take the better part of an hour.
BASELINE_SIZES=${BASELINE_SIZES-0 100 1000}
THROUGHPUT_ROUNDS=${THROUGHPUT_ROUNDS-$RUNS}
# Whole seconds of each iperf3 run.
IPERF_SECONDS=${IPERF_SECONDS:-2}

# ---------------------------------------------------------------------------------------------
# The ways of loading a configuration that each load round times, interleaved, in an order
# that turns every round. Each is a function load_NAME, run inside the load namespace (with a
# /run of its own) with $bin, $dir (the configuration directory) and $show (what `show` prints
# for it); it starts from a namespace without vpn-firewall's table, loads twice, and reports
# each with `timed first|reload T0 T1` ($EPOCHREALTIME before and after). Registered with
# `method NAME LIMIT LABEL`: the report compares each with the floor, round by round, and
# checks that the ratio stays at or below LIMIT ("-": none). To add one (say, start through a
# running guard), write its function and its `method` line here; a method that needs a process
# running starts it at its first call and ends it in load_done_NAME, called after the rounds.

method() { printf '%s\t%s\t%s\n' "$@" >>"$RESULTS/methods.tsv"; }
timed() { echo "$r $case $m:$1 $2 $3"; } # the round, case and method of time_loads

load_start() {
    nft delete table inet vpn_firewall 2>/dev/null || true
    t0=$EPOCHREALTIME; "$bin" --config-dir "$dir" start >/dev/null
    t1=$EPOCHREALTIME; "$bin" --config-dir "$dir" start >/dev/null
    t2=$EPOCHREALTIME
    timed first "$t0" "$t1"; timed reload "$t1" "$t2"
}

load_floor() {
    nft delete table inet vpn_firewall 2>/dev/null || true
    t0=$EPOCHREALTIME; nft -f "$show"
    t1=$EPOCHREALTIME; nft -f "$show"
    t2=$EPOCHREALTIME
    timed first "$t0" "$t1"; timed reload "$t1" "$t2"
}

# DIR VPN-FIREWALL...: waits until a guard answers to `VPN-FIREWALL... --config-dir DIR status`;
# fails after some 10 s. A start made before it answers would load by itself, without it.
guard_running() {
    local i
    for ((i = 0; i < 200; i++)); do
        [[ $("${@:2}" --config-dir "$1" status 2>/dev/null) == *'guard:     running'* ]] && return 0
        sleep 0.05
    done
    echo "bench/measure.sh: the guard started for $1 did not answer within 10 s" >&2
    return 1
}

# Start through a running guard, started with ARGS: the guard is started for each call (not
# timed) and ended after it, so that no other method runs beside a guard, which would restore
# (or, owning the table, refuse) what they delete. The table it leaves, unowned, they delete.
through_guard() {
    "$bin" --config-dir "$dir" guard "$@" 2>/dev/null &
    local guard=$!
    guard_running "$dir" "$bin" || { kill "$guard"; return 1; }
    "$bin" --config-dir "$dir" flush >/dev/null # through the guard: nothing loaded, it stands by
    t0=$EPOCHREALTIME; "$bin" --config-dir "$dir" start >/dev/null
    t1=$EPOCHREALTIME; "$bin" --config-dir "$dir" start >/dev/null
    t2=$EPOCHREALTIME
    kill "$guard"; wait "$guard" || true
    timed first "$t0" "$t1"; timed reload "$t1" "$t2"
}
load_guard() { through_guard; }          # it owns table inet vpn_firewall (Linux 6.9)
load_second() { through_guard --second-table; } # and a second table, as before Linux 6.9

register_methods() {
    printf 'method\tlimit\tlabel\n' >"$RESULTS/methods.tsv"
    method floor - 'nft -f (the floor)'
    method start 1.5 'vpn-firewall start'
    # Issue 16's target: half the floor at the default configuration. With long lists the
    # guard with a second table loads every element twice (both tables) where the floor loads
    # them once.
    method guard 0.5:lan0 'vpn-firewall start through a running guard'
    method second 0.5:lan0 'vpn-firewall start through a guard with --second-table'
}

# ---------------------------------------------------------------------------------------------
need() { # TOOL DEBIAN-PACKAGE
    command -v "$1" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null || missing+=" $2"
}
missing=""
for pair in nft:nftables ip:iproute2 iptables:iptables ip6tables:iptables iperf3:iperf3 timeout:coreutils awk:mawk cargo:cargo; do
    need "${pair%%:*}" "${pair#*:}"
done
if [[ -n $missing ]]; then
    echo "bench/measure.sh needs:$missing; install with: apt-get install -y --no-install-recommends$missing" >&2
    exit 2
fi
[[ $(id -u) == 0 ]] || { echo "bench/measure.sh needs root (it makes network namespaces)" >&2; exit 2; }
PATH=$PATH:/usr/sbin:/sbin

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The results are written to a folder of their own and moved into place at the end: a run that
# fails leaves the previous results as they were.
WORK=$(mktemp -d /tmp/vpnfwb.XXXXXX)
RESULTS=$WORK/results
mkdir "$RESULTS"
PREFIX=vpnfwb-$$
NAMESPACES=()
PIDS=()
GUARD="" # the PID of the guard of the throughput cases while one runs
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [[ -n $GUARD ]]; then kill "$GUARD" 2>/dev/null; wait "$GUARD" 2>/dev/null || true; fi
    for ns in "${NAMESPACES[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

new_ns() { # NAME: a namespace of this run, with loopback up
    ip netns add "$1"
    NAMESPACES+=("$1")
    ip -n "$1" link set lo up
}

fact() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS/machine.tsv"; }
printf 'fact\tvalue\n' >"$RESULTS/machine.tsv"
fact date "$(date -u +%Y-%m-%d)"
fact commit "$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
fact cores "$(nproc)"
fact cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
fact memory "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
fact kernel "$(uname -r)"
fact nft "$(nft --version)"
fact iptables "$(iptables --version)"
fact iperf3 "$(iperf3 --version | head -n 1)"
fact rustc "$(rustc --version 2>/dev/null || echo unknown)"
fact niceness "$(nice)"
fact runs "$RUNS"
fact throughput_rounds "$THROUGHPUT_ROUNDS"
fact iperf_seconds "$IPERF_SECONDS"
fact load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
register_methods
printf 'group\tround\tcase\tkind\tvalue\n' >"$RESULTS/results.tsv"
result() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS/results.tsv"; } # GROUP ROUND CASE KIND VALUE
# Reads "ROUND CASE KIND T0 T1" lines; appends each duration (seconds) to the results of GROUP.
durations() { awk -v g="$1" '{ printf "%s\t%s\t%s\t%s\t%.6f\n", g, $1, $2, $3, $5 - $4 }' >>"$RESULTS/results.tsv"; }

echo "building the release binary" >&2
(cd "$REPO" && cargo build --release --locked --quiet)
BIN=$REPO/target/release/vpn-firewall

# ---------------------------------------------------------------------------------------------
# Configurations. The LAN networks are distinct /24s with a gap between each two, so that
# validation cannot merge them: N networks in the file are N elements in the kernel's set. The
# first is the benchmark's own LAN, 198.51.100.0/24, which the throughput runs send to.

# The stand-in tunnel tun0 is a veth (link/ether): a real tun device needs a process holding it
# and would hand the packets to that process, not to the iperf3 server behind it. Without
# `tap = yes` only point-to-point link types count as the tunnel, and every packet to tun0 is
# rejected ("No route to host"); with it the tunnel rule's link-type set holds Ethernet too,
# one element more in a set of three, as for OpenVPN `dev tap`.
config() { # DIR LAN-NETWORKS SERVERS
    mkdir -p "$1"
    {
        printf '[tunnel]\ninterfaces = tun0\ntap = yes\nuser =\nfwmark = 0xca6c\n'
        printf 'servers ='
        for ((i = 0; i < $3; i++)); do printf ' 203.0.113.%d:%d/udp' $((i % 256)) $((1194 + i / 256)); done
        printf '\n[lan]\nallow ='
        (( $2 > 0 )) && printf ' 198.51.100.0/24'
        for ((i = 1; i < $2; i++)); do printf ' 10.%d.%d.0/24' $((2 * i / 256)) $((2 * i % 256)); done
        printf '\n'
    } >"$1/50-bench.conf"
}

for case in $LOAD_CASES; do
    case $case in
        lan*) config "$WORK/$case" "${case#lan}" 0 ;;
        servers*) config "$WORK/$case" 0 "${case#servers}" ;;
        *) echo "bench/measure.sh: unknown load case $case (lanN or serversN)" >&2; exit 2 ;;
    esac
    "$BIN" --config-dir "$WORK/$case" show >"$WORK/$case.nft"
done

# ---------------------------------------------------------------------------------------------
# Timing happens inside the namespace, in one bash per measurement, so that `ip netns exec` is
# not part of what is timed; each timed command is a fork and exec, for every method alike.
#
# start takes /run/vpn-firewall.lock, which every vpn-firewall on the machine shares whatever
# its network namespace: on a machine where tests run beside the benchmark, start would wait
# for theirs. So the load timings run with a /run of their own (a private tmpfs in the mount
# namespace `ip netns exec` makes), as on a machine where this is the only vpn-firewall.

time_loads() { # BIN WORK RUNS "METHOD..." CASE...: prints "ROUND CASE METHOD:PHASE T0 T1"
    set -eo pipefail
    mount -t tmpfs vpnfwb-run /run
    local bin=$1 work=$2 runs=$3 methods=($4) r i n m case dir show t0 t1 t2
    shift 4
    n=${#methods[@]}
    for ((r = 0; r < runs; r++)); do
        for case in "$@"; do
            dir=$work/$case show=$work/$case.nft
            for ((i = 0; i < n; i++)); do
                m=${methods[(i + r) % n]}
                "load_$m"
            done
        done
    done
    for m in "${methods[@]}"; do
        if declare -F "load_done_$m" >/dev/null; then "load_done_$m"; fi
    done
    nft delete table inet vpn_firewall
}

time_script() { # SCRIPT CASE RUNS: the per-rule baseline, from an empty ruleset each time
    set -eo pipefail
    local r t0 t1
    for ((r = 0; r < $3; r++)); do
        nft flush ruleset
        t0=$EPOCHREALTIME; bash -e "$1"; t1=$EPOCHREALTIME
        echo "$r $2 script $t0 $t1"
    done
    nft flush ruleset
}

time_command() { # RUNS KIND COMMAND...: no kernel access; runs in the caller's namespace
    local runs=$1 kind=$2 r t0 t1
    shift 2
    for ((r = 0; r < runs; r++)); do
        t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; t1=$EPOCHREALTIME
        echo "$r default $kind $t0 $t1"
    done
}

METHODS=$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$RESULTS/methods.tsv")
echo "timing loads: $METHODS($RUNS rounds per size)" >&2
LOADNS=$PREFIX-load
new_ns "$LOADNS"
ip netns exec "$LOADNS" bash -c "$(declare -f time_loads timed guard_running through_guard $(compgen -A function load_)); time_loads '$BIN' '$WORK' $RUNS '$METHODS' $LOAD_CASES" |
    durations load

echo "timing the one-iptables-command-per-rule baseline ($RUNS runs per size: several minutes)" >&2
source "$REPO/bench/baseline.sh"
for n in $BASELINE_SIZES; do
    [[ -d $WORK/lan$n ]] || config "$WORK/lan$n" "$n" 0
    iptables_script "$WORK/lan$n/50-bench.conf" >"$WORK/iptables-$n.sh"
    result baseline - "lan$n" commands "$(grep -o 'tables -' "$WORK/iptables-$n.sh" | wc -l)"
    ip netns exec "$LOADNS" bash -c "$(declare -f time_script); time_script '$WORK/iptables-$n.sh' lan$n $RUNS" | durations baseline
done

echo "timing check and show at the default configuration" >&2
time_command $((RUNS * 5)) check "$BIN" --config-dir "$REPO/etc/vpn-firewall" check | durations commands
time_command $((RUNS * 5)) show "$BIN" --config-dir "$REPO/etc/vpn-firewall" show | durations commands

# ---------------------------------------------------------------------------------------------
# Throughput. The host (firewalled) sends; iperf3 servers listen on the far sides:
#   router: wan 198.51.100.1/24 <-veth-> host: eth0 198.51.100.2/24   (the LAN, in lan.allow)
#   vpn:    tun 192.0.2.1/24    <-veth-> host: tun0 192.0.2.2/24      (the stand-in tunnel)
# Every packet passes the host's output hook: through tun0 the tunnel rule accepts it before
# any set is consulted, to the LAN it is looked up in lan_v4 (after the DNS rule that looks it
# up too). Replies and TCP acknowledgements pass the input hook as established.
#
# A case is PATH:FIREWALL; `firewall FIREWALL` loads it in the host namespace. guardN is lanN
# through a guard, which owns table inet vpn_firewall (one table, as without a guard);
# secondN the same with a guard started with --second-table (the way of kernels before 6.9),
# so that every packet passes inet vpn_firewall and inet vpn_firewall_guard. Each is next to
# the case without the guard it is compared with.
THROUGHPUT_CASES="tunnel:none tunnel:lan0 tunnel:guard0 tunnel:second0 tunnel:lan10000 lan:none lan:lan1 lan:guard1 lan:second1 lan:second10000 lan:lan10000"

echo "measuring throughput ($THROUGHPUT_ROUNDS rounds, ${IPERF_SECONDS} s per run)" >&2
HOST=$PREFIX-host ROUTER=$PREFIX-router VPN=$PREFIX-vpn
new_ns "$HOST"; new_ns "$ROUTER"; new_ns "$VPN"
ip -n "$HOST" link add eth0 type veth peer name wan netns "$ROUTER"
ip -n "$HOST" link add tun0 type veth peer name tun netns "$VPN"
ip -n "$HOST" addr add 198.51.100.2/24 dev eth0
ip -n "$ROUTER" addr add 198.51.100.1/24 dev wan
ip -n "$HOST" addr add 192.0.2.2/24 dev tun0
ip -n "$VPN" addr add 192.0.2.1/24 dev tun
ip -n "$HOST" link set eth0 up; ip -n "$ROUTER" link set wan up
ip -n "$HOST" link set tun0 up; ip -n "$VPN" link set tun up
for ns in "$ROUTER" "$VPN"; do
    ip netns exec "$ns" iperf3 --server --daemon --pidfile "$WORK/iperf3-$ns.pid" >/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -s $WORK/iperf3-$ns.pid ]] && break; sleep 0.1; done
    PIDS+=("$(cat "$WORK/iperf3-$ns.pid")")
done

# The guard of the guardN (or secondN) cases: started at the first of them and kept for the next
# ones (start replaces what it holds through it), ended at a case of another kind.
GUARD_KIND=""
start_guard() { # DIR guard|second: the configuration the guard starts with, and how it holds
    [[ -n $GUARD && $GUARD_KIND == "$2" ]] && return
    end_guard
    local args=()
    [[ $2 == second ]] && args=(--second-table)
    GUARD_KIND=$2
    ip netns exec "$HOST" "$BIN" --config-dir "$1" guard "${args[@]}" 2>>"$WORK/guard.log" &
    GUARD=$! # ip netns exec executes the command in its place: this is the guard's PID
    guard_running "$1" ip netns exec "$HOST" "$BIN" || { cat "$WORK/guard.log" >&2; return 1; }
}
end_guard() { # and wait for it: a second table goes when it has ended, an owned main one stays, unowned
    [[ -n $GUARD ]] || return 0
    kill "$GUARD"
    wait "$GUARD" || { echo "bench/measure.sh: the guard ended with status $?:" >&2; cat "$WORK/guard.log" >&2; return 1; }
    GUARD=""
}
firewall() { # none | lanN (vpn-firewall start with N lan.allow networks) | guardN | secondN (the same through a guard)
    local n=${1##*[a-z]} # the N of lanN, guardN and secondN
    [[ -z $n || -d $WORK/lan$n ]] || config "$WORK/lan$n" "$n" 0
    [[ $1 == guard* || $1 == second* ]] || end_guard
    case $1 in
        none) ip netns exec "$HOST" nft delete table inet vpn_firewall 2>/dev/null || true ;;
        lan*) ip netns exec "$HOST" "$BIN" --config-dir "$WORK/lan$n" start >/dev/null ;;
        guard* | second*)
            start_guard "$WORK/lan$n" "${1%%[0-9]*}"
            ip netns exec "$HOST" "$BIN" --config-dir "$WORK/lan$n" start >/dev/null
            # A guard that had ended since would leave start to load the table by itself.
            local held
            if [[ $1 == guard* ]]; then
                held=$(ip netns exec "$HOST" nft list table inet vpn_firewall | grep -c 'flags owner')
            else
                held=$(ip netns exec "$HOST" nft list tables | grep -c 'table inet vpn_firewall_guard')
            fi
            [[ $held == 1 ]] ||
                { echo "bench/measure.sh: the guard holds nothing after a start through it:" >&2; cat "$WORK/guard.log" >&2; return 1; } ;;
        *) echo "bench/measure.sh: unknown firewall $1" >&2; return 2 ;;
    esac
}

# ROUND CASE SERVER udp|tcp: records the UDP packets per second sent and the sender's CPU time
# per packet (microseconds), or the TCP Mbit/s received.
iperf() {
    local out line
    for attempt in 1 2 3; do
        if [[ $4 == udp ]]; then
            out=$(ip netns exec "$HOST" timeout 30 iperf3 -c "$3" -u -b 0 -l 64 -t "$IPERF_SECONDS" -f m -V 2>&1) &&
                line=$(awk '
                    / sender$/ { split($(NF - 2), p, "/"); split($3, t, "-"); packets = p[2]; seconds = t[2] }
                    / receiver$/ { split($(NF - 2), p, "/"); received = p[2] - p[1] }
                    /CPU Utilization: local\/sender/ { match($0, /sender [0-9.]+%/); cpu = substr($0, RSTART + 7, RLENGTH - 8) }
                    END { if (!packets || !received || cpu == "") exit 1 # sent into a path that loses all: broken
                          print packets / seconds, cpu / 100 * seconds / packets * 1e6 }' <<<"$out") &&
                { result throughput "$1" "$2" udp "${line% *}"; result throughput "$1" "$2" cpu "${line#* }"; return; }
        else
            out=$(ip netns exec "$HOST" timeout 30 iperf3 -c "$3" -t "$IPERF_SECONDS" -f m 2>&1) &&
                line=$(awk '/ receiver$/ { print $7; exit }' <<<"$out") && [[ -n $line ]] &&
                { result throughput "$1" "$2" tcp "$line"; return; }
        fi
        sleep 1 # the server still finishing the previous test
    done
    echo "iperf3 to $3 failed: $out" >&2
    return 1
}
for ((r = 0; r < THROUGHPUT_ROUNDS; r++)); do
    cases=$THROUGHPUT_CASES
    (( r % 2 )) && cases=$(tr ' ' '\n' <<<"$cases" | tac | tr '\n' ' ')
    for c in $cases; do
        path=${c%%:*} server=192.0.2.1
        [[ $path == lan ]] && server=198.51.100.1
        firewall "${c#*:}"
        iperf "$r" "$c" "$server" udp
        iperf "$r" "$c" "$server" tcp
    done
done
firewall none

fact load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
OUT=$REPO/target/bench
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$RESULTS" "$OUT"
echo "results in $OUT; python3 bench/report.py writes docs/benchmark.md from them" >&2
