//! Gateway mode in a real kernel: a workstation behind the host (see `Workstation` in
//! tests/common/topology.rs), the stand-in tunnel of `Topology`, real rules and real packets,
//! counted where they arrive. Each test first shows, without the ruleset, that the network would
//! carry what the ruleset then must stop. The real VPNs are in the leak suite (tests/leaks.rs).
//! Each test runs once per backend: `nftables::NAME`, `iptables_nft::NAME`,
//! `iptables_legacy::NAME`.
//!
//! Needs root, nftables, iptables, iproute2, socat and util-linux; a missing one fails the test
//! with the package to install.

#[macro_use]
mod common;

use common::topology::{
    GATEWAY, INSIDE, INTERNET, INTERNET6, LAN, Probe, RESOLVER, ROUTER, ROUTER6, Side, Topology, VPN_SERVER, WORKSTATION, WORKSTATION6, Workstation,
};
use common::{Backend, ConfigDir, Netns, config};
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use vpn_firewall::policy::{Hook, NatHook};
use vpn_firewall::render_iptables::PREFIX;
use vpn_firewall::render_nft;

/// Gateway mode for the workstation on eth1, then `extra`.
fn gateway_config(extra: &str) -> String {
    config(&format!("[forward]\nenable = yes\ninterfaces = eth1\n{extra}"))
}

/// The stand-in topology with a workstation on the host's eth1, and both far sides able to
/// reach the inside through the host (the router via eth0, the VPN side via tun0): whether
/// they do is the firewall's to decide.
fn behind_gateway(test: &str, backend: Backend) -> (Topology, Workstation) {
    let t = Topology::new(test, backend);
    let ws = Workstation::behind(&t.host, test, "eth1");
    t.router.ip(&format!("route add {INSIDE} via 198.51.100.2"));
    t.router.ip("-6 route add 2001:db8:3::/64 via 2001:db8:1::2");
    t.vpn.ip(&format!("route add {INSIDE} via 192.0.2.2"));
    t.vpn.ip("-6 route add 2001:db8:3::/64 via 2001:db8:2::2");
    for ns in [&t.router, &t.vpn] {
        ns.await_ipv6();
    }
    (t, ws)
}

/// DNS queries that arrived at the resolver on the VPN side (through the tunnel).
fn at_resolver(t: &Topology) -> u64 {
    t.vpn.arrivals_matching("resolver", &format!("ip daddr {RESOLVER} meta l4proto {{ tcp, udp }} th dport 53"))
}

fn the_inside_reaches_the_tunnel_and_nothing_else(backend: Backend) {
    let (t, ws) = behind_gateway("gwfwd", backend);
    let tunnel = [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001)];
    let uplink = [Probe::udp(ROUTER, 7003), Probe::tcp(ROUTER, 7002), Probe::udp(VPN_SERVER, 1194), Probe::udp(ROUTER6, 7003)];
    for p in tunnel.into_iter().chain([Probe::tcp(INTERNET6, 7000)]) {
        t.assert_reaches_from(&ws.ns, p, Side::Tunnel, "no ruleset yet: the host forwards into tun0");
    }
    for p in uplink {
        t.assert_reaches_from(&ws.ns, p, Side::Uplink, "no ruleset yet: the host forwards out of eth0");
    }

    // The router's network is in lan.allow: this machine's own exception, not the inside's.
    t.start(&ConfigDir::new(gateway_config(&format!("[lan]\nallow = {LAN}\n"))));
    for p in tunnel {
        t.assert_reaches_from(&ws.ns, p, Side::Tunnel, "from the inside into the tunnel");
    }
    let blocked = |hook: Hook| t.host.blocked(hook);
    let (forward, postrouting) = (blocked(Hook::Forward), blocked(Hook::Postrouting));
    for p in uplink {
        t.assert_blocked_from(&ws.ns, p, "from the inside to the uplink, lan.allow included");
    }
    t.assert_blocked_from(&ws.ns, Probe::tcp(INTERNET6, 7000), "IPv6 from the inside with tunnel.ipv6 = no");
    // Stopped in the forward chain, where the workstation can be told at once; postrouting
    // is the second line, and had nothing left to do.
    assert!(blocked(Hook::Forward) >= forward + 5 && blocked(Hook::Postrouting) == postrouting, "not blocked in the forward chain");
    t.assert_blocked_from(&ws.ns, Probe::tcp(GATEWAY, 22), "a service of the gateway itself");
    for p in [Probe::tcp(ROUTER, 7002), Probe::udp(ROUTER, 7003)] {
        t.assert_reaches(p, Side::Uplink, "the gateway's own traffic to lan.allow");
    }
    // With masquerade the VPN side sees the tunnel's address, never the workstation's.
    let from = |addr: &str| t.vpn.arrivals_matching(&format!("from{}", addr.replace('.', "_")), &format!("ip saddr {addr} udp dport 7001"));
    let (tunnel_address, inside_address) = (from("192.0.2.2"), from(WORKSTATION));
    t.assert_reaches_from(&ws.ns, Probe::udp(INTERNET, 7001), Side::Tunnel, "masqueraded");
    assert!(from("192.0.2.2") > tunnel_address && from(WORKSTATION) == inside_address, "forwarded traffic was not masqueraded");

    t.route_via_uplink();
    for p in tunnel {
        t.assert_blocked_from(&ws.ns, p, "the VPN is down: the default route goes out of eth0");
    }
    t.route_via_tunnel();
    t.host.ip("route add 203.0.113.0/24 via 198.51.100.1 dev eth0");
    for p in tunnel {
        t.assert_blocked_from(&ws.ns, p, "a more specific route out of eth0 (TunnelVision)");
    }
    t.host.ip("link delete tun0");
    for p in tunnel {
        t.assert_blocked_from(&ws.ns, p, "the tunnel interface is gone");
    }
}

fn without_masquerade_the_inside_keeps_its_address_and_ipv6_passes_with_tunnel_ipv6(backend: Backend) {
    let (t, ws) = behind_gateway("gwv6", backend);
    t.start(&ConfigDir::new(gateway_config("masquerade = no\n[tunnel]\nipv6 = yes\n")));
    let from_ws = || t.vpn.arrivals_matching("fromws", &format!("ip saddr {WORKSTATION} udp dport 7001"));
    let before = from_ws();
    t.assert_reaches_from(&ws.ns, Probe::udp(INTERNET, 7001), Side::Tunnel, "not masqueraded");
    assert!(from_ws() > before, "masqueraded although masquerade = no");
    for p in [Probe::tcp(INTERNET6, 7000), Probe::udp(INTERNET6, 7001)] {
        t.assert_reaches_from(&ws.ns, p, Side::Tunnel, "IPv6 from the inside into the tunnel with tunnel.ipv6 = yes");
    }
    t.route_via_uplink();
    for p in [Probe::tcp(INTERNET6, 7000), Probe::udp(ROUTER6, 7001), Probe::tcp(INTERNET, 7000)] {
        t.assert_blocked_from(&ws.ns, p, "the VPN is down: the default routes go out of eth0");
    }
}

fn dns_from_the_inside_reaches_the_redirect_target_through_the_tunnel_only(backend: Backend) {
    let (t, ws) = behind_gateway("gwdns", backend);
    let queries = [Probe::udp(ROUTER, 53), Probe::tcp(ROUTER, 53), Probe::udp(INTERNET, 53), Probe::tcp(VPN_SERVER, 53)];
    t.start(&ConfigDir::new(gateway_config(&format!("dns = {RESOLVER}\n[tunnel]\nipv6 = yes\n"))));
    for p in queries {
        let before = at_resolver(&t);
        let o = t.probe(&ws.ns, p, Duration::from_secs(1));
        assert!(o.sent && o.uplink == 0 && at_resolver(&t) > before, "{p} from the inside did not reach {RESOLVER} through the tunnel alone: {o:?}");
    }
    // IPv6 passes the tunnel, but its DNS cannot be redirected to an IPv4 resolver.
    t.assert_blocked_from(&ws.ns, Probe::udp(INTERNET6, 53), "IPv6 DNS from the inside, not redirected");
    t.assert_reaches_from(&ws.ns, Probe::tcp(INTERNET, 853), Side::Tunnel, "DNS-over-TLS through the tunnel");

    t.route_via_uplink();
    let before = at_resolver(&t);
    for p in queries.into_iter().chain([Probe::tcp(INTERNET, 853)]) {
        t.assert_blocked_from(&ws.ns, p, "the VPN is down: the resolver is routed out of eth0");
    }
    assert_eq!(at_resolver(&t), before, "DNS reached the resolver with the VPN down");
}

fn nothing_unsolicited_reaches_the_inside_from_the_uplink_or_the_tunnel(backend: Backend) {
    let (t, ws) = behind_gateway("gwin", backend);
    let knocks = |from: &Netns, port: u16| {
        for p in [Probe::udp(WORKSTATION, port), Probe::tcp(WORKSTATION, port), Probe::udp(WORKSTATION6, port)] {
            p.send(from);
        }
    };
    let sides = [(&t.router, 7500, "the uplink"), (&t.vpn, 7501, "the tunnel")];
    for (side, port, what) in sides {
        let before = ws.ns.arrivals(port);
        knocks(side, port);
        common::wait_for(&format!("knocks from {what} at the workstation without a ruleset"), Duration::from_secs(2), || ws.ns.arrivals(port) >= before + 3);
    }
    t.start(&ConfigDir::new(gateway_config("[tunnel]\nipv6 = yes\n")));
    for (side, port, what) in sides {
        let before = ws.ns.arrivals(port);
        knocks(side, port);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(ws.ns.arrivals(port), before, "unsolicited packets from {what} were forwarded to the inside");
    }
    t.assert_reaches_from(&ws.ns, Probe::tcp(INTERNET, 7000), Side::Tunnel, "replies from the tunnel still reach the inside");
}

fn postrouting_lets_forwarded_packets_out_only_through_the_tunnel(backend: Backend) {
    let (t, ws) = behind_gateway("gwpost", backend);
    t.start(&ConfigDir::new(gateway_config(&format!("[lan]\nallow = {LAN}\n"))));
    // As if the forward chain accepted everything: postrouting must hold on its own.
    if backend.is_iptables() {
        for ipv6 in [false, true] {
            t.host.iptables(ipv6, &["-I", &format!("{PREFIX}FORWARD"), "1", "-j", "ACCEPT"]).expect(0);
        }
    } else {
        t.host.nft(&["insert", "rule", "inet", "vpn_firewall", "forward", "accept"]);
    }
    let blocked = t.host.blocked(Hook::Postrouting);
    for p in [Probe::udp(ROUTER, 7003), Probe::tcp(ROUTER, 7002), Probe::udp(VPN_SERVER, 1194)] {
        t.assert_blocked_from(&ws.ns, p, "forwarded to the uplink (lan.allow included), past a forward chain that accepts all");
    }
    assert!(t.host.blocked(Hook::Postrouting) > blocked, "postrouting blocked nothing: this test proves nothing");
    t.assert_reaches_from(&ws.ns, Probe::tcp(INTERNET, 7000), Side::Tunnel, "forwarded into the tunnel");
}

fn the_gateway_answers_the_inside_only_as_dhcp_server_and_redirected_resolver(backend: Backend) {
    let (t, ws) = behind_gateway("gwsrv", backend);
    let conf = ConfigDir::new(gateway_config(&format!("dns = {GATEWAY}\n")));
    t.start(&conf);
    for p in [Probe::tcp(ROUTER, 53), Probe::tcp(INTERNET, 53), Probe::tcp(GATEWAY, 53)] {
        t.assert_reaches_from(&ws.ns, p, Side::Host, "DNS from the inside, redirected to the gateway itself");
    }
    let dns = t.host.delivered(53);
    Probe::udp(INTERNET, 53).send(&ws.ns);
    common::wait_for("a UDP query from the inside at the gateway's resolver", Duration::from_secs(1), || t.host.delivered(53) > dns);
    for p in [Probe::tcp(GATEWAY, 22), Probe::tcp(GATEWAY, 8080)] {
        t.assert_blocked_from(&ws.ns, p, "another service of the gateway");
    }
    let other = t.host.delivered(7004);
    Probe::udp(GATEWAY, 7004).send(&ws.ns);

    let requests = t.host.delivered(67);
    Probe::udp("255.255.255.255", 67).from_port(68).bound_to("eth0").send(&ws.ns).expect(0);
    common::wait_for("a DHCP request from the inside at the gateway", Duration::from_secs(1), || t.host.delivered(67) > requests);
    let answers = ws.ns.arrivals(68);
    Probe::udp(WORKSTATION, 68).from_port(67).send(&t.host).expect(0);
    common::wait_for("the gateway's DHCP answer at the workstation", Duration::from_secs(1), || ws.ns.arrivals(68) > answers);
    let (to_68, to_7005) = (ws.ns.arrivals(68), ws.ns.arrivals(7005));
    Probe::udp(WORKSTATION, 68).from_port(5555).send(&t.host);
    Probe::udp(WORKSTATION, 7005).send(&t.host);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.host.delivered(7004), other, "the gateway accepted a datagram to another port from the inside");
    assert_eq!((ws.ns.arrivals(68), ws.ns.arrivals(7005)), (to_68, to_7005), "the gateway sent the inside more than DHCP answers");

    // Even with the inside's network in lan.allow, lan.incoming is not for the inside.
    conf.set(gateway_config(&format!("[lan]\nallow = {INSIDE}\nincoming = 22/tcp\n")));
    t.start(&conf);
    t.assert_blocked_from(&ws.ns, Probe::tcp(GATEWAY, 22), "lan.incoming, from the inside");
}

fn path_mtu_discovery_works_from_the_inside_through_a_narrower_tunnel(backend: Backend) {
    let (t, ws) = behind_gateway("gwmtu", backend);
    // Larger packets from the workstation must be refused with "fragmentation needed", which
    // the gateway itself sends to the inside; without it the transfer stalls.
    t.host.ip("link set tun0 mtu 1280");
    t.start(&ConfigDir::new(gateway_config("")));
    let mut receiver = t.vpn.command("socat");
    receiver.args(["-u", "TCP4-LISTEN:7400,reuseaddr", "STDOUT"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut receiver = common::Background::spawn(receiver);
    t.vpn.wait_listening(7400);
    const BYTES: usize = 200_000;
    let send = format!("head -c {BYTES} /dev/zero | timeout 10 socat -u - TCP4:{INTERNET}:7400");
    let sent = ws.ns.run("sh", &["-c", &send], "");
    assert_eq!(sent.code, 0, "{BYTES} bytes from the inside through a tunnel with an MTU of 1280 did not get through:\n{sent}");
    let mut received = Vec::new();
    receiver.child.stdout.take().expect("stdout is piped").read_to_end(&mut received).expect("read what arrived");
    assert_eq!(received.len(), BYTES, "not every byte from the inside arrived");
}

/// A Qubes OS qube simulated under a temporary root: /usr/lib/qubes, the virtual DNS addresses
/// (documentation addresses here) in qubes-ns, and the qube's own drop-in in /rw.
fn qubes_root(own: &str) -> tempfile::TempDir {
    let root = tempfile::Builder::new().prefix("vpnfwk-qubes").tempdir().expect("temporary directory");
    for dir in ["usr/lib/qubes", "var/run/qubes", "rw/config/vpn-firewall"] {
        std::fs::create_dir_all(root.path().join(dir)).expect("create the simulated qube");
    }
    std::fs::write(root.path().join("var/run/qubes/qubes-ns"), "NS1=203.0.113.101\nNS2=203.0.113.102\n").expect("write qubes-ns");
    std::fs::write(root.path().join("rw/config/vpn-firewall/50-vpn.conf"), own).expect("write the qube's drop-in");
    root
}

fn start_on_qubes(t: &Topology, root: &Path, conf: &ConfigDir) {
    let (root, dir) = (root.to_str().expect("UTF-8 path"), conf.path().to_str().expect("UTF-8 path"));
    t.host.vpn_firewall(&["--root", root, "--config-dir", dir, "start"]).expect(0);
}

fn on_qubes_dns_of_the_qubes_behind_goes_to_forward_dns_through_the_tunnel(backend: Backend) {
    let t = Topology::new("gwqubes", backend);
    let ws = Workstation::behind(&t.host, "gwqubes", "vif3.0");
    // Qubes' own redirect of its virtual DNS addresses, to the upstream resolver (the router):
    // outside the tunnel.
    t.host.nft_load(
        "table ip vpnfwk_qubes {\n chain dnat-dns {\n  type nat hook prerouting priority dstnat; policy accept;\n  \
         ip daddr { 203.0.113.101, 203.0.113.102 } meta l4proto { tcp, udp } th dport 53 dnat to 198.51.100.1\n }\n}\n",
    );
    let queries = [Probe::udp("203.0.113.101", 53), Probe::tcp("203.0.113.101", 53), Probe::udp("203.0.113.102", 53)];
    t.assert_reaches_from(&ws.ns, queries[0], Side::Uplink, "no ruleset yet: Qubes sends the query to the upstream resolver");

    // The configuration directory enables nothing: the qube's own drop-in does, and the
    // workstation's vif3.0 is inside by the Qubes default (vif+).
    let conf = ConfigDir::new(config(""));
    let root = qubes_root(&format!("[forward]\nenable = yes\ndns = {RESOLVER}\n"));
    start_on_qubes(&t, root.path(), &conf);
    for p in queries {
        let before = at_resolver(&t);
        let o = t.probe(&ws.ns, p, Duration::from_secs(1));
        assert!(o.sent && o.uplink == 0 && at_resolver(&t) > before, "{p} from the qube behind did not reach {RESOLVER} through the tunnel alone: {o:?}");
    }
    t.assert_reaches_from(&ws.ns, Probe::tcp(INTERNET, 7000), Side::Tunnel, "from the qube behind into the tunnel");

    // Without forward.dns, Qubes' redirect decides, and what it sends outside the tunnel is blocked.
    let root = qubes_root("[forward]\nenable = yes\n");
    start_on_qubes(&t, root.path(), &conf);
    let before = at_resolver(&t);
    for p in queries {
        t.assert_blocked_from(&ws.ns, p, "Qubes' redirect to the upstream resolver, outside the tunnel");
    }
    assert_eq!(at_resolver(&t), before);
}

fn check_status_and_start_warn_when_the_kernel_does_not_forward(backend: Backend) {
    let ns = Netns::host("gwsysctl", backend);
    let conf = ConfigDir::new(gateway_config(""));
    let warns = |command: &str, sysctl: &str| ns.firewall(conf.path(), command).stderr.contains(&format!("but {sysctl} = 0"));
    for command in ["check", "start", "status"] {
        assert!(warns(command, "net.ipv4.ip_forward"), "{command} does not warn that IPv4 forwarding is off");
        assert!(!warns(command, "net.ipv6.conf.all.forwarding"), "{command} warns about IPv6 forwarding with tunnel.ipv6 = no");
    }
    ns.sysctl("net/ipv4/ip_forward", "1");
    conf.set(gateway_config("[tunnel]\nipv6 = yes\n"));
    for command in ["check", "start", "status"] {
        assert!(!warns(command, "net.ipv4.ip_forward"), "{command} warns although IPv4 forwarding is on");
        assert!(warns(command, "net.ipv6.conf.all.forwarding"), "{command} does not warn that IPv6 forwarding is off");
    }
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("forward:   from eth1 into the tunnel only"), "{status}");
}

/// vpn-firewall's NAT chains in the namespace, and the jumps of the nat table's built-in chains
/// to them: "IPv4 nat CHAIN", "IPv4 nat PREROUTING -j CHAIN"; with nftables, its NAT chains.
fn nat_of_ours(ns: &Netns) -> Vec<String> {
    if !ns.backend().is_iptables() {
        let listed = ns.nft(&["list", "ruleset"]);
        let hooks = NatHook::ALL.map(|h| format!("chain {} {{", render_nft::nat_chain(h)));
        return hooks.into_iter().filter(|c| listed.contains(c.as_str())).collect();
    }
    let mut found = Vec::new();
    for (ipv6, family) in [(false, "IPv4"), (true, "IPv6")] {
        let saved = ns.iptables_save(ipv6);
        let Some(nat) = saved.table("nat") else { continue };
        for chain in &nat.chains {
            if chain.name.starts_with(PREFIX) {
                found.push(format!("{family} nat {}", chain.name));
            }
            let jumps = chain.rules.iter().filter(|r| r.spec.contains(PREFIX));
            found.extend(jumps.map(|r| format!("{family} nat {} {}", chain.name, r.spec)));
        }
    }
    found
}

fn a_reload_without_gateway_mode_leaves_no_nat_behind(backend: Backend) {
    let ns = Netns::host("gwnat", backend);
    let conf = ConfigDir::new(gateway_config(&format!(
        "dns = {RESOLVER}
"
    )));
    ns.firewall(conf.path(), "start").expect(0);
    let expected: Vec<String> = if backend.is_iptables() {
        let mut all = Vec::new();
        for family in ["IPv4", "IPv6"] {
            all.extend([
                format!("{family} nat POSTROUTING -j {PREFIX}NAT_POST"),
                format!("{family} nat PREROUTING -j {PREFIX}PREROUTING"),
                format!("{family} nat {PREFIX}NAT_POST"),
                format!("{family} nat {PREFIX}PREROUTING"),
            ]);
        }
        all
    } else {
        let mut chains = NatHook::ALL.map(|h| format!("chain {} {{", render_nft::nat_chain(h))).to_vec();
        chains.sort();
        chains
    };
    let mut loaded = nat_of_ours(&ns);
    loaded.sort();
    assert_eq!(loaded, expected, "gateway mode's NAT, each reached once");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("up to date") && !status.stdout.contains("WARNING"), "status in gateway mode:\n{status}");

    conf.set(config(""));
    ns.firewall(conf.path(), "reload").expect(0);
    assert_eq!(nat_of_ours(&ns), Vec::<String>::new(), "NAT left behind by the reload");
    assert_eq!(ns.firewall_objects(), backend.loaded_objects(), "what the reload leaves loaded");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("up to date") && !status.stdout.contains("WARNING"), "status after the reload:\n{status}");

    conf.set(gateway_config(""));
    ns.firewall(conf.path(), "reload").expect(0);
    ns.firewall(conf.path(), "flush").expect(0);
    assert_eq!(nat_of_ours(&ns), Vec::<String>::new(), "NAT left behind by flush");
    assert_eq!(ns.firewall_objects(), Vec::<String>::new(), "what flush leaves loaded");
}

backend_tests! {
    every: [
    the_inside_reaches_the_tunnel_and_nothing_else,
    without_masquerade_the_inside_keeps_its_address_and_ipv6_passes_with_tunnel_ipv6,
    dns_from_the_inside_reaches_the_redirect_target_through_the_tunnel_only,
    nothing_unsolicited_reaches_the_inside_from_the_uplink_or_the_tunnel,
    postrouting_lets_forwarded_packets_out_only_through_the_tunnel,
    the_gateway_answers_the_inside_only_as_dhcp_server_and_redirected_resolver,
    path_mtu_discovery_works_from_the_inside_through_a_narrower_tunnel,
    on_qubes_dns_of_the_qubes_behind_goes_to_forward_dns_through_the_tunnel,
    check_status_and_start_warn_when_the_kernel_does_not_forward,
    a_reload_without_gateway_mode_leaves_no_nat_behind,
    ],
    iptables: [],
}
