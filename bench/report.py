#!/usr/bin/env python3
"""Writes docs/benchmark.md from the raw results of bench/measure.sh and checks the targets.

    python3 bench/report.py [RESULTS-DIR [OUT]]    (defaults: target/bench, docs/benchmark.md)

Measures nothing: rerunning it rebuilds the same report from the same results. Exits 1 when a
target is missed, 2 when the results cannot be read. Load methods come from methods.tsv (each
compared with the floor, checked against its limit); throughput cases from the results.
"""

import csv
import statistics
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The throughput configuration each path is compared with: through the tunnel the networks
# are never consulted, so the empty configuration; to the LAN, the one network it needs.
THROUGHPUT_BASE = {"tunnel": "lan0", "lan": "lan1"}
PATHS = {"tunnel": "through the tunnel", "lan": "to the LAN"}
# The throughput configurations with a guard, and those without one each path compares them
# with (the same networks): the guard owning the table (guardN), and with a second table
# (secondN, `guard --second-table`, the way of kernels before 6.9).
GUARD_CASES = {"tunnel": ("guard0", "lan0"), "lan": ("guard1", "lan1")}
SECOND_CASES = {"tunnel": ("second0", "lan0"), "lan": ("second1", "lan1")}


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


class Results:
    def __init__(self, folder):
        self.facts = {row["fact"]: row["value"] for row in read_tsv(folder / "machine.tsv")}
        self.methods = read_tsv(folder / "methods.tsv")
        # (group, case, kind) -> {round: value}, in the order first measured
        self.values = defaultdict(dict)
        for row in read_tsv(folder / "results.tsv"):
            self.values[row["group"], row["case"], row["kind"]][row["round"]] = float(row["value"])

    def has(self, group, case, kind):
        return (group, case, kind) in self.values

    def cases(self, group):
        return list(dict.fromkeys(case for g, case, _ in self.values if g == group))

    def all(self, group, case, kind, scale=1.0):
        return [v * scale for v in self.values[group, case, kind].values()]

    def median(self, group, case, kind, scale=1.0):
        return statistics.median(self.all(group, case, kind, scale))

    def spread(self, group, case, kind, scale=1.0, digits=1):
        values = self.all(group, case, kind, scale)
        return f"{min(values):.{digits}f}–{max(values):.{digits}f}"

    def paired(self, group, a, b):
        """The median over the rounds of A / B within each round: both were measured moments
        apart, so the ratio of a round cancels what slowed that round down."""
        x, y = self.values[(group, *a)], self.values[(group, *b)]
        return statistics.median(x[r] / y[r] for r in x if r in y)


def ms(results, group, case, kind):
    return f"{results.median(group, case, kind, 1000):.2f} ({results.spread(group, case, kind, 1000)})"


def size(case):
    return int(case.removeprefix("lan").removeprefix("servers").removeprefix("guard").removeprefix("second"))


def label(case):
    if case == "none":
        return "no table loaded"
    if case.startswith("lan"):
        return f"{size(case)} lan.allow networks"
    if case.startswith("guard"):
        return f"{size(case)} lan.allow networks, through the guard (it owns the table)"
    if case.startswith("second"):
        return f"{size(case)} lan.allow networks, through the guard with a second table"
    return f"{size(case)} servers"


class Report:
    def __init__(self, results):
        self.r = results
        self.lines = []
        self.targets = []  # (target, measured, met: True, False or None when not measured)

    def say(self, text=""):
        self.lines.append(text)

    def para(self, text):
        """A paragraph of prose, wrapped as the rest of the documentation."""
        self.say(textwrap.fill(" ".join(text.split()), 96, break_on_hyphens=False))

    def target(self, what, measured, met):
        self.targets.append((what, measured, met))

    def header(self):
        f = self.r.facts
        self.say("# Benchmark")
        self.say()
        self.para(f"Measured by `bench/measure.sh` on {f['date']} (commit {f['commit']}), written by `bench/report.py`. Rerun both (as root, from the repository) with:")
        self.say()
        self.say("    apt-get install -y --no-install-recommends iperf3 iptables && bash bench/run.sh")
        self.say()
        self.para(f"""The measuring builds the release binary, then runs everything that loads rules or sends
packets inside throwaway network namespaces (deleted on exit), never in the machine's own, and
writes the raw results to target/bench/; `python3 bench/report.py` rebuilds this page from them
without measuring again. The packages it needs beyond the tests' are iperf3 (throughput) and
iptables (the baseline); it says what is missing. Every figure is the median of {f['runs']} runs
(throughput: {f['throughput_rounds']}; check and show: {int(f['runs']) * 5}), with the lowest and highest run.""")
        self.say()
        self.say("| machine (as measured) | |")
        self.say("|---|---|")
        for name, value in [
            ("CPU", f"{f['cores']} × {f['cpu']}"),
            ("memory", f["memory"]),
            ("kernel", f["kernel"]),
            ("nft", f["nft"]),
            ("iptables", f["iptables"]),
            ("iperf3", f["iperf3"]),
            ("rustc", f["rustc"]),
            ("load average (1, 5, 15 min)", f"before: {f['load_before']}; after: {f['load_after']}"),
            ("niceness of the benchmark", f["niceness"]),
        ]:
            self.say(f"| {name} | {value} |")
        self.say()
        self.para(f"""**Noise.** Where other builds and tests run at the same time ({f['cores']} cores here), single
timings wander. Medians of many runs, and above all the floor measured in the same rounds as
each way of loading, interleaved (each loads twice, in an order that turns every round), cancel
most of it: a busy moment slows all alike. Throughput runs are interleaved the same way across
the configurations compared. The load average above shows how busy the machine was. `start`
takes a lock file in /run that every vpn-firewall on the machine shares, whatever its network
namespace; the timed runs have a /run of their own, so that tests running beside the benchmark
cannot make start wait for theirs.""")

    def loads(self):
        r = self.r
        self.say()
        self.say("## Load time")
        self.say()
        self.para("""`start` is the whole command as a boot script or an administrator runs it: read and validate
the configuration, render, load in one transaction, read the table back from the kernel and
verify it. *First* is a load into a namespace with no table, *reload* replaces a loaded one.
The floor is `nft -f` loading the very text `vpn-firewall show` prints for that configuration:
what the kernel and nft need, and nothing of ours. The ratio is a method's time divided by the
floor's in the same round, the median over the rounds.""")
        self.say()
        self.say("| configuration | method | first (ms) | ratio | reload (ms) | ratio |")
        self.say("|---|---|---|---|---|---|")
        # A limit holds at every size, or (LIMIT:CASE) at that configuration only, as the issue
        # that set it says.
        scope = {m["method"]: m["limit"].partition(":")[2] for m in r.methods}
        worst = defaultdict(float)
        for case in r.cases("load"):
            for method in r.methods:
                name = method["method"]
                ratios = []
                for phase in ("first", "reload"):
                    if name == "floor":
                        ratios.append("")
                    else:
                        ratio = r.paired("load", (case, f"{name}:{phase}"), (case, f"floor:{phase}"))
                        if scope[name] in ("", case):
                            worst[name] = max(worst[name], ratio)
                        ratios.append(f"{ratio:.2f}")
                first, reload = (ms(r, "load", case, f"{name}:{phase}") for phase in ("first", "reload"))
                self.say(f"| {label(case)} | {method['label']} | {first} | {ratios[0]} | {reload} | {ratios[1]} |")
        for method in r.methods:
            if method["limit"] != "-":
                name, limit = method["method"], float(method["limit"].partition(":")[0])
                where = f"with {label(scope[name])}" if scope[name] else "at every size"
                what = f"{method['label']} within {limit:g}× the floor {where} (first load and reload)"
                if scope[name] and scope[name] not in r.cases("load"):
                    self.target(what, "not measured", None)
                    continue
                self.target(what, f"worst ratio {worst[name]:.2f}", worst[name] <= limit)
        self.linearity()

    def linearity(self):
        """What a LAN network adds to start on average, per round: the time above that of no
        networks divided by the number of networks."""
        r = self.r
        sizes = sorted(size(c) for c in r.cases("load") if c.startswith("lan") and size(c) > 0)
        if not r.has("load", "lan0", "start:first") or len(sizes) < 2:
            self.target("load time linear in entries", "not measured (needs lan0 and two larger sizes)", None)
            return

        def per_network(method, n):
            zero, t = r.values["load", "lan0", f"{method}:first"], r.values["load", f"lan{n}", f"{method}:first"]
            return statistics.median((t[k] - zero[k]) / n * 1e6 for k in t if k in zero)

        big = [n for n in sizes if n >= 1000] or sizes
        ours = ", ".join(f"{per_network('start', n):.1f} µs with {n} networks" for n in big)
        floor = ", ".join(f"{per_network('floor', n):.1f}" for n in big)
        a, b = sizes[-2], sizes[-1]
        slope = per_network("start", b) / per_network("start", a)
        self.say()
        self.para(f"""**Linear in entries.** What a LAN network adds to start, on average (the time above that of
no networks, in the same round, divided by the number of networks): {ours} (the floor:
{floor} µs). For a load time linear in the entries these are equal. The check compares {a}
and {b} networks, ratio {slope:.2f} (a cost growing with the square of the count would make it
{b / a:g}): at 1000 networks the networks add only some 10 ms, within the noise of the
transaction itself, whose commit waits in steps of 4 ms (a kernel tick).""")
        what = f"load time linear in entries (what a network adds on average, at {b} networks within 1.5× of that at {a})"
        self.target(what, f"ratio {slope:.2f}", 1 / 1.5 <= slope <= 1.5)

    def baseline(self):
        r = self.r
        cases = [c for c in r.cases("baseline") if r.has("baseline", c, "script")]
        if not cases:
            self.target("at least 50× faster than one command per rule at 1000 networks", "not measured", None)
            return
        self.say()
        self.say("## The shell-script baseline")
        self.say()
        version = r.facts["iptables"].removeprefix("iptables ")
        self.para(f"""The same policy loaded the way shell-script firewalls do it: one `iptables`/`ip6tables`
process per rule, {version}, from an empty ruleset, with three rules per LAN network (no DNS
over TCP, over UDP, then accept) where vpn-firewall has one set. Not run at 10000 networks:
iptables-nft reads the whole ruleset back at every command, so 30 000 commands take the better
part of an hour per run.""")
        self.say()
        self.say("| lan.allow networks | commands | one command per rule (ms) | vpn-firewall start (ms) | start is faster by |")
        self.say("|---|---|---|---|---|")
        speedup = {}
        for case in cases:
            script = r.median("baseline", case, "script", 1000)
            commands = int(r.median("baseline", case, "commands"))
            start = f"{r.median('load', case, 'start:first', 1000):.2f}" if r.has("load", case, "start:first") else "not measured"
            faster = ""
            if r.has("load", case, "start:first"):
                speedup[case] = script / r.median("load", case, "start:first", 1000)
                faster = f"{speedup[case]:.2f}×"
            self.say(f"| {size(case)} | {commands} | {ms(r, 'baseline', case, 'script')} | {start} | {faster} |")
        if "lan1000" in speedup:
            self.target("at least 50× faster than one command per rule at 1000 networks", f"{speedup['lan1000']:.2f}×", speedup["lan1000"] >= 50)
        else:
            self.target("at least 50× faster than one command per rule at 1000 networks", "not measured", None)

    def throughput(self):
        r = self.r
        seconds = r.facts["iperf_seconds"]
        if not r.cases("throughput"):
            self.target("throughput with 10000 networks at least 95% of that with 0", "not measured", None)
            return
        self.say()
        self.say("## Per-packet cost")
        self.say()
        self.para(f"""Sent from the firewalled namespace for {seconds} s per run, over veth: UDP with 64-byte
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
binary search the sender's CPU time per packet shows best.""")
        if any(r.has("throughput", f"{path}:{guard}", "cpu") for path, (guard, _) in GUARD_CASES.items()):
            self.say()
            self.para("""*Through the guard*: `vpn-firewall guard` runs in the firewalled namespace and `start`
loads through it. On this kernel (Linux 6.9 or later) the guard owns table inet vpn_firewall
itself, persistent: one table, the same as without a guard, so every packet is checked once.
*With a second table* (`guard --second-table`, the way kernels before 6.9 are guarded, such as
bookworm's 6.1), every packet passes the output chains of table inet vpn_firewall and of the
guard's own table inet vpn_firewall_guard (the same policy): the cost of the second layer. Each
is compared with the same networks without the guard, in the same round.""")
        self.say()
        self.say("| path | firewall | UDP packets/s | relative | sender CPU µs/packet | TCP Mbit/s | relative |")
        self.say("|---|---|---|---|---|---|---|")
        for path, name in PATHS.items():
            base = f"{path}:{THROUGHPUT_BASE[path]}"
            for case in (c for c in r.cases("throughput") if c.startswith(f"{path}:")):
                udp, tcp = (f"{r.median('throughput', case, k):.0f} ({r.spread('throughput', case, k, digits=0)})" for k in ("udp", "tcp"))
                cpu = r.median("throughput", case, "cpu")
                rel = {k: r.paired("throughput", (case, k), (base, k)) for k in ("udp", "tcp")}
                self.say(f"| {name} | {label(case.split(':', 1)[1])} | {udp} | {rel['udp']:.2f} | {cpu:.2f} | {tcp} | {rel['tcp']:.2f} |")
        for path, what in [
            ("tunnel", "throughput with 10000 networks at least 95% of that with 0 (through the tunnel; the worse of UDP and TCP)"),
            ("lan", "the same to a LAN address, against the one network it needs"),
        ]:
            case, base = f"{path}:lan10000", f"{path}:{THROUGHPUT_BASE[path]}"
            if not (r.has("throughput", case, "udp") and r.has("throughput", base, "udp")):
                self.target(what, "not measured", None)
                continue
            worst = min(r.paired("throughput", (case, k), (base, k)) for k in ("udp", "tcp"))
            cpu = r.median("throughput", case, "cpu") / r.median("throughput", base, "cpu") - 1
            self.target(what, f"{worst:.0%} (sender CPU per UDP packet: {cpu:+.0%})", worst >= 0.95)
        self.guard_target(GUARD_CASES, "the guard, owning the table (Linux 6.9 or later)")
        self.guard_target(SECOND_CASES, "the guard with a second table (`--second-table`, the way of Linux before 6.9)")

    def guard_target(self, cases, who):
        """The guard's cost: the sender's CPU time per UDP packet with the guard divided by
        that without it, same networks, same round, on each path."""
        r = self.r
        (t, tb), (l, lb) = cases["tunnel"], cases["lan"]
        what = f"{who}: at most 5% more sender CPU per UDP packet ({t} against {tb} through the tunnel, {l} against {lb} to the LAN)"
        pairs = {path: (f"{path}:{guard}", f"{path}:{base}") for path, (guard, base) in cases.items()}
        if not all(r.has("throughput", case, "cpu") and r.has("throughput", base, "cpu") for case, base in pairs.values()):
            self.target(what, "not measured", None)
            return
        more = {path: r.paired("throughput", (case, "cpu"), (base, "cpu")) - 1 for path, (case, base) in pairs.items()}
        measured = ", ".join(f"{PATHS[path]} {more[path]:+.1%}" for path in ("lan", "tunnel"))
        self.target(what, measured, max(more.values()) <= 0.05)

    def commands(self):
        r = self.r
        check, show = (r.median("commands", "default", k, 1000) for k in ("check", "show"))
        self.say()
        self.say("## check and show")
        self.say()
        spreads = [r.spread("commands", "default", k, 1000) for k in ("check", "show")]
        self.para(f"""At the shipped default configuration (`etc/vpn-firewall`), the whole process, fork and exec
included: check {check:.2f} ms ({spreads[0]}), show {show:.2f} ms ({spreads[1]}).""")
        self.target("check and show under 5 ms", f"{check:.2f} ms, {show:.2f} ms", check < 5 and show < 5)

    def targets_table(self):
        self.say()
        self.say("## Targets")
        self.say()
        self.say("| target | measured | |")
        self.say("|---|---|---|")
        for what, measured, met in self.targets:
            verdict = {True: "met", False: "**missed**", None: "not measured"}[met]
            self.say(f"| {what} | {measured} | {verdict} |")


def main():
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "target" / "bench"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "docs" / "benchmark.md"
    try:
        results = Results(folder)
    except (OSError, KeyError, ValueError) as e:
        print(f"bench/report.py: cannot read the results in {folder} ({e}); run bench/measure.sh first", file=sys.stderr)
        return 2
    report = Report(results)
    report.header()
    report.loads()
    report.baseline()
    report.throughput()
    report.commands()
    report.targets_table()
    out.write_text("\n".join(report.lines) + "\n")
    missed = [what for what, _, met in report.targets if met is False]
    for what in missed:
        print(f"target missed: {what}", file=sys.stderr)
    print(f"{'a target was missed' if missed else 'no target missed'}; see {out}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
