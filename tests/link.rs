//! Side channels on the link, in a real kernel: what could reach the LAN other than through the
//! tunnel's front door. ARP answers for the tunnel's address. Each test first shows, where it
//! can, that the network carries what the ruleset then must stop; each runs once per backend
//! (`nftables::NAME`, `iptables_nft::NAME`, `iptables_legacy::NAME`).
//!
//! Needs root, nftables, iptables, iproute2, socat and util-linux; a missing one fails the test
//! with the package to install.

#[macro_use]
mod common;

use common::topology::Topology;
use common::{Backend, ConfigDir, config, poll};
use std::time::Duration;

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

backend_tests! {
    every: [
        arp_answers_only_for_the_uplinks_own_addresses,
    ],
    iptables: [],
}
