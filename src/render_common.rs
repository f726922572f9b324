//! What the nft and iptables renderers share: the label that says what a loaded ruleset is, the
//! description in the first line of the rendered text, and the names of conntrack states, TCP
//! flags and ICMP types (one table each, with each backend's spelling where they differ).

use crate::policy::{CtState, Icmp, Icmpv6, Kind, TcpFlag};
use sha2::{Digest, Sha256};

/// `vpn-firewall ruleset DIGEST` or `vpn-firewall lockdown DIGEST`, DIGEST taken from the
/// rendered rules: `status` compares it with what the configuration renders today.
pub fn label(kind: Kind, rules: &str) -> String {
    kind.label(&digest(rules, 8))
}

/// What a ruleset of `kind` is, for the comment that opens the rendered text.
pub fn description(kind: Kind) -> &'static str {
    match kind {
        Kind::Configured => "the ruleset of the configuration",
        Kind::Lockdown => "the lockdown ruleset (only loopback passes)",
    }
}

/// The first `bytes` bytes of the SHA-256 digest of `text`, in hex.
pub fn digest(text: &str, bytes: usize) -> String {
    Sha256::digest(text.as_bytes())[..bytes].iter().map(|b| format!("{b:02x}")).collect()
}

/// conntrack's name of a state, as nft writes it; iptables writes it in upper case.
pub fn ct_state(state: CtState) -> &'static str {
    match state {
        CtState::New => "new",
        CtState::Established => "established",
        CtState::Related => "related",
        CtState::Invalid => "invalid",
    }
}

/// A TCP flag's name, as nft writes it; iptables writes it in upper case.
pub fn tcp_flag(flag: TcpFlag) -> &'static str {
    match flag {
        TcpFlag::Fin => "fin",
        TcpFlag::Syn => "syn",
        TcpFlag::Rst => "rst",
        TcpFlag::Psh => "psh",
        TcpFlag::Ack => "ack",
        TcpFlag::Urg => "urg",
    }
}

/// An ICMP type's name, which nft and iptables spell alike.
pub fn icmp(t: Icmp) -> &'static str {
    match t {
        Icmp::DestinationUnreachable => "destination-unreachable",
        Icmp::TimeExceeded => "time-exceeded",
        Icmp::ParameterProblem => "parameter-problem",
    }
}

/// An ICMPv6 type's names, which differ between nft and ip6tables.
pub struct Icmpv6Names {
    pub nft: &'static str,
    /// The type's number where ip6tables has no name for it.
    pub ip6tables: &'static str,
}

/// The names of an ICMPv6 type in each backend.
pub fn icmpv6(t: Icmpv6) -> Icmpv6Names {
    let (nft, ip6tables) = match t {
        Icmpv6::RouterSolicit => ("nd-router-solicit", "router-solicitation"),
        Icmpv6::RouterAdvert => ("nd-router-advert", "router-advertisement"),
        Icmpv6::NeighborSolicit => ("nd-neighbor-solicit", "neighbour-solicitation"),
        Icmpv6::NeighborAdvert => ("nd-neighbor-advert", "neighbour-advertisement"),
        Icmpv6::MldQuery => ("mld-listener-query", "130"),
        Icmpv6::MldReport => ("mld-listener-report", "131"),
        Icmpv6::Mld2Report => ("mld2-listener-report", "143"),
        Icmpv6::DestinationUnreachable => ("destination-unreachable", "destination-unreachable"),
        Icmpv6::PacketTooBig => ("packet-too-big", "packet-too-big"),
        Icmpv6::TimeExceeded => ("time-exceeded", "time-exceeded"),
        Icmpv6::ParameterProblem => ("parameter-problem", "parameter-problem"),
    };
    Icmpv6Names { nft, ip6tables }
}

/// An ICMP type's number (nft's netlink encoding of the type).
pub fn icmp_number(t: Icmp) -> u8 {
    match t {
        Icmp::DestinationUnreachable => 3,
        Icmp::TimeExceeded => 11,
        Icmp::ParameterProblem => 12,
    }
}

/// An ICMPv6 type's number.
pub fn icmpv6_number(t: Icmpv6) -> u8 {
    match t {
        Icmpv6::DestinationUnreachable => 1,
        Icmpv6::PacketTooBig => 2,
        Icmpv6::TimeExceeded => 3,
        Icmpv6::ParameterProblem => 4,
        Icmpv6::MldQuery => 130,
        Icmpv6::MldReport => 131,
        Icmpv6::RouterSolicit => 133,
        Icmpv6::RouterAdvert => 134,
        Icmpv6::NeighborSolicit => 135,
        Icmpv6::NeighborAdvert => 136,
        Icmpv6::Mld2Report => 143,
    }
}
