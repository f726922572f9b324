#!/bin/bash
# The performance benchmark of vpn-firewall; writes docs/benchmark.md. Run from anywhere, as root:
#
#     bash bench/run.sh [RUNS]        (RUNS: timed runs per measurement, at least 10; default 15)
#
# Everything that loads rules or sends packets runs inside network namespaces made here
# (vpnfwb-PID-*) and deleted on exit, also on failure or Ctrl-C: the machine's own firewall is
# never touched. `check` and `show` run outside them: they read files and print, nothing more.
#
# What it measures, each as the median of RUNS runs, with the spread:
#   - start (first load into an empty namespace) and reload (a loaded table replaced) with 0,
#     100, 1000, 10000 and 30000 [lan] allow networks, and with 1000 [tunnel] servers;
#   - the floor: the same `show` text loaded by `nft -f`, timed in the same rounds, interleaved
#     with start, so that a busy machine slows both alike;
#   - the baseline of shell-script firewalls: the same policy as one iptables command per rule;
#   - packets per second (UDP, 64-byte payloads) and TCP throughput sent from the firewalled
#     namespace through its tunnel and to its LAN, with no table, few and 10000 LAN networks;
#   - check and show at the shipped default configuration.
set -euo pipefail

RUNS=${1:-15}
[[ $RUNS =~ ^[0-9]+$ ]] && (( RUNS >= 10 )) || { echo "usage: bash bench/run.sh [RUNS >= 10]" >&2; exit 2; }
# Whole seconds of each iperf3 run.
IPERF_SECONDS=2
# The per-rule baseline runs for these sizes only: iptables-nft reads the whole ruleset back
# at every command, so 10000 networks (30000 commands) would take the better part of an hour.
BASELINE_SIZES="0 100 1000"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/docs/benchmark.md

need() { # TOOL DEBIAN-PACKAGE
    command -v "$1" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null || missing+=" $2"
}
missing=""
for pair in nft:nftables ip:iproute2 iptables:iptables ip6tables:iptables iperf3:iperf3 timeout:coreutils awk:mawk cargo:cargo; do
    need "${pair%%:*}" "${pair#*:}"
done
if [[ -n $missing ]]; then
    echo "bench/run.sh needs:$missing; install with: apt-get install -y --no-install-recommends$missing" >&2
    exit 2
fi
[[ $(id -u) == 0 ]] || { echo "bench/run.sh needs root (it makes network namespaces)" >&2; exit 2; }
PATH=$PATH:/usr/sbin:/sbin

WORK=$(mktemp -d /tmp/vpnfwb.XXXXXX)
PREFIX=vpnfwb-$$
NAMESPACES=()
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
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

echo "building the release binary" >&2
(cd "$REPO" && cargo build --release --locked --quiet)
BIN=$REPO/target/release/vpn-firewall

# ---------------------------------------------------------------------------------------------
# Configurations. The LAN networks are distinct /24s with a gap between each two, so that
# validation cannot merge them: N networks in the file are N elements in the kernel's set. The
# first is the benchmark's own LAN, 198.51.100.0/24, which the throughput runs send to.

config() { # DIR LAN-NETWORKS SERVERS
    mkdir -p "$1"
    {
        printf '[tunnel]\ninterfaces = tun0\nuser =\nfwmark = 0xca6c\n'
        printf 'servers ='
        for ((i = 0; i < $3; i++)); do printf ' 203.0.113.%d:%d/udp' $((i % 256)) $((1194 + i / 256)); done
        printf '\n[lan]\nallow ='
        (( $2 > 0 )) && printf ' 198.51.100.0/24'
        for ((i = 1; i < $2; i++)); do printf ' 10.%d.%d.0/24' $((2 * i / 256)) $((2 * i % 256)); done
        printf '\n'
    } >"$1/50-bench.conf"
}

# 30000 networks beyond the sizes asked for: the linearity check needs sizes at which the
# networks, not the fixed cost of a transaction (some 15 ms), make most of the time.
LOAD_CASES="lan0 lan100 lan1000 lan10000 lan30000 servers1000"
for case in $LOAD_CASES; do
    case $case in
        lan*) config "$WORK/$case" "${case#lan}" 0 ;;
        servers*) config "$WORK/$case" 0 "${case#servers}" ;;
    esac
    "$BIN" --config-dir "$WORK/$case" show >"$WORK/$case.nft"
done

# ---------------------------------------------------------------------------------------------
# Timing happens inside the namespace, in one bash per measurement, so that `ip netns exec` is
# not part of what is timed; each timed command is a fork and exec, for start and floor alike.

# Results are "ROUND KIND VALUE" lines; times are in seconds.
#
# start takes /run/vpn-firewall.lock, which every vpn-firewall on the machine shares whatever
# its network namespace: on a machine where tests run beside the benchmark, start would wait
# for theirs. So the load timings run with a /run of their own (a private tmpfs in the mount
# namespace `ip netns exec` makes), as on a machine where this is the only vpn-firewall.

# RUNS rounds; each round times, for every case, start, reload, floor and floor reload, the
# order of the vpn-firewall pair and the nft pair alternating from round to round. A case is
# WORK/CASE (its configuration directory) and WORK/CASE.nft (what show prints for it).
time_loads() { # BIN WORK RUNS CASE...
    set -eo pipefail
    mount -t tmpfs vpnfwb-run /run
    local bin=$1 work=$2 runs=$3 r t0 t1 t2 dir show case
    shift 3
    ours() {
        nft delete table inet vpn_firewall 2>/dev/null || true
        t0=$EPOCHREALTIME; "$bin" --config-dir "$dir" start >/dev/null
        t1=$EPOCHREALTIME; "$bin" --config-dir "$dir" start >/dev/null
        t2=$EPOCHREALTIME
        echo "$r $case:start $t0 $t1"; echo "$r $case:reload $t1 $t2"
    }
    floor() {
        nft delete table inet vpn_firewall 2>/dev/null || true
        t0=$EPOCHREALTIME; nft -f "$show"
        t1=$EPOCHREALTIME; nft -f "$show"
        t2=$EPOCHREALTIME
        echo "$r $case:floor $t0 $t1"; echo "$r $case:floor-reload $t1 $t2"
    }
    for ((r = 0; r < runs; r++)); do
        for case in "$@"; do
            dir=$work/$case show=$work/$case.nft
            if (( r % 2 )); then floor; ours; else ours; floor; fi
        done
    done | awk '{ printf "%s %s %.6f\n", $1, $2, $4 - $3 }'
    nft delete table inet vpn_firewall
}

time_script() { # SCRIPT RUNS: the per-rule baseline, from an empty ruleset each time
    set -eo pipefail
    local r t0 t1
    for ((r = 0; r < $2; r++)); do
        nft flush ruleset
        t0=$EPOCHREALTIME; bash -e "$1"; t1=$EPOCHREALTIME
        echo "$r baseline $t0 $t1"
    done | awk '{ printf "%s %s %.6f\n", $1, $2, $4 - $3 }'
    nft flush ruleset
}

time_command() { # RUNS KIND COMMAND...: no kernel access; runs in the caller's namespace
    local runs=$1 kind=$2 r t0 t1
    shift 2
    for ((r = 0; r < runs; r++)); do
        t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; t1=$EPOCHREALTIME
        echo "$r $kind $t0 $t1"
    done | awk '{ printf "%s %s %.6f\n", $1, $2, $4 - $3 }'
}

# ---------------------------------------------------------------------------------------------
# The per-rule baseline: what a shell script does to load the same policy, one iptables (or
# ip6tables) process per rule, iptables-nft as Debian ships it. The same rules in the same
# order as vpn-firewall's ruleset; a LAN network costs three rules (no DNS over TCP, over UDP,
# then accept), as in vpn-firewall's chain, where the set makes it one rule for all networks.

iptables_script() { # LAN-NETWORKS
    local t
    for t in iptables ip6tables; do
        echo "$t -P INPUT DROP; $t -P OUTPUT DROP; $t -P FORWARD DROP"
        echo "$t -N VPN_FIREWALL_DROP; $t -N VPN_FIREWALL_REJECT"
        echo "$t -A VPN_FIREWALL_DROP -m limit --limit 10/minute -j LOG --log-prefix 'vpn-firewall: blocked: '"
        echo "$t -A VPN_FIREWALL_DROP -j DROP"
        echo "$t -A VPN_FIREWALL_REJECT -m limit --limit 10/minute -j LOG --log-prefix 'vpn-firewall: blocked: '"
        echo "$t -A VPN_FIREWALL_REJECT -j REJECT --reject-with $([[ $t == iptables ]] && echo icmp-admin-prohibited || echo icmp6-adm-prohibited)"
        echo "$t -A INPUT -i lo -j ACCEPT"
        echo "$t -A INPUT -m conntrack --ctstate INVALID -j DROP"
        for flags in "ALL NONE" "ALL FIN,PSH,URG" "FIN,SYN FIN,SYN" "SYN,RST SYN,RST" "FIN,RST FIN,RST" "FIN,ACK FIN"; do
            echo "$t -A INPUT -p tcp --tcp-flags $flags -j DROP"
        done
        echo "$t -A INPUT -p tcp -m conntrack --ctstate NEW ! --syn -j DROP"
    done
    echo "iptables -A INPUT -f -j DROP"
    echo "ip6tables -A INPUT -m frag -j DROP"
    echo "iptables -A INPUT -m addrtype ! --dst-type LOCAL,BROADCAST,MULTICAST --limit-iface-in -j DROP"
    echo "ip6tables -A INPUT -m addrtype ! --dst-type LOCAL,MULTICAST --limit-iface-in -j DROP"
    echo "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    echo "ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    echo "iptables -A INPUT -p udp --sport 67 --dport 68 -j ACCEPT"
    echo "ip6tables -A INPUT -p udp --sport 547 --dport 546 -j ACCEPT"
    for type in router-advertisement neighbour-solicitation neighbour-advertisement; do
        echo "ip6tables -A INPUT -p ipv6-icmp --icmpv6-type $type -m hl --hl-eq 255 -j ACCEPT"
    done
    echo "ip6tables -A INPUT -p ipv6-icmp --icmpv6-type 130 -d ff02::/16 -j ACCEPT"
    echo "iptables -A INPUT -j VPN_FIREWALL_DROP; ip6tables -A INPUT -j VPN_FIREWALL_DROP"
    echo "iptables -A OUTPUT -o lo -j ACCEPT; ip6tables -A OUTPUT -o lo -j ACCEPT"
    echo "iptables -A OUTPUT -o tun0 -j ACCEPT"
    echo "iptables -A OUTPUT -m mark --mark 0xca6c -j ACCEPT"
    echo "iptables -A OUTPUT -p udp --sport 68 --dport 67 -j ACCEPT"
    echo "ip6tables -A OUTPUT -d ff02::1:2 -p udp --sport 546 --dport 547 -j ACCEPT"
    for type in router-solicitation neighbour-solicitation neighbour-advertisement; do
        echo "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type $type -m hl --hl-eq 255 -j ACCEPT"
    done
    echo "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type 131 -d ff02::/16 -j ACCEPT"
    echo "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type 143 -d ff02::/16 -j ACCEPT"
    local nets
    nets=$(sed -n 's/^allow =//p' "$WORK/lan$1/50-bench.conf")
    for net in $nets; do
        echo "iptables -A OUTPUT -d $net -p tcp -m multiport --dports 53,853 -j VPN_FIREWALL_REJECT"
        echo "iptables -A OUTPUT -d $net -p udp -m multiport --dports 53,853 -j VPN_FIREWALL_REJECT"
        echo "iptables -A OUTPUT -d $net -j ACCEPT"
    done
    echo "iptables -A OUTPUT -j VPN_FIREWALL_REJECT; ip6tables -A OUTPUT -j VPN_FIREWALL_REJECT"
    echo "iptables -A FORWARD -j VPN_FIREWALL_REJECT; ip6tables -A FORWARD -j VPN_FIREWALL_REJECT"
}

# ---------------------------------------------------------------------------------------------
# Statistics over "ROUND KIND VALUE" lines.

middle() { # reads numbers, prints their median with FORMAT
    sort -g | awk -v f="$1" '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
values() { # FILE KIND SCALE: the values of one kind, times SCALE
    awk -v k="$2" -v s="$3" '$2 == k { print $3 * s }' "$1"
}
median() { values "$1" "$2" 1000 | middle %.2f; } # FILE KIND: in milliseconds
spread() { # FILE KIND: lowest–highest, in milliseconds
    values "$1" "$2" 1000 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f–%.1f", lo, hi }'
}
value_median() { values "$1" "$2" 1 | middle %.0f; } # FILE KIND: a value that is no time
value_spread() {
    values "$1" "$2" 1 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f–%.0f", lo, hi }'
}
# FILE KIND-A KIND-B: the median over the rounds of A / B within each round. Both were measured
# moments apart, so the ratio of a round cancels what slowed that round down.
paired() {
    awk -v a="$2" -v b="$3" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
        END { for (r in x) if (r in y) print x[r] / y[r] }' "$1" | middle %.2f
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v c="$1" 'BEGIN { print (c ? "met" : "**missed**") }'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
echo "timing start, reload and the nft -f floor ($RUNS rounds per size)" >&2
LOADNS=$PREFIX-load
new_ns "$LOADNS"
ip netns exec "$LOADNS" bash -c "$(declare -f time_loads); time_loads '$BIN' '$WORK' $RUNS $LOAD_CASES" >"$WORK/times"

echo "timing the one-iptables-command-per-rule baseline ($RUNS runs per size: several minutes)" >&2
for n in $BASELINE_SIZES; do
    iptables_script "$n" >"$WORK/iptables-$n.sh"
    ip netns exec "$LOADNS" bash -c "$(declare -f time_script); time_script '$WORK/iptables-$n.sh' $RUNS" >"$WORK/baseline-$n"
done

echo "timing check and show at the default configuration" >&2
time_command $((RUNS * 5)) check "$BIN" --config-dir "$REPO/etc/vpn-firewall" check >"$WORK/commands"
time_command $((RUNS * 5)) show "$BIN" --config-dir "$REPO/etc/vpn-firewall" show >>"$WORK/commands"

# ---------------------------------------------------------------------------------------------
# Throughput. The host (firewalled) sends; iperf3 servers listen on the far sides:
#   router: wan 198.51.100.1/24 <-veth-> host: eth0 198.51.100.2/24   (the LAN, in lan.allow)
#   vpn:    tun 192.0.2.1/24    <-veth-> host: tun0 192.0.2.2/24      (the stand-in tunnel)
# Every packet passes the host's output hook: through tun0 the tunnel rule accepts it before
# any set is consulted, to the LAN it is looked up in lan_v4 (after the DNS rule that looks it
# up too). Replies and TCP acknowledgements pass the input hook as established.

echo "measuring throughput ($RUNS rounds, ${IPERF_SECONDS} s per run)" >&2
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
config "$WORK/lan1" 1 0

firewall() { # none|lan1|lan0|lan10000
    if [[ $1 == none ]]; then
        ip netns exec "$HOST" nft delete table inet vpn_firewall 2>/dev/null || true
    else
        ip netns exec "$HOST" "$BIN" --config-dir "$WORK/$1" start >/dev/null
    fi
}
# ROUND KIND SERVER udp|tcp: prints "ROUND KIND:udp PACKETS/S" and "ROUND KIND:cpu MICROSECONDS"
# (the sender's CPU time per packet), or "ROUND KIND:tcp MBIT/S" (received).
iperf() {
    local out
    for attempt in 1 2 3; do
        if [[ $4 == udp ]]; then
            out=$(ip netns exec "$HOST" timeout 30 iperf3 -c "$3" -u -b 0 -l 64 -t "$IPERF_SECONDS" -f m -V 2>&1) &&
                awk -v r="$1" -v k="$2" '
                    / sender$/ { split($(NF - 2), p, "/"); split($3, t, "-"); packets = p[2]; seconds = t[2] }
                    /CPU Utilization: local\/sender/ { match($0, /sender [0-9.]+%/); cpu = substr($0, RSTART + 7, RLENGTH - 8) }
                    END { if (!packets || cpu == "") exit 1
                          print r, k ":udp", packets / seconds; print r, k ":cpu", cpu / 100 * seconds / packets * 1e6 }' <<<"$out" && return
        else
            out=$(ip netns exec "$HOST" timeout 30 iperf3 -c "$3" -t "$IPERF_SECONDS" -f m 2>&1) &&
                awk -v r="$1" -v k="$2:tcp" '/ receiver$/ { print r, k, $7; exit }' <<<"$out" && return
        fi
        sleep 1 # the server still finishing the previous test
    done
    echo "iperf3 to $3 failed: $out" >&2
    return 1
}
THROUGHPUT_CASES="tunnel:none tunnel:lan0 tunnel:lan10000 lan:none lan:lan1 lan:lan10000"
for ((r = 0; r < RUNS; r++)); do
    cases=$THROUGHPUT_CASES
    (( r % 2 )) && cases=$(tr ' ' '\n' <<<"$cases" | tac | tr '\n' ' ')
    for c in $cases; do
        path=${c%%:*} fw=${c#*:}
        server=192.0.2.1; [[ $path == lan ]] && server=198.51.100.1
        firewall "$fw"
        iperf "$r" "$c" "$server" udp
        iperf "$r" "$c" "$server" tcp
    done
done >"$WORK/throughput"
firewall none

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
echo "writing $OUT" >&2

{
    cat <<EOF
# Benchmark

Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d); rerun it (as root, from the repository) with:

    apt-get install -y --no-install-recommends iperf3 iptables && bash bench/run.sh

It builds the release binary, then measures everything that loads rules or sends packets inside
throwaway network namespaces (deleted on exit), never in the machine's own. The packages it
needs beyond the tests' are iperf3 (throughput) and iptables (the baseline); it says what is
missing. Every figure is the median of $RUNS runs (check and show: $((RUNS * 5))), with the
lowest and highest run.

| machine | |
|---|---|
| CPU | $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) |
| kernel | $(uname -r) |
| nft | $(nft --version) |
| iptables | $(iptables --version) |
| load average (1, 5, 15 min) | before: $LOAD_BEFORE; after: $LOAD_AFTER |

**Noise.** The machine is shared (2 cores; other builds and tests may run at the same time), so
single timings wander. Medians of many runs, and above all the floor measured in the same
rounds as start, interleaved (start, reload, then \`nft -f\` twice; the pairs swap order every
round), cancel most of it: a busy moment slows both. Throughput runs are interleaved the same
way across the configurations compared. The load average above shows how busy the machine
was. \`start\` takes a lock file in /run that every vpn-firewall on the machine shares, whatever
its network namespace; the timed runs have a /run of their own, so that tests running beside
the benchmark cannot make start wait for theirs.

## Load time

\`start\` is the whole command as a boot script or an administrator runs it: read and validate
the configuration, render, load in one transaction, read the table back from the kernel and
verify it. *First* is a load into a namespace with no table, *reload* replaces a loaded one.
The floor is \`nft -f\` loading the very text \`vpn-firewall show\` prints for that configuration:
what the kernel and nft need, and nothing of ours. The ratio is start's time divided by the
floor's in the same round, the median over the rounds.

| configuration | start, first (ms) | floor, first (ms) | ratio | start, reload (ms) | floor, reload (ms) | ratio |
|---|---|---|---|---|---|---|
EOF
    worst=0
    f=$WORK/times
    for case in $LOAD_CASES; do
        s=$(median "$f" "$case:start") fl=$(median "$f" "$case:floor") rl=$(median "$f" "$case:reload") frl=$(median "$f" "$case:floor-reload")
        r1=$(paired "$f" "$case:start" "$case:floor") r2=$(paired "$f" "$case:reload" "$case:floor-reload")
        worst=$(awk -v a="$worst" -v b="$r1" -v c="$r2" 'BEGIN { m = a; if (b > m) m = b; if (c > m) m = c; print m }')
        label=$(sed -E 's/^lan([0-9]+)$/\1 lan.allow networks/; s/^servers([0-9]+)$/\1 servers/' <<<"$case")
        echo "| $label | $s ($(spread "$f" "$case:start")) | $fl ($(spread "$f" "$case:floor")) | $r1 | $rl ($(spread "$f" "$case:reload")) | $frl ($(spread "$f" "$case:floor-reload")) | $r2 |"
    done

    s1k=$(median "$f" lan1000:start)
    # KIND N: per round, the time above the empty configuration's divided by N networks, in
    # microseconds; the median over the rounds.
    per_network() {
        awk -v k="$1" -v n="$2" '$2 == "lan0:" k { zero[$1] = $3 } $2 == "lan" n ":" k { t[$1] = $3 }
            END { for (r in t) if (r in zero) print (t[r] - zero[r]) / n * 1e6 }' "$f" | middle %.1f
    }
    start_1k=$(per_network start 1000) start_10k=$(per_network start 10000) start_30k=$(per_network start 30000)
    floor_1k=$(per_network floor 1000) floor_10k=$(per_network floor 10000) floor_30k=$(per_network floor 30000)
    slope_ratio=$(ratio "$start_30k" "$start_10k")

    cat <<EOF

**Linear in entries.** What a LAN network adds to start, on average (the time above that of
no networks, in the same round, divided by the number of networks): $start_1k µs with 1000
networks, $start_10k µs with 10000, $start_30k µs with 30000 (the floor: $floor_1k, $floor_10k
and $floor_30k µs). For a load time linear in the entries these are equal. The check compares
10000 and 30000 networks, ratio $slope_ratio (a cost growing with the square of the count would
make it 3): at 1000 networks the networks add only some 10 ms, within the noise of the
transaction itself, whose commit waits in steps of 4 ms (a kernel tick).

## The shell-script baseline

The same policy loaded the way shell-script firewalls do it: one \`iptables\`/\`ip6tables\`
process per rule, $(iptables --version | sed 's/iptables //'), from an empty ruleset, with three
rules per LAN network (no DNS over TCP, over UDP, then accept) where vpn-firewall has one set.
Not run at 10000 networks: iptables-nft reads the whole ruleset back at every command, so
30 000 commands take the better part of an hour per run.

| lan.allow networks | commands | one command per rule (ms) | vpn-firewall start (ms) | start is faster by |
|---|---|---|---|---|
EOF
    for n in $BASELINE_SIZES; do
        b=$(median "$WORK/baseline-$n" baseline) s=$(median "$f" "lan$n:start")
        commands=$(grep -o 'tables -' "$WORK/iptables-$n.sh" | wc -l)
        echo "| $n | $commands | $b ($(spread "$WORK/baseline-$n" baseline)) | $s | $(ratio "$b" "$s")× |"
    done
    speedup=$(ratio "$(median "$WORK/baseline-1000" baseline)" "$s1k")

    cat <<EOF

## Per-packet cost

Sent from the firewalled namespace for ${IPERF_SECONDS} s per run, over veth: UDP with 64-byte
payloads as fast as iperf3 can (packets per second sent, each one through the output hook, and
the sender's CPU time per packet, which a busy machine disturbs less than the rate), and one
TCP stream (Mbit/s received; segments are offloaded in large batches, so this shows the cost per
batch rather than per packet). *Through the tunnel* leaves by tun0, which the tunnel rule
accepts before any set is consulted: the traffic that passes with 0 networks too, as the
target compares. *To the LAN* leaves by eth0 to 198.51.100.1, which is looked up in the lan_v4
set once (the rule against DNS to the LAN checks the ports first); with 0 networks the LAN is
not reachable, so it is compared with the one network it needs. *Relative* compares each run
with the run of the smaller configuration in the same round (the runs of a round follow each
other within seconds, in an order that reverses every round): the median of those ratios.
With a table loaded, conntrack follows every packet (the input chain matches on connection
state): most of the difference to no table at all. On a shared machine, differences of a few
percent are within the noise (see the spreads): through the tunnel the set is never consulted,
so any difference there is noise; to the LAN, each packet costs one lookup in the set, a
binary search the sender's CPU time per packet shows best.

| path | firewall | UDP packets/s | relative | sender CPU µs/packet | TCP Mbit/s | relative |
|---|---|---|---|---|---|---|
EOF
    for path in tunnel lan; do
        base=lan0; [[ $path == lan ]] && base=lan1
        for fw in none $base lan10000; do
            u=$(value_median "$WORK/throughput" "$path:$fw:udp") t=$(value_median "$WORK/throughput" "$path:$fw:tcp")
            cpu=$(values "$WORK/throughput" "$path:$fw:cpu" 1 | middle %.2f)
            ru=$(paired "$WORK/throughput" "$path:$fw:udp" "$path:$base:udp")
            rt=$(paired "$WORK/throughput" "$path:$fw:tcp" "$path:$base:tcp")
            [[ $fw == $base ]] && base_cpu=$cpu
            if [[ $fw == lan10000 ]]; then
                printf -v "worst_$path" %s "$(awk -v b="$ru" -v c="$rt" 'BEGIN { print (b < c ? b : c) }')"
                printf -v "cpu_$path" %s "$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }')"
            fi
            label=$(sed -E 's/^none$/no table loaded/; s/^lan([0-9]+)$/\1 lan.allow networks/' <<<"$fw")
            echo "| $([[ $path == lan ]] && echo "to the LAN" || echo "through the tunnel") | $label | $u ($(value_spread "$WORK/throughput" "$path:$fw:udp")) | $ru | $cpu | $t ($(value_spread "$WORK/throughput" "$path:$fw:tcp")) | $rt |"
        done
    done

    check=$(median "$WORK/commands" check) show=$(median "$WORK/commands" show)
    target_floor=$(verdict "$(awk -v w="$worst" 'BEGIN { print (w <= 1.5) }')")
    target_baseline=$(verdict "$(awk -v s="$speedup" 'BEGIN { print (s >= 50) }')")
    target_linear=$(verdict "$(awk -v r="$slope_ratio" 'BEGIN { print (r <= 1.5 && r >= 1 / 1.5) }')")
    target_tunnel=$(verdict "$(awk -v w="$worst_tunnel" 'BEGIN { print (w >= 0.95) }')")
    target_lan=$(verdict "$(awk -v w="$worst_lan" 'BEGIN { print (w >= 0.95) }')")
    target_commands=$(verdict "$(awk -v c="$check" -v s="$show" 'BEGIN { print (c < 5 && s < 5) }')")
    cat <<EOF

## check and show

At the shipped default configuration (\`etc/vpn-firewall\`), the whole process, fork and exec
included: check $check ms ($(spread "$WORK/commands" check)), show $show ms ($(spread "$WORK/commands" show)).

## Targets

| target | measured | |
|---|---|---|
| start within 1.5× the floor at every size (first load and reload) | worst ratio $worst | $target_floor |
| at least 50× faster than one command per rule at 1000 networks | ${speedup}× | $target_baseline |
| load time linear in entries (what a network adds on average, at 30000 networks within 1.5× of that at 10000) | ratio $slope_ratio | $target_linear |
| throughput with 10000 networks at least 95% of that with 0 (through the tunnel; the worse of UDP and TCP) | $(awk -v w="$worst_tunnel" 'BEGIN { printf "%.0f%%", w * 100 }') (sender CPU per UDP packet: $cpu_tunnel) | $target_tunnel |
| the same to a LAN address, against the one network it needs | $(awk -v w="$worst_lan" 'BEGIN { printf "%.0f%%", w * 100 }') (sender CPU per UDP packet: $cpu_lan) | $target_lan |
| check and show under 5 ms | $check ms, $show ms | $target_commands |
EOF
} >"$WORK/benchmark.md"
mkdir -p "$(dirname "$OUT")"
mv "$WORK/benchmark.md" "$OUT"
if [[ "$target_floor $target_baseline $target_linear $target_tunnel $target_lan $target_commands" == *missed* ]]; then
    echo "a target was missed; see $OUT" >&2
else
    echo "every target met; see $OUT" >&2
fi
