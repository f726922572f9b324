//! The iptables backend beside another tool's native nftables rules in `table ip filter`, the
//! table iptables-nft uses: iptables-nft-save leaves such a table out. vpn-firewall must not
//! take what it cannot read for absent (a second jump at every load, `status` reporting ACCEPT
//! policies): it refuses, naming table and chain, and the machine stays closed.
//! iptables-legacy has tables of its own, which such rules do not touch.

use crate::common::topology::{INTERNET, ROUTER, Probe, Topology};
use crate::common::{Backend, ConfigDir, Netns, Run, config};

/// Another tool's rule: DNS out, in the chain iptables-nft's OUTPUT lives in.
const NATIVE: &str = "table ip filter {\n\tchain OUTPUT {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tudp dport 53 ct state new counter accept\n\t}\n}\n";

/// The rules of `ip filter OUTPUT` as nft lists them, counters cut off.
fn output_chain(ns: &Netns) -> Vec<String> {
    let listed = ns.nft(&["list", "chain", "ip", "filter", "OUTPUT"]);
    listed.lines().map(str::trim).filter(|l| l.contains("jump") || l.contains("accept") || l.contains("policy")).map(str::to_string).collect()
}

/// The chain holds vpn-firewall's jump once, first, and then the other tool's rule; policy drop.
fn assert_jump_once_first(ns: &Netns, context: &str) {
    let rules = output_chain(ns);
    let jumps = rules.iter().filter(|r| r.contains("jump VPN_FIREWALL_OUTPUT")).count();
    assert!(rules[0].contains("policy drop"), "{context}: ip filter OUTPUT does not drop: {rules:#?}");
    assert_eq!(jumps, 1, "{context}: not exactly one jump: {rules:#?}");
    assert!(rules[1].contains("jump VPN_FIREWALL_OUTPUT") && rules[2].contains("udp dport 53"), "{context}: {rules:#?}");
}

/// Failed with exit 1, naming the table and chain on an error line.
fn assert_refused(run: Run, context: &str) -> Run {
    let run = run.expect(1);
    let named = "IPv4 table filter, chain OUTPUT: holds rules made with nft or another nftables tool, which iptables-nft cannot read";
    assert!(run.error_lines().iter().any(|l| l.contains(named)), "{context}: no error naming the table and chain:\n{run}");
    run
}

fn native_nft_rules_in_ip_filter_are_refused_and_the_machine_stays_closed(backend: Backend) {
    let t = Topology::new("native", backend);
    let dns = Probe::udp(ROUTER, 53);
    t.assert_reaches(dns, crate::common::topology::Side::Uplink, "nothing loaded yet: the test network works");
    t.host.nft_load(NATIVE);
    let conf = ConfigDir::new(config(""));
    if backend == Backend::IptablesLegacy {
        // Its own tables: the nft rule is beside them, not in them.
        t.start(&conf);
        let status = t.firewall(&conf, "status").expect(0);
        assert!(status.stdout.contains("up to date") && !status.stdout.contains("WARNING"), "{status}");
        t.assert_blocked(dns, "iptables-legacy loaded beside an nft rule that accepts DNS");
        t.firewall(&conf, "flush").expect(0);
        assert_eq!(output_chain(&t.host).len(), 2, "flush changed the other tool's chain");
        return;
    }

    // A first start (boot): refused, and the lockdown instead, its jump first.
    let run = assert_refused(t.firewall(&conf, "start"), "first start");
    assert!(run.stderr.contains("loaded the lockdown ruleset instead"), "{run}");
    assert_jump_once_first(&t.host, "after the first start");
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");
    let warning = "WARNING:   IPv4 table filter, chain OUTPUT: holds rules made with nft or another nftables tool";
    assert!(status.stdout.contains(warning), "status does not say what it cannot read:\n{status}");
    assert!(!status.stdout.contains("instead of DROP") && !status.stdout.contains("does not jump"), "status reports what it cannot see:\n{status}");
    t.assert_blocked(dns, "lockdown beside the nft rule that accepts DNS");
    t.assert_blocked(Probe::tcp(INTERNET, 7000), "lockdown");

    // Again: refused, nothing changed, no second jump; flush refuses too, and leaves it closed.
    let before = t.host.ruleset();
    assert_refused(t.firewall(&conf, "start"), "second start");
    assert_refused(t.firewall(&conf, "flush"), "flush");
    assert_eq!(t.host.ruleset(), before, "a refused start or flush changed the ruleset");
    assert_jump_once_first(&t.host, "after the second start and the flush");

    // Without the other tool's rule, everything works again.
    let handle = t.host.nft(&["-a", "list", "chain", "ip", "filter", "OUTPUT"]);
    let handle = handle.lines().find(|l| l.contains("udp dport 53")).and_then(|l| l.rsplit_once("handle ")).expect("the rule's handle").1;
    t.host.run("nft", &["delete", "rule", "ip", "filter", "OUTPUT", "handle", handle.trim()], "").expect(0);
    t.start(&conf);
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("up to date") && !status.stdout.contains("WARNING"), "{status}");

    // Loaded first, then the other tool's rule: a reload is refused and the rules stay as they were.
    t.host.run("nft", &["add", "rule", "ip", "filter", "OUTPUT", "udp", "dport", "53", "ct", "state", "new", "counter", "accept"], "").expect(0);
    let before = t.host.ruleset();
    assert_refused(t.firewall(&conf, "reload"), "reload beside the rule");
    assert_eq!(t.host.ruleset(), before, "a refused reload changed the ruleset");
    assert_jump_once_first(&t.host, "after the refused reload");
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("up to date") && status.stdout.contains(warning), "{status}");
    t.assert_blocked(dns, "loaded, beside the nft rule that accepts DNS");
}

backend_tests! {
    every: [],
    iptables: [native_nft_rules_in_ip_filter_are_refused_and_the_machine_stays_closed],
}
