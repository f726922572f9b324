//! The expressions of each kind of match, with the dependencies nft inserts before them in the
//! inet family: `meta nfproto` before a field of the IPv4 or IPv6 header, `meta l4proto` before
//! a field of TCP, UDP, ICMP or ICMPv6, each only while the rule has not established it already
//! (by an explicit match or an earlier dependency). Without them the kernel would read those
//! bytes of any packet, and nft would list them as raw payload.

use super::expr::*;
use super::sets::*;
use crate::policy::{CtState, DHCP_MAX_LENGTH, DHCPV6_CLIENT_TYPES, DHCPV6_MAX_PAYLOAD, Family, Match, SetId, TcpFlag};
use crate::render_common::{icmp_number, icmpv6_number};
use crate::values::{Interface, Proto};
use ipnet::IpNet;

const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IGMP: u8 = 2;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
/// IFNAMSIZ: an exact interface name is compared with its padding.
const IFNAMSIZ: usize = 16;
/// IPS_DST_NAT, of `ct status`.
const CT_STATUS_DNAT: u32 = 0x20;
/// NEXTHDR_FRAGMENT.
const IPV6_FRAGMENT_HEADER: u8 = 44;
/// RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST: `fib ... type` values.
const RTN_LOCAL: u32 = 2;
const RTN_BROADCAST: u32 = 3;
const RTN_MULTICAST: u32 = 5;
/// At most this much payload is merged into one load (NFT_REG_SIZE).
const MERGE_LIMIT: usize = 16;

/// One statement of a rule, as nft's evaluation leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    Exprs(Vec<Expr>),
    /// `PAYLOAD == VALUE`: merged with the statements of the same kind next to it that read
    /// the bytes right after it, as nft does.
    PayloadEq {
        base: u32,
        offset: u32,
        value: Vec<u8>,
    },
    /// The `source` expressions, then a lookup of their value in a new anonymous set.
    Lookup {
        source: Vec<Expr>,
        set: SetSpec,
        invert: bool,
    },
}

/// What the rule has established so far about the packet's protocols.
#[derive(Debug, Default)]
pub struct Context {
    network: Option<u8>,
    transport: Option<u8>,
}

/// The ids of the named sets of the table, which rules look up by name and id.
pub type NamedSetId<'a> = dyn Fn(SetId) -> u32 + 'a;

impl Context {
    fn network(&mut self, out: &mut Vec<Stmt>, family: Family) {
        if self.network.is_none() {
            self.explicit_network(out, family);
        }
    }

    fn explicit_network(&mut self, out: &mut Vec<Stmt>, family: Family) {
        let proto = nfproto(family);
        out.push(Stmt::Exprs(vec![meta(META_NFPROTO), cmp(CmpOp::Eq, vec![proto])]));
        self.network = Some(proto);
    }

    fn transport(&mut self, out: &mut Vec<Stmt>, proto: u8) {
        if self.transport.is_none() {
            self.explicit_transport(out, proto);
        }
    }

    fn explicit_transport(&mut self, out: &mut Vec<Stmt>, proto: u8) {
        out.push(Stmt::Exprs(vec![meta(META_L4PROTO), cmp(CmpOp::Eq, vec![proto])]));
        self.transport = Some(proto);
    }

    /// Appends the statements of `m`.
    pub fn add(&mut self, out: &mut Vec<Stmt>, m: &Match, set_id: &NamedSetId) {
        let exprs = |out: &mut Vec<Stmt>, e: Vec<Expr>| out.push(Stmt::Exprs(e));
        match m {
            Match::InIface(i) => exprs(out, vec![meta(META_IIFNAME), cmp(CmpOp::Eq, ifname(i))]),
            Match::NotInIface(i) => exprs(out, vec![meta(META_IIFNAME), cmp(CmpOp::Neq, ifname(i))]),
            Match::OutIface(i) => exprs(out, vec![meta(META_OIFNAME), cmp(CmpOp::Eq, ifname(i))]),
            Match::InLinkType(types) => link_types(out, META_IIFTYPE, types),
            Match::OutLinkType(types) => link_types(out, META_OIFTYPE, types),
            Match::Family(f) => self.explicit_network(out, *f),
            Match::Uid(uid) => exprs(out, vec![meta(META_SKUID), cmp(CmpOp::Eq, uid.to_ne_bytes().to_vec())]),
            Match::Gid(gid) => exprs(out, vec![meta(META_SKGID), cmp(CmpOp::Eq, gid.to_ne_bytes().to_vec())]),
            Match::Mark(mark) => exprs(out, vec![meta(META_MARK), cmp(CmpOp::Eq, mark.to_ne_bytes().to_vec())]),
            Match::DaddrIn(id) | Match::SaddrIn(id) => {
                self.network(out, id.family());
                let (offset, len) = address_field(id.family(), matches!(m, Match::DaddrIn(_)));
                exprs(out, vec![payload(PAYLOAD_NETWORK, offset, len), named_lookup(*id, set_id)]);
            }
            Match::EndpointIn(id) => {
                self.network(out, id.family());
                let (offset, len) = address_field(id.family(), true);
                // Each part in its own 32-bit register after the address (nft's numbering:
                // 9 and up are the 32-bit registers, 1 to 4 the 128-bit ones).
                let (proto_reg, port_reg) = if id.family() == Family::V4 { (9, 10) } else { (2, 13) };
                exprs(
                    out,
                    vec![
                        Expr::Payload { base: PAYLOAD_NETWORK, offset, len, dreg: REG_1 },
                        Expr::Meta { key: META_L4PROTO, dreg: proto_reg },
                        Expr::Payload { base: PAYLOAD_TRANSPORT, offset: 2, len: 2, dreg: port_reg },
                        named_lookup(*id, set_id),
                    ],
                );
            }
            Match::DstPorts { protos, ports } => {
                self.protos(out, protos);
                ports_match(out, payload(PAYLOAD_TRANSPORT, 2, 2), KeyOf::Field { desc: DESC_TH, field: TH_DPORT }, ports, Some(2));
            }
            Match::SrcPorts { protos, ports } => {
                self.protos(out, protos);
                ports_match(out, payload(PAYLOAD_TRANSPORT, 0, 2), KeyOf::Field { desc: DESC_TH, field: TH_SPORT }, ports, Some(0));
            }
            Match::Udp { sport, dport } => {
                self.transport(out, IPPROTO_UDP);
                out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: 0, value: sport.to_be_bytes().to_vec() });
                out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: 2, value: dport.to_be_bytes().to_vec() });
            }
            Match::CtState(states) => {
                let mask = states.iter().map(|s| ct_state_bit(*s)).fold(0, |a, b| a | b);
                exprs(out, flag_test(Expr::Ct { key: CT_STATE, original: false }, mask));
            }
            Match::Icmpv6(types) => {
                self.network(out, Family::V6);
                self.transport(out, IPPROTO_ICMPV6);
                let types: Vec<u8> = types.iter().map(|t| icmpv6_number(*t)).collect();
                type_match(out, TYPE_ICMP6_TYPE, DESC_ICMP6, types);
            }
            Match::Icmp(types) => {
                self.network(out, Family::V4);
                self.transport(out, IPPROTO_ICMP);
                type_match(out, TYPE_ICMP_TYPE, DESC_ICMP, types.iter().map(|t| icmp_number(*t)).collect());
            }
            Match::HopLimit255 => {
                self.network(out, Family::V6);
                out.push(Stmt::PayloadEq { base: PAYLOAD_NETWORK, offset: 7, value: vec![255] });
            }
            Match::IpDaddr(nets) => self.addresses(out, Family::V4, true, nets.iter().map(|n| IpNet::V4(*n)).collect()),
            Match::IpSaddr(nets) => self.addresses(out, Family::V4, false, nets.iter().map(|n| IpNet::V4(*n)).collect()),
            Match::Ip6Daddr(nets) => self.addresses(out, Family::V6, true, nets.iter().map(|n| IpNet::V6(*n)).collect()),
            Match::Ip6Saddr(nets) => self.addresses(out, Family::V6, false, nets.iter().map(|n| IpNet::V6(*n)).collect()),
            Match::SaddrLocal => exprs(out, vec![Expr::Fib { flags: FIB_SADDR }, cmp(CmpOp::Eq, RTN_LOCAL.to_ne_bytes().to_vec())]),
            Match::SaddrNotLocal => exprs(out, vec![Expr::Fib { flags: FIB_SADDR }, cmp(CmpOp::Neq, RTN_LOCAL.to_ne_bytes().to_vec())]),
            Match::TcpFlags { mask, equals, negate } => {
                self.transport(out, IPPROTO_TCP);
                let op = if *negate { CmpOp::Neq } else { CmpOp::Eq };
                let load = payload(PAYLOAD_TRANSPORT, 13, 1);
                exprs(out, vec![load, Expr::Bitwise { mask: vec![tcp_flags(mask)], explicit: true }, cmp(op, vec![tcp_flags(equals)])]);
            }
            Match::Fragment(Family::V4) => {
                self.network(out, Family::V4);
                let mask = Expr::Bitwise { mask: vec![0x1f, 0xff], explicit: true };
                exprs(out, vec![payload(PAYLOAD_NETWORK, 6, 2), mask, cmp(CmpOp::Neq, vec![0, 0])]);
            }
            Match::Fragment(Family::V6) => {
                self.network(out, Family::V6);
                exprs(out, vec![Expr::Ipv6ExthdrExists { kind: IPV6_FRAGMENT_HEADER }, cmp(CmpOp::Eq, vec![1])]);
            }
            Match::DaddrNotOnInIface => {
                let flags = FIB_DADDR | FIB_IIF;
                let types = [RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST].map(|t| t.to_ne_bytes().to_vec()).to_vec();
                let set = anonymous(TYPE_FIB_ADDR, 4, ByteOrder::Host, KeyOf::Fib(flags), types);
                out.push(Stmt::Lookup { source: vec![Expr::Fib { flags }], set, invert: true });
            }
            Match::DnatFromPorts { proto, ports } => {
                self.protos(out, &[*proto]);
                exprs(out, flag_test(Expr::Ct { key: CT_STATUS, original: false }, CT_STATUS_DNAT));
                let source = Expr::Ct { key: CT_PROTO_DST, original: true };
                ports_match(out, source, KeyOf::CtOriginal(CT_PROTO_DST), ports, None);
            }
            Match::DnatReply => {
                exprs(out, vec![Expr::Ct { key: CT_DIRECTION, original: false }, cmp(CmpOp::Eq, vec![1])]);
                exprs(out, flag_test(Expr::Ct { key: CT_STATUS, original: false }, CT_STATUS_DNAT));
            }
            Match::Igmp => self.explicit_transport(out, IPPROTO_IGMP),
            Match::DhcpRequest => {
                self.network(out, Family::V4);
                exprs(out, vec![payload(PAYLOAD_NETWORK, 2, 2), cmp(CmpOp::Lte, DHCP_MAX_LENGTH.to_be_bytes().to_vec())]);
                out.push(Stmt::PayloadEq { base: PAYLOAD_INNER, offset: 0, value: vec![1] });
                out.push(Stmt::PayloadEq { base: PAYLOAD_INNER, offset: 236, value: vec![0x63, 0x82, 0x53, 0x63] });
            }
            Match::Dhcpv6ClientMessage => {
                self.network(out, Family::V6);
                exprs(out, vec![payload(PAYLOAD_NETWORK, 4, 2), cmp(CmpOp::Lte, DHCPV6_MAX_PAYLOAD.to_be_bytes().to_vec())]);
                let types = DHCPV6_CLIENT_TYPES.iter().map(|t| vec![*t]).collect();
                let key_of = KeyOf::Raw { base: RAW_INNER, offset: 0, bits: 8 };
                let set = anonymous(TYPE_INTEGER, 1, ByteOrder::Network, key_of, types);
                out.push(Stmt::Lookup { source: vec![payload(PAYLOAD_INNER, 0, 1)], set, invert: false });
            }
            Match::SolicitedNodeReport { records } => solicited_node_report(self, out, *records),
        }
    }

    /// `meta l4proto P` (established from then on) or `meta l4proto { P, Q }`.
    fn protos(&mut self, out: &mut Vec<Stmt>, protos: &[Proto]) {
        match protos {
            [one] => self.explicit_transport(out, ip_proto(*one)),
            many => {
                let keys = many.iter().map(|p| vec![ip_proto(*p)]).collect();
                let set = anonymous(TYPE_INET_PROTOCOL, 1, ByteOrder::Host, KeyOf::Meta(META_L4PROTO), keys);
                out.push(Stmt::Lookup { source: vec![meta(META_L4PROTO)], set, invert: false });
            }
        }
    }

    /// An address within one of `nets`: equal to a single host; a prefix compared byte-wise
    /// when it ends on a byte (nft then loads only those bytes), masked otherwise; a set of
    /// several, an interval set when one is a network.
    fn addresses(&mut self, out: &mut Vec<Stmt>, family: Family, destination: bool, nets: Vec<IpNet>) {
        self.network(out, family);
        let (offset, len) = address_field(family, destination);
        let key_of = match (family, destination) {
            (Family::V4, true) => KeyOf::Field { desc: DESC_IP, field: IP_DADDR },
            (Family::V4, false) => KeyOf::Field { desc: DESC_IP, field: IP_SADDR },
            (Family::V6, true) => KeyOf::Field { desc: DESC_IP6, field: IP6_DADDR },
            (Family::V6, false) => KeyOf::Field { desc: DESC_IP6, field: IP6_SADDR },
        };
        let key_type = if family == Family::V4 { TYPE_IPADDR } else { TYPE_IP6ADDR };
        let host = |n: &IpNet| n.prefix_len() == n.max_prefix_len();
        match nets.as_slice() {
            [one] if host(one) => out.push(Stmt::PayloadEq { base: PAYLOAD_NETWORK, offset, value: octets(one.addr()) }),
            [one] if one.prefix_len() % 8 == 0 => {
                let bytes = u32::from(one.prefix_len() / 8);
                let prefix = octets(one.network())[..bytes as usize].to_vec();
                out.push(Stmt::Exprs(vec![payload(PAYLOAD_NETWORK, offset, bytes), cmp(CmpOp::Eq, prefix)]));
            }
            [one] => {
                let mask = Expr::Bitwise { mask: octets(one.netmask()), explicit: false };
                out.push(Stmt::Exprs(vec![payload(PAYLOAD_NETWORK, offset, len), mask, cmp(CmpOp::Eq, octets(one.network()))]));
            }
            many => {
                let source = vec![payload(PAYLOAD_NETWORK, offset, len)];
                let set = if many.iter().all(host) {
                    anonymous(key_type, len, ByteOrder::Network, key_of, many.iter().map(|n| octets(n.addr())).collect())
                } else {
                    let ranges = many.iter().map(|n| (octets(n.network()), octets(n.broadcast()))).collect();
                    anonymous_intervals(key_type, len, key_of, ranges)
                };
                out.push(Stmt::Lookup { source, set, invert: false });
            }
        }
    }
}

/// An MLDv2 report of `records` solicited-node records (see render_nft): raw payload of the
/// ICMPv6 header, which nft merges where the fields follow each other.
fn solicited_node_report(ctx: &mut Context, out: &mut Vec<Stmt>, records: u8) {
    ctx.network(out, Family::V6);
    let length = 16 + 20 * u16::from(records);
    out.push(Stmt::PayloadEq { base: PAYLOAD_NETWORK, offset: 4, value: length.to_be_bytes().to_vec() });
    out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: 6, value: u16::from(records).to_be_bytes().to_vec() });
    for i in 0..u32::from(records) {
        let at = 8 + 20 * i;
        out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: at + 1, value: vec![0; 3] });
        out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: at + 4, value: vec![0xff, 0x02, 0, 0, 0, 0, 0, 0] });
        out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: at + 12, value: vec![0, 0, 0, 0x01, 0xff] });
    }
}

/// The expressions of the statements, payload comparisons next to each other merged.
pub fn linearize(stmts: Vec<Stmt>) -> Vec<Stmt> {
    let mut out: Vec<Stmt> = Vec::new();
    for stmt in stmts {
        if let (Some(Stmt::PayloadEq { base, offset, value }), Stmt::PayloadEq { base: b, offset: o, value: v }) = (out.last_mut(), &stmt) {
            let adjacent = *base == *b && *offset + value.len() as u32 == *o;
            if adjacent && value.len() + v.len() <= MERGE_LIMIT {
                value.extend(v);
                continue;
            }
        }
        out.push(stmt);
    }
    out
}

fn meta(key: u32) -> Expr {
    Expr::Meta { key, dreg: REG_1 }
}

fn payload(base: u32, offset: u32, len: u32) -> Expr {
    Expr::Payload { base, offset, len, dreg: REG_1 }
}

fn cmp(op: CmpOp, data: Vec<u8>) -> Expr {
    Expr::Cmp { op, data }
}

/// `EXPR & mask != 0` of a 32-bit value in host byte order: a test of flags.
fn flag_test(source: Expr, mask: u32) -> Vec<Expr> {
    vec![source, Expr::Bitwise { mask: mask.to_ne_bytes().to_vec(), explicit: false }, cmp(CmpOp::Neq, vec![0; 4])]
}

fn named_lookup(id: SetId, set_id: &NamedSetId) -> Expr {
    Expr::Lookup { set: id.name().into(), id: set_id(id), invert: false }
}

/// One link type, or a set of them: numbers in host byte order.
fn link_types(out: &mut Vec<Stmt>, key: u32, types: &[crate::policy::LinkType]) {
    let keys: Vec<Vec<u8>> = types.iter().map(|t| t.arphrd().to_ne_bytes().to_vec()).collect();
    match keys.as_slice() {
        [one] => out.push(Stmt::Exprs(vec![meta(key), cmp(CmpOp::Eq, one.clone())])),
        _ => out.push(Stmt::Lookup { source: vec![meta(key)], set: anonymous(TYPE_ARPHRD, 2, ByteOrder::Host, KeyOf::Meta(key), keys), invert: false }),
    }
}

/// An ICMP or ICMPv6 type, or a set of them: the first byte of the header.
fn type_match(out: &mut Vec<Stmt>, key_type: u32, desc: u32, types: Vec<u8>) {
    match types.as_slice() {
        [one] => out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset: 0, value: vec![*one] }),
        _ => {
            let key_of = KeyOf::Field { desc, field: ICMP_TYPE_FIELD };
            let set = anonymous(key_type, 1, ByteOrder::Network, key_of, types.into_iter().map(|t| vec![t]).collect());
            out.push(Stmt::Lookup { source: vec![payload(PAYLOAD_TRANSPORT, 0, 1)], set, invert: false });
        }
    }
}

/// A port of `source` within `ports`: one port (a mergeable payload comparison when the port
/// is payload at `payload_offset`), one range (`>=` and `<=`), or a set of them.
fn ports_match(out: &mut Vec<Stmt>, source: Expr, key_of: KeyOf, ports: &[(u16, u16)], payload_offset: Option<u32>) {
    let be = |p: u16| p.to_be_bytes().to_vec();
    match ports {
        [(low, high)] if low == high => match payload_offset {
            Some(offset) => out.push(Stmt::PayloadEq { base: PAYLOAD_TRANSPORT, offset, value: be(*low) }),
            None => out.push(Stmt::Exprs(vec![source, cmp(CmpOp::Eq, be(*low))])),
        },
        [(low, high)] => out.push(Stmt::Exprs(vec![source, cmp(CmpOp::Gte, be(*low)), cmp(CmpOp::Lte, be(*high))])),
        many => {
            let set = if many.iter().all(|(l, h)| l == h) {
                anonymous(TYPE_INET_SERVICE, 2, ByteOrder::Network, key_of, many.iter().map(|(l, _)| be(*l)).collect())
            } else {
                anonymous_intervals(TYPE_INET_SERVICE, 2, key_of, many.iter().map(|(l, h)| (be(*l), be(*h))).collect())
            };
            out.push(Stmt::Lookup { source: vec![source], set, invert: false });
        }
    }
}

/// An interface name: exact with its padding to IFNAMSIZ, or a prefix (`NAME*`) by itself.
fn ifname(i: &Interface) -> Vec<u8> {
    match i.prefix() {
        (prefix, true) => prefix.as_bytes().to_vec(),
        (name, false) => {
            let mut bytes = name.as_bytes().to_vec();
            bytes.resize(IFNAMSIZ, 0);
            bytes
        }
    }
}

/// The offset and length of the destination or source address in the IP header.
fn address_field(family: Family, destination: bool) -> (u32, u32) {
    match (family, destination) {
        (Family::V4, true) => (16, 4),
        (Family::V4, false) => (12, 4),
        (Family::V6, true) => (24, 16),
        (Family::V6, false) => (8, 16),
    }
}

pub fn octets(addr: std::net::IpAddr) -> Vec<u8> {
    match addr {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn nfproto(family: Family) -> u8 {
    match family {
        Family::V4 => NFPROTO_IPV4,
        Family::V6 => NFPROTO_IPV6,
    }
}

pub fn ip_proto(p: Proto) -> u8 {
    match p {
        Proto::Tcp => IPPROTO_TCP,
        Proto::Udp => IPPROTO_UDP,
    }
}

/// conntrack's state bits (NF_CT_STATE_BIT).
fn ct_state_bit(state: CtState) -> u32 {
    match state {
        CtState::Invalid => 1,
        CtState::Established => 2,
        CtState::Related => 4,
        CtState::New => 8,
    }
}

fn tcp_flags(flags: &[TcpFlag]) -> u8 {
    flags.iter().fold(0, |acc, f| {
        acc | match f {
            TcpFlag::Fin => 0x01,
            TcpFlag::Syn => 0x02,
            TcpFlag::Rst => 0x04,
            TcpFlag::Psh => 0x08,
            TcpFlag::Ack => 0x10,
            TcpFlag::Urg => 0x20,
        }
    })
}
