//! Containers, VMs and LAN discovery on the firewalled machine itself, in a real kernel: the
//! stand-in tunnel of `Topology`, machines on a bridge of the host (`Bridge` in
//! tests/common/topology.rs) as Docker's containers on docker0 and libvirt's guests on virbr0
//! are, real rules and real packets. Docker's own rules come from a reconstructed
//! `iptables-save` of a Docker Engine 28 host (tests/fixtures/docker-engine-28.rules: no Docker
//! engine runs where these tests run), netavark's table and libvirt's chains likewise from
//! reconstructed fixtures; libvirt's DHCP and DNS is a real dnsmasq on the bridge.
//! Each test runs once per backend: `nftables::NAME`, `iptables_nft::NAME`,
//! `iptables_legacy::NAME`.
//!
//! Needs root, nftables, iptables, iproute2, socat, util-linux, tcpdump, dnsmasq-base and
//! busybox; a missing one fails the test with the package to install.

#[macro_use]
mod common;

use common::capture::{Capture, NotALeak};
use common::topology::{Bridge, INTERNET, LAN, Probe, RESOLVER, ROUTER, Side, Topology, Uplink, VPN_SERVER};
use common::{Backend, Background, ConfigDir, Netns, config, fixtures, require_tools, wait_for};
use std::process::Stdio;
use std::time::Duration;
use vpn_firewall::policy::Hook;

/// Docker's default bridge, its host address and the containers `Bridge::on` addresses.
const DOCKER0: &str = "172.17.0.1";
const CONTAINER1: &str = "172.17.0.2";
const CONTAINER2: &str = "172.17.0.3";
/// The host's address on the uplink, where Docker publishes ports.
const HOST: &str = "198.51.100.2";

/// A `Topology` whose host runs Docker's default bridge with `count` containers, bridged
/// traffic passing the forward hook as Docker's br_netfilter makes it.
fn with_docker(test: &str, backend: Backend, count: usize) -> (Topology, Bridge) {
    let t = Topology::new(test, backend);
    let docker = Bridge::on(&t.host, &backend.qualify(test), "docker0", "172.17.0", count);
    t.host.sysctl("net/bridge/bridge-nf-call-iptables", "1");
    (t, docker)
}

/// Docker started again after vpn-firewall: its jumps come first in FORWARD, before
/// vpn-firewall's (with the iptables backend, in the same chain).
fn restart_docker(host: &Netns) {
    for args in [["-D", "FORWARD", "-j", "DOCKER-USER"], ["-D", "FORWARD", "-j", "DOCKER-FORWARD"]] {
        host.iptables(false, &args).expect(0);
    }
    for chain in ["DOCKER-FORWARD", "DOCKER-USER"] {
        host.iptables(false, &["-I", "FORWARD", "1", "-j", chain]).expect(0);
    }
}

/// Every packet that leaves the host out of eth0 from the moment this starts, but for what a
/// host must send to live on a link.
fn watch_the_uplink(t: &Topology) -> Capture {
    Capture::start(&t.router, "wan", &NotALeak::link())
}

/// The default routes go out of eth0 (the VPN is down): nothing `machine` sends to the internet,
/// its DNS or the LAN leaves the host, and tcpdump on the uplink counts no cleartext.
fn nothing_leaks_with_the_vpn_down(t: &Topology, machine: &Netns, context: &str) {
    let capture = watch_the_uplink(t);
    t.route_via_uplink();
    for p in [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::udp(RESOLVER, 53), Probe::udp(ROUTER, 7003)] {
        t.assert_blocked_from(machine, p, &format!("the VPN is down, {context}"));
    }
    let cleartext = capture.finish();
    assert_eq!(cleartext.count(), 0, "LEAK: a container sent cleartext out of the uplink with the VPN down, {context}: {cleartext}");
}

fn containers_reach_the_host_each_other_and_the_tunnel_only(backend: Backend) {
    let (t, docker) = with_docker("ctr", backend, 2);
    let (c1, c2) = (&docker.machines[0], &docker.machines[1]);
    for c in [c1, c2] {
        c.listen_tcp(7100);
    }
    t.assert_reaches_from(c1, Probe::udp(ROUTER, 7003), Side::Uplink, "no ruleset yet: the host forwards out of eth0");
    t.assert_reaches_from(c1, Probe::tcp(CONTAINER2, 7100), Side::Host, "no ruleset yet: one bridge");

    // A DHCPv6 server on docker0 (dnsmasq's, on a bridge with IPv6): a socket in its group.
    let mut server = t.host.command("socat");
    server.args(["-u", "UDP6-RECV:547,ipv6-join-group=[ff02::1:2]:docker0,reuseaddr", "OPEN:/dev/null"]);
    server.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let _server = Background::spawn(server);
    c1.await_ipv6();
    let dhcpv6 = || {
        let before = t.host.delivered(547);
        Probe::udp("ff02::1:2", 547).from_port(546).bound_to("eth0").send(c1);
        common::poll(Duration::from_millis(500), || t.host.delivered(547) > before)
    };

    // Without [lan] interfaces the bridge is no exception, and bridged traffic is filtered too.
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\nincoming = 8080/tcp\n")));
    t.start(&conf);
    assert!(!dhcpv6(), "a DHCPv6 request from docker0 was accepted, docker0 not listed");
    t.assert_blocked(Probe::tcp(CONTAINER1, 7100), "the host to a container, docker0 not listed");
    let forward = t.host.blocked(Hook::Forward);
    t.assert_blocked_from(c1, Probe::tcp(CONTAINER2, 7100), "between containers, docker0 not listed");
    assert!(t.host.blocked(Hook::Forward) > forward, "bridged traffic did not pass the forward hook: br_netfilter is not in effect");

    conf.set(config(&format!("[lan]\nallow = {LAN}\nincoming = 8080/tcp\ninterfaces = docker0\n")));
    t.start(&conf);
    t.assert_reaches(Probe::tcp(CONTAINER1, 7100), Side::Host, "the host to a container");
    let queries = c1.arrivals(53);
    t.assert_reaches(Probe::udp(CONTAINER1, 53), Side::Host, "DNS from the host to a container");
    wait_for("the host's query at a container", Duration::from_secs(1), || c1.arrivals(53) > queries);
    t.assert_reaches_from(c1, Probe::tcp(CONTAINER2, 7100), Side::Host, "between the containers of one bridge");
    t.assert_reaches_from(c2, Probe::tcp(CONTAINER1, 7100), Side::Host, "between the containers of one bridge");
    t.assert_reaches_from(c1, Probe::tcp(DOCKER0, 8080), Side::Host, "a container to [lan] incoming of the host");
    t.assert_blocked_from(c1, Probe::tcp(DOCKER0, 22), "a container to a port of the host not in [lan] incoming");
    let queries = t.host.delivered(53);
    Probe::udp(DOCKER0, 53).send(c1).expect(0);
    wait_for("a container's query at the host's resolver", Duration::from_secs(1), || t.host.delivered(53) > queries);
    assert!(dhcpv6(), "a DHCPv6 request from a container did not reach the host's DHCPv6 server");
    for p in [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::udp(RESOLVER, 53)] {
        t.assert_reaches_from(c1, p, Side::Tunnel, "a container through the tunnel");
    }
    let from = |addr: &str| t.vpn.arrivals_matching(&format!("from{}", addr.replace('.', "_")), &format!("ip saddr {addr} udp dport 7001"));
    let (tunnel_address, container_address) = (from("192.0.2.2"), from(CONTAINER1));
    t.assert_reaches_from(c1, Probe::udp(INTERNET, 7001), Side::Tunnel, "masqueraded");
    assert!(from("192.0.2.2") > tunnel_address && from(CONTAINER1) == container_address, "a container's traffic was not masqueraded");
    for p in [Probe::udp(ROUTER, 7003), Probe::tcp(ROUTER, 7002), Probe::udp(ROUTER, 53), Probe::udp(VPN_SERVER, 1194)] {
        t.assert_blocked_from(c1, p, "a container to the uplink, [lan] allow included");
    }
    t.assert_reaches(Probe::tcp(ROUTER, 7002), Side::Uplink, "the host's own traffic to [lan] allow");

    let capture = watch_the_uplink(&t);
    t.route_via_uplink();
    for c in [c1, c2] {
        for p in [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::udp(RESOLVER, 53), Probe::tcp(ROUTER, 7002)] {
            t.assert_blocked_from(c, p, "the VPN is down: the default route goes out of eth0");
        }
    }
    t.route_via_tunnel();
    t.host.ip("link delete tun0");
    for p in [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001)] {
        t.assert_blocked_from(c1, p, "the tunnel interface is gone");
    }
    let cleartext = capture.finish();
    assert_eq!(cleartext.count(), 0, "LEAK: containers sent cleartext out of the uplink with the VPN down: {cleartext}");
    t.assert_reaches_from(c1, Probe::tcp(CONTAINER2, 7100), Side::Host, "between containers, with the VPN down");
}

fn for_containers_an_interface_merely_named_like_the_tunnel_is_not_the_tunnel(backend: Backend) {
    let (t, docker) = with_docker("ctrimp", backend, 1);
    let c1 = &docker.machines[0];
    // An Ethernet-type interface named like the tunnel, to the router: the default route.
    t.host.ip(&format!("link add tun9 type veth peer name imp netns {}", t.router.name()));
    t.host.ip("addr add 192.0.2.66/30 dev tun9");
    t.host.ip("link set tun9 up");
    t.router.ip("addr add 192.0.2.65/30 dev imp");
    t.router.ip("link set imp up");
    t.host.ip("route replace default via 192.0.2.65 dev tun9");
    t.assert_reaches_from(c1, Probe::udp(INTERNET, 7001), Side::Uplink, "no ruleset yet: the host forwards out of tun9");
    t.start(&ConfigDir::new(config("[tunnel]\ninterfaces = tun+\n[lan]\ninterfaces = docker0\n")));
    let (forward, postrouting) = (t.host.blocked(Hook::Forward), t.host.blocked(Hook::Postrouting));
    for p in [Probe::udp(INTERNET, 7001), Probe::tcp(INTERNET, 7000)] {
        t.assert_blocked_from(c1, p, "from a container out of tun9, an Ethernet-type interface named like the tunnel");
    }
    // nftables refuses it in the forward chain already (the container is told at once), and
    // postrouting, the second line, has nothing left to do. iptables can tell the sending
    // interface's link type only from postrouting on (render_iptables/link.rs): there it is.
    let (in_forward, in_postrouting) = (t.host.blocked(Hook::Forward) > forward, t.host.blocked(Hook::Postrouting) > postrouting);
    if backend.is_iptables() {
        assert!(in_postrouting, "not blocked in postrouting");
    } else {
        assert!(in_forward && !in_postrouting, "not blocked in the forward chain");
    }
    t.route_via_tunnel();
    t.assert_reaches_from(c1, Probe::udp(INTERNET, 7001), Side::Tunnel, "from a container through the real tunnel, tun0");
}

fn beside_dockers_rules_published_ports_follow_lan_incoming_and_nothing_leaks(backend: Backend) {
    let (t, docker) = with_docker("ctrdock", backend, 1);
    let c1 = &docker.machines[0];
    c1.listen_tcp(80);
    fixtures::load_iptables(&t.host, "docker-engine-28.rules");
    let published = |from: &Netns, addr: &'static str| Probe::tcp(addr, 8080).send(from).code == 0;
    assert!(published(&t.router, HOST), "no ruleset yet: the LAN does not reach the port Docker publishes (is the fixture loaded?)");

    // Other ports, a list and a range (nft matches the original port against a set).
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\nincoming = 22/tcp 9000-9100/tcp\ninterfaces = docker0\n")));
    t.start(&conf);
    assert!(!published(&t.router, HOST), "the LAN reached a published port that is not in [lan] incoming");
    conf.set(config(&format!("[lan]\nallow = {LAN}\nincoming = 22/tcp 8080/tcp 9000-9100/tcp\ninterfaces = docker0\n")));
    t.start(&conf);
    let arrived = c1.arrivals(80);
    assert!(published(&t.router, HOST), "the LAN did not reach the port Docker publishes, listed in [lan] incoming");
    assert!(c1.arrivals(80) > arrived, "the published port was not the container's");
    assert!(!published(&t.vpn, "192.0.2.2"), "the tunnel reached a published port that is not in [tunnel] incoming");
    t.assert_reaches_from(c1, Probe::tcp(INTERNET, 7000), Side::Tunnel, "a container through the tunnel, beside Docker's rules");

    // Docker's FORWARD accepts whatever leaves docker0 (`-i docker0 -j ACCEPT`), and published
    // ports from anywhere: since Docker restarted, with iptables before vpn-firewall's chain.
    // That is iptables' limit (status says so); the postrouting chain must still hold.
    restart_docker(&t.host);
    if backend.is_iptables() {
        let status = t.firewall(&conf, "status");
        let said = format!("{}{}", status.stdout, status.stderr);
        assert!(
            said.contains("2 other rules come before vpn-firewall's jump in IPv4 FORWARD (filter)"),
            "status did not warn about Docker's jumps first:\n{status}"
        );
    } else {
        assert!(!published(&t.vpn, "192.0.2.2"), "the tunnel reached a published port beside Docker's restarted rules");
    }
    nothing_leaks_with_the_vpn_down(&t, c1, "Docker's rules loaded and first");
}

fn a_pattern_keeps_dockers_networks_apart_and_each_one_together(backend: Backend) {
    let t = Topology::new("ctrnets", backend);
    let test = backend.qualify("ctrnets");
    let a = Bridge::on(&t.host, &format!("{test}a"), "br-0a1b2c3d4e5f", "172.18.0", 2);
    let b = Bridge::on(&t.host, &format!("{test}b"), "br-9f8e7d6c5b4a", "172.19.0", 1);
    t.host.sysctl("net/bridge/bridge-nf-call-iptables", "1");
    let (a1, a2, b1) = (&a.machines[0], &a.machines[1], &b.machines[0]);
    for c in [a2, b1] {
        c.listen_tcp(7100);
    }
    t.assert_reaches_from(a1, Probe::tcp("172.19.0.2", 7100), Side::Host, "no ruleset yet: the host routes between the bridges");
    fixtures::load_iptables(&t.host, "docker-engine-28-networks.rules");
    t.start(&ConfigDir::new(config("[lan]\ninterfaces = br-+\n")));
    t.assert_reaches_from(a1, Probe::tcp("172.18.0.3", 7100), Side::Host, "within one of Docker's networks");
    t.assert_blocked_from(a1, Probe::tcp("172.19.0.2", 7100), "from one of Docker's networks to another, which Docker keeps apart");
    t.assert_blocked_from(b1, Probe::tcp("172.18.0.3", 7100), "from one of Docker's networks to another, which Docker keeps apart");
    t.assert_reaches_from(b1, Probe::tcp(INTERNET, 7000), Side::Tunnel, "a network matched by the pattern through the tunnel");
}

fn beside_netavarks_table_podman_containers_reach_the_tunnel_only(backend: Backend) {
    let t = Topology::new("ctrpod", backend);
    let podman0 = Bridge::on(&t.host, &backend.qualify("ctrpod"), "podman0", "10.88.0", 1);
    let c1 = &podman0.machines[0];
    c1.listen_tcp(80);
    // Podman's own table accepts what its containers send, and publishes 8080 by DNAT.
    t.host.nft_load(&fixtures::text("netavark-nftables.nft"));
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\nincoming = 8080/tcp 7200/tcp\ninterfaces = podman0\n")));
    t.start(&conf);
    let arrived = c1.arrivals(80);
    assert_eq!(Probe::tcp(HOST, 8080).send(&t.router).code, 0, "the LAN did not reach the port Podman publishes, in [lan] incoming");
    assert!(c1.arrivals(80) > arrived, "the published port was not the container's");
    t.assert_reaches_from(c1, Probe::tcp(INTERNET, 7000), Side::Tunnel, "a Podman container through the tunnel");
    // (8080 on any address of the host is the published port, netavark's DNAT says.)
    t.assert_reaches_from(c1, Probe::tcp("10.88.0.1", 7200), Side::Host, "a Podman container to [lan] incoming of the host");
    nothing_leaks_with_the_vpn_down(&t, c1, "netavark's table loaded");
}

/// dnsmasq, in the foreground, with `args` and no configuration file of the machine's.
fn dnsmasq(ns: &Netns, args: &[&str]) -> Background {
    require_tools(&[("dnsmasq", "dnsmasq-base")]);
    let mut cmd = ns.command("dnsmasq");
    cmd.args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces", "--user=root", "--pid-file"]);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    Background::spawn(cmd)
}

/// What `busybox nslookup -type=a NAME SERVER` in `ns` printed.
fn nslookup(ns: &Netns, name: &str, server: &str) -> String {
    ns.run("busybox", &["nslookup", "-type=a", name, server], "").stdout
}

fn a_libvirt_guest_gets_dhcp_and_dns_from_dnsmasq_on_the_host_and_resolves_through_the_tunnel(backend: Backend) {
    require_tools(&[("busybox", "busybox")]);
    let t = Topology::new("ctrvirt", backend);
    let virbr0 = Bridge::unaddressed(&t.host, &backend.qualify("ctrvirt"), "virbr0", "192.168.122", 1);
    let guest = &virbr0.machines[0];
    // The VPN's resolver answers through the tunnel; the one on the uplink side never should.
    let _vpn_resolver = dnsmasq(&t.vpn, &[&format!("--listen-address={RESOLVER}"), "--address=/vpn-firewall.test/203.0.113.99"]);
    let _isp_resolver = dnsmasq(&t.router, &[&format!("--listen-address={RESOLVER}"), "--address=/vpn-firewall.test/198.51.100.99"]);
    let leases = tempfile::NamedTempFile::new().expect("a lease file");
    let lease_file = format!("--dhcp-leasefile={}", leases.path().display());
    // As libvirt runs it for its default network: DHCP and DNS on virbr0, forwarding upstream.
    let _libvirt = dnsmasq(
        &t.host,
        &[
            "--interface=virbr0",
            "--except-interface=lo",
            "--listen-address=192.168.122.1",
            "--dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0,1h",
            "--dhcp-option=option:router,192.168.122.1",
            &format!("--server={RESOLVER}"),
            &lease_file,
        ],
    );
    t.host.wait_listening(53);
    t.start(&ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\ninterfaces = virbr0\n"))));
    // libvirtd started after vpn-firewall, as at boot: its jumps come first, and its FORWARD
    // rules accept whatever leaves virbr0 from its network.
    fixtures::load_iptables(&t.host, "libvirt-network-default.rules");

    // The guest configures itself from dnsmasq's answer, as a VM's DHCP client does.
    let script = tempfile::NamedTempFile::new().expect("a udhcpc script");
    std::fs::write(
        script.path(),
        "#!/bin/sh\n[ \"$1\" = bound ] || exit 0\nip addr add \"$ip/$subnet\" dev \"$interface\" && ip route add default via \"$router\"\n",
    )
    .expect("write the script");
    let script_path = script.into_temp_path();
    std::fs::set_permissions(&script_path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("make the script executable");
    let dhcp = guest.run("busybox", &["udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", "eth0", "-s", script_path.to_str().expect("UTF-8 path")], "");
    assert_eq!(dhcp.code, 0, "the guest got no DHCP lease from dnsmasq on virbr0:\n{dhcp}");
    let addresses = guest.run("ip", &["-4", "-o", "addr", "show", "dev", "eth0"], "").expect(0).stdout;
    assert!(addresses.contains("192.168.122."), "the lease was not applied: {addresses}");

    let answer = nslookup(guest, "vpn-firewall.test", "192.168.122.1");
    assert!(answer.contains("203.0.113.99"), "the guest's query did not get the VPN resolver's answer through dnsmasq:\n{answer}");
    t.assert_reaches_from(guest, Probe::tcp(INTERNET, 7000), Side::Tunnel, "a guest through the tunnel");
    t.assert_blocked_from(guest, Probe::udp(ROUTER, 53), "a guest's DNS to the LAN's resolver");

    let capture = watch_the_uplink(&t);
    t.route_via_uplink();
    let answer = nslookup(guest, "down.vpn-firewall.test", "192.168.122.1");
    assert!(!answer.contains("198.51.100.99"), "LEAK: the guest's query was answered by the resolver outside the tunnel:\n{answer}");
    t.assert_blocked_from(guest, Probe::tcp(INTERNET, 7000), "the VPN is down");
    let cleartext = capture.finish();
    assert_eq!(cleartext.count(), 0, "LEAK: the guest or dnsmasq sent cleartext out of the uplink with the VPN down: {cleartext}");
}

/// A socket of the host that joined `group` on eth0 and reads `port`, so that datagrams to the
/// group are delivered to the host at all.
fn member(host: &Netns, group: &str, port: u16) -> Background {
    let socket = if group.contains(':') {
        format!("UDP6-RECV:{port},ipv6-join-group=[{group}]:eth0,ipv6-v6only=1,reuseaddr")
    } else {
        format!("UDP4-RECV:{port},ip-add-membership={group}:{HOST},reuseaddr")
    };
    let mut cmd = host.command("socat");
    cmd.args(["-u", &socket, "OPEN:/dev/null"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    Background::spawn(cmd)
}

fn multicast_discovery_passes_on_the_lan_only_when_enabled(backend: Backend) {
    let t = Topology::new("ctrmcast", backend);
    let groups = [("224.0.0.251", 5353), ("239.255.255.250", 1900), ("ff02::fb", 5353), ("ff02::c", 1900)];
    let _members: Vec<Background> = groups.iter().map(|(group, port)| member(&t.host, group, *port)).collect();
    for ns in [&t.host, &t.router] {
        ns.await_ipv6();
    }
    let sent = |group: &'static str, port: u16| {
        let name = format!("to{}", group.replace(['.', ':'], "_"));
        let family = if group.contains(':') { "ip6" } else { "ip" };
        let seen = || t.router.arrivals_matching(&name, &format!("{family} daddr {group} udp dport {port}"));
        let before = seen();
        // From another port than the member's, which holds the group's.
        Probe::udp(group, port).bound_to("eth0").send(&t.host);
        common::poll(Duration::from_millis(500), || seen() > before)
    };
    let received = |group: &'static str, port: u16| {
        let before = t.host.delivered(port);
        Probe::udp(group, port).from_port(port).bound_to("wan").send(&t.router).expect(0);
        common::poll(Duration::from_millis(500), || t.host.delivered(port) > before)
    };
    let answer = |from: u16, to: u16| {
        let before = t.host.delivered(to);
        Probe::udp(HOST, to).from_port(from).send(&t.router).expect(0);
        common::poll(Duration::from_millis(500), || t.host.delivered(to) > before)
    };
    let ssdp_answer = || answer(1900, 40123);
    let mdns_answer = || answer(5353, 5353);
    for (group, port) in groups {
        assert!(sent(group, port) && received(group, port), "no ruleset yet: {group}:{port} does not cross the link");
    }

    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\n")));
    t.start(&conf);
    for (group, port) in groups {
        assert!(!sent(group, port), "LEAK: {group}:{port} left with [lan] multicast = no");
        assert!(!received(group, port), "{group}:{port} was accepted with [lan] multicast = no");
    }
    assert!(!ssdp_answer(), "an SSDP answer was accepted with [lan] multicast = no");

    conf.set(config(&format!("[lan]\nallow = {LAN}\nmulticast = yes\n")));
    t.start(&conf);
    for (group, port) in groups {
        assert!(sent(group, port), "{group}:{port} did not leave with [lan] multicast = yes");
        assert!(received(group, port), "{group}:{port} was not accepted with [lan] multicast = yes");
    }
    assert!(ssdp_answer(), "an SSDP answer from the LAN was not accepted with [lan] multicast = yes");
    assert!(mdns_answer(), "a unicast mDNS answer from the LAN was not accepted with [lan] multicast = yes");
    assert!(!sent("224.0.0.251", 7000), "LEAK: another port of the mDNS group left");
    t.assert_blocked(Probe::udp(INTERNET, 5353).bound_to("eth0"), "mDNS's port to a unicast address outside the tunnel");
    let check = t.firewall(&conf, "check");
    assert!(check.stderr.contains("[lan] multicast: announces this machine to the LAN"), "check did not warn:\n{check}");

    // Answers to this machine's own address only from [lan] allow: the router is outside it now.
    conf.set(config("[lan]\nallow = 10.9.9.0/24\nmulticast = yes\n"));
    t.start(&conf);
    assert!(!ssdp_answer() && !mdns_answer(), "an answer from outside [lan] allow was accepted");
    assert!(received("224.0.0.251", 5353), "mDNS to its group was not accepted with [lan] multicast = yes");
}

fn a_local_interface_that_is_the_uplink_is_refused_and_forwarding_off_is_said(backend: Backend) {
    let u = Uplink::new("ctrup", backend);
    let conf = ConfigDir::new(config("[lan]\ninterfaces = docker0 eth+\n"));
    let expected = "[lan] interfaces: eth+ matches eth0, the interface of this machine's default route: everything would leave through it in the clear";
    for command in ["check", "start"] {
        let run = u.firewall(&conf, command).expect(2);
        assert!(run.stderr.contains(expected), "{command} did not refuse the uplink as a local interface:\n{run}");
    }
    assert_eq!(u.host.firewall_objects(), backend.loaded_objects(), "the lockdown, at a first start with an invalid configuration");
    let sent = Probe::udp(ROUTER, 7003).send(&u.host);
    assert_ne!(sent.code, 0, "LEAK: the lockdown let a datagram out of the uplink");

    conf.set(config("[lan]\ninterfaces = docker0\n"));
    u.host.sysctl("net/ipv4/ip_forward", "0");
    let check = u.firewall(&conf, "check").expect(0);
    assert!(check.stderr.contains("[lan] interfaces is set, but net.ipv4.ip_forward = 0"), "check did not say that the kernel does not forward:\n{check}");
    let status = {
        u.start(&conf);
        u.firewall(&conf, "status").expect(0)
    };
    assert!(status.stdout.contains("local:     docker0"), "status does not name the local interfaces:\n{status}");
}

backend_tests! {
    every: [
    containers_reach_the_host_each_other_and_the_tunnel_only,
    for_containers_an_interface_merely_named_like_the_tunnel_is_not_the_tunnel,
    beside_dockers_rules_published_ports_follow_lan_incoming_and_nothing_leaks,
    a_pattern_keeps_dockers_networks_apart_and_each_one_together,
    beside_netavarks_table_podman_containers_reach_the_tunnel_only,
    a_libvirt_guest_gets_dhcp_and_dns_from_dnsmasq_on_the_host_and_resolves_through_the_tunnel,
    multicast_discovery_passes_on_the_lan_only_when_enabled,
    a_local_interface_that_is_the_uplink_is_refused_and_forwarding_off_is_said,
    ],
    iptables: [],
}
