//! Kernel integration tests: the real binary loads real rules into a real kernel, inside network
//! namespaces made for each test (see tests/common), and real packets show what leaves.
//!
//! Needs root, nftables, iproute2, socat and util-linux (setpriv); a missing one fails the test
//! with the package to install.

mod common;
mod sandbox;

use common::topology::{INTERNET, INTERNET6, LAN, ROUTER, ROUTER6, Probe, Side, Topology, USER, VPN_CLIENT, VPN_SERVER};
use common::{ConfigDir, Netns, Run, config};
use std::time::Duration;

/// An invalid configuration: /33 is no IPv4 prefix length; the error is at line 2.
const INVALID: &str = "[lan]\nallow = 198.51.100.0/33\n";

/// The vpn-firewall tables loaded in `ns`.
fn our_tables(ns: &Netns) -> Vec<String> {
    ns.tables().into_iter().filter(|t| t.contains("vpn_firewall")).collect()
}

#[test]
fn start_reload_status_and_flush_manage_exactly_one_table_of_their_own() {
    let ns = Netns::new("load", "h");
    ns.nft_load("table ip foreign {\n\tchain out {\n\t\ttype filter hook output priority 10; policy accept;\n\t\tmeta mark 0x2a accept\n\t}\n}\n");
    let foreign = ns.nft(&["-a", "list", "table", "ip", "foreign"]);
    let conf = ConfigDir::new(config(""));
    ns.firewall(conf.path(), "status").expect(3);

    ns.firewall(conf.path(), "start").expect(0);
    assert_eq!(our_tables(&ns), ["inet vpn_firewall"], "start must load exactly the table inet vpn_firewall");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("vpn-firewall: loaded") && status.stdout.contains("up to date"), "status after start:\n{status}");

    conf.set(config(&format!("[lan]\nallow = {LAN}\n")));
    ns.firewall(conf.path(), "reload").expect(0);
    assert_eq!(our_tables(&ns), ["inet vpn_firewall"], "a reload must replace the table, not add one");
    let table = ns.nft(&["list", "table", "inet", "vpn_firewall"]);
    assert!(table.contains("198.51.100.0/24"), "the reloaded table lacks the new lan.allow network:\n{table}");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("up to date"), "status after the reload:\n{status}");

    ns.firewall(conf.path(), "flush").expect(0);
    assert_eq!(ns.tables(), ["ip foreign"], "flush must remove our table and nothing else");
    assert_eq!(ns.nft(&["-a", "list", "table", "ip", "foreign"]), foreign, "flush changed another tool's table");
    ns.firewall(conf.path(), "status").expect(3);
    ns.firewall(conf.path(), "flush").expect(0);
    assert_eq!(ns.tables(), ["ip foreign"], "a flush with nothing loaded must change nothing");
}

#[test]
fn outside_the_tunnel_nothing_leaves_for_root_or_a_user() {
    let t = Topology::new("leak");
    let internet = [
        Probe::tcp(INTERNET, 7000),
        Probe::udp(INTERNET, 7001),
        Probe::tcp(INTERNET, 7000).as_uid(USER),
        Probe::udp(INTERNET, 7001).as_uid(USER),
    ];
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

#[test]
fn lan_allow_is_reachable_but_dns_to_it_only_with_lan_dns() {
    let t = Topology::new("lan");
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

#[test]
fn ipv6_never_leaves_outside_the_tunnel() {
    let t = Topology::new("ipv6");
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

#[test]
fn the_vpn_client_reaches_its_servers_outside_the_tunnel_and_nothing_else_does() {
    let t = Topology::new("client");
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

#[test]
fn an_invalid_configuration_at_first_start_loads_the_lockdown_ruleset() {
    let t = Topology::new("lock");
    let tunnel = [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::tcp(INTERNET6, 7000)];
    let uplink = [Probe::tcp(ROUTER, 7002), Probe::udp(ROUTER, 7003), Probe::tcp(ROUTER6, 7002), Probe::tcp(ROUTER, 7002).as_uid(USER)];
    let loopback = [Probe::tcp("127.0.0.1", 7004), Probe::tcp("::1", 7004), Probe::tcp("127.0.0.1", 7004).as_uid(USER)];
    let all = || tunnel.iter().map(|p| (*p, Side::Tunnel)).chain(uplink.iter().map(|p| (*p, Side::Uplink)));
    for (p, side) in all() {
        t.assert_reaches(p, side, "no ruleset yet: the test network works");
    }

    let conf = ConfigDir::new(INVALID);
    let run = t.firewall(&conf, "start").expect(2);
    assert_names_line(&run, &conf.file(), 2, "not a network");
    assert_eq!(our_tables(&t.host), ["inet vpn_firewall"], "no lockdown table after an invalid first start:\n{run}");
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");

    for (p, _) in all() {
        t.assert_blocked(p, "lockdown");
    }
    for p in loopback {
        t.assert_reaches(p, Side::Host, "lockdown lets loopback pass");
    }
}

/// `start` reads the table back from the kernel and refuses one that is not what it sent. A
/// stand-in `nft` loads the ruleset with the real nft, then changes it once, as another program
/// could between load and read-back: every change must make start fail and load the lockdown.
#[test]
fn start_detects_a_table_changed_right_after_loading_it() {
    let ns = Netns::new("tamper", "h");
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\n")));
    let shown = ns.firewall(conf.path(), "show").expect(0).stdout;
    let (digest_at, _) = shown.match_indices("vpn-firewall ruleset ").next().expect("show prints the table comment");
    let another_comment = format!("{}vpn-firewall ruleset 0123456789abcdef{}", &shown[..digest_at], &shown[digest_at + 37..]);
    let stand_in = tempfile::Builder::new().prefix("vpnfwk-nft").tempdir().expect("temporary directory");
    let dir = stand_in.path().display();
    // A copy of the real nft: the stand-in is mounted over the real one's path.
    let real_nft = stand_in.path().join("real-nft");
    std::fs::copy(sandbox::tool("nft", "nftables"), &real_nft).expect("cannot copy nft");
    std::fs::write(
        stand_in.path().join("nft"),
        format!(
            "#!/bin/bash\n# Runs the real nft, then once changes what it loaded.\n\
             {nft} \"$@\" || exit\n\
             if [ \"$1\" = -f ] && rm {dir}/once 2>/dev/null; then {nft} -f {dir}/tamper.nft; fi\n",
            nft = real_nft.display()
        ),
    )
    .expect("cannot write the stand-in nft");
    std::fs::set_permissions(stand_in.path().join("nft"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");

    let changes = [
        ("an extra LAN network", "add element inet vpn_firewall lan_v4 { 203.0.113.0/24 }\n".to_string()),
        ("an extra rule", "insert rule inet vpn_firewall output accept\n".into()),
        ("an accepting policy", "add chain inet vpn_firewall output { type filter hook output priority filter; policy accept; }\n".into()),
        ("a flushed chain", "flush chain inet vpn_firewall block_output\n".into()),
        ("an extra chain", "add chain inet vpn_firewall extra\n".into()),
        ("an extra set", "add set inet vpn_firewall extra { type ipv4_addr; }\n".into()),
        ("an extra counter", "add counter inet vpn_firewall extra\n".into()),
        ("another ruleset's comment", another_comment),
    ];
    for (what, change) in changes {
        std::fs::write(stand_in.path().join("tamper.nft"), change).expect("cannot write the change");
        std::fs::write(stand_in.path().join("once"), "").expect("cannot write the marker");
        let run = ns.firewall_with_nft(&stand_in.path().join("nft"), conf.path(), "start");
        assert!(!stand_in.path().join("once").exists(), "the stand-in nft was not used ({what}):\n{run}");
        assert_eq!(run.code, 1, "start accepted a table with {what}:\n{run}");
        assert!(run.stderr.contains("is not what was sent"), "start failed for another reason ({what}):\n{run}");
        let table = ns.nft(&["list", "table", "inet", "vpn_firewall"]);
        assert!(table.contains("comment \"vpn-firewall lockdown"), "no lockdown after {what}:\n{table}");
        ns.firewall(conf.path(), "flush").expect(0);
    }
    // The same stand-in without a change: start succeeds, so each failure above was the change.
    ns.firewall_with_nft(&stand_in.path().join("nft"), conf.path(), "start").expect(0);
}

#[test]
fn an_invalid_configuration_leaves_a_loaded_ruleset_byte_identical() {
    let ns = Netns::new("keep", "h");
    let conf = ConfigDir::new(config(""));
    ns.firewall(conf.path(), "start").expect(0);
    let before = ns.ruleset();
    conf.set(INVALID);
    let run = ns.firewall(conf.path(), "start").expect(2);
    assert_names_line(&run, &conf.file(), 2, "not a network");
    assert_eq!(ns.ruleset(), before, "start with an invalid configuration changed the loaded ruleset:\n{run}");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(!status.stdout.contains("LOCKDOWN"), "a loaded ruleset was replaced by the lockdown:\n{status}");
}

#[test]
fn an_established_flow_through_the_tunnel_survives_20_reloads() {
    let t = Topology::new("reload");
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

#[test]
fn a_flow_opened_through_the_tunnel_does_not_continue_out_of_eth0() {
    let t = Topology::new("reroute");
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
    common::wait_for("the flow's packets at the router once the ruleset is flushed", Duration::from_secs(8), || {
        t.router.arrivals(7200) > at_router
    });
}

/// One malformed configuration, the line its error must name, and a word of the message.
struct Bad {
    what: &'static str,
    text: &'static [u8],
    line: usize,
    says: &'static str,
}

const fn bad(what: &'static str, text: &'static str, line: usize, says: &'static str) -> Bad {
    Bad { what, text: text.as_bytes(), line, says }
}

const BAD: &[Bad] = &[
    bad("unknown key", "[lan]\nalow = 10.0.0.0/8\n", 2, "unknown key"),
    bad("unknown section", "[tunnel]\nuser =\n[tunel]\nuser = vpn\n", 3, "unknown section"),
    bad("unknown empty section", "[tunnel]\nuser =\n[tunel]\n", 3, "unknown section"),
    bad("unknown key after CR LF line ends", "[tunnel]\r\nuser =\r\n[lan]\r\nalow = 1\r\n", 4, "unknown key"),
    bad("unclosed quote", "[lan]\nallow = \"10.0.0.0/8\ndns = yes\n", 2, "cannot parse"),
    bad("real key outside a section", "# lan\nallow = 10.0.0.0/8\n", 2, "outside any section"),
    bad("bad CIDR", "[lan]\n# two networks\nallow = 10.0.0.0/8, 192.168.1.0/33\n", 3, "not a network"),
    bad("not a network", "[lan]\nallow = lan\n", 2, "not a network"),
    bad("interface with nft syntax", "[tunnel]\ninterfaces = tun0; flush ruleset\n", 2, "contains ';'"),
    bad("quoted interface with nft syntax", "[tunnel]\ninterfaces = \"tun0 } accept\"\n", 2, "contains '}'"),
    bad("interface too long", "[tunnel]\n\ninterfaces = tun0123456789abc\n", 3, "longer than 15 bytes"),
    bad("bare +", "[tunnel]\ninterfaces = tun+ +\n", 2, "every interface"),
    bad("port too big", "[lan]\nincoming = 65536/tcp\n", 2, "port"),
    bad("port 0", "[tunnel]\nincoming = 0/udp\n", 2, "has port \"0\""),
    bad("range reversed", "[tunnel]\nincoming = 22/tcp, 2000-1000/tcp\n", 2, "empty range"),
    bad("bad protocol", "[lan]\nincoming = 22/icmp\n", 2, "protocol"),
    bad("port without protocol", "[lan]\nincoming = 22\n", 2, "no protocol"),
    bad("endpoint with a host name", "[tunnel]\nservers = vpn.example.org:1194/udp\n", 2, "names are not resolved"),
    bad("v6 endpoint without brackets", "[tunnel]\nservers = 2001:db8::7:1194/udp\n", 2, "not an IP address endpoint"),
    bad("endpoint without protocol", "[tunnel]\nservers = 198.51.100.7:1194\n", 2, "no protocol"),
    bad("fwmark 0", "[tunnel]\nfwmark = 0x0\n", 2, "every unmarked packet"),
    bad("fwmark too big", "[tunnel]\nfwmark = 0x100000000\n", 2, "not a 32-bit number"),
    bad("bad boolean", "[lan]\n; comment\ndns = maybe\n", 3, "not a boolean"),
    bad("bad log_rate unit", "[firewall]\nlog_rate = 10/fortnight\n", 2, "unit"),
    bad("log_rate zero", "[firewall]\nlog_rate = 0/minute\n", 2, "count"),
    bad("user that does not exist", "[tunnel]\nuser = vpnfwk-no-such-user\n", 2, "does not exist"),
    bad("uid 2^32-1", "[tunnel]\nuser = 4294967295\n", 2, "does not exist"),
    bad("group that does not exist", "[tunnel]\ngroup = vpnfwk-no-such-group\n", 2, "does not exist"),
    bad("forwarding without interfaces", "[forward]\nenable = yes\n", 2, "interfaces is empty"),
    bad("bad forward.dns", "[forward]\ndns = resolver.example\n", 2, "not an IP address"),
    bad("bad backend", "[firewall]\nbackend = pf\n", 2, "not a backend"),
    bad("line without =", "[lan]\nallow 10.0.0.0/8\n", 2, "cannot parse"),
    bad("line of only a value", "[lan]\n= 10.0.0.0/8\n", 2, "cannot parse"),
    bad("unclosed section", "[tunnel]\nuser =\n[lan\nallow = 10.0.0.0/8\n", 3, "cannot parse"),
    bad("junk after a section", "[lan] allow\n", 1, "cannot parse"),
    bad("unknown legacy key", "VPN_IFACE=\"tun0\"\n", 1, "unknown key"),
    bad("bad legacy value", "# from the old vpn-firewall\nLOCAL_NET=\"10.0.0.0/99\"\n", 2, "not a network"),
    Bad { what: "non-UTF-8 bytes", text: b"[lan]\n# caf\xe9\nallow = 10.0.0.0/8\n", line: 2, says: "UTF-8" },
];

/// The run failed with exactly one error line, naming `FILE:LINE` and saying `says`, and
/// did not panic.
fn assert_names_line(run: &Run, file: &std::path::Path, line: usize, says: &str) {
    if let Err(e) = names_line(run, file, line, says) {
        panic!("{e}");
    }
}

fn names_line(run: &Run, file: &std::path::Path, line: usize, says: &str) -> Result<(), String> {
    let location = format!("{}:{line}: ", file.display());
    let errors = run.error_lines();
    if run.code != 2 {
        return Err(format!("exit {} instead of 2", run.code));
    }
    if run.stderr.contains("panicked") {
        return Err("it panicked".into());
    }
    match errors.as_slice() {
        [one] if one.contains(&location) && one.contains(says) => Ok(()),
        [one] => Err(format!("the error line does not name {location:?} and say {says:?}: {one}")),
        _ => Err(format!("{} error lines instead of one", errors.len())),
    }
}

#[test]
fn malformed_configurations_are_refused_naming_file_and_line() {
    let ns = Netns::new("bad", "h");
    let valid = ConfigDir::new(config(""));
    ns.firewall(valid.path(), "start").expect(0);
    let mut loaded = ns.ruleset();
    let mut failures = Vec::new();
    for case in BAD {
        let conf = ConfigDir::new(case.text);
        conf.write("10-base.conf", config(""));
        for command in ["check", "start"] {
            let run = ns.firewall(conf.path(), command);
            if let Err(e) = names_line(&run, &conf.file(), case.line, case.says) {
                failures.push(format!("{} ({command}): {e}\n{run}", case.what));
            }
            if ns.ruleset() != loaded {
                failures.push(format!("{} ({command}): the loaded ruleset changed\n{run}", case.what));
                ns.firewall(valid.path(), "start").expect(0);
                loaded = ns.ruleset();
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems with {} malformed configurations (check and start each):\n\n{}",
        failures.len(),
        BAD.len(),
        failures.join("\n")
    );
}

#[test]
fn a_packet_rerouted_after_output_by_another_tables_route_chain_is_still_blocked() {
    let t = Topology::new("postroute");
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
    let postrouting = t.host.counter("inet", "vpn_firewall", "blocked_postrouting");
    assert!(postrouting > 0, "nothing was blocked in postrouting: the probes never took the reroute, so this test proves nothing");
}

#[test]
fn a_first_start_that_cannot_apply_its_backend_still_locks_down() {
    // The iptables backend is not available in this version: a start that asks for it, with a
    // valid or an invalid configuration, must not leave a machine with nothing loaded open.
    for (text, code) in [(config("[firewall]\nbackend = iptables\n"), 1), (format!("[firewall]\nbackend = iptables\n{INVALID}"), 2)] {
        let ns = Netns::new("nobackend", "h");
        let conf = ConfigDir::new(&text);
        let run = ns.firewall(conf.path(), "start").expect(code);
        assert_eq!(our_tables(&ns), ["inet vpn_firewall"], "nothing loaded after a start that could not apply:\n{run}");
        let status = ns.firewall(conf.path(), "status").expect(0);
        assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");
        if code == 2 {
            assert_names_line(&run, &conf.file(), 4, "not a network");
        }
    }
}
