//! The sandbox's layout, decided from the settings before anything is made: interface names,
//! the addresses of the far sides, and where each address is routed.
//!
//! ```text
//!  host namespace (firewalled)                 net namespace: uplink side     tun namespace
//!  UPLINK 198.51.100.2/30, 2001:db8:1::2/64 <-veth-> .1, ::1
//!                                                lo: internet, LAN hosts, servers
//!  TUNNEL 192.0.2.2/30, 2001:db8:2::2/64    <-tun pair--------------------->  .1, ::1
//!                                                                  lo: internet
//! ```
//!
//! The internet address exists on both far sides, so the host's routes decide which way a
//! packet to it goes: through the tunnel (the VPN is up) or out of the uplink (it is down, or a
//! route was pushed around it). LAN hosts and VPN servers are on the uplink side only, with host
//! routes through the uplink, as a VPN client sets them.

use crate::settings::Settings;
use crate::values::{Endpoint, Interface, interface};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The link between the host and the uplink side: the host has .2, the uplink side .1.
pub const UPLINK_NET4: &str = "198.51.100.0/30";
pub const UPLINK_NET6: &str = "2001:db8:1::/64";
/// The link between the host and the tunnel side, the same way.
pub const TUNNEL_NET4: &str = "192.0.2.0/30";
pub const TUNNEL_NET6: &str = "2001:db8:2::/64";

/// Tried in order; the first outside `[lan] allow` and the servers stands for the internet.
const INTERNET4: [Ipv4Addr; 3] = [Ipv4Addr::new(203, 0, 113, 10), Ipv4Addr::new(198, 51, 100, 10), Ipv4Addr::new(192, 0, 2, 10)];
const INTERNET6: [Ipv6Addr; 2] = [Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0x10), Ipv6Addr::new(0x2001, 0xdb8, 0xfe, 0, 0, 0, 0, 0x10)];

/// The uplink interface's name, and why it has that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uplink {
    pub name: String,
    pub why: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The stand-in's name, a concrete name the configured pattern matches.
    pub name: String,
    pub pattern: String,
}

/// A network of `[lan] allow` and the address probed in it, when one can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanHost {
    pub network: IpNet,
    pub host: Option<IpAddr>,
}

/// A VPN server endpoint and whether the sandbox can give its address to the uplink side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub endpoint: Endpoint,
    pub usable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub uplink: Uplink,
    /// The stand-in tunnel interface, or why there is none.
    pub tunnel: Result<Tunnel, String>,
    pub internet4: Ipv4Addr,
    pub internet6: Ipv6Addr,
    pub lan: Vec<LanHost>,
    pub servers: Vec<Server>,
}

/// Where the host's routes send a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Uplink,
    Tunnel,
}

/// The state of the host's routes and tunnel interface while probes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Situation {
    /// The default routes go through the tunnel.
    VpnUp,
    /// The VPN is up, but a more specific route to the internet address goes out of the uplink
    /// (as a hostile DHCP server pushes it: TunnelVision).
    PushedRoute,
    /// The tunnel interface exists, the default routes go out of the uplink.
    VpnDown,
    /// The tunnel interface was deleted, the default routes go out of the uplink.
    TunnelDeleted,
    /// The tunnel interface was deleted, and an Ethernet-type interface (a veth to the uplink
    /// side) took its name; the default routes go through it.
    Impostor,
}

impl Situation {
    /// The order probes are sent in: each is one change of the routes from the one before.
    pub const ORDER: [Situation; 5] = [Situation::VpnUp, Situation::PushedRoute, Situation::VpnDown, Situation::TunnelDeleted, Situation::Impostor];

    pub fn label(self) -> &'static str {
        match self {
            Situation::VpnUp => "VPN up",
            Situation::PushedRoute => "pushed route",
            Situation::VpnDown => "VPN down",
            Situation::TunnelDeleted => "tunnel deleted",
            Situation::Impostor => "impostor named like the tunnel",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Situation::VpnUp => "vpn-up",
            Situation::PushedRoute => "pushed-route",
            Situation::VpnDown => "vpn-down",
            Situation::TunnelDeleted => "tunnel-deleted",
            Situation::Impostor => "impostor",
        }
    }
}

pub fn net(text: &str) -> IpNet {
    text.parse().expect("a valid network")
}

/// The host's address on a link network (.2 or ::2) and the far side's (.1 or ::1).
pub fn link_addresses(network: &str) -> (IpAddr, IpAddr) {
    let n = net(network);
    let first = |offset: u128| match n {
        IpNet::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4.network()) + offset as u32)),
        IpNet::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6.network()) + offset)),
    };
    (first(2), first(1))
}

impl Plan {
    pub fn new(settings: &Settings, uplink: Option<&Interface>) -> Plan {
        let uplink = match uplink {
            Some(name) => Uplink { name: name.to_string(), why: "given with --uplink" },
            None => match this_machines_uplink() {
                Some(name) => Uplink { name, why: "named like this machine's default-route interface" },
                None => Uplink { name: "eth0".into(), why: "this machine has no default route through a physical interface" },
            },
        };
        let lan = &settings.lan.allow;
        let servers = &settings.tunnel.servers;
        let outside = |a: IpAddr| !lan.iter().any(|n| n.contains(&a)) && !servers.iter().any(|s| s.addr == a);
        let internet4 = INTERNET4.into_iter().find(|a| outside(IpAddr::V4(*a))).unwrap_or(INTERNET4[0]);
        let internet6 = INTERNET6.into_iter().find(|a| outside(IpAddr::V6(*a))).unwrap_or(INTERNET6[0]);
        let internet = [IpAddr::V4(internet4), IpAddr::V6(internet6)];
        Plan {
            tunnel: stand_in_tunnel(&settings.tunnel.interfaces, &uplink.name),
            lan: lan.iter().map(|n| LanHost { network: *n, host: host_in(n).filter(|h| !internet.contains(h)) }).collect(),
            servers: servers.iter().map(|e| Server { endpoint: *e, usable: usable(e.addr) && !internet.contains(&e.addr) }).collect(),
            uplink,
            internet4,
            internet6,
        }
    }

    /// Where the routes of `situation` send a packet to `addr`: only the internet address has
    /// a way through the tunnel.
    pub fn side(&self, situation: Situation, addr: IpAddr) -> Side {
        let internet = addr == IpAddr::V4(self.internet4) || addr == IpAddr::V6(self.internet6);
        if internet && situation == Situation::VpnUp { Side::Tunnel } else { Side::Uplink }
    }

    /// The addresses of the uplink side besides its link addresses: internet, LAN hosts, servers.
    pub fn uplink_side_addresses(&self) -> Vec<IpAddr> {
        let mut all = vec![IpAddr::V4(self.internet4), IpAddr::V6(self.internet6)];
        all.extend(self.far_hosts());
        all.dedup();
        all
    }

    /// LAN hosts and servers: reached through the uplink by host routes.
    pub fn far_hosts(&self) -> Vec<IpAddr> {
        let mut hosts: Vec<IpAddr> = self.lan.iter().filter_map(|l| l.host).collect();
        hosts.extend(self.servers.iter().filter(|s| s.usable).map(|s| s.endpoint.addr));
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

/// The stand-in for the tunnel: the first configured name, or for a pattern the first name it
/// matches (tun0 for tun+), never the uplink's name nor lo.
fn stand_in_tunnel(patterns: &[Interface], uplink: &str) -> Result<Tunnel, String> {
    if patterns.is_empty() {
        return Err("[tunnel] interfaces is empty: nothing can go through a tunnel".into());
    }
    for pattern in patterns {
        let candidates: Vec<String> = match pattern.prefix() {
            (name, false) => vec![name.to_string()],
            (prefix, true) => (0..10).map(|i| format!("{prefix}{i}")).collect(),
        };
        if let Some(name) = candidates.into_iter().find(|c| c != uplink && c != "lo") {
            return Ok(Tunnel { name, pattern: pattern.to_string() });
        }
    }
    Err(format!("every tunnel interface of [tunnel] interfaces is the uplink {uplink} (or lo): nothing can go through a tunnel"))
}

/// An address in `network` the sandbox can give to the uplink side: its first host, else
/// one in the middle or at the end (for 0.0.0.0/0, whose first host is not routable).
fn host_in(network: &IpNet) -> Option<IpAddr> {
    // The network's first address and the offset of its last one.
    let (base, last): (u128, u128) = match network {
        IpNet::V4(n) => (u32::from(n.network()).into(), (1u128 << (32 - n.prefix_len())) - 1),
        IpNet::V6(n) => (u128::from(n.network()), u128::MAX.checked_shr(n.prefix_len().into()).unwrap_or(0)),
    };
    let offsets = [1, (last / 2).saturating_add(2), last.saturating_sub(1), 0];
    offsets
        .into_iter()
        .filter(|o| *o <= last)
        .map(|o| match network {
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from((base + o) as u32)),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(base + o)),
        })
        .find(|a| usable(*a))
}

/// A unicast address that can be put on the uplink side's loopback and routed to: not special,
/// and not on the sandbox's own links.
fn usable(addr: IpAddr) -> bool {
    let links = [UPLINK_NET4, UPLINK_NET6, TUNNEL_NET4, TUNNEL_NET6].map(net);
    if links.iter().any(|n| n.contains(&addr)) {
        return false;
    }
    match addr {
        IpAddr::V4(a) => {
            let special = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"].map(|n| n.parse::<Ipv4Net>().expect("valid"));
            !special.iter().any(|n| n.contains(&a))
        }
        IpAddr::V6(a) => {
            let special = ["::/96", "::ffff:0:0/96", "fe80::/10", "ff00::/8"].map(|n| n.parse::<Ipv6Net>().expect("valid"));
            !special.iter().any(|n| n.contains(&a))
        }
    }
}

/// The first interface with a default route (IPv4, then IPv6) that is neither loopback nor a
/// tunnel (a tun/tap or WireGuard device): the machine's real uplink. Only reads /proc and /sys.
fn this_machines_uplink() -> Option<String> {
    let v4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let v4 = v4.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| f[0].to_string())
    });
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    let v6 = v6.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00").then(|| f[9].to_string())
    });
    v4.collect::<Vec<_>>().into_iter().chain(v6).find(|name| {
        let sys = Path::new("/sys/class/net").join(name);
        let uevent = std::fs::read_to_string(sys.join("uevent")).unwrap_or_default();
        name != "lo"
            && interface(name).is_ok()
            && !sys.join("tun_flags").exists()
            && !uevent.lines().any(|l| l == "DEVTYPE=wireguard")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::tests::settings;

    fn plan(text: &str, uplink: &str) -> Plan {
        Plan::new(&settings(text), Some(&interface(uplink).unwrap()))
    }

    #[test]
    fn the_stand_in_tunnel_is_the_first_name_the_configuration_matches_and_never_the_uplink() {
        assert_eq!(plan("", "eth0").tunnel.unwrap().name, "tun0");
        assert_eq!(plan("[tunnel]\ninterfaces = wg0 tun+\n", "eth0").tunnel.unwrap().name, "wg0");
        assert_eq!(plan("[tunnel]\ninterfaces = eth+\n", "eth0").tunnel.unwrap().name, "eth1");
        assert_eq!(plan("[tunnel]\ninterfaces = eth0 wg+\n", "eth0").tunnel.unwrap(), Tunnel { name: "wg0".into(), pattern: "wg+".into() });
        assert!(plan("[tunnel]\ninterfaces = eth0\n", "eth0").tunnel.unwrap_err().contains("is the uplink eth0"));
        assert!(plan("[tunnel]\ninterfaces =\n", "eth0").tunnel.unwrap_err().contains("empty"));
    }

    #[test]
    fn the_internet_address_is_outside_lan_allow_and_the_servers_when_it_can_be() {
        let p = plan("", "eth0");
        assert_eq!((p.internet4.to_string(), p.internet6.to_string()), ("203.0.113.10".into(), "2001:db8:ff::10".into()));
        let p = plan("[lan]\nallow = 203.0.113.0/24, 2001:db8:ff::/48\n[tunnel]\nuser = 1\nservers = 198.51.100.10:1194/udp\n", "eth0");
        assert_eq!((p.internet4.to_string(), p.internet6.to_string()), ("192.0.2.10".into(), "2001:db8:fe::10".into()));
        // Nothing is outside 0.0.0.0/0: the first is taken, and probes to it will show the leak.
        assert_eq!(plan("[lan]\nallow = 0.0.0.0/0\n", "eth0").internet4.to_string(), "203.0.113.10");
    }

    #[test]
    fn lan_hosts_are_routable_addresses_off_the_sandbox_links() {
        let hosts = |text: &str| plan(text, "eth0").lan.into_iter().map(|l| l.host.map(|h| h.to_string())).collect::<Vec<_>>();
        assert_eq!(hosts("[lan]\nallow = 192.168.1.0/24 10.1.2.3 fd00::/64\n"), [Some("10.1.2.3".into()), Some("192.168.1.1".into()), Some("fd00::1".into())]);
        assert_eq!(hosts("[lan]\nallow = 0.0.0.0/0 ::/0\n"), [Some("128.0.0.1".into()), Some("8000::1".into())]);
        assert_eq!(hosts("[lan]\nallow = 192.0.2.0/30 224.0.0.0/4\n"), [None, None]);
    }

    #[test]
    fn only_the_internet_address_has_a_way_through_the_tunnel_and_only_while_the_vpn_is_up() {
        let p = plan("[lan]\nallow = 192.168.1.0/24\n", "eth0");
        let internet = IpAddr::V4(p.internet4);
        assert_eq!(p.side(Situation::VpnUp, internet), Side::Tunnel);
        for s in [Situation::PushedRoute, Situation::VpnDown, Situation::TunnelDeleted] {
            assert_eq!(p.side(s, internet), Side::Uplink);
        }
        assert_eq!(p.side(Situation::VpnUp, "192.168.1.1".parse().unwrap()), Side::Uplink);
    }
}
