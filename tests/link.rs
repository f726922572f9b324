//! Side channels on the link, in a real kernel: what could reach the LAN other than through the
//! tunnel's front door. An interface merely named like the tunnel, multicast listener reports,
//! ARP answers for the tunnel's address, and the DHCP exception. Each test first shows, where it
//! can, that the network carries what the ruleset then must stop; each runs once per backend
//! (`nftables::NAME`, `iptables_nft::NAME`, `iptables_legacy::NAME`).
//!
//! Needs root, nftables, iptables, iproute2, socat, util-linux, and for the DHCP clients
//! isc-dhcp-client and dnsmasq-base; a missing one fails the test with the package to install.

#[macro_use]
mod common;

use common::topology::{INTERNET, Probe, Side, Topology, USER, Uplink};
use common::{Backend, Background, ConfigDir, Netns, config, poll, require_tools};
use std::process::Stdio;
use std::time::Duration;

/// `[tunnel] interfaces = tun+`, as shipped, with no VPN client user.
fn tun_plus(extra: &str) -> String {
    format!("[tunnel]\ninterfaces = tun+\nuser =\n{extra}")
}

fn an_interface_merely_named_like_the_tunnel_is_not_the_tunnel(backend: Backend) {
    let t = Topology::new("named", backend);
    let conf = ConfigDir::new(tun_plus("incoming = 7100/tcp\n"));
    t.start(&conf);
    let probes = [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::tcp(INTERNET, 7000).as_uid(USER)];
    for p in probes {
        t.assert_reaches(p, Side::Tunnel, "tun0, a tun device, is the tunnel");
    }
    // A macvlan on the uplink, and a veth to the router: Ethernet devices named like the tunnel.
    t.host.ip("link add tun9 link eth0 type macvlan mode bridge");
    t.host.ip("addr add 198.51.100.9/24 dev tun9");
    t.host.ip(&format!("link add tun8 type veth peer name imp netns {}", t.router.name()));
    t.host.ip("addr add 10.99.0.2/24 dev tun8");
    t.router.ip("addr add 10.99.0.1/24 dev imp");
    for (ns, dev) in [(&t.host, "tun9"), (&t.host, "tun8"), (&t.router, "imp")] {
        ns.ip(&format!("link set {dev} up"));
    }
    for (impostor, via) in [("tun9", "198.51.100.1"), ("tun8", "10.99.0.1")] {
        t.host.ip(&format!("route replace default via {via} dev {impostor}"));
        for p in probes {
            t.assert_blocked(p, &format!("{impostor}, an Ethernet device named like the tunnel"));
        }
    }
    // Nor is what arrives through it "from the tunnel": the incoming port stays closed there.
    t.host.listen_tcp(7100);
    let connect = |from: &Netns, to: &str| from.run("socat", &["-u", "-", &format!("TCP4:{to}:7100,connect-timeout=2")], "hello\n");
    assert_ne!(connect(&t.router, "10.99.0.2").code, 0, "LEAK: tunnel.incoming accepted a connection arriving through tun8, a veth");
    connect(&t.vpn, "192.0.2.2").expect(0);

    // With `tap = yes` an Ethernet-type interface of `interfaces` is the tunnel (OpenVPN dev tap).
    conf.set(tun_plus("tap = yes\n"));
    t.start(&conf);
    t.assert_reaches(Probe::tcp(INTERNET, 7000), Side::Uplink, "tun8, an Ethernet device named like the tunnel, with tap = yes");
}

/// The groups a process of `USER` joins on eth0: any may, no privilege needed.
const CHOSEN: [&str; 2] = ["ff02::5eed:1", "ff02::5eed:2"];

/// MLDv2 reports whose first record names `group`, counted on arrival at the router.
fn reports_naming(net: &Uplink, name: &str, group: &str) -> u64 {
    let group: std::net::Ipv6Addr = group.parse().expect("a valid group");
    net.router.arrivals_matching(name, &format!("icmpv6 type mld2-listener-report @th,96,128 {:#034x}", u128::from(group)))
}

fn chosen_reports(net: &Uplink, which: usize) -> u64 {
    reports_naming(net, &format!("chosen{which}"), CHOSEN[which])
}

/// The solicited-node group of 2001:db8:1::78, an address the test adds.
const SOLICITED: &str = "ff02::1:ff00:78";

fn any_reports(net: &Uplink) -> u64 {
    net.router.arrivals_matching("mld", "icmpv6 type { mld-listener-report, mld2-listener-report }")
}

/// Joins a chosen group as `USER`, as any process can; the membership lasts as long as the
/// returned process runs.
fn join(net: &Uplink, group: &str) -> Background {
    let uid = USER.to_string();
    let mut cmd = net.host.command("setpriv");
    cmd.args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "socat", "-u", &format!("UDP6-RECV:5999,ipv6-join-group=[{group}]:eth0"), "-"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    Background::spawn(cmd)
}

/// The kernel repeats a report once within a second of a change (MLDv2's unsolicited report
/// interval): waiting this long sees both.
const REPORTS_SENT: Duration = Duration::from_millis(2500);

fn multicast_listener_reports_name_only_solicited_node_groups(backend: Backend) {
    let net = Uplink::new("mld", backend);
    net.host.await_ipv6();
    {
        let _member = join(&net, CHOSEN[0]);
        assert!(poll(REPORTS_SENT, || chosen_reports(&net, 0) > 0), "no ruleset yet: a report naming {} should reach the router", CHOSEN[0]);
    }

    // Nothing IPv6 may leave outside the tunnel: no report at all, not even for neighbour discovery.
    let conf = ConfigDir::new(tun_plus(""));
    net.start(&conf);
    let before = any_reports(&net);
    let _member = join(&net, CHOSEN[1]);
    net.host.ip("addr add 2001:db8:1::77/64 dev eth0 nodad");
    std::thread::sleep(REPORTS_SENT);
    assert_eq!(any_reports(&net) - before, 0, "LEAK: multicast listener reports left with no IPv6 allowed outside the tunnel");

    // IPv6 to the LAN: reports for solicited-node groups only, never for the group a process
    // chose. The kernel lists every group it holds in each report: one naming a chosen group
    // is dropped whole.
    conf.set(tun_plus("[lan]\nallow = 2001:db8:1::/64\n"));
    net.start(&conf);
    drop(_member);
    std::thread::sleep(REPORTS_SENT);
    let solicited = reports_naming(&net, "solicited", SOLICITED);
    net.host.ip("addr add 2001:db8:1::78/64 dev eth0 nodad");
    assert!(
        poll(REPORTS_SENT, || reports_naming(&net, "solicited", SOLICITED) > solicited),
        "BLOCKED: no report of the solicited-node group of a new address reached the router: neighbour discovery needs it"
    );
    let chosen = chosen_reports(&net, 0);
    let _member = join(&net, CHOSEN[0]);
    std::thread::sleep(REPORTS_SENT);
    assert_eq!(chosen_reports(&net, 0) - chosen, 0, "LEAK: a report naming the group {} a process chose reached the router", CHOSEN[0]);
}

fn arp_answers_only_for_the_uplinks_own_addresses(backend: Backend) {
    let t = Topology::new("arp", backend);
    let answered = |addr: &str| {
        t.router.ip("neigh flush dev wan");
        t.router.run("socat", &["-u", "-", &format!("UDP4:{addr}:7999")], "who\n");
        poll(Duration::from_millis(1500), || t.router.run("ip", &["neigh", "show", addr, "dev", "wan"], "").stdout.contains("lladdr"))
    };
    // The tunnel's address, as the LAN would probe for it.
    t.router.ip("route add 192.0.2.2/32 dev wan");
    assert!(answered("192.0.2.2"), "no ruleset yet: the host answers ARP for the tunnel's address on eth0 (the weak host model)");
    let sysctl = || t.host.run("cat", &["/proc/sys/net/ipv4/conf/all/arp_ignore"], "").expect(0).stdout.trim().to_string();
    let before = sysctl();

    let conf = ConfigDir::new(config(""));
    t.start(&conf);
    assert!(!answered("192.0.2.2"), "LEAK: the host answered an ARP request on eth0 for the tunnel's address 192.0.2.2");
    assert!(answered("198.51.100.2"), "BLOCKED: the host no longer answers ARP for eth0's own address 198.51.100.2");
    t.start(&conf);
    assert_eq!(sysctl(), "1", "a reload keeps arp_ignore raised");

    t.firewall(&conf, "flush").expect(0);
    assert_eq!(sysctl(), before, "flush must restore arp_ignore");
    assert!(answered("192.0.2.2"), "after flush the host answers as it did before");
}

/// Sends, from `net`'s host, what `printf` makes of `format` as one UDP datagram to `to` from
/// port `sport`, by socat run after `sender` (a command prefix such as `setpriv ...`, or empty);
/// the datagram count arriving at the router for `dport` before and after.
fn dhcp_datagram_from(net: &Uplink, sender: &str, format: &str, to: &str, sport: u16, dport: u16) -> u64 {
    let before = net.router.arrivals(dport);
    let v6 = to.contains(':');
    // `bind`, as `sourceport` only filters what a datagram address receives.
    let address =
        if v6 { format!("UDP6-DATAGRAM:[{to}]:{dport},bind=[::]:{sport}") } else { format!("UDP4-DATAGRAM:{to}:{dport},broadcast,bind=0.0.0.0:{sport}") };
    let script = format!("printf '{format}' | {sender} socat -u - {address},so-bindtodevice=eth0");
    net.host.run("sh", &["-c", &script], "");
    poll(Duration::from_millis(500), || net.router.arrivals(dport) > before);
    net.router.arrivals(dport) - before
}

/// As [`dhcp_datagram_from`], sent by root.
fn dhcp_datagram(net: &Uplink, format: &str, to: &str, sport: u16, dport: u16) -> u64 {
    dhcp_datagram_from(net, "", format, to, sport, dport)
}

/// A BOOTP message with `op` (1 request, 2 reply) for `printf`: htype 1, hlen 6, zeros up to
/// the magic cookie at offset 236, then a DHCPDISCOVER option and the end option.
fn bootp(op: u8) -> String {
    format!("\\{op:03o}\\001\\006{}\\143\\202\\123\\143\\065\\001\\001\\377", "\\000".repeat(233))
}

fn the_dhcp_exception_carries_only_dhcp_client_messages(backend: Backend) {
    let net = Uplink::new("dhcp", backend);
    net.host.await_ipv6();
    let (request, reply) = (bootp(1), bootp(2));
    let chosen = "user=nobody!\\n";
    // A message of the right shape with a process's data after it: one datagram of 20 kB
    // carried 20 kB in 14 fragments. Real clients' messages fit in 576 bytes (IPv4, RFC 2131)
    // and in 1280 (IPv6's minimum MTU): never fragmented.
    let (long_request, long_solicit) = (format!("{request}{}", "x".repeat(1100)), format!("\\001\\000\\000\\001{}", "x".repeat(1300)));
    let cases = [
        ("a BOOTREQUEST with the magic cookie", request.as_str(), "255.255.255.255", 68, 67, true),
        ("text from port 68", chosen, "255.255.255.255", 68, 67, false),
        ("a BOOTREPLY from port 68", reply.as_str(), "255.255.255.255", 68, 67, false),
        ("a BOOTREQUEST with 1100 bytes of a process's data after the options", long_request.as_str(), "255.255.255.255", 68, 67, false),
        ("a DHCPv6 Solicit", "\\001\\000\\000\\001", "ff02::1:2", 546, 547, true),
        ("text from port 546", chosen, "ff02::1:2", 546, 547, false),
        ("a DHCPv6 Reply (a server's) from port 546", "\\007\\000\\000\\001", "ff02::1:2", 546, 547, false),
        ("a DHCPv6 Solicit with 1300 bytes of a process's data after it", long_solicit.as_str(), "ff02::1:2", 546, 547, false),
    ];
    for (what, format, to, sport, dport, _) in &cases {
        assert!(dhcp_datagram(&net, format, to, *sport, *dport) > 0, "no ruleset yet: {what} reaches the router");
    }
    net.start(&ConfigDir::new(config("")));
    for (what, format, to, sport, dport, passes) in cases {
        let arrived = dhcp_datagram(&net, format, to, sport, dport);
        match passes {
            true => assert!(arrived > 0, "BLOCKED: {what} should pass the DHCP exception"),
            false => assert_eq!(arrived, 0, "LEAK: {what} passed the DHCP exception"),
        }
    }
}

/// A process that is not a DHCP client's user but may bind ports 68 and 546 (here nobody with
/// only CAP_NET_BIND_SERVICE; as well anyone with a lowered ip_unprivileged_port_start) sends
/// client-shaped messages, which would carry its own data: blocked by `[lan] dhcp_users`.
fn the_dhcp_exception_admits_only_the_dhcp_clients_users(backend: Backend) {
    require_tools(&[("setpriv", "util-linux")]);
    let net = Uplink::new("dhcpuser", backend);
    net.host.await_ipv6();
    let nobody = "setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps +net_bind_service --ambient-caps +net_bind_service";
    let request = bootp(1);
    let cases = [
        ("a BOOTREQUEST with the magic cookie", request.as_str(), "255.255.255.255", 68, 67),
        ("a DHCPv6 Solicit", "\\001\\000\\000\\001", "ff02::1:2", 546, 547),
    ];
    for (what, format, to, sport, dport) in cases {
        assert!(dhcp_datagram_from(&net, nobody, format, to, sport, dport) > 0, "no ruleset yet: {what} from nobody reaches the router");
    }
    net.start(&ConfigDir::new(config("")));
    for (what, format, to, sport, dport) in cases {
        assert!(dhcp_datagram(&net, format, to, sport, dport) > 0, "BLOCKED: {what} from root (dhclient's user) should pass");
        assert_eq!(
            dhcp_datagram_from(&net, nobody, format, to, sport, dport),
            0,
            "LEAK: {what} from nobody with CAP_NET_BIND_SERVICE passed the DHCP exception"
        );
    }
}

fn real_dhcp_clients_get_leases_through_the_ruleset(backend: Backend) {
    require_tools(&[("dhclient", "isc-dhcp-client"), ("dnsmasq", "dnsmasq-base")]);
    let net = Uplink::new("dhclient", backend);
    net.host.await_ipv6();
    net.router.await_ipv6();
    net.start(&ConfigDir::new(config("")));
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = |name: &str| dir.path().join(name).to_str().expect("temporary paths are UTF-8").to_string();
    let mut server = net.router.command("dnsmasq");
    server.args(["--keep-in-foreground", "--port=0", "--interface=wan", "--bind-interfaces", "--conf-file=/dev/null"]);
    server.args(["--dhcp-range=198.51.100.100,198.51.100.150,2m", "--dhcp-range=2001:db8:1::100,2001:db8:1::1ff,64,2m"]);
    server.args([format!("--dhcp-leasefile={}", file("dnsmasq.leases")), format!("--pid-file={}", file("dnsmasq.pid"))]);
    server.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let _server = Background::spawn(server);
    for family in ["-4", "-6"] {
        let leases = file(&format!("dhclient{family}.leases"));
        let mut client = net.host.command("dhclient");
        client.args([family, "-1", "-d", "-lf", &leases, "-pf", &file(&format!("dhclient{family}.pid")), "-sf", "/bin/true", "eth0"]);
        client.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let _client = Background::spawn(client);
        let leased = if family == "-4" { "fixed-address 198.51.100." } else { "iaaddr 2001:db8:1::" };
        let bound = poll(Duration::from_secs(15), || std::fs::read_to_string(&leases).is_ok_and(|l| l.contains(leased)));
        let text = std::fs::read_to_string(&leases).unwrap_or_default();
        assert!(bound, "BLOCKED: dhclient {family} got no lease from dnsmasq with the ruleset loaded:\n{text}");
    }
}

backend_tests! {
    every: [
        an_interface_merely_named_like_the_tunnel_is_not_the_tunnel,
        multicast_listener_reports_name_only_solicited_node_groups,
        arp_answers_only_for_the_uplinks_own_addresses,
        the_dhcp_exception_carries_only_dhcp_client_messages,
        the_dhcp_exception_admits_only_the_dhcp_clients_users,
        real_dhcp_clients_get_leases_through_the_ruleset,
    ],
    iptables: [],
}
