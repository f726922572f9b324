//! `[lan] interfaces`: local interfaces, such as the bridges of containers and VMs on this
//! machine (`docker0`, `br-+`, `virbr0`, `podman0`, `lxcbr0`), exchanged with as with the LAN,
//! and whose machines reach the outside through the tunnel only.
//!
//! - This machine to them: everything (DNS included: a resolver in a container resolves through
//!   the tunnel, as everything leaving it does). Postrouting accepts what leaves through them,
//!   own or forwarded: the forward chain has decided what is forwarded there, and a local
//!   interface is never the uplink (validation refuses a name that carries a default route).
//! - Them to this machine: new connections only as its DHCP server and IPv6 router (libvirt's
//!   and LXC's dnsmasq: DHCP, DHCPv6, router solicitations), its resolver (DNS to this
//!   machine's address on that interface: dnsmasq on virbr0, whose own queries leave through the
//!   tunnel like any of this machine's) and to `[lan] incoming`.
//! - Forwarded: between the machines on one entry (one bridge's, which pass the forward hook
//!   with the bridge as both interfaces when br_netfilter is loaded; for a pattern, what passes
//!   between its bridges is left to their tool's rules, `Verdict::Pass`), from them into the tunnel
//!   and the replies back; nothing from them to the uplink, `[lan] allow` included (this
//!   machine's exception only). A port another tool publishes there by DNAT (`docker run -p`)
//!   is reached from the LAN as a port of this machine: listed in `[lan] incoming`, from an
//!   `[lan] allow` source (from the tunnel: `[tunnel] incoming`); its replies go back.
//! - Masquerade into the tunnel as in gateway mode (`[forward] masquerade`), in `policy.rs`.

use super::gateway::dns;
use super::link::{from_tunnel, through_tunnel};
use super::{CtState, Family, Icmpv6, Match, Rule, SetId, Verdict, by_proto, neighbour_discovery, rule, tunnel_family};
use crate::settings::Settings;
use crate::values::Interface;

/// What `[lan] interfaces` adds to the policy.
pub(super) struct LocalInterfaces {
    pub input: Vec<Rule>,
    /// To them (output, and postrouting after the egress rules).
    pub output: Vec<Rule>,
    pub forward: Vec<Rule>,
    /// Forwarded packets that may leave other than through the tunnel or to them (postrouting).
    pub forwarded_out: Vec<Rule>,
}

impl LocalInterfaces {
    /// The rules, or `None` when no local interface is listed. `lan_sets`: the `[lan] allow`
    /// lists that have entries.
    pub fn of(s: &Settings, lan_sets: &[SetId]) -> Option<LocalInterfaces> {
        let locals = &s.lan.interfaces;
        if locals.is_empty() {
            return None;
        }
        let each = |comment: &'static str, make: &dyn Fn(&Interface) -> Vec<Match>| -> Vec<Rule> {
            locals.iter().map(|x| rule(make(x), Verdict::Accept, comment)).collect()
        };
        let mut input =
            each("DHCP requests from a local interface", &|x| vec![Match::InIface(x.clone()), Match::Family(Family::V4), Match::Udp { sport: 68, dport: 67 }]);
        input.extend(each("DHCPv6 requests from a local interface", &|x| {
            vec![Match::InIface(x.clone()), Match::Family(Family::V6), Match::Udp { sport: 546, dport: 547 }]
        }));
        input.extend(each("IPv6 router solicitations from a local interface", &|x| {
            [Match::InIface(x.clone())].into_iter().chain(neighbour_discovery(&[Icmpv6::RouterSolicit])).collect()
        }));
        input.extend(each("DNS from a local interface to this machine", &|x| vec![Match::InIface(x.clone()), dns()]));
        for (proto, ports) in by_proto(&s.lan.incoming) {
            input.extend(each("incoming from a local interface ([lan] incoming)", &|x| {
                vec![Match::InIface(x.clone()), Match::DstPorts { protos: vec![proto], ports: ports.clone() }]
            }));
        }
        let output = each("to a local interface", &|x| vec![Match::OutIface(x.clone())]);
        Some(LocalInterfaces { input, output, forward: forward(s, lan_sets), forwarded_out: forwarded_out(lan_sets) })
    }
}

fn forward(s: &Settings, lan_sets: &[SetId]) -> Vec<Rule> {
    let (locals, tunnels, family) = (&s.lan.interfaces, &s.tunnel.interfaces, tunnel_family(s));
    let pairs = || locals.iter().flat_map(|x| tunnels.iter().map(move |t| (x, t)));
    // One bridge's machines, as br_netfilter shows their packets (or routed back to the bridge
    // they came from). A pattern also matches packets routed between two of its bridges, which
    // their tool may keep apart (Docker's networks): those it passes to the tool's rules.
    let within = |x: &Interface| if x.prefix().1 { Verdict::Pass } else { Verdict::Accept };
    let mut forward: Vec<Rule> = locals
        .iter()
        .map(|x| rule(vec![Match::InIface(x.clone()), Match::OutIface(x.clone())], within(x), "between the machines of one local interface"))
        .collect();
    for (x, t) in pairs() {
        let m = [vec![Match::InIface(x.clone())], through_tunnel(s, t)].concat().into_iter().chain(family.clone()).collect();
        forward.push(rule(m, Verdict::Accept, "from a local interface into the tunnel"));
    }
    for (x, t) in pairs() {
        let replies = Match::CtState(vec![CtState::Established, CtState::Related]);
        let m = [from_tunnel(s, t), vec![Match::OutIface(x.clone()), replies]].concat().into_iter().chain(family.clone()).collect();
        forward.push(rule(m, Verdict::Accept, "replies from the tunnel to a local interface"));
    }
    // A LAN source arriving through the tunnel or from the inside of gateway mode is not the LAN
    // (as for `[lan] incoming` to this machine). From another local interface it is one of this
    // machine's containers, which the tool that publishes the port lets in itself.
    let inside = s.forward.enable.then_some(&s.forward.interfaces).into_iter().flatten();
    let not_the_lan: Vec<Match> = tunnels.iter().chain(inside).cloned().map(Match::NotInIface).collect();
    for (proto, ports) in by_proto(&s.lan.incoming) {
        for (x, id) in locals.iter().flat_map(|x| lan_sets.iter().map(move |id| (x, *id))) {
            let published = Match::DnatFromPorts { proto, ports: ports.clone() };
            let m = not_the_lan.iter().cloned().chain([Match::OutIface(x.clone()), published, Match::SaddrIn(id)]).collect();
            forward.push(rule(m, Verdict::Accept, "a published port on a local interface, from the LAN ([lan] incoming)"));
        }
    }
    for (proto, ports) in by_proto(&s.tunnel.incoming) {
        for (x, t) in pairs() {
            let published = Match::DnatFromPorts { proto, ports: ports.clone() };
            let m = [from_tunnel(s, t), vec![Match::OutIface(x.clone())]].concat().into_iter().chain(family.clone()).chain([published]).collect();
            forward.push(rule(m, Verdict::Accept, "a published port on a local interface, from the tunnel ([tunnel] incoming)"));
        }
    }
    for (x, id) in locals.iter().flat_map(|x| lan_sets.iter().map(move |id| (x, *id))) {
        let m = vec![Match::InIface(x.clone()), Match::DnatReply, Match::DaddrIn(id)];
        forward.push(rule(m, Verdict::Accept, "replies of a published port on a local interface to the LAN"));
    }
    forward
}

/// Replies of published ports leave to the LAN with the container's address as their source
/// until NAT undoes the translation, after postrouting's filter: not this machine's own.
fn forwarded_out(lan_sets: &[SetId]) -> Vec<Rule> {
    lan_sets
        .iter()
        .map(|id| {
            rule(
                vec![Match::DnatReply, Match::DaddrIn(*id), Match::SaddrNotLocal],
                Verdict::Accept,
                "replies of a published port on a local interface to the LAN",
            )
        })
        .collect()
}
