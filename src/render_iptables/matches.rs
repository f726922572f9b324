//! Each kind of `Match` in iptables' options: the one place that knows how a match is written,
//! and where a new kind of match gets its arm in `alternatives`.
//!
//! iptables takes one value per option where nft takes a set, so a match on a list gives one
//! alternative per value (or per multiport list of at most 15 ports); `rules` makes one rule of
//! each way the matches of a rule hold together.

use super::ipset::Ipset;
use super::link;
use crate::policy::{DHCP_MAX_LENGTH, DHCPV6_CLIENT_TYPES, DHCPV6_MAX_PAYLOAD, Entry, Family, Hook, Match, Policy, SetId, TcpFlag};
use crate::render_common::{ct_state, icmp, icmpv6, tcp_flag};
use crate::values::Interface;

/// multiport takes at most 15 ports, a range counting as two.
const MULTIPORT_SLOTS: usize = 15;

/// One way a match holds: its text, the protocol it needs (`-p`), if any, and the basic option
/// it uses (`-i`, `-o`, `-s`, `-d`, `-f`), which a rule may hold only once.
#[derive(Debug, Clone)]
pub(super) struct Alt {
    pub proto: Option<&'static str>,
    pub option: Option<&'static str>,
    pub text: String,
}

fn any(text: impl Into<String>) -> Alt {
    Alt { proto: None, option: None, text: text.into() }
}

fn basic(option: &'static str, text: impl Into<String>) -> Alt {
    Alt { proto: None, option: Some(option), text: text.into() }
}

fn with_proto(proto: &'static str, alt: Alt) -> Alt {
    Alt { proto: Some(proto), ..alt }
}

/// The ways a match holds in `family`, one of which must; `None` when it never does there.
pub(super) fn alternatives(policy: &Policy, m: &Match, family: Family, ipsets: &[Ipset], hook: Option<Hook>) -> Option<Vec<Alt>> {
    let only = |f: Family, alts: Vec<Alt>| (f == family).then_some(alts);
    Some(match m {
        Match::InIface(i) => vec![basic("-i", format!("-i {}", iface(i)))],
        Match::InLinkType(types) => vec![any(link::link_type(types, hook, false).unwrap_or_default())],
        Match::OutLinkType(types) => vec![any(link::link_type(types, hook, true).unwrap_or_default())],
        Match::DhcpRequest => return only(Family::V4, vec![any(link::dhcp_request(DHCP_MAX_LENGTH))]),
        Match::Dhcpv6ClientMessage => {
            return only(Family::V6, vec![any(link::dhcpv6_client_message(&DHCPV6_CLIENT_TYPES, DHCPV6_MAX_PAYLOAD))]);
        }
        Match::SolicitedNodeReport { records } => return only(Family::V6, vec![any(link::solicited_node_report(*records))]),
        Match::NotInIface(i) => vec![basic("-i", format!("! -i {}", iface(i)))],
        Match::OutIface(i) => vec![basic("-o", format!("-o {}", iface(i)))],
        Match::Family(f) => return only(*f, vec![any("")]),
        Match::Uid(uid) => vec![any(format!("-m owner --uid-owner {uid}"))],
        Match::Gid(gid) => vec![any(format!("-m owner --gid-owner {gid}"))],
        Match::Mark(mark) => vec![any(format!("-m mark --mark {mark:#x}"))],
        Match::DaddrIn(id) => return only(id.family(), addresses(policy, *id, ipsets, "-d", "dst")),
        Match::SaddrIn(id) => return only(id.family(), addresses(policy, *id, ipsets, "-s", "src")),
        Match::EndpointIn(id) => return only(id.family(), endpoints(policy, *id, ipsets)),
        Match::DstPorts { protos, ports } => {
            protos.iter().flat_map(|p| multiport(ports).into_iter().map(|list| with_proto(p.name(), any(format!("-m multiport --dports {list}"))))).collect()
        }
        Match::Udp { sport, dport } => vec![with_proto("udp", any(format!("-m udp --sport {sport} --dport {dport}")))],
        Match::CtState(states) => {
            let names: Vec<String> = states.iter().map(|s| ct_state(*s).to_ascii_uppercase()).collect();
            vec![any(format!("-m conntrack --ctstate {}", names.join(",")))]
        }
        Match::Icmpv6(types) => {
            let alts = types.iter().map(|t| with_proto("ipv6-icmp", any(format!("-m icmp6 --icmpv6-type {}", icmpv6(*t).ip6tables)))).collect();
            return only(Family::V6, alts);
        }
        Match::HopLimit255 => return only(Family::V6, vec![any("-m hl --hl-eq 255")]),
        Match::IpDaddr(nets) => return only(Family::V4, nets.iter().map(|n| basic("-d", format!("-d {n}"))).collect()),
        Match::IpSaddr(nets) => return only(Family::V4, nets.iter().map(|n| basic("-s", format!("-s {n}"))).collect()),
        Match::Ip6Saddr(nets) => return only(Family::V6, nets.iter().map(|n| basic("-s", format!("-s {n}"))).collect()),
        Match::SrcPorts { protos, ports } => {
            protos.iter().flat_map(|p| multiport(ports).into_iter().map(|list| with_proto(p.name(), any(format!("-m multiport --sports {list}"))))).collect()
        }
        Match::SaddrLocal => vec![any("-m addrtype --src-type LOCAL")],
        Match::SaddrNotLocal => vec![any("-m addrtype ! --src-type LOCAL")],
        Match::Icmp(types) => {
            let alts = types.iter().map(|t| with_proto("icmp", any(format!("-m icmp --icmp-type {}", icmp(*t))))).collect();
            return only(Family::V4, alts);
        }
        Match::Ip6Daddr(nets) => return only(Family::V6, nets.iter().map(|n| basic("-d", format!("-d {n}"))).collect()),
        Match::TcpFlags { mask, equals, negate } => {
            let not = if *negate { "! " } else { "" };
            vec![with_proto("tcp", any(format!("-m tcp {not}--tcp-flags {} {}", flags(mask), flags(equals))))]
        }
        Match::Fragment(Family::V4) => return only(Family::V4, vec![basic("-f", "-f")]),
        Match::Fragment(Family::V6) => return only(Family::V6, vec![any("-m frag")]),
        // addrtype with a list of types matches any of them for IPv4, but for IPv6 demands all
        // of the address-class types (MULTICAST) at once, and knows no BROADCAST: there each
        // type is its own match. --limit-iface-in asks the receiving interface, as nft's
        // `fib daddr . iif` does.
        Match::DaddrNotOnInIface => vec![any(match family {
            Family::V4 => "-m addrtype ! --dst-type LOCAL,BROADCAST,MULTICAST --limit-iface-in",
            Family::V6 => "-m addrtype ! --dst-type LOCAL --limit-iface-in -m addrtype ! --dst-type MULTICAST",
        })],
        // conntrack's DNAT state is nft's `ct status dnat`; one range per option.
        Match::DnatFromPorts { proto, ports } => ports
            .iter()
            .map(|(low, high)| {
                let range = if low == high { low.to_string() } else { format!("{low}:{high}") };
                with_proto(proto.name(), any(format!("-m conntrack --ctstate DNAT --ctorigdstport {range}")))
            })
            .collect(),
        Match::DnatReply => vec![any("-m conntrack --ctstate DNAT --ctdir REPLY")],
        Match::Igmp => return only(Family::V4, vec![with_proto("igmp", any(""))]),
    })
}

fn iface(i: &Interface) -> String {
    match i.prefix() {
        (prefix, true) => format!("{prefix}+"),
        (name, false) => name.to_string(),
    }
}

/// A list's addresses: its ipset (of networks), or one alternative per address.
fn addresses(policy: &Policy, id: SetId, ipsets: &[Ipset], option: &'static str, direction: &str) -> Vec<Alt> {
    if let Some(set) = ipsets.iter().find(|s| s.id == id && !id.holds_endpoints()) {
        return vec![any(format!("-m set --match-set {} {direction}", set.name))];
    }
    let address = |entry: Entry| match entry {
        Entry::Network(net) => net.to_string(),
        Entry::Endpoint(addr, _, _) => addr.to_string(),
    };
    policy.sets.entries(id).into_iter().map(|e| basic(option, format!("{option} {}", address(e)))).collect()
}

/// A list of server endpoints: its ipset, or one alternative per endpoint.
fn endpoints(policy: &Policy, id: SetId, ipsets: &[Ipset]) -> Vec<Alt> {
    if let Some(set) = ipsets.iter().find(|s| s.id == id && id.holds_endpoints()) {
        return vec![any(format!("-m set --match-set {} dst,dst", set.name))];
    }
    let endpoint = |entry: Entry| match entry {
        Entry::Endpoint(addr, proto, port) => with_proto(proto.name(), basic("-d", format!("-d {addr} -m {} --dport {port}", proto.name()))),
        // A network list as endpoints: any protocol and port.
        Entry::Network(net) => basic("-d", format!("-d {net}")),
    };
    policy.sets.entries(id).into_iter().map(endpoint).collect()
}

/// Port ranges as multiport lists of at most 15 ports each.
fn multiport(ports: &[(u16, u16)]) -> Vec<String> {
    let mut lists: Vec<(usize, Vec<String>)> = Vec::new();
    for &(low, high) in ports {
        let (slots, item) = if low == high { (1, low.to_string()) } else { (2, format!("{low}:{high}")) };
        match lists.last_mut() {
            Some((used, items)) if *used + slots <= MULTIPORT_SLOTS => {
                *used += slots;
                items.push(item);
            }
            _ => lists.push((slots, vec![item])),
        }
    }
    lists.into_iter().map(|(_, items)| items.join(",")).collect()
}

fn flags(f: &[TcpFlag]) -> String {
    if f.is_empty() {
        return "NONE".into();
    }
    f.iter().map(|f| tcp_flag(*f).to_ascii_uppercase()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiport_takes_15_ports_a_range_counting_two() {
        let ports: Vec<(u16, u16)> = (1..=16).map(|p| (p, p)).collect();
        assert_eq!(multiport(&ports).iter().map(|l| l.split(',').count()).collect::<Vec<_>>(), [15, 1]);
        let ranges: Vec<(u16, u16)> = (0..8).map(|i| (i * 10 + 1, i * 10 + 5)).collect();
        assert_eq!(multiport(&ranges), ["1:5,11:15,21:25,31:35,41:45,51:55,61:65", "71:75"]);
    }
}
