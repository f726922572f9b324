//! The scenarios of the promise, in the order of the issue that asked for them. Each loads
//! the ruleset, starts counting cleartext, does what the scenario says while the host keeps
//! trying to send, and ends with the verdict: not one packet leaked. Checks that are not about
//! leaks come after the verdict, so that pointed at a stub the suite fails on what leaked.

use crate::bed::Bed;
use crate::common::guard::{Guard, tampering};
use crate::common::topology::{GATEWAY, INSIDE, INTERNET, INTERNET6, LAN, Probe, RESOLVER, ROUTER, ROUTER6, USER, VPN_SERVER, WORKSTATION};
use crate::common::vpn::{Kind, tunnel_user};
use crate::common::{require_tools, wait_for};
use nix::sys::signal::Signal;
use std::thread::sleep;
use std::time::Duration;

pub struct Scenario {
    pub number: u8,
    /// Part of the test's name.
    pub name: &'static str,
    /// For the summary table.
    pub title: &'static str,
    /// The VPNs it runs with: both, or OpenVPN alone where the VPN makes no difference.
    pub vpns: &'static [Kind],
    pub run: fn(&mut Bed),
}

const BOTH: &[Kind] = &Kind::BOTH;
const OPENVPN: &[Kind] = &[Kind::OpenVpn];

pub const SCENARIOS: &[Scenario] = &[
    Scenario { number: 1, name: "vpn_and_lan_work", title: "the VPN works; the LAN when allowed", vpns: BOTH, run: vpn_and_lan_work },
    Scenario { number: 2, name: "client_killed", title: "VPN client killed (SIGKILL) mid-traffic", vpns: BOTH, run: client_killed },
    Scenario { number: 3, name: "tunnel_deleted", title: "tunnel deleted, reconnect, restart", vpns: BOTH, run: tunnel_deleted },
    Scenario { number: 4, name: "tunnel_vision", title: "TunnelVision: specific route via uplink", vpns: BOTH, run: tunnel_vision },
    Scenario { number: 5, name: "local_net", title: "TunnelCrack LocalNet: public range local", vpns: BOTH, run: local_net },
    Scenario { number: 6, name: "server_ip", title: "TunnelCrack ServerIP; servers limit", vpns: BOTH, run: server_ip },
    Scenario { number: 7, name: "lan_dns", title: "DNS to the LAN resolver, LAN allowed", vpns: OPENVPN, run: lan_dns },
    Scenario { number: 8, name: "ipv6", title: "IPv6 uplink, IPv4-only tunnel", vpns: BOTH, run: ipv6 },
    Scenario { number: 9, name: "reload_storm", title: "reload storm; stream across reloads", vpns: BOTH, run: reload_storm },
    Scenario { number: 10, name: "invalid_config", title: "invalid configuration, at boot and loaded", vpns: OPENVPN, run: invalid_config },
    Scenario { number: 11, name: "foreign_accept_all", title: "another tool's accept-all rules", vpns: OPENVPN, run: foreign_accept_all },
    Scenario { number: 12, name: "bound_sockets", title: "sockets bound to the uplink", vpns: BOTH, run: bound_sockets },
    Scenario { number: 13, name: "flush", title: "flush removes only vpn-firewall's objects", vpns: OPENVPN, run: flush },
    Scenario { number: 14, name: "gateway_works", title: "gateway: the inside reaches the tunnel only", vpns: BOTH, run: gateway_works },
    Scenario { number: 15, name: "gateway_client_killed", title: "gateway: VPN client killed", vpns: BOTH, run: gateway_client_killed },
    Scenario { number: 16, name: "gateway_tunnel_vision", title: "gateway: TunnelVision route", vpns: BOTH, run: gateway_tunnel_vision },
    Scenario { number: 17, name: "gateway_tunnel_deleted", title: "gateway: tunnel interface deleted", vpns: BOTH, run: gateway_tunnel_deleted },
    Scenario { number: 18, name: "gateway_unsolicited", title: "gateway: unsolicited from the uplink", vpns: OPENVPN, run: gateway_unsolicited },
    Scenario { number: 19, name: "client_identity", title: "the client's own identity, nothing else", vpns: IDENTIFIED, run: client_identity },
    Scenario { number: 20, name: "identity_mismatch", title: "user of a root-started client: blocked", vpns: &[Kind::OpenVpnRoot], run: identity_mismatch },
    Scenario { number: 21, name: "guard_tampered", title: "guard: rules flushed, then client killed", vpns: BOTH, run: guard_tampered },
    Scenario { number: 22, name: "container_client_killed", title: "container on docker0: VPN client killed", vpns: BOTH, run: container_client_killed },
    Scenario { number: 23, name: "container_tunnel_deleted", title: "container on docker0: tunnel deleted", vpns: BOTH, run: container_tunnel_deleted },
];

/// The clients that are not run as `tunnel` from the start by the package's drop-in: OpenVPN
/// started as root (told apart by its mark), OpenConnect (run as `tunnel` by README's recipe),
/// wg-quick (the mark it picks).
const IDENTIFIED: &[Kind] = &[Kind::OpenVpnRoot, Kind::OpenConnect, Kind::WgQuick];

/// Long enough for a stream's and a chatterer's packets to try the new way out many times.
const WHILE: Duration = Duration::from_secs(1);

/// Scenario 1: Through the firewall the VPN works: handshake, TCP and UDP to the internet through
/// the tunnel, the LAN's web server when the LAN is allowed; and nothing else outside the tunnel.
fn vpn_and_lan_work(bed: &mut Bed) {
    bed.allow("the LAN's web server (lan.allow)", format!("ip dst host {ROUTER} and tcp dst port 80"));
    bed.net.router.listen_tcp(80);
    bed.start(&format!("[lan]\nallow = {LAN}\n"));
    bed.watch();
    bed.connect();
    for p in [Probe::tcp(INTERNET, 7000), Probe::tcp(INTERNET, 7000).as_uid(USER)] {
        bed.reach(p, "through the tunnel");
    }
    let arrived = bed.net.router.arrivals(7001);
    bed.send(&[Probe::udp(INTERNET, 7001), Probe::udp(INTERNET, 7001).as_uid(USER)]);
    wait_for("both UDP datagrams through the tunnel", Duration::from_secs(2), || bed.net.router.arrivals(7001) >= arrived + 2);
    for p in [Probe::tcp(ROUTER, 80), Probe::tcp(ROUTER, 80).as_uid(USER)] {
        bed.reach(p, "the LAN, allowed");
    }
    // lan.allow names the LAN's IPv4 network only.
    bed.send(&[Probe::tcp(ROUTER6, 80), Probe::udp(ROUTER6, 7001).as_uid(USER)]);
    bed.verdict();
}

/// Scenario 2: The VPN client is killed with SIGKILL while a stream and a chatterer send: the
/// tunnel and its routes vanish, and nothing takes the default route out of eth0. (The stream
/// itself cannot follow, as its source address went with the tunnel; the chatterer's and new
/// connections can.)
fn client_killed(bed: &mut Bed) {
    mid_traffic(bed, |bed| bed.vpn.kill(&bed.net, Signal::SIGKILL));
}

/// Loads the ruleset, brings the VPN up with a stream through it and a chatterer sending, then
/// does `event` to the host and gives everyone time to try the way out it opened, new
/// connections too.
fn mid_traffic(bed: &mut Bed, event: impl FnOnce(&mut Bed)) {
    bed.start("");
    bed.watch();
    bed.connect();
    let stream = bed.stream(7100);
    let _chatter = bed.chatter();
    stream.wait_for_more(stream.received(), "the stream through the tunnel");
    event(bed);
    sleep(WHILE);
    bed.knock();
    bed.verdict();
}

/// Scenario 3: The tunnel interface is deleted under the client; then OpenVPN reconnects (SIGUSR1)
/// and both clients are restarted, while a chatterer sends throughout.
fn tunnel_deleted(bed: &mut Bed) {
    bed.start("");
    bed.watch();
    bed.connect();
    let _chatter = bed.chatter();
    bed.net.host.ip(&format!("link delete {}", bed.vpn.kind().interface()));
    sleep(WHILE / 2);
    bed.knock();
    if bed.vpn.kind() == Kind::OpenVpn {
        bed.vpn.reconnect(&bed.net);
    }
    bed.vpn.restart(&bed.net);
    bed.verdict();
}

/// Scenario 4: TunnelVision: a route more specific than the tunnel's, out of eth0, appears
/// mid-stream (what DHCP option 121 does).
fn tunnel_vision(bed: &mut Bed) {
    mid_traffic(bed, |bed| bed.net.host.ip("route add 203.0.113.0/24 via 198.51.100.1 dev eth0"));
}

/// Scenario 5: TunnelCrack LocalNet: eth0 gets an address in the internet's range, which makes
/// that range a directly connected network.
fn local_net(bed: &mut Bed) {
    mid_traffic(bed, |bed| bed.net.host.ip("addr add 203.0.113.50/24 dev eth0"));
}

/// Scenario 6: TunnelCrack ServerIP, the original's shared-server leak: other users, root included,
/// send to the VPN server's address and port (routed out of eth0 for the VPN's sake). With
/// `servers` set, the VPN's user reaches its server and nothing else outside the tunnel.
fn server_ip(bed: &mut Bed) {
    let port = bed.vpn.kind().port();
    let impostors = [
        Probe::udp(VPN_SERVER, port),
        Probe::udp(VPN_SERVER, port).as_uid(USER),
        Probe::tcp(VPN_SERVER, port),
        Probe::tcp(VPN_SERVER, port).as_uid(USER),
        Probe::tcp(VPN_SERVER, 443).as_uid(USER),
    ];
    bed.start("");
    bed.watch();
    bed.connect();
    bed.send(&impostors);

    bed.start(&format!("[tunnel]\nservers = {VPN_SERVER}:{port}/udp\n"));
    // A new handshake, which only the listed endpoint allows.
    bed.vpn.restart(&bed.net);
    let tunnel = tunnel_user().uid.as_raw();
    bed.send(&[
        Probe::udp(VPN_SERVER, port + 1).as_uid(tunnel),
        Probe::tcp(VPN_SERVER, port).as_uid(tunnel),
        Probe::tcp(VPN_SERVER, 443).as_uid(tunnel),
        Probe::udp(INTERNET, port).as_uid(tunnel).bound_to("eth0"),
        Probe::tcp(INTERNET, 7000).as_uid(tunnel).bound_to("eth0"),
    ]);
    bed.send(&impostors);
    bed.verdict();
}

/// Scenario 7: With the LAN allowed and `lan.dns` off, DNS (53 and 853, TCP and UDP) to the LAN's
/// resolver never leaves, for root or a user; the LAN's web server works.
fn lan_dns(bed: &mut Bed) {
    bed.allow("the LAN's web server (lan.allow)", format!("ip dst host {ROUTER} and tcp dst port 80"));
    for port in [53, 80, 853] {
        bed.net.router.listen_tcp(port);
    }
    bed.start(&format!("[lan]\nallow = {LAN}\n"));
    bed.watch();
    bed.connect();
    for uid in [0, USER] {
        for port in [53, 853] {
            bed.send(&[Probe::udp(ROUTER, port).as_uid(uid), Probe::tcp(ROUTER, port).as_uid(uid)]);
        }
        bed.reach(Probe::tcp(ROUTER, 80).as_uid(uid), "the LAN's web server, allowed");
    }
    bed.verdict();
}

/// Scenario 8: The uplink is dual-stack, the tunnel IPv4 only: no IPv6 leaves but neighbour
/// discovery, whoever sends it (the VPN's user included) and wherever to.
fn ipv6(bed: &mut Bed) {
    bed.start("");
    bed.watch();
    bed.connect();
    let tunnel = tunnel_user().uid.as_raw();
    for uid in [0, USER, tunnel] {
        bed.send(&[
            Probe::tcp(INTERNET6, 7000).as_uid(uid),
            Probe::udp(INTERNET6, 7001).as_uid(uid),
            Probe::tcp(ROUTER6, 80).as_uid(uid),
            Probe::udp(ROUTER6, 53).as_uid(uid),
        ]);
    }
    bed.verdict();
}

/// Scenario 9: 50 reloads while an ordinary user's program sends with the tunnel down; then, the
/// VPN up, a TCP stream through the tunnel keeps flowing across 20 reloads.
fn reload_storm(bed: &mut Bed) {
    // Two rulesets, so that each reload replaces the one loaded.
    let configs = ["", "[firewall]\nlog = no\n"];
    bed.start(configs[0]);
    bed.watch();
    let chatter = bed.chatter();
    for i in 1..=50 {
        bed.configure(configs[i % 2]);
        bed.firewall("reload").expect(0);
    }
    drop(chatter);

    bed.connect();
    let mut stream = bed.stream(7100);
    for i in 1..=20 {
        bed.configure(configs[i % 2]);
        bed.firewall("reload").expect(0);
        stream.wait_for_more(stream.received(), &format!("more bytes after reload {i}: the stream through the tunnel stalled"));
        stream.assert_open(&format!("reload {i}"));
    }
    bed.verdict();
    // It sends every 20 ms: a pause like a retransmission timeout (200 ms and more) means a
    // reload lost a packet of it.
    let pause = stream.longest_pause();
    assert!(pause < Duration::from_millis(200), "the stream through the tunnel stalled for {pause:?} during the reloads");
}

/// An invalid configuration: /33 is no IPv4 prefix length.
const INVALID: &str = "[lan]\nallow = 198.51.100.0/33\n";

/// Scenario 10: An invalid configuration at boot, nothing loaded: the lockdown, and nothing leaves.
/// An invalid configuration while a ruleset is loaded: that ruleset stays as it was, and still
/// holds when the VPN client dies.
fn invalid_config(bed: &mut Bed) {
    bed.conf.set(INVALID);
    bed.watch();
    let at_boot = bed.firewall("start");
    bed.knock();

    bed.start("");
    bed.connect();
    let loaded = bed.net.host.ruleset();
    bed.conf.set(INVALID);
    let while_loaded = bed.firewall("start");
    let after = bed.net.host.ruleset();
    bed.vpn.await_traffic(&bed.net);
    bed.vpn.kill(&bed.net, Signal::SIGKILL);
    bed.knock();
    bed.verdict();

    assert_eq!(at_boot.code, 2, "start with an invalid configuration at boot:\n{at_boot}");
    assert_eq!(while_loaded.code, 2, "start with an invalid configuration while loaded:\n{while_loaded}");
    assert_eq!(after, loaded, "an invalid configuration changed the loaded ruleset:\n{while_loaded}");
}

/// Accept-all rules of other tools: an nft table whose output chain runs before vpn-firewall's
/// (a lower priority number), and, when `iptables`, the iptables OUTPUT chains of the host's
/// variant.
fn load_accept_all(bed: &Bed, table: &str, priority: i32, iptables: bool) {
    if iptables {
        for ipv6 in [false, true] {
            bed.net.host.iptables(ipv6, &["-I", "OUTPUT", "1", "-j", "ACCEPT"]).expect(0);
        }
    }
    bed.net
        .host
        .nft_load(&format!("table inet {table} {{\n chain output {{\n  type filter hook output priority {priority}; policy accept;\n  accept\n }}\n}}\n"));
}

/// Scenario 11: Another tool's accept-all rules, loaded before vpn-firewall and after it: nothing
/// leaves when the VPN client dies, before and after a reload.
///
/// With iptables, vpn-firewall's chains are reached by a jump from the built-in chains, which
/// other tools share: an accept-all inserted before that jump after the start gets packets past
/// them, by design of iptables. So on that backend only another table's accept-all is loaded
/// after the start; the one inserted before the jump is checked to make `status` warn, and a
/// reload to put the jump first again.
fn foreign_accept_all(bed: &mut Bed) {
    require_tools(&[("iptables", "iptables"), ("ip6tables", "iptables")]);
    let iptables = bed.backend().is_iptables();
    load_accept_all(bed, "vpnfwl_foreign_before", -200, true);
    bed.start("");
    bed.watch();
    bed.connect();
    load_accept_all(bed, "vpnfwl_foreign_after", -300, !iptables);
    bed.vpn.kill(&bed.net, Signal::SIGKILL);
    let chatter = bed.chatter();
    bed.knock();
    bed.firewall("reload").expect(0);
    sleep(WHILE / 2);
    bed.knock();
    drop(chatter);
    bed.verdict();

    if iptables {
        bed.net.host.iptables(false, &["-I", "OUTPUT", "1", "-j", "ACCEPT"]).expect(0);
        let status = bed.firewall("status").expect(0);
        let warning = "1 other rule comes before vpn-firewall's jump in IPv4 OUTPUT (filter)";
        assert!(status.stdout.lines().any(|l| l.contains("WARNING") && l.contains(warning)), "status does not warn {warning:?}:\n{status}");
        bed.firewall("reload").expect(0);
        let status = bed.firewall("status").expect(0);
        assert!(!status.stdout.contains("WARNING"), "status still warns after a reload:\n{status}");
    }
}

/// Scenario 12: Sockets bound to eth0 (SO_BINDTODEVICE, like `curl --interface eth0`), as root and
/// as a user, while the VPN is up: nothing leaves.
fn bound_sockets(bed: &mut Bed) {
    bed.start("");
    bed.watch();
    bed.connect();
    for uid in [0, USER] {
        bed.send(&[
            Probe::tcp(INTERNET, 7000).as_uid(uid).bound_to("eth0"),
            Probe::udp(INTERNET, 7001).as_uid(uid).bound_to("eth0"),
            Probe::tcp(ROUTER, 80).as_uid(uid).bound_to("eth0"),
            Probe::udp(INTERNET6, 7001).as_uid(uid).bound_to("eth0"),
        ]);
    }
    bed.verdict();
}

/// Scenario 13: flush removes vpn-firewall's objects and nothing else: other tools' iptables rules
/// and another nft table with a set, a counter and a chain stay exactly as they were, and the
/// built-in policies are ACCEPT again; the VPN still works.
fn flush(bed: &mut Bed) {
    let host = &bed.net.host;
    host.iptables(false, &["-A", "OUTPUT", "-d", "192.0.2.99", "-j", "ACCEPT"]).expect(0);
    host.nft_load(
        "table inet vpnfwl_foreign {\n set peers {\n  type ipv4_addr\n  elements = { 192.0.2.99 }\n }\n counter seen {\n }\n \
         chain output {\n  type filter hook output priority 10; policy accept;\n  ip daddr @peers counter name seen\n }\n}\n",
    );
    let foreign = host.foreign_rules();
    bed.start("");
    bed.watch();
    bed.connect();
    // The LAN is not allowed.
    bed.send(&[Probe::tcp(ROUTER, 80), Probe::udp(ROUTER, 53).as_uid(USER)]);
    bed.verdict();

    bed.firewall("flush").expect(0);
    assert_eq!(bed.net.host.foreign_rules(), foreign, "flush changed what other tools loaded");
    assert_eq!(bed.net.host.firewall_objects(), Vec::<String>::new(), "flush left vpn-firewall's objects");
    bed.reach(Probe::tcp(INTERNET, 7000), "through the tunnel after the flush");
}

/// Scenario 21: With the guard running, another process turns the rules off mid-traffic (`nft
/// flush ruleset`; with iptables also `-F` and `-P OUTPUT ACCEPT`), and then the VPN client
/// dies: the guard's own table holds while it restores the rules. (With nftables the guard
/// owns table inet vpn_firewall itself: the flush leaves it, and there is nothing to restore.)
fn guard_tampered(bed: &mut Bed) {
    bed.configure("");
    let guard = Guard::start(&bed.net.host, &bed.conf);
    mid_traffic(bed, |bed| {
        for command in tampering(bed.backend()) {
            let done = bed.net.host.run(&command[0], &command[1..].iter().map(String::as_str).collect::<Vec<_>>(), "");
            assert_eq!(done.code, 0, "the tampering itself failed:\n{done}");
        }
        bed.vpn.kill(&bed.net, Signal::SIGKILL);
    });
    let status = bed.firewall("status");
    assert!(status.code == 0 && status.stdout.contains("up to date"), "status after the tampering:\n{status}");
    if bed.backend().guard_owns_main() {
        let table = bed.net.host.nft(&["list", "table", "inet", "vpn_firewall"]);
        assert!(table.contains("flags owner"), "the guard does not own the table:\n{table}");
        assert_eq!(guard.restorations(), 0, "the guard restored what no other process could change:\n{}", guard.log());
    } else {
        assert!(guard.restorations() >= 1, "the guard restored nothing:\n{}", guard.log());
    }
}

/// Scenario 14: The host is the VPN gateway of a workstation on eth1. The workstation reaches
/// the internet through the tunnel, and its DNS, to whatever address, reaches the redirect
/// target (a resolver on the internet) through the tunnel; it reaches neither the LAN, though
/// in lan.allow, nor the VPN server outside the tunnel, nor the gateway's own services.
fn gateway_works(bed: &mut Bed) {
    bed.behind_gateway();
    for port in [53, 80] {
        bed.net.router.listen_tcp(port);
    }
    bed.net.host.listen_tcp(22);
    let at_resolver = |bed: &Bed| {
        let dns = format!("iifname != \"wan\" ip daddr {RESOLVER} meta l4proto {{ tcp, udp }} th dport 53");
        bed.net.router.arrivals_matching("resolver", &dns)
    };
    bed.start(&format!("[lan]\nallow = {LAN}\n"));
    bed.watch();
    bed.connect();
    let queries = at_resolver(bed);
    for p in [Probe::tcp(INTERNET, 7000), Probe::tcp(INTERNET, 7000).as_uid(USER), Probe::tcp(ROUTER, 53), Probe::tcp(INTERNET, 53)] {
        bed.reach(p, "from the inside, through the tunnel");
    }
    let arrived = bed.net.router.arrivals(7001);
    bed.send(&[Probe::udp(INTERNET, 7001), Probe::udp(ROUTER, 53), Probe::udp(INTERNET, 53).as_uid(USER)]);
    wait_for("the UDP datagram and the DNS queries from the inside through the tunnel", Duration::from_secs(2), || {
        bed.net.router.arrivals(7001) > arrived && at_resolver(bed) >= queries + 4
    });
    bed.send(&[Probe::tcp(ROUTER, 80), Probe::udp(ROUTER, 7001), Probe::udp(VPN_SERVER, bed.vpn.kind().port()), Probe::tcp(ROUTER6, 80)]);
    let service = Probe::tcp(GATEWAY, 22).send(bed.client());
    bed.verdict();
    assert_ne!(service.code, 0, "the workstation reached a service of the gateway itself:\n{service}");
}

/// Scenario 15: Behind the gateway, the VPN client is killed (SIGKILL) while the workstation
/// streams and chatters: nothing of the workstation's leaves in cleartext.
fn gateway_client_killed(bed: &mut Bed) {
    bed.behind_gateway();
    client_killed(bed);
}

/// Scenario 16: Behind the gateway, a route more specific than the tunnel's appears on the
/// host (TunnelVision) mid-stream.
fn gateway_tunnel_vision(bed: &mut Bed) {
    bed.behind_gateway();
    tunnel_vision(bed);
}

/// Scenario 17: Behind the gateway, the tunnel interface is deleted under the VPN client
/// mid-stream.
fn gateway_tunnel_deleted(bed: &mut Bed) {
    bed.behind_gateway();
    mid_traffic(bed, delete_tunnel);
}

/// Scenario 18: The router sends new connections and datagrams to the workstation, routed
/// through the gateway: none reaches the inside, and nothing of the inside leaks.
fn gateway_unsolicited(bed: &mut Bed) {
    bed.behind_gateway();
    bed.net.router.ip(&format!("route add {INSIDE} via 198.51.100.2"));
    let before = knock_inside(bed);
    wait_for("the router's packets at the workstation before the ruleset", Duration::from_secs(2), || bed.client().arrivals(7500) >= before + 2);
    bed.start("");
    bed.watch();
    bed.connect();
    let before = knock_inside(bed);
    bed.knock();
    bed.verdict();
    assert_eq!(bed.client().arrivals(7500), before, "unsolicited packets from the uplink reached the inside");
}

/// Scenario 22: A container on docker0, beside Docker's own rules (which accept whatever leaves
/// docker0), streams and chatters through the tunnel; the VPN client is killed (SIGKILL).
fn container_client_killed(bed: &mut Bed) {
    bed.in_containers();
    client_killed(bed);
}

/// Scenario 23: The same, and the tunnel interface is deleted under the VPN client.
fn container_tunnel_deleted(bed: &mut Bed) {
    bed.in_containers();
    mid_traffic(bed, delete_tunnel);
}

/// Deletes the tunnel interface under the VPN client.
fn delete_tunnel(bed: &mut Bed) {
    bed.net.host.ip(&format!("link delete {}", bed.vpn.kind().interface()));
}

/// The router sends a datagram and a new TCP connection to the workstation; returns how many
/// of the router's packets had arrived there before.
fn knock_inside(bed: &Bed) -> u64 {
    let before = bed.client().arrivals(7500);
    for p in [Probe::udp(WORKSTATION, 7500), Probe::tcp(WORKSTATION, 7500)] {
        p.send(&bed.net.router);
    }
    before
}

/// Scenario 19: The client is exempt by what README's recipe for it sets, and nothing else is:
/// OpenVPN started as root that drops to `tunnel` (`--mark` and `fwmark`, `user` empty),
/// OpenConnect run as `tunnel`, wg-quick as root (`fwmark` = the mark it picks, `user` empty).
/// It connects and carries a stream; root, an ordinary user and (for the marked ones) `tunnel`
/// reach neither its server's port nor anything else outside the tunnel; after a reconnect (new
/// sockets, made after OpenVPN's privilege drop) it still connects; killed, nothing leaves.
fn client_identity(bed: &mut Bed) {
    let kind = bed.vpn.kind();
    let port = kind.port();
    let tunnel = tunnel_user().uid.as_raw();
    let others: &[u32] = if kind.marked() { &[0, USER, tunnel] } else { &[0, USER] };
    let mut tcp_to_server = Vec::new();
    mid_traffic(bed, |bed| {
        for &uid in others {
            bed.send(&[
                Probe::udp(VPN_SERVER, port).as_uid(uid),
                Probe::udp(INTERNET, 7001).as_uid(uid).bound_to("eth0"),
                Probe::tcp(INTERNET, 7000).as_uid(uid).bound_to("eth0"),
            ]);
            // Its TCP to the server's port passes the capture for OpenConnect: judged by its outcome.
            tcp_to_server.push((uid, Probe::tcp(VPN_SERVER, port).as_uid(uid).send(bed.client())));
        }
        if kind.reconnects() {
            bed.vpn.reconnect(&bed.net);
        }
        bed.vpn.kill(&bed.net, Signal::SIGKILL);
    });
    for (uid, run) in tcp_to_server {
        assert_ne!(run.code, 0, "uid {uid} connected to the VPN server's TCP port {port} outside the tunnel:\n{run}");
    }
}

/// How long a client that cannot get its handshake out is given to connect all the same: a
/// handshake through the firewall takes well under a second here.
const NO_HANDSHAKE: Duration = Duration::from_secs(6);

/// Scenario 20: OpenVPN started as root with `--user tunnel` (as NetworkManager-openvpn starts it
/// with nm-openvpn), and the configuration names the user it drops to instead of its mark: its
/// socket stays root's, so its handshake is blocked and it never connects (fail-closed, but no
/// VPN). Nothing leaves meanwhile, and the firewall counts the blocked handshakes.
fn identity_mismatch(bed: &mut Bed) {
    bed.start("[tunnel]\nuser = tunnel\nfwmark =\n");
    bed.watch();
    let blocked = bed.net.blocked_output();
    bed.vpn.launch(&bed.net);
    sleep(NO_HANDSHAKE);
    bed.knock();
    bed.verdict();
    assert_eq!(bed.vpn.connections(), 0, "OpenVPN started as root connected with user = tunnel: its socket was not root's");
    assert!(bed.net.blocked_output() > blocked, "no packet of the OpenVPN client was blocked: did it send at all?");
}
