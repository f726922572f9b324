//! The iptables backend beside another tool's native nftables rules in the tables iptables-nft
//! uses (`ip filter`, `ip mangle` and their `ip6` twins): iptables-nft-save leaves such a table
//! out. vpn-firewall must not take what it cannot read for absent (a second jump at every load,
//! `status` reporting ACCEPT policies): it refuses, naming table and chain, and the machine
//! stays closed. iptables-legacy has tables of its own, which such rules do not touch.

use crate::common::topology::{INTERNET, INTERNET6, Probe, ROUTER, Side, Topology};
use crate::common::{Backend, ConfigDir, Netns, Run, config};

/// Other tools' rules in the chains iptables-nft's `OUTPUT` and `POSTROUTING` live in, IPv4 and
/// IPv6: every table vpn-firewall loads into is one iptables-nft cannot read.
const NATIVE: [(&str, &str, &str, &str, &str); 4] = [
    ("ip", "filter", "OUTPUT", "type filter hook output priority filter; policy accept;", "udp dport 53 ct state new counter accept"),
    ("ip", "mangle", "POSTROUTING", "type filter hook postrouting priority mangle; policy accept;", "ct state new counter"),
    ("ip6", "filter", "OUTPUT", "type filter hook output priority filter; policy accept;", "udp dport 53 ct state new counter accept"),
    ("ip6", "mangle", "POSTROUTING", "type filter hook postrouting priority mangle; policy accept;", "ct state new counter"),
];

fn native_ruleset() -> String {
    let table = |(family, table, chain, hook, rule): &(&str, &str, &str, &str, &str)| {
        format!("table {family} {table} {{\n\tchain {chain} {{\n\t\t{hook}\n\t\t{rule}\n\t}}\n}}\n")
    };
    NATIVE.iter().map(table).collect()
}

/// The rules of a chain as nft lists them, with handles, the chain's own line first.
fn chain_rules(ns: &Netns, family: &str, table: &str, chain: &str) -> Vec<String> {
    let listed = ns.nft(&["-a", "list", "chain", family, table, chain]);
    listed.lines().map(str::trim).filter(|l| l.contains("counter") || l.contains("policy")).map(str::to_string).collect()
}

/// Each of these chains holds vpn-firewall's jump once, first, then the other tool's rule;
/// the filter chains drop.
fn assert_jump_once_first(ns: &Netns, context: &str) {
    for (family, table, chain, _, _) in NATIVE {
        let rules = chain_rules(ns, family, table, chain);
        let jump = format!("jump VPN_FIREWALL_{chain}");
        let jumps = rules.iter().filter(|r| r.contains(&jump)).count();
        assert_eq!(jumps, 1, "{context}: not exactly one jump in {family} {table} {chain}: {rules:#?}");
        assert!(rules[1].contains(&jump) && rules[2].contains("ct state new"), "{context}: {family} {table} {chain}: {rules:#?}");
        if table == "filter" {
            assert!(rules[0].contains("policy drop"), "{context}: {family} {table} {chain} does not drop: {rules:#?}");
        }
    }
}

/// Failed with exit 1, naming the tables and chains on an error line.
fn assert_refused(run: Run, context: &str) -> Run {
    let run = run.expect(1);
    for named in ["IPv4 table filter, chain OUTPUT: holds rules made with nft or another nftables tool", "IPv6 table mangle, chain POSTROUTING"] {
        assert!(run.error_lines().iter().any(|l| l.contains(named)), "{context}: no error naming {named:?}:\n{run}");
    }
    run
}

fn native_nft_rules_in_iptables_tables_are_refused_and_the_machine_stays_closed(backend: Backend) {
    let t = Topology::new("native", backend);
    let dns = Probe::udp(ROUTER, 53);
    t.assert_reaches(dns, Side::Uplink, "nothing loaded yet: the test network works");
    t.host.nft_load(&native_ruleset());
    let conf = ConfigDir::new(config(""));
    if backend == Backend::IptablesLegacy {
        // Its own tables: the nft rules are beside them, not in them.
        t.start(&conf);
        let status = t.firewall(&conf, "status").expect(0);
        assert!(status.stdout.contains("up to date") && !status.stdout.contains("WARNING"), "{status}");
        t.assert_blocked(dns, "iptables-legacy loaded beside an nft rule that accepts DNS");
        t.firewall(&conf, "flush").expect(0);
        assert_eq!(chain_rules(&t.host, "ip", "filter", "OUTPUT").len(), 2, "flush changed the other tool's chain");
        return;
    }

    // A first start (boot): refused, and the lockdown instead, its jumps first.
    let run = assert_refused(t.firewall(&conf, "start"), "first start");
    assert!(run.stderr.contains("loaded the lockdown ruleset instead"), "{run}");
    assert_jump_once_first(&t.host, "after the first start");
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");
    let warning = "WARNING:   IPv4 table filter, chain OUTPUT: holds rules made with nft or another nftables tool";
    assert!(status.stdout.contains(warning), "status does not say what it cannot read:\n{status}");
    assert!(!status.stdout.contains("instead of DROP") && !status.stdout.contains("does not jump"), "status reports what it cannot see:\n{status}");
    for p in [dns, Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET6, 53)] {
        t.assert_blocked(p, "lockdown beside nft rules that accept DNS");
    }
    // The counters of vpn-firewall's chains are read there too.
    let status = t.firewall(&conf, "status").expect(0);
    let output = status.stdout.split("output ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
    assert!(output.is_some_and(|n| n > 0), "status does not count the blocked probes:\n{status}");

    // Again: refused, nothing changed, no second jump; flush refuses too, and leaves it closed.
    let before = t.host.ruleset();
    assert_refused(t.firewall(&conf, "start"), "second start");
    assert_refused(t.firewall(&conf, "flush"), "flush");
    assert_eq!(t.host.ruleset(), before, "a refused start or flush changed the ruleset");
    assert_jump_once_first(&t.host, "after the second start and the flush");

    // Without the other tools' rules, everything works again.
    for (family, table, chain, _, _) in NATIVE {
        let rules = chain_rules(&t.host, family, table, chain);
        let handle = rules.iter().find(|l| l.contains("ct state new")).and_then(|l| l.rsplit_once("handle ")).expect("the rule's handle").1;
        t.host.run("nft", &["delete", "rule", family, table, chain, "handle", handle], "").expect(0);
    }
    t.start(&conf);
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("up to date") && !status.stdout.contains("WARNING"), "{status}");

    // Loaded first, then another tool's rule: a reload is refused and the rules stay as they were.
    t.host.run("nft", &["add", "rule", "ip", "filter", "OUTPUT", "udp", "dport", "53", "ct", "state", "new", "counter", "accept"], "").expect(0);
    let before = t.host.ruleset();
    let run = t.firewall(&conf, "reload").expect(1);
    assert!(run.error_lines().iter().any(|l| l.contains("IPv4 table filter, chain OUTPUT: holds rules made with nft")), "{run}");
    assert_eq!(t.host.ruleset(), before, "a refused reload changed the ruleset");
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("up to date") && status.stdout.contains(warning), "{status}");
    t.assert_blocked(dns, "loaded, beside the nft rule that accepts DNS");
}

backend_tests! {
    every: [],
    iptables: [native_nft_rules_in_iptables_tables_are_refused_and_the_machine_stays_closed],
}
