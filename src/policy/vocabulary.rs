//! The policy's vocabulary: the hooks, the kinds of match a rule is made of, its verdict. Every
//! backend renders each of them; none of them decides anything by itself.

use super::LinkType;
use crate::values::Interface;
use crate::values::Proto;
use ipnet::Ipv4Net;
use ipnet::Ipv6Net;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Input,
    Output,
    Forward,
    Postrouting,
}

impl Hook {
    pub const ALL: [Hook; 4] = [Hook::Input, Hook::Output, Hook::Forward, Hook::Postrouting];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Input => "input",
            Hook::Output => "output",
            Hook::Forward => "forward",
            Hook::Postrouting => "postrouting",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetId {
    Lan4,
    Lan6,
    Servers4,
    Servers6,
}

impl SetId {
    pub fn name(self) -> &'static str {
        match self {
            SetId::Lan4 => "lan_v4",
            SetId::Lan6 => "lan_v6",
            SetId::Servers4 => "servers_v4",
            SetId::Servers6 => "servers_v6",
        }
    }

    pub fn family(self) -> Family {
        match self {
            SetId::Lan4 | SetId::Servers4 => Family::V4,
            SetId::Lan6 | SetId::Servers6 => Family::V6,
        }
    }

    /// Whether the list holds server endpoints (address, protocol, port), not networks.
    pub fn holds_endpoints(self) -> bool {
        matches!(self, SetId::Servers4 | SetId::Servers6)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFlag {
    Fin,
    Syn,
    Rst,
    Psh,
    Ack,
    Urg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6 {
    RouterSolicit,
    RouterAdvert,
    NeighborSolicit,
    NeighborAdvert,
    MldQuery,
    MldReport,
    Mld2Report,
    DestinationUnreachable,
    PacketTooBig,
    TimeExceeded,
    ParameterProblem,
}

/// ICMP (IPv4) message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmp {
    DestinationUnreachable,
    TimeExceeded,
    ParameterProblem,
}

/// One condition of a rule; all of a rule's matches must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    InIface(Interface),
    NotInIface(Interface),
    OutIface(Interface),
    /// The receiving interface has one of these link types.
    InLinkType(Vec<LinkType>),
    /// The sending interface has one of these link types.
    OutLinkType(Vec<LinkType>),
    Family(Family),
    Uid(u32),
    Gid(u32),
    Mark(u32),
    DaddrIn(SetId),
    SaddrIn(SetId),
    /// Destination address, protocol and port together in an endpoint set.
    EndpointIn(SetId),
    /// Any of `protos` to any of `ports` (inclusive ranges).
    DstPorts {
        protos: Vec<Proto>,
        ports: Vec<(u16, u16)>,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    CtState(Vec<CtState>),
    Icmpv6(Vec<Icmpv6>),
    Icmp(Vec<Icmp>),
    /// Hop limit 255: neighbour discovery that has not crossed a router (RFC 4861).
    HopLimit255,
    /// An IPv4 destination within one of these networks.
    IpDaddr(Vec<Ipv4Net>),
    /// An IPv6 destination within one of these networks.
    Ip6Daddr(Vec<Ipv6Net>),
    /// `flags & mask == equals`, or `!=` when `negate`.
    TcpFlags {
        mask: Vec<TcpFlag>,
        equals: Vec<TcpFlag>,
        negate: bool,
    },
    /// An IPv4 source within one of these networks.
    IpSaddr(Vec<Ipv4Net>),
    /// An IPv6 source within one of these networks.
    Ip6Saddr(Vec<Ipv6Net>),
    /// Any of `protos` from any of `ports` (inclusive ranges).
    SrcPorts {
        protos: Vec<Proto>,
        ports: Vec<(u16, u16)>,
    },
    /// The source address is one of this machine's own: a packet it sent, not one it forwards.
    SaddrLocal,
    /// The source address is none of this machine's own: a packet it forwards.
    SaddrNotLocal,
    /// A non-first fragment.
    Fragment(Family),
    /// A DHCP client message: a BOOTP request (op 1) with the DHCP magic cookie 0x63825363 at
    /// offset 236 of the UDP payload, at most `DHCP_MAX_LENGTH` long.
    DhcpRequest,
    /// A DHCPv6 message of a type only clients send (`DHCPV6_CLIENT_TYPES`), at most
    /// `DHCPV6_MAX_PAYLOAD` long.
    Dhcpv6ClientMessage,
    /// An MLDv2 report of exactly `records` group records, each naming a solicited-node group
    /// (ff02::1:ff00:0/104) with no sources and no auxiliary data, and nothing after them: the
    /// kernel's own reports of the groups neighbour discovery needs, and no group a process
    /// chose. Its length is the kernel's layout: an 8-byte hop-by-hop header (router alert).
    SolicitedNodeReport {
        records: u8,
    },
    /// Addressed to an address that is not one of the receiving interface's own (nor a
    /// broadcast or multicast address): the CVE-2019-14899 probe, sent from the LAN to the
    /// tunnel's address.
    DaddrNotOnInIface,
    /// A connection whose destination was translated (a port another tool publishes by DNAT),
    /// first addressed to one of `ports` of `proto` (inclusive ranges).
    DnatFromPorts {
        proto: Proto,
        ports: Vec<(u16, u16)>,
    },
    /// A packet in the reply direction of a connection whose destination was translated.
    DnatReply,
    /// IGMP: IPv4 multicast group membership.
    Igmp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Not blocked here, and left for the other rules of the hook to decide: another tool's
    /// (its isolation of its networks, say) must accept it too. nftables asks every table
    /// anyway; in iptables, where ACCEPT would end the built-in chain, it returns to the rest.
    Pass,
    Drop,
    /// Count, log and reject or drop, as the blocking settings say.
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matches: Vec<Match>,
    pub verdict: Verdict,
    pub comment: &'static str,
}
