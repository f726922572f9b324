//! Renders a `Policy` as one nft transaction: pure text, no kernel access.
//!
//! The transaction creates the table if it is missing, deletes it and creates it anew, all in
//! one netlink batch: there is no moment without rules, and conntrack entries (and so
//! established flows through the tunnel) are untouched by a reload.

use crate::policy::{
    DHCP_MAX_LENGTH, DHCPV6_CLIENT_TYPES, DHCPV6_MAX_PAYLOAD, Entry, Family, Hook, Match, NatAction, NatHook, NatRule, Policy, Rule, SetId, TcpFlag, Verdict,
};
use crate::render_common::{ct_state, description, icmp, icmpv6, label, tcp_flag};
use std::fmt::Write;

pub const TABLE: &str = "vpn_firewall";
pub const FAMILY: &str = "inet";
/// The guard's own table, owned by its netlink socket (see `guard`).
pub const GUARD_TABLE: &str = "vpn_firewall_guard";

/// Which of the two tables a rendering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `inet vpn_firewall`, which `start` loads: anyone (root) may delete it.
    Main,
    /// `inet vpn_firewall_guard`, owned by the guard: the same filter chains, without NAT (the
    /// main table translates; a packet must pass the filter chains of both).
    Guard,
}

impl Layer {
    pub fn table(self) -> &'static str {
        match self {
            Layer::Main => TABLE,
            Layer::Guard => GUARD_TABLE,
        }
    }

    fn nat(self) -> bool {
        self == Layer::Main
    }
}

/// The table's comment: what was loaded, and a digest of it so `status` can tell whether the
/// loaded table is the one the configuration renders today.
pub fn table_comment(policy: &Policy) -> String {
    layer_comment(policy, Layer::Main)
}

/// The comment of either table.
pub fn layer_comment(policy: &Policy, layer: Layer) -> String {
    label(policy.kind, &body(policy, layer))
}

/// The text `start` loads with `nft -f -`, and `show` prints.
pub fn render_nft(policy: &Policy) -> String {
    render_layer(policy, Layer::Main)
}

/// The text of one table: created if missing, deleted and created anew, in one transaction.
/// The guard's table is created owned (`flags owner`, Linux 5.12, nft 0.9.9): the flag must be
/// there from the first line on, since the kernel refuses to add or drop it later.
pub fn render_layer(policy: &Policy, layer: Layer) -> String {
    layer_text(policy, layer, true)
}

/// The text of `render_nft` without its first line, which adds the table where none is loaded:
/// for a table left by a guard (see `guard`), whose flag (persist) the kernel refuses to take
/// away and nft 1.0.6 cannot write, and which is deleted and loaded anew all the same.
pub fn render_nft_over_loaded(policy: &Policy) -> String {
    layer_text(policy, Layer::Main, false)
}

fn layer_text(policy: &Policy, layer: Layer, add_first: bool) -> String {
    let mut out = String::new();
    let table = layer.table();
    let owner = if layer == Layer::Guard { " { flags owner; }" } else { "" };
    writeln!(out, "# vpn-firewall: {}, one atomic transaction for nft -f", description(policy.kind)).unwrap();
    if add_first {
        writeln!(out, "table {FAMILY} {table}{owner}").unwrap();
    }
    writeln!(out, "delete table {FAMILY} {table}").unwrap();
    writeln!(out, "table {FAMILY} {table} {{").unwrap();
    if layer == Layer::Guard {
        writeln!(out, "\tflags owner").unwrap();
    }
    let body = body(policy, layer);
    writeln!(out, "\tcomment \"{}\"", label(policy.kind, &body)).unwrap();
    out.push_str(&body);
    out.push_str("}\n");
    out
}

/// The name of the chain of a NAT hook.
pub fn nat_chain(hook: NatHook) -> String {
    format!("nat_{}", hook.name())
}

/// The objects of a lone `delete table` transaction: what `flush` sends.
pub fn render_flush() -> String {
    render_delete(Layer::Main)
}

/// A lone `delete table` of one of the tables.
pub fn render_delete(layer: Layer) -> String {
    format!("delete table {FAMILY} {}\n", layer.table())
}

fn body(policy: &Policy, layer: Layer) -> String {
    let mut out = String::new();
    for hook in Hook::ALL {
        writeln!(out, "\tcounter blocked_{} {{\n\t}}", hook.name()).unwrap();
    }
    render_sets(&mut out, policy);
    for hook in Hook::ALL {
        writeln!(out, "\tchain {} {{", hook.name()).unwrap();
        writeln!(out, "\t\ttype filter hook {} priority filter; policy drop;", hook.name()).unwrap();
        for rule in policy.rules(hook) {
            writeln!(out, "\t\t{}", render_rule(rule, hook)).unwrap();
        }
        writeln!(out, "\t\tgoto block_{}", hook.name()).unwrap();
        writeln!(out, "\t}}").unwrap();
    }
    for hook in policy.nat.hooks().filter(|_| layer.nat()) {
        // Destination NAT runs before other tables' (Qubes OS redirects DNS at dstnat): the
        // first chain to translate a connection decides, and the forward rules hold either way.
        let priority = match hook {
            NatHook::Prerouting => "dstnat - 10",
            NatHook::Postrouting => "srcnat",
        };
        writeln!(out, "\tchain {} {{", nat_chain(hook)).unwrap();
        writeln!(out, "\t\ttype nat hook {} priority {priority}; policy accept;", hook.name()).unwrap();
        for rule in policy.nat.rules(hook) {
            writeln!(out, "\t\t{}", render_nat_rule(rule)).unwrap();
        }
        writeln!(out, "\t}}").unwrap();
    }
    for hook in Hook::ALL {
        writeln!(out, "\tchain block_{} {{", hook.name()).unwrap();
        writeln!(out, "\t\tcounter name \"blocked_{}\"", hook.name()).unwrap();
        if let Some(rate) = policy.blocking.log {
            writeln!(out, "\t\tlimit rate {}/{} log prefix \"vpn-firewall: blocked {}: \"", rate.count, rate.unit(), hook.name()).unwrap();
        }
        let verdict = if policy.blocking.rejects(hook) { "reject with icmpx admin-prohibited" } else { "drop" };
        writeln!(out, "\t\t{verdict}").unwrap();
        writeln!(out, "\t}}").unwrap();
    }
    out
}

fn render_sets(out: &mut String, policy: &Policy) {
    for id in [SetId::Lan4, SetId::Lan6, SetId::Servers4, SetId::Servers6] {
        let elements: Vec<String> = policy.sets.entries(id).iter().map(element).collect();
        if elements.is_empty() {
            continue;
        }
        let address = if id.family() == Family::V4 { "ipv4_addr" } else { "ipv6_addr" };
        writeln!(out, "\tset {} {{", id.name()).unwrap();
        if id.holds_endpoints() {
            writeln!(out, "\t\ttype {address} . inet_proto . inet_service").unwrap();
        } else {
            writeln!(out, "\t\ttype {address}\n\t\tflags interval").unwrap();
        }
        writeln!(out, "\t\telements = {{ {} }}", elements.join(", ")).unwrap();
        writeln!(out, "\t}}").unwrap();
    }
}

/// A set element: a network, or an endpoint's address, protocol and port concatenated.
fn element(entry: &Entry) -> String {
    match entry {
        Entry::Network(net) => net.to_string(),
        Entry::Endpoint(addr, proto, port) => format!("{addr} . {} . {port}", proto.name()),
    }
}

fn render_rule(rule: &Rule, hook: Hook) -> String {
    let mut parts: Vec<String> = rule.matches.iter().map(render_match).collect();
    parts.push(match rule.verdict {
        Verdict::Accept | Verdict::Pass => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Block => format!("goto block_{}", hook.name()),
    });
    parts.push(format!("comment \"{}\"", rule.comment));
    parts.join(" ")
}

fn render_nat_rule(rule: &NatRule) -> String {
    let mut parts: Vec<String> = rule.matches.iter().map(render_match).collect();
    parts.push(match rule.action {
        NatAction::Dnat(std::net::IpAddr::V4(a)) => format!("dnat ip to {a}"),
        NatAction::Dnat(std::net::IpAddr::V6(a)) => format!("dnat ip6 to {a}"),
        NatAction::Masquerade => "masquerade".into(),
    });
    parts.push(format!("comment \"{}\"", rule.comment));
    parts.join(" ")
}

fn family(f: Family) -> &'static str {
    match f {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    }
}

fn render_match(m: &Match) -> String {
    match m {
        Match::InIface(i) => format!("iifname {}", iface(i)),
        Match::NotInIface(i) => format!("iifname != {}", iface(i)),
        Match::OutIface(i) => format!("oifname {}", iface(i)),
        Match::InLinkType(types) => format!("meta iiftype {}", link_types(types)),
        Match::OutLinkType(types) => format!("meta oiftype {}", link_types(types)),
        Match::Family(f) => format!("meta nfproto {}", if *f == Family::V4 { "ipv4" } else { "ipv6" }),
        Match::Uid(uid) => format!("meta skuid {uid}"),
        Match::Gid(gid) => format!("meta skgid {gid}"),
        Match::Mark(mark) => format!("meta mark {mark:#010x}"),
        Match::DaddrIn(id) => format!("{} daddr @{}", family(id.family()), id.name()),
        Match::SaddrIn(id) => format!("{} saddr @{}", family(id.family()), id.name()),
        Match::EndpointIn(id) => format!("{} daddr . meta l4proto . th dport @{}", family(id.family()), id.name()),
        Match::DstPorts { protos, ports } => format!("{} th dport {}", l4protos(protos), port_ranges(ports)),
        Match::SrcPorts { protos, ports } => format!("{} th sport {}", l4protos(protos), port_ranges(ports)),
        Match::Udp { sport, dport } => format!("udp sport {sport} udp dport {dport}"),
        Match::CtState(states) => format!("ct state {}", states.iter().map(|s| ct_state(*s)).collect::<Vec<_>>().join(",")),
        Match::Icmpv6(types) => format!("icmpv6 type {}", one_or_set(&types.iter().map(|t| icmpv6(*t).nft).collect::<Vec<_>>())),
        Match::Icmp(types) => format!("icmp type {}", one_or_set(&types.iter().map(|t| icmp(*t)).collect::<Vec<_>>())),
        Match::HopLimit255 => "ip6 hoplimit 255".into(),
        Match::IpDaddr(nets) => format!("ip daddr {}", networks(nets)),
        Match::Ip6Daddr(nets) => format!("ip6 daddr {}", networks(nets)),
        Match::IpSaddr(nets) => format!("ip saddr {}", networks(nets)),
        Match::Ip6Saddr(nets) => format!("ip6 saddr {}", networks(nets)),
        Match::SaddrLocal => "fib saddr type local".into(),
        Match::SaddrNotLocal => "fib saddr type != local".into(),
        Match::TcpFlags { mask, equals, negate } => {
            let op = if *negate { "!=" } else { "==" };
            format!("tcp flags & {} {op} {}", flags(mask), flags(equals))
        }
        Match::Fragment(Family::V4) => "ip frag-off & 0x1fff != 0".into(),
        Match::Fragment(Family::V6) => "exthdr frag exists".into(),
        Match::DaddrNotOnInIface => "fib daddr . iif type != { local, broadcast, multicast }".into(),
        Match::DnatFromPorts { proto, ports } => format!("meta l4proto {} ct status dnat ct original proto-dst {}", proto.name(), port_ranges(ports)),
        Match::DnatReply => "ct direction reply ct status dnat".into(),
        Match::Igmp => "meta l4proto igmp".into(),
        // Raw payload, `@ih` from the start of the UDP payload: the op field, and the magic
        // cookie 236 bytes in (after the fixed BOOTP fields); and the length bound.
        Match::DhcpRequest => format!("ip length <= {DHCP_MAX_LENGTH} @ih,0,8 1 @ih,1888,32 0x63825363"),
        Match::Dhcpv6ClientMessage => {
            format!("ip6 length <= {DHCPV6_MAX_PAYLOAD} @ih,0,8 {}", one_or_set(&DHCPV6_CLIENT_TYPES.map(|t| t.to_string())))
        }
        Match::SolicitedNodeReport { records } => solicited_node_report(*records),
    }
}

/// An MLDv2 report of `records` solicited-node records, from the ICMPv6 header (`@th`): the
/// record count at byte 6; each record of 20 bytes from byte 8 on: type, then auxiliary data
/// length and source count 0, then the group, whose first 13 bytes are ff02::1:ff. The IPv6
/// payload length (hop-by-hop header 8, MLD header 8, records) leaves nothing after them.
fn solicited_node_report(records: u8) -> String {
    let mut parts = vec![format!("ip6 length {}", 16 + 20 * u32::from(records)), format!("@th,48,16 {records}")];
    for i in 0..u32::from(records) {
        let at = 64 + 160 * i;
        parts.push(format!("@th,{},24 0 @th,{},64 0xff02000000000000 @th,{},40 0x1ff", at + 8, at + 32, at + 96));
    }
    parts.join(" ")
}

/// Link types by number, as nft has no name for ARPHRD_NONE.
fn link_types(types: &[crate::policy::LinkType]) -> String {
    one_or_set(&types.iter().map(|t| t.arphrd().to_string()).collect::<Vec<_>>())
}

fn l4protos(protos: &[crate::values::Proto]) -> String {
    let names: Vec<&str> = protos.iter().map(|p| p.name()).collect();
    format!("meta l4proto {}", one_or_set(&names))
}

fn port_ranges(ports: &[(u16, u16)]) -> String {
    let ranges: Vec<String> = ports.iter().map(|(l, h)| if l == h { l.to_string() } else { format!("{l}-{h}") }).collect();
    one_or_set(&ranges)
}

/// An interface name in nft syntax; validation admits only characters that need no escaping.
fn iface(i: &crate::values::Interface) -> String {
    match i.prefix() {
        (prefix, true) => format!("\"{prefix}*\""),
        (name, false) => format!("\"{name}\""),
    }
}

/// Networks as nft writes them: a single host as a bare address.
fn networks<N: Into<ipnet::IpNet> + Copy>(nets: &[N]) -> String {
    let items: Vec<String> = nets
        .iter()
        .map(|n| {
            let n: ipnet::IpNet = (*n).into();
            if n.prefix_len() == n.max_prefix_len() { n.addr().to_string() } else { n.to_string() }
        })
        .collect();
    one_or_set(&items)
}

fn flags(f: &[TcpFlag]) -> String {
    match f {
        [] => "0x0".into(),
        [one] => tcp_flag(*one).into(),
        many => format!("({})", many.iter().map(|f| tcp_flag(*f)).collect::<Vec<_>>().join("|")),
    }
}

fn one_or_set<T: AsRef<str>>(items: &[T]) -> String {
    match items {
        [one] => one.as_ref().to_string(),
        many => format!("{{ {} }}", many.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")),
    }
}
