//! Kernel integration tests: the real binary loads real rules into a real kernel, inside network
//! namespaces made for each test (see tests/common), and real packets show what leaves. Each
//! test runs once per backend: `nftables::NAME`, `iptables_nft::NAME`, `iptables_legacy::NAME`
//! (the iptables-only ones without the first).
//!
//! Needs root, nftables, iptables, ipset, iproute2, socat and util-linux (setpriv); a missing
//! one fails the test with the package to install.

#[macro_use]
mod common;
mod sandbox;

#[path = "kernel/beside_nft.rs"]
mod beside_nft;
#[path = "kernel/drop_ins.rs"]
mod drop_ins;
#[path = "kernel/refusals.rs"]
mod refusals;

use common::topology::{INTERNET, INTERNET6, LAN, Probe, ROUTER, ROUTER6, Side, Topology, USER, VPN_CLIENT, VPN_SERVER};
use common::{Backend, ConfigDir, Netns, config};
use std::time::Duration;
use vpn_firewall::policy::Hook;
use vpn_firewall::render_iptables::{Table, jump};

fn start_reload_status_and_flush_manage_exactly_their_own_objects(backend: Backend) {
    let ns = Netns::host("load", backend);
    ns.nft_load("table ip foreign {\n\tchain out {\n\t\ttype filter hook output priority 10; policy accept;\n\t\tmeta mark 0x2a accept\n\t}\n}\n");
    ns.iptables(false, &["-A", "OUTPUT", "-d", "192.0.2.99", "-j", "ACCEPT"]).expect(0);
    ns.iptables(true, &["-t", "mangle", "-A", "POSTROUTING", "-p", "tcp", "-j", "TCPMSS", "--clamp-mss-to-pmtu", "--tcp-flags", "SYN,RST", "SYN"]).expect(0);
    let before = ns.foreign_rules();
    let conf = ConfigDir::new(config(""));
    ns.firewall(conf.path(), "status").expect(3);

    ns.firewall(conf.path(), "start").expect(0);
    assert_eq!(ns.firewall_objects(), backend.loaded_objects(), "start must load exactly vpn-firewall's objects");
    let status = ns.firewall(conf.path(), "status").expect(0);
    let loaded = format!("vpn-firewall: loaded ({}", backend.name());
    assert!(status.stdout.contains(&loaded) && status.stdout.contains("up to date"), "status after start:\n{status}");
    assert!(!status.stdout.contains("WARNING"), "status after start:\n{status}");

    conf.set(config(&format!("[lan]\nallow = {LAN}\n")));
    ns.firewall(conf.path(), "reload").expect(0);
    assert_eq!(ns.firewall_objects(), backend.loaded_objects(), "a reload must replace vpn-firewall's objects, not add any");
    let rules = if backend.is_iptables() {
        ns.run(backend.iptables(false) + "-save", &[], "").expect(0).stdout
    } else {
        ns.nft(&["list", "table", "inet", "vpn_firewall"])
    };
    assert!(rules.contains("198.51.100.0/24"), "the reloaded rules lack the new lan.allow network:\n{rules}");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("up to date"), "status after the reload:\n{status}");

    ns.firewall(conf.path(), "flush").expect(0);
    assert_eq!(ns.firewall_objects(), Vec::<String>::new(), "flush must remove vpn-firewall's objects");
    assert_eq!(ns.foreign_rules(), before, "flush changed what other tools loaded, or did not restore the policies");
    ns.firewall(conf.path(), "status").expect(3);
    ns.firewall(conf.path(), "flush").expect(0);
    assert_eq!(ns.foreign_rules(), before, "a flush with nothing loaded must change nothing");
}

fn outside_the_tunnel_nothing_leaves_for_root_or_a_user(backend: Backend) {
    let t = Topology::new("leak", backend);
    let internet = [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::tcp(INTERNET, 7000).as_uid(USER), Probe::udp(INTERNET, 7001).as_uid(USER)];
    let router = [Probe::tcp(ROUTER, 7002), Probe::udp(ROUTER, 7003).as_uid(USER)];
    t.route_via_uplink();
    for p in internet.iter().chain(&router) {
        t.assert_reaches(*p, Side::Uplink, "no ruleset yet: the test network works");
    }

    t.start(&ConfigDir::new(config("")));
    for p in internet.iter().chain(&router) {
        t.assert_blocked(*p, "default route out of eth0");
    }
    t.route_via_tunnel();
    for p in internet {
        t.assert_reaches(p, Side::Tunnel, "default route through tun0");
    }
    for p in router {
        t.assert_blocked(p, "the uplink's own network, not in lan.allow");
    }
    t.host.ip("route add 203.0.113.0/24 via 198.51.100.1 dev eth0");
    for p in internet {
        t.assert_blocked(p, "a more specific route out of eth0 (TunnelVision)");
    }
}

fn lan_allow_is_reachable_but_dns_to_it_only_with_lan_dns(backend: Backend) {
    let t = Topology::new("lan", backend);
    let dns = [Probe::udp(ROUTER, 53), Probe::tcp(ROUTER, 53), Probe::udp(ROUTER, 853).as_uid(USER), Probe::tcp(ROUTER, 853)];
    for p in dns {
        t.assert_reaches(p, Side::Uplink, "no ruleset yet: the test network works");
    }
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\n")));
    t.start(&conf);
    for p in [Probe::tcp(ROUTER, 7000), Probe::udp(ROUTER, 7001), Probe::tcp(ROUTER, 7000).as_uid(USER)] {
        t.assert_reaches(p, Side::Uplink, "lan.allow");
    }
    for p in dns {
        t.assert_blocked(p, "DNS to lan.allow with lan.dns = no");
    }
    t.assert_blocked(Probe::tcp(ROUTER6, 7000), "IPv6 to the uplink's network, only its IPv4 network is in lan.allow");

    conf.set(config(&format!("[lan]\nallow = {LAN}\ndns = yes\n")));
    t.start(&conf);
    for p in dns {
        t.assert_reaches(p, Side::Uplink, "DNS to lan.allow with lan.dns = yes");
    }
}

fn ipv6_never_leaves_outside_the_tunnel(backend: Backend) {
    let t = Topology::new("ipv6", backend);
    t.route_via_uplink();
    let outside = [
        Probe::tcp(INTERNET6, 7000),
        Probe::udp(INTERNET6, 7001),
        Probe::tcp(INTERNET6, 7000).as_uid(USER),
        Probe::tcp(INTERNET6, 7000).as_uid(VPN_CLIENT),
        Probe::udp(ROUTER6, 7001),
    ];
    for p in outside {
        t.assert_reaches(p, Side::Uplink, "no ruleset yet: the test network works");
    }
    let conf = ConfigDir::new(config(&format!("[tunnel]\nipv6 = yes\nuser = {VPN_CLIENT}\n[lan]\nallow = {LAN}\n")));
    t.start(&conf);
    for p in outside {
        t.assert_blocked(p, "IPv6 with the default route out of eth0, tunnel.ipv6 = yes");
    }
    t.route_via_tunnel();
    t.assert_reaches(Probe::tcp(INTERNET6, 7000), Side::Tunnel, "IPv6 through tun0 with tunnel.ipv6 = yes");

    conf.set(config(&format!("[tunnel]\nuser = {VPN_CLIENT}\n[lan]\nallow = {LAN}\n")));
    t.start(&conf);
    t.assert_blocked(Probe::tcp(INTERNET6, 7000), "IPv6 through tun0 with tunnel.ipv6 = no");
    t.assert_reaches(Probe::tcp(INTERNET, 7000), Side::Tunnel, "IPv4 through tun0 with tunnel.ipv6 = no");
}

fn the_vpn_client_reaches_its_servers_outside_the_tunnel_and_nothing_else_does(backend: Backend) {
    let t = Topology::new("client", backend);
    t.route_via_uplink();
    let server = Probe::udp(VPN_SERVER, 1194);
    let others = [server, server.as_uid(USER), Probe::tcp(VPN_SERVER, 1194), Probe::tcp(INTERNET, 7000).as_uid(USER)];
    t.assert_reaches(server.as_uid(VPN_CLIENT), Side::Uplink, "no ruleset yet: the test network works");
    for p in others {
        t.assert_reaches(p, Side::Uplink, "no ruleset yet: the test network works");
    }

    let conf = ConfigDir::new(config(&format!("[tunnel]\nuser = {VPN_CLIENT}\n")));
    t.start(&conf);
    t.assert_reaches(server.as_uid(VPN_CLIENT), Side::Uplink, "the VPN client, servers empty");
    t.assert_reaches(Probe::tcp(INTERNET, 7000).as_uid(VPN_CLIENT), Side::Uplink, "the VPN client, servers empty: any IPv4 server");
    for p in others {
        t.assert_blocked(p, "not the VPN client's user (TunnelCrack ServerIP)");
    }

    conf.set(config(&format!("[tunnel]\nuser = {VPN_CLIENT}\nservers = {VPN_SERVER}:1194/udp\n")));
    t.start(&conf);
    t.assert_reaches(server.as_uid(VPN_CLIENT), Side::Uplink, "the VPN client to its listed server");
    let unlisted = [
        Probe::udp(VPN_SERVER, 1195).as_uid(VPN_CLIENT),
        Probe::tcp(VPN_SERVER, 1194).as_uid(VPN_CLIENT),
        Probe::udp(INTERNET, 1194).as_uid(VPN_CLIENT),
        Probe::tcp(INTERNET, 7000).as_uid(VPN_CLIENT),
    ];
    for p in unlisted.iter().chain(&others) {
        t.assert_blocked(*p, "not the listed server endpoint, or not the VPN client");
    }
}

fn an_established_flow_through_the_tunnel_survives_20_reloads(backend: Backend) {
    let t = Topology::new("reload", backend);
    let confs = [ConfigDir::new(config("")), ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\n")))];
    t.start(&confs[0]);
    let mut stream = t.stream(INTERNET, 7100);
    for i in 1..=20 {
        t.start(&confs[i % 2]);
        let after = stream.received();
        stream.wait_for_more(after, &format!("more bytes after reload {i}: the stream through tun0 stalled"));
        stream.assert_open(&format!("reload {i}"));
    }
    // It sends every 20 ms; a reload must not hold it up for anything like a retransmission.
    let pause = stream.longest_pause();
    assert!(pause < Duration::from_millis(250), "the stream through tun0 stalled for {pause:?} during the reloads");
}

fn a_flow_opened_through_the_tunnel_does_not_continue_out_of_eth0(backend: Backend) {
    let t = Topology::new("reroute", backend);
    let conf = ConfigDir::new(config(""));
    t.start(&conf);
    t.router.listen_tcp(7200);
    let at_router = t.router.arrivals(7200);
    let stream = t.stream(INTERNET, 7200);
    stream.wait_for_more(stream.received(), "the stream through tun0 to flow");
    let blocked = t.blocked_output();

    t.route_via_uplink();
    std::thread::sleep(Duration::from_millis(1500));
    let leaked = t.router.arrivals(7200) - at_router;
    assert_eq!(leaked, 0, "LEAK: {leaked} packets of a flow opened through tun0 left out of eth0 after the route changed");
    assert!(t.blocked_output() > blocked, "the flow never tried eth0 after the route changed: this test proves nothing");

    // The control: without the ruleset the same flow does go out of eth0, so the count above
    // would have seen it.
    t.firewall(&conf, "flush").expect(0);
    common::wait_for("the flow's packets at the router once the ruleset is flushed", Duration::from_secs(8), || t.router.arrivals(7200) > at_router);
}

fn a_packet_rerouted_after_output_by_another_tables_route_chain_is_still_blocked(backend: Backend) {
    let t = Topology::new("postroute", backend);
    // Another tool marks every packet in a `route` chain that runs after vpn-firewall's output
    // chain; the mark selects a routing table whose default leaves through eth0. The kernel
    // reroutes the packet after output accepted it for tun0.
    t.host.ip("route add default via 198.51.100.1 dev eth0 table 100");
    t.host.ip("rule add fwmark 0x1 table 100");
    t.host.nft_load("table ip other {\n\tchain remark {\n\t\ttype route hook output priority 10; policy accept;\n\t\tmeta mark set 0x1\n\t}\n}\n");
    // UDP: the rerouted packets keep tun0's source address, so the router could not answer a
    // TCP handshake; arriving is what counts.
    let probes = [Probe::udp(INTERNET, 7300).as_uid(USER), Probe::udp(INTERNET, 7301)];
    for p in probes {
        t.assert_reaches(p, Side::Uplink, "no ruleset yet: the route chain sends it out of eth0");
    }
    t.start(&ConfigDir::new(config("")));
    for p in probes {
        t.assert_blocked(p, "rerouted out of eth0 by another table's route chain after output");
    }
    let postrouting = t.host.blocked(Hook::Postrouting);
    assert!(postrouting > 0, "nothing was blocked in postrouting: the probes never took the reroute, so this test proves nothing");
}

#[test]
fn auto_is_nftables_where_nft_is_installed_else_iptables() {
    let ns = Netns::host("auto", Backend::IptablesNft);
    let conf = ConfigDir::new(config(""));
    // `start` with the configuration's backend, auto; with nft hidden (in a mount namespace of
    // its own) when `hide_nft`.
    let start = |hide_nft: bool| {
        let hide = "for f in /usr/sbin/nft /sbin/nft /usr/bin/nft /bin/nft; do [ -e \"$f\" ] && mount --bind /dev/null \"$f\"; done; ";
        let script = format!("{}exec \"$0\" --config-dir \"$1\" start", if hide_nft { hide } else { "" });
        let mut cmd = ns.command("unshare");
        Backend::IptablesNft.host_iptables(&mut cmd);
        cmd.args(["-m", "sh", "-c", &script]).arg(common::binary()).arg(conf.path());
        common::run(cmd, "").expect(0)
    };
    let run = start(false);
    assert_eq!(ns.tables().iter().filter(|t| t.contains("vpn_firewall")).count(), 1, "auto did not pick nftables:\n{run}");
    assert_eq!(ns.firewall_objects(), Vec::<String>::new(), "auto loaded iptables chains too:\n{run}");
    let run = start(true);
    assert!(run.stdout.contains("(iptables-nft,"), "auto without nft:\n{run}");
    assert_eq!(ns.firewall_objects(), Backend::IptablesNft.loaded_objects(), "{run}");
}

fn a_packet_from_the_lan_to_the_tunnels_address_is_dropped(backend: Backend) {
    // CVE-2019-14899: a LAN neighbour probes for the tunnel's address by sending to it through
    // eth0. The LAN may connect to port 7400, so only the check of the destination address
    // against the receiving interface stops it. (Two tunnel interfaces: "not from the tunnel"
    // is two matches, which iptables splits over a helper chain.)
    let t = Topology::new("cve", backend);
    t.router.ip("route add 192.0.2.0/24 via 198.51.100.2 dev wan");
    t.router.ip("-6 route add 2001:db8:2::/64 via 2001:db8:1::2 dev wan");
    t.host.listen_tcp(7400);
    let own = [Probe::tcp("198.51.100.2", 7400), Probe::tcp("2001:db8:1::2", 7400)];
    let tunnels = [Probe::tcp("192.0.2.2", 7400), Probe::tcp("2001:db8:2::2", 7400)];
    for p in own.iter().chain(&tunnels) {
        assert_eq!(p.send(&t.router).code, 0, "no ruleset yet: {p} from the LAN connects");
    }
    let lan = format!("[tunnel]\ninterfaces = tun0 wg+\n[lan]\nallow = {LAN} 2001:db8:1::/64\nincoming = 7400/tcp\n");
    t.start(&ConfigDir::new(config(&lan)));
    for p in own {
        assert_eq!(p.send(&t.router).code, 0, "{p} from the LAN to eth0's own address (lan.incoming) must connect");
    }
    for p in tunnels {
        let arrived = t.host.arrivals(7400);
        let run = p.send(&t.router);
        assert_ne!(run.code, 0, "LEAK: {p} from the LAN to the tunnel's address connected:\n{run}");
        assert!(t.host.arrivals(7400) > arrived, "{p} never reached the host: this test proves nothing");
    }
    // One tunnel interface: no helper chain any more, and none left behind.
    let run = t.start(&ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\nincoming = 7400/tcp\n"))));
    assert_eq!(t.host.firewall_objects(), backend.loaded_objects(), "{run}");
}

fn long_lists_work_and_reloads_leave_no_stale_sets(backend: Backend) {
    // More networks than the iptables backend matches rule by rule: with ipset installed they
    // go into a set, which a reload replaces and a flush removes.
    let t = Topology::new("long", backend);
    // Not adjacent, so that they stay 40 networks.
    let networks = |second: u8| -> String { (0..40u8).map(|i| format!("10.{second}.{}.0/24 ", 2 * i)).collect() };
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {} {LAN}\n", networks(1))));
    t.start(&conf);
    t.assert_reaches(Probe::tcp(ROUTER, 7000), Side::Uplink, "lan.allow, in a long list");
    t.assert_blocked(Probe::udp(ROUTER, 53), "DNS to lan.allow, in a long list");
    t.route_via_uplink();
    t.assert_blocked(Probe::tcp(INTERNET, 7000), "not in the long lan.allow list");
    let sets = |objects: Vec<String>| -> Vec<String> { objects.into_iter().filter(|o| o.starts_with("ipset ")).collect() };
    let first = sets(t.host.firewall_objects());
    if backend.is_iptables() {
        assert_eq!(first.len(), 1, "one ipset for the long IPv4 list: {first:?}");
    }
    conf.set(config(&format!("[lan]\nallow = {} {LAN}\n", networks(2))));
    t.start(&conf);
    t.assert_reaches(Probe::tcp(ROUTER, 7000), Side::Uplink, "lan.allow, in the reloaded long list");
    let second = sets(t.host.firewall_objects());
    assert_eq!(second.len(), first.len(), "a reload must replace the set, not add one: {second:?}");
    if backend.is_iptables() {
        assert_ne!(second, first, "the reloaded list is in a new set");
    }
    t.firewall(&conf, "flush").expect(0);
    assert_eq!(t.host.firewall_objects(), Vec::<String>::new(), "flush must remove the sets too");
}

fn a_rule_before_the_jump_is_reported_and_a_reload_puts_the_jump_first_again(backend: Backend) {
    let ns = Netns::host("first", backend);
    let conf = ConfigDir::new(config(""));
    ns.firewall(conf.path(), "start").expect(0);
    // Another tool inserts an accept-all before vpn-firewall's jump, and a second jump.
    ns.iptables(false, &["-I", "OUTPUT", "1", "-j", "ACCEPT"]).expect(0);
    ns.iptables(false, &["-A", "OUTPUT", "-j", "VPN_FIREWALL_OUTPUT"]).expect(0);
    ns.iptables(true, &["-t", "mangle", "-I", "POSTROUTING", "1", "-j", "ACCEPT"]).expect(0);
    let status = ns.firewall(conf.path(), "status").expect(0);
    for (chain, table) in [("IPv4 OUTPUT", "filter"), ("IPv6 POSTROUTING", "mangle")] {
        let warning = format!("1 other rule comes before vpn-firewall's jump in {chain} ({table})");
        assert!(status.stdout.lines().any(|l| l.contains("WARNING") && l.contains(&warning)), "status does not warn {warning:?}:\n{status}");
    }
    assert!(status.stdout.contains("IPv4 OUTPUT (filter) jumps to VPN_FIREWALL_OUTPUT more than once"), "{status}");

    ns.firewall(conf.path(), "reload").expect(0);
    let ours = jump(Hook::Output);
    assert_eq!(ns.builtin_rules(false, Table::Filter, "OUTPUT"), [ours.as_str(), "-j ACCEPT"], "the jump first, once, the other rule kept");
    let ours = jump(Hook::Postrouting);
    assert_eq!(ns.builtin_rules(true, Table::Mangle, "POSTROUTING"), [ours.as_str(), "-j ACCEPT"]);
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(!status.stdout.contains("WARNING"), "status still warns after the reload:\n{status}");
}

fn flush_restores_only_the_policies_start_changed(backend: Backend) {
    let ns = Netns::host("policy", backend);
    // The administrator's own default: IPv4 forwarding closed.
    ns.iptables(false, &["-P", "FORWARD", "DROP"]).expect(0);
    let conf = ConfigDir::new(config(""));
    ns.firewall(conf.path(), "start").expect(0);
    // A reload must keep the record of the policies from before the first start.
    conf.set(config(&format!("[lan]\nallow = {LAN}\n")));
    ns.firewall(conf.path(), "reload").expect(0);
    let policy =
        |ipv6: bool, chain: &str| ns.iptables_save(ipv6).chain("filter", chain).and_then(|c| c.policy.clone()).unwrap_or_else(|| "ACCEPT (no chain)".into());
    for ipv6 in [false, true] {
        for chain in ["INPUT", "FORWARD", "OUTPUT"] {
            assert_eq!(policy(ipv6, chain), "DROP", "{chain} (IPv6: {ipv6}) while loaded");
        }
    }
    let flush = ns.firewall(conf.path(), "flush").expect(0);
    assert!(flush.stdout.contains("left FORWARD (IPv4) at DROP"), "{flush}");
    for (ipv6, chain, expected) in [
        (false, "INPUT", "ACCEPT"),
        (false, "FORWARD", "DROP"),
        (false, "OUTPUT", "ACCEPT"),
        (true, "INPUT", "ACCEPT"),
        (true, "FORWARD", "ACCEPT"),
        (true, "OUTPUT", "ACCEPT"),
    ] {
        assert_eq!(policy(ipv6, chain), expected, "{chain} (IPv6: {ipv6}) after the flush:\n{flush}");
    }
}

fn other_tools_mangle_rules_after_the_jump_still_see_what_it_accepts(backend: Backend) {
    // MSS clamping and the like live in mangle POSTROUTING, after vpn-firewall's jump: its
    // accepted packets must go on to them.
    let t = Topology::new("mangle", backend);
    t.start(&ConfigDir::new(config("")));
    t.host.iptables(false, &["-t", "mangle", "-A", "POSTROUTING", "-o", "tun0", "-p", "tcp", "--dport", "7000"]).expect(0);
    t.assert_reaches(Probe::tcp(INTERNET, 7000), Side::Tunnel, "through the tunnel");
    let counted = t.host.iptables_save(false).chain("mangle", "POSTROUTING").and_then(|c| c.rules.last().map(|r| r.packets));
    assert!(counted.is_some_and(|p| p > 0), "another tool's mangle POSTROUTING rule never saw the accepted packets: {counted:?}");
}

fn switching_backends_leaves_only_the_new_ones_rules(backend: Backend) {
    // From nftables to this iptables variant and back: each start removes what the other
    // backend loaded, after its own rules hold.
    let t = Topology::new("switch", backend);
    let conf = ConfigDir::new(config(""));
    t.host.firewall_with(Backend::Nftables, conf.path(), "start").expect(0);
    let run = t.start(&conf);
    assert_eq!(t.host.firewall_objects(), backend.loaded_objects(), "{run}");
    assert_eq!(t.host.tables().iter().filter(|t| t.contains("vpn_firewall")).count(), 0, "the nftables table stayed:\n{run}");
    t.route_via_uplink();
    t.assert_blocked(Probe::tcp(INTERNET, 7000), "after switching to {backend:?}");
    let run = t.host.firewall_with(Backend::Nftables, conf.path(), "start").expect(0);
    assert_eq!(t.host.firewall_objects(), Vec::<String>::new(), "the iptables chains stayed:\n{run}");
    t.assert_blocked(Probe::tcp(INTERNET, 7000), "after switching back to nftables");
}

backend_tests! {
    every: [
    start_reload_status_and_flush_manage_exactly_their_own_objects,
    outside_the_tunnel_nothing_leaves_for_root_or_a_user,
    lan_allow_is_reachable_but_dns_to_it_only_with_lan_dns,
    ipv6_never_leaves_outside_the_tunnel,
    the_vpn_client_reaches_its_servers_outside_the_tunnel_and_nothing_else_does,
    an_established_flow_through_the_tunnel_survives_20_reloads,
    a_flow_opened_through_the_tunnel_does_not_continue_out_of_eth0,
    a_packet_rerouted_after_output_by_another_tables_route_chain_is_still_blocked,
    a_packet_from_the_lan_to_the_tunnels_address_is_dropped,
    long_lists_work_and_reloads_leave_no_stale_sets,
    ],
    iptables: [
    a_rule_before_the_jump_is_reported_and_a_reload_puts_the_jump_first_again,
    flush_restores_only_the_policies_start_changed,
    switching_backends_leaves_only_the_new_ones_rules,
    other_tools_mangle_rules_after_the_jump_still_see_what_it_accepts,
    ],
}
