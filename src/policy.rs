//! The backend-neutral policy: which packets each hook accepts, in which order, decided once
//! from the settings. Backends only translate it; they make no decisions of their own.
//!
//! Every chain ends in `Block`: count, log (rate limited), then reject or drop. Nothing is
//! accepted because it is "established" on output: a flow opened through the tunnel must not
//! continue out of the uplink when a route changes, so output rules match on where a packet goes
//! or who sends it, never on connection state.
//!
//! The egress rules are checked twice: in output, where a blocked packet can be rejected so the
//! program fails at once, and again in postrouting, where the outgoing interface is final. Between
//! the two, another table's `route` chain (or NAT) may change a packet's mark or address and so
//! reroute it out of the uplink after output accepted it for the tunnel. Postrouting also sees
//! forwarded packets: none of the egress exceptions outside the tunnel applies to them.
//!
//! Gateway mode (`[forward]`, see `gateway`) adds forwarding from the inside into the tunnel, the
//! few services the gateway gives the inside, and address translation (`Nat`). Local interfaces
//! (`[lan] interfaces`, see `local_interfaces`: container and VM bridges) are exchanged with as
//! with the LAN, and their machines are forwarded into the tunnel the same way. `[lan] multicast`
//! (see `multicast`) adds mDNS and SSDP on the LAN's links. What the link carries besides
//! (which interfaces are the tunnel, multicast listener reports, the shape of DHCP) is decided
//! in `link`. The words rules are made of (hooks, matches, verdicts) are in `vocabulary`.

mod gateway;
mod link;
mod loaded;
mod local_interfaces;
mod multicast;
mod vocabulary;

pub use link::{DHCP_MAX_LENGTH, DHCPV6_CLIENT_TYPES, DHCPV6_MAX_PAYLOAD, LinkType, MAX_REPORTED_GROUPS, tunnel_link_types};
use link::{from_tunnel, ipv6_outside_the_tunnel, solicited_node_reports, through_tunnel};
pub use loaded::{Loaded, blocked_said};
pub use vocabulary::{CtState, Family, Hook, Icmp, Icmpv6, Match, Rule, SetId, TcpFlag, Verdict};

use crate::settings::{DEFAULT_RATE, Settings};
use crate::values::{Interface, PortRange, Proto, Rate, interface};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sets {
    pub lan4: Vec<Ipv4Net>,
    pub lan6: Vec<Ipv6Net>,
    pub servers4: Vec<(Ipv4Addr, Proto, u16)>,
    pub servers6: Vec<(Ipv6Addr, Proto, u16)>,
}

/// One entry of a list: a network of a LAN list, or a server endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Network(IpNet),
    Endpoint(IpAddr, Proto, u16),
}

impl Sets {
    pub fn len(&self, id: SetId) -> usize {
        match id {
            SetId::Lan4 => self.lan4.len(),
            SetId::Lan6 => self.lan6.len(),
            SetId::Servers4 => self.servers4.len(),
            SetId::Servers6 => self.servers6.len(),
        }
    }

    /// The entries of one list, in order: networks for a LAN list, endpoints for a servers list.
    pub fn entries(&self, id: SetId) -> Vec<Entry> {
        match id {
            SetId::Lan4 => self.lan4.iter().map(|n| Entry::Network((*n).into())).collect(),
            SetId::Lan6 => self.lan6.iter().map(|n| Entry::Network((*n).into())).collect(),
            SetId::Servers4 => self.servers4.iter().map(|(a, p, port)| Entry::Endpoint((*a).into(), *p, *port)).collect(),
            SetId::Servers6 => self.servers6.iter().map(|(a, p, port)| Entry::Endpoint((*a).into(), *p, *port)).collect(),
        }
    }
}

/// What happens to a packet no rule accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocking {
    /// Log blocked packets at this rate, or not at all.
    pub log: Option<Rate>,
    /// Reject outgoing and forwarded packets (incoming ones are always dropped).
    pub reject: bool,
}

impl Blocking {
    /// Incoming packets are always dropped; nft cannot reject in postrouting.
    pub fn rejects(self, hook: Hook) -> bool {
        self.reject && matches!(hook, Hook::Output | Hook::Forward)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The policy of a valid configuration.
    Configured,
    /// Loaded when the configuration is invalid and nothing was loaded: only loopback passes.
    Lockdown,
}

/// Where address translation happens: before routing (the destination) or after (the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatHook {
    Prerouting,
    Postrouting,
}

impl NatHook {
    pub const ALL: [NatHook; 2] = [NatHook::Prerouting, NatHook::Postrouting];

    pub fn name(self) -> &'static str {
        match self {
            NatHook::Prerouting => "prerouting",
            NatHook::Postrouting => "postrouting",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatAction {
    /// The destination becomes this address; the port stays (prerouting).
    Dnat(IpAddr),
    /// The source becomes the outgoing interface's address (postrouting).
    Masquerade,
}

/// Translates the first packet of a connection that matches (conntrack does the rest of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRule {
    pub matches: Vec<Match>,
    pub action: NatAction,
    pub comment: &'static str,
}

/// Address translation, which only gateway mode uses: empty otherwise, and then no NAT chain
/// is loaded at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nat {
    pub prerouting: Vec<NatRule>,
    pub postrouting: Vec<NatRule>,
}

impl Nat {
    pub fn rules(&self, hook: NatHook) -> &[NatRule] {
        match hook {
            NatHook::Prerouting => &self.prerouting,
            NatHook::Postrouting => &self.postrouting,
        }
    }

    /// The hooks that have rules: the NAT chains to load.
    pub fn hooks(&self) -> impl Iterator<Item = NatHook> + '_ {
        NatHook::ALL.into_iter().filter(|h| !self.rules(*h).is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub kind: Kind,
    pub sets: Sets,
    pub input: Vec<Rule>,
    /// The egress rules of this machine's own packets.
    pub output: Vec<Rule>,
    /// The egress rules again, then what may leave of forwarded packets other than into the
    /// tunnel (replies to the inside).
    pub postrouting: Vec<Rule>,
    pub forward: Vec<Rule>,
    pub nat: Nat,
    pub blocking: Blocking,
}

impl Policy {
    pub fn rules(&self, hook: Hook) -> &[Rule] {
        match hook {
            Hook::Input => &self.input,
            Hook::Output => &self.output,
            Hook::Postrouting => &self.postrouting,
            Hook::Forward => &self.forward,
        }
    }

    /// Only loopback passes, IPv4 and IPv6; everything else is counted, logged and dropped.
    pub fn lockdown() -> Self {
        let output = vec![rule(vec![Match::OutIface(loopback())], Verdict::Accept, "loopback")];
        Policy {
            kind: Kind::Lockdown,
            sets: Sets::default(),
            input: vec![rule(vec![Match::InIface(loopback())], Verdict::Accept, "loopback")],
            postrouting: output.clone(),
            output,
            forward: Vec::new(),
            nat: Nat::default(),
            blocking: Blocking { log: Some(DEFAULT_RATE), reject: true },
        }
    }

    pub fn from_settings(s: &Settings) -> Self {
        let sets = sets(s);
        let present = |id: SetId| sets.len(id) > 0;
        let lan_sets: Vec<SetId> = [SetId::Lan4, SetId::Lan6].into_iter().filter(|id| present(*id)).collect();
        let gateway = gateway::Gateway::of(s);
        let local = local_interfaces::LocalInterfaces::of(s, &lan_sets);
        // When this machine forwards (gateway mode, local interfaces) the exceptions outside the
        // tunnel are for its own packets: postrouting sees forwarded ones too, which may leave
        // through the tunnel only (or to a local interface, or as the replies let through).
        let forwards = gateway.is_some() || local.is_some();
        let own = || forwards.then_some(Match::SaddrLocal);

        let mut output = vec![rule(vec![Match::OutIface(loopback())], Verdict::Accept, "loopback")];
        for iface in &s.tunnel.interfaces {
            let mut m = through_tunnel(s, iface);
            m.extend(tunnel_family(s));
            output.push(rule(m, Verdict::Accept, "through the tunnel"));
        }
        // Before the LAN's rules: a bridge's network inside `[lan] allow` is still local, DNS too.
        output.extend(local.iter().flat_map(|l| l.output.iter().cloned()));
        let identities =
            s.tunnel.user.iter().map(|u| Match::Uid(u.id)).chain(s.tunnel.group.iter().map(|g| Match::Gid(g.id))).chain(s.tunnel.fwmark.map(Match::Mark));
        for identity in identities {
            // A forwarded packet has no socket, so no uid or gid; it might carry the mark.
            let identity: Vec<Match> = match identity {
                Match::Mark(_) => [identity].into_iter().chain(own()).collect(),
                other => vec![other],
            };
            if s.tunnel.servers.is_empty() {
                let m = [Match::Family(Family::V4)].into_iter().chain(identity).collect();
                output.push(rule(m, Verdict::Accept, "the VPN client, to any IPv4 server"));
                continue;
            }
            for id in [SetId::Servers4, SetId::Servers6].into_iter().filter(|id| present(*id)) {
                let m = identity.iter().cloned().chain([Match::EndpointIn(id)]).collect();
                output.push(rule(m, Verdict::Accept, "the VPN client, to its servers"));
            }
        }
        if s.lan.dhcp {
            // Only to the broadcast address (and, below, to the LAN): a unicast renewal to a
            // server outside the LAN fails, and the client rebinds by broadcast. Any process
            // that may bind port 68 could otherwise send anything anywhere as "DHCP".
            // And only messages shaped like a client's: port 68 alone would carry any payload.
            // And only from the DHCP clients' users: any process that may bind port 68 (one with
            // CAP_NET_BIND_SERVICE, or anyone with a lowered ip_unprivileged_port_start) could
            // otherwise send its own data in that shape. A packet without a socket matches none.
            for user in &s.lan.dhcp_users {
                let request =
                    vec![Match::IpDaddr(vec![net("255.255.255.255/32")]), Match::Udp { sport: 68, dport: 67 }, Match::DhcpRequest, Match::Uid(user.id)];
                output.push(rule(request, Verdict::Accept, "DHCP client"));
                // Clients send to All_DHCP_Relay_Agents_and_Servers (RFC 8415).
                let request6 =
                    vec![Match::Ip6Daddr(vec![net("ff02::1:2/128")]), Match::Udp { sport: 546, dport: 547 }, Match::Dhcpv6ClientMessage, Match::Uid(user.id)];
                output.push(rule(request6, Verdict::Accept, "DHCPv6 client"));
            }
        }
        // Link-local and multicast destinations only: a neighbour solicitation sent to a routed
        // address would be forwarded by the router. Neighbours in the LAN sets are reached below.
        let mut nd_out = neighbour_discovery(&[Icmpv6::RouterSolicit, Icmpv6::NeighborSolicit, Icmpv6::NeighborAdvert]);
        nd_out.push(Match::Ip6Daddr(vec![net("fe80::/10"), net("ff02::/16")]));
        output.push(rule(nd_out, Verdict::Accept, "IPv6 neighbour discovery, on the link"));
        let mld = ipv6_outside_the_tunnel(s);
        if mld {
            output.extend(solicited_node_reports());
        }
        for id in [SetId::Lan4, SetId::Lan6].into_iter().filter(|id| present(*id)) {
            if !s.lan.dns {
                let dns = Match::DstPorts { protos: vec![Proto::Tcp, Proto::Udp], ports: vec![(53, 53), (853, 853)] };
                // Ports first: a set of thousands of networks is the costliest match of the
                // chain, and this way only DNS packets pay for a second lookup.
                output.push(rule(vec![dns, Match::DaddrIn(id)], Verdict::Block, "no DNS to the LAN"));
            }
            output.push(rule([Match::DaddrIn(id)].into_iter().chain(own()).collect(), Verdict::Accept, "the LAN"));
        }
        let multicast = multicast::Multicast::of(s, own(), &lan_sets);
        output.extend(multicast.iter().flat_map(|m| m.output.iter().cloned()));

        let mut input = vec![
            rule(vec![Match::InIface(loopback())], Verdict::Accept, "loopback"),
            rule(vec![Match::CtState(vec![CtState::Invalid])], Verdict::Drop, "invalid"),
        ];
        input.extend(bogus_tcp());
        // Kept from the original as defence in depth: with conntrack in use the kernel reassembles
        // fragments before this hook, so these match only if that ever changes.
        input.push(rule(vec![Match::Fragment(Family::V4)], Verdict::Drop, "fragment"));
        input.push(rule(vec![Match::Fragment(Family::V6)], Verdict::Drop, "fragment"));
        input.push(rule(vec![Match::DaddrNotOnInIface], Verdict::Drop, "addressed to another interface (CVE-2019-14899)"));
        input.push(rule(vec![Match::CtState(vec![CtState::Established, CtState::Related])], Verdict::Accept, "replies"));
        if s.lan.dhcp {
            input.push(rule(vec![Match::Family(Family::V4), Match::Udp { sport: 67, dport: 68 }], Verdict::Accept, "DHCP replies"));
            input.push(rule(vec![Match::Family(Family::V6), Match::Udp { sport: 547, dport: 546 }], Verdict::Accept, "DHCPv6 replies"));
        }
        input.push(rule(
            neighbour_discovery(&[Icmpv6::RouterAdvert, Icmpv6::NeighborSolicit, Icmpv6::NeighborAdvert]),
            Verdict::Accept,
            "IPv6 neighbour discovery",
        ));
        if mld {
            input.push(rule(
                vec![Match::Icmpv6(vec![Icmpv6::MldQuery]), link_local_multicast()],
                Verdict::Accept,
                "IPv6 multicast listener queries, link-local only",
            ));
        }
        for (proto, ports) in by_proto(&s.tunnel.incoming) {
            for iface in &s.tunnel.interfaces {
                let mut m = from_tunnel(s, iface);
                m.extend(tunnel_family(s));
                m.push(Match::DstPorts { protos: vec![proto], ports: ports.clone() });
                input.push(rule(m, Verdict::Accept, "incoming from the tunnel"));
            }
        }
        for (proto, ports) in by_proto(&s.lan.incoming) {
            for id in [SetId::Lan4, SetId::Lan6].into_iter().filter(|id| present(*id)) {
                // A LAN source address arriving through the tunnel, from the machines behind this
                // gateway or from a local interface, is not the LAN. The ports come before the
                // set: most packets fail them and never pay for the lookup.
                let inside = gateway.iter().flat_map(|_| &s.forward.interfaces);
                let others = s.tunnel.interfaces.iter().chain(inside).chain(&s.lan.interfaces);
                let mut m: Vec<Match> = others.cloned().map(Match::NotInIface).collect();
                m.extend([Match::DstPorts { protos: vec![proto], ports: ports.clone() }, Match::SaddrIn(id)]);
                input.push(rule(m, Verdict::Accept, "incoming from the LAN"));
            }
        }

        if let Some(m) = multicast {
            input.extend(m.input);
        }

        let (mut forward, mut forwarded_out, mut nat) = (Vec::new(), Vec::new(), Nat::default());
        if let Some(g) = gateway {
            input.extend(g.input);
            output.extend(g.answers);
            (forward, forwarded_out, nat) = (g.forward, g.forwarded_out, g.nat);
        }
        if let Some(l) = local {
            input.extend(l.input);
            if forward.is_empty() {
                forward.push(rule(vec![Match::CtState(vec![CtState::Invalid])], Verdict::Drop, "invalid"));
            }
            forward.extend(l.forward);
            forwarded_out.extend(l.forwarded_out);
            if nat.postrouting.is_empty() {
                nat.postrouting = gateway::masquerade(s);
            }
        }
        let postrouting = output.iter().cloned().chain(forwarded_out).collect();
        Policy {
            kind: Kind::Configured,
            sets,
            input,
            output,
            postrouting,
            forward,
            nat,
            blocking: Blocking { log: s.firewall.log.then_some(s.firewall.log_rate), reject: s.firewall.reject },
        }
    }
}

/// Through the tunnel IPv4 only, unless `[tunnel] ipv6`.
fn tunnel_family(s: &Settings) -> Option<Match> {
    (!s.tunnel.ipv6).then_some(Match::Family(Family::V4))
}

fn rule(matches: Vec<Match>, verdict: Verdict, comment: &'static str) -> Rule {
    Rule { matches, verdict, comment }
}

fn loopback() -> Interface {
    interface("lo").expect("lo is a valid interface name")
}

fn net<N: std::str::FromStr>(text: &str) -> N
where
    N::Err: std::fmt::Debug,
{
    text.parse().expect("a valid built-in network")
}

/// Link-local scope multicast (ff02::/16): never routed off the link.
fn link_local_multicast() -> Match {
    Match::Ip6Daddr(vec![net("ff02::/16")])
}

fn neighbour_discovery(types: &[Icmpv6]) -> Vec<Match> {
    vec![Match::Icmpv6(types.to_vec()), Match::HopLimit255]
}

/// TCP flag combinations no real stack sends: scans and evasion attempts.
fn bogus_tcp() -> Vec<Rule> {
    use TcpFlag::*;
    let all = vec![Fin, Syn, Rst, Psh, Ack, Urg];
    let combos: [(Vec<TcpFlag>, Vec<TcpFlag>); 6] = [
        (all.clone(), vec![]),
        (all, vec![Fin, Psh, Urg]),
        (vec![Fin, Syn], vec![Fin, Syn]),
        (vec![Syn, Rst], vec![Syn, Rst]),
        (vec![Fin, Rst], vec![Fin, Rst]),
        (vec![Fin, Ack], vec![Fin]),
    ];
    let mut rules: Vec<Rule> =
        combos.into_iter().map(|(mask, equals)| rule(vec![Match::TcpFlags { mask, equals, negate: false }], Verdict::Drop, "bogus TCP flags")).collect();
    let not_syn = Match::TcpFlags { mask: vec![Fin, Syn, Rst, Ack], equals: vec![Syn], negate: true };
    rules.push(rule(vec![Match::CtState(vec![CtState::New]), not_syn], Verdict::Drop, "new TCP without SYN"));
    rules
}

/// Port ranges grouped by protocol, in protocol order, overlapping and adjacent ranges merged
/// (nft refuses overlapping intervals in one set).
fn by_proto(ranges: &[PortRange]) -> Vec<(Proto, Vec<(u16, u16)>)> {
    let mut out: Vec<(Proto, Vec<(u16, u16)>)> = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp] {
        let mut ports: Vec<(u16, u16)> = ranges.iter().filter(|r| r.proto == proto).map(|r| (r.low, r.high)).collect();
        ports.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::new();
        for (low, high) in ports {
            match merged.last_mut() {
                Some(last) if u32::from(low) <= u32::from(last.1) + 1 => last.1 = last.1.max(high),
                _ => merged.push((low, high)),
            }
        }
        if !merged.is_empty() {
            out.push((proto, merged));
        }
    }
    out
}

fn sets(s: &Settings) -> Sets {
    let mut sets = Sets::default();
    for net in &s.lan.allow {
        match net {
            IpNet::V4(n) => sets.lan4.push(*n),
            IpNet::V6(n) => sets.lan6.push(*n),
        }
    }
    for e in &s.tunnel.servers {
        match e.addr {
            std::net::IpAddr::V4(a) => sets.servers4.push((a, e.proto, e.port)),
            std::net::IpAddr::V6(a) => sets.servers6.push((a, e.proto, e.port)),
        }
    }
    sets
}
