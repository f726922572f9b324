//! The link below the rules: which interfaces are the tunnel (by name and link type), and what
//! of neighbour discovery and DHCP may leave outside it, in shapes that carry no data a process
//! chose.

use super::{Icmpv6, Match, Rule, Verdict, net, rule};
use crate::settings::Settings;
use crate::values::Interface;
use ipnet::IpNet;

/// The link-layer type of an interface: its `ARPHRD_*` number (linux/if_arp.h), which
/// `ip -d link` shows as `link/none`, `link/ppp`, `link/ether` and /sys/class/net/X/type holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// No link-layer header: tun devices, WireGuard (kernel and wireguard-go), 65534.
    None,
    /// PPP, 512.
    Ppp,
    /// Ethernet, 1: also tap, veth, macvlan, bridges.
    Ether,
}

impl LinkType {
    pub fn arphrd(self) -> u16 {
        match self {
            LinkType::None => 65534,
            LinkType::Ppp => 512,
            LinkType::Ether => 1,
        }
    }

    /// The name `ip -d link` shows after `link/`.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::None => "none",
            LinkType::Ppp => "ppp",
            LinkType::Ether => "ether",
        }
    }
}

/// The message types only DHCPv6 clients send (RFC 8415 section 7.3): Solicit, Request,
/// Confirm, Renew, Rebind, Release, Decline, Information-request.
pub const DHCPV6_CLIENT_TYPES: [u8; 8] = [1, 3, 4, 5, 6, 8, 9, 11];

/// The longest DHCP client message let out, IPv4 total length: 576, what RFC 2131 promises a
/// server receives. Without a bound the shape check carried 64 kB of a process's data a
/// datagram, fragmented (the bytes after the cookie are the sender's to choose).
pub const DHCP_MAX_LENGTH: u16 = 576;

/// The longest DHCPv6 client message let out, IPv6 payload length: what fits in IPv6's minimum
/// MTU (1280) after the IPv6 header, so never fragmented, as real clients' messages are.
pub const DHCPV6_MAX_PAYLOAD: u16 = 1240;

/// The link types a tunnel interface may have: point-to-point devices without a link-layer
/// header (tun, WireGuard) and PPP; Ethernet too only with `[tunnel] tap` (OpenVPN `dev tap`).
/// An interface merely named like the tunnel (a macvlan or veth called `tun9`) is not it.
pub fn tunnel_link_types(s: &Settings) -> Vec<LinkType> {
    let mut types = vec![LinkType::None, LinkType::Ppp];
    if s.tunnel.tap {
        types.push(LinkType::Ether);
    }
    types
}

/// Leaving through the tunnel interface `iface`: its name and its link type.
pub(super) fn through_tunnel(s: &Settings, iface: &Interface) -> Vec<Match> {
    vec![Match::OutIface(iface.clone()), Match::OutLinkType(tunnel_link_types(s))]
}

/// Arriving through the tunnel interface `iface`: its name and its link type.
pub(super) fn from_tunnel(s: &Settings, iface: &Interface) -> Vec<Match> {
    vec![Match::InIface(iface.clone()), Match::InLinkType(tunnel_link_types(s))]
}

/// Whether any IPv6 may leave other than through the tunnel: to IPv6 servers or `[lan] allow`
/// networks, or to the inside of a gateway that forwards IPv6. Only then does neighbour
/// discovery on the link need multicast listener reports.
pub(super) fn ipv6_outside_the_tunnel(s: &Settings) -> bool {
    let servers = s.tunnel.servers.iter().any(|e| e.addr.is_ipv6());
    let lan = s.lan.allow.iter().any(|n| matches!(n, IpNet::V6(_)));
    servers || lan || (s.forward.enable && s.tunnel.ipv6)
}

/// The most solicited-node groups one MLDv2 report may name. The kernel lists every group it
/// holds in each report: the link-local address's group and those of the global and temporary
/// (privacy) addresses with other interface identifiers.
pub const MAX_REPORTED_GROUPS: u8 = 8;

/// Multicast listener reports for solicited-node groups only (ff02::1:ff00:0/104, which
/// neighbour solicitations are sent to): joining a group needs no privilege, so a report naming
/// any group would carry 16 bytes a process chose onto the link. An MLDv1 report goes to the
/// group it names; an MLDv2 report goes to ff02::16 and may name several groups, so each
/// count of records up to `MAX_REPORTED_GROUPS` has its rule, which checks every record. A
/// report naming any other group is dropped whole: while a process holds another group (avahi
/// holds ff02::fb), the machine's reports stay here, and a switch that snoops MLD learns of
/// them only by flooding.
pub(super) fn solicited_node_reports() -> Vec<Rule> {
    let mut rules = vec![rule(
        vec![Match::Icmpv6(vec![Icmpv6::MldReport]), Match::Ip6Daddr(vec![net("ff02::1:ff00:0/104")])],
        Verdict::Accept,
        "IPv6 multicast listener reports, solicited-node groups only",
    )];
    for records in 1..=MAX_REPORTED_GROUPS {
        let m = vec![Match::Icmpv6(vec![Icmpv6::Mld2Report]), Match::Ip6Daddr(vec![net("ff02::16/128")]), Match::SolicitedNodeReport { records }];
        rules.push(rule(m, Verdict::Accept, "IPv6 multicast listener reports, solicited-node groups only"));
    }
    rules
}
