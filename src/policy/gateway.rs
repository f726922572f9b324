//! Gateway mode (`[forward] enable`): the machines behind this one, on `[forward] interfaces`
//! ("the inside"), reach the tunnel and nothing else.
//!
//! - Forwarded: from the inside into the tunnel, and back from the tunnel only what answers it
//!   (conntrack state established or related). Nothing from the inside to the uplink, not even
//!   to `[lan] allow` (the LAN exception is this machine's own); nothing unsolicited from the
//!   uplink or the tunnel to the inside; nothing between inside interfaces. IPv6 only with
//!   `[tunnel] ipv6`, as for this machine's own traffic.
//! - DNS: with `[forward] dns`, every DNS query from the inside (53, TCP and UDP) gets that
//!   resolver as its destination, and the forward rules let DNS from the inside go there only and
//!   through the tunnel only: a query that was not redirected (a flow from before the ruleset,
//!   the other IP family, another tool's redirect winning) is blocked. DNS-over-TLS (853) from the
//!   inside, like everything from it, passes only through the tunnel.
//! - The gateway itself answers the inside only as its DHCP server (and for IPv6, with
//!   `[tunnel] ipv6`, as its router: router advertisements, DHCPv6), and as the redirected
//!   resolver when `[forward] dns` is one of its own addresses (the one on the inside).
//! - Masquerade (`[forward] masquerade`): packets leaving through the tunnel take the tunnel's
//!   address, so the VPN server needs no route to the inside. Nothing else is translated.
//! - Postrouting sees forwarded packets: into the tunnel they pass its egress rule; to the
//!   inside, the replies the forward chain let through pass `forwarded_out`; every other egress
//!   exception is limited to this machine's own packets (`SaddrLocal`, in policy.rs).

use super::link::{from_tunnel, through_tunnel};
use super::{CtState, Family, Icmp, Icmpv6, Match, Nat, NatAction, NatRule, Rule, Verdict, neighbour_discovery, net, rule, tunnel_family};
use crate::settings::Settings;
use crate::values::{Interface, Proto};
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::IpAddr;

/// What gateway mode adds to the policy.
pub(super) struct Gateway {
    /// What the gateway accepts from the inside.
    pub input: Vec<Rule>,
    /// Its answers to the inside (output, and postrouting after the egress rules).
    pub answers: Vec<Rule>,
    pub forward: Vec<Rule>,
    /// Forwarded packets that may leave other than through the tunnel (postrouting only).
    pub forwarded_out: Vec<Rule>,
    pub nat: Nat,
}

impl Gateway {
    /// The rules of gateway mode, or `None` when forwarding is not enabled.
    pub fn of(s: &Settings) -> Option<Gateway> {
        if !s.forward.enable {
            return None;
        }
        let (input, answers) = services(s);
        let forwarded_out = per_inside(s, Verdict::Accept, "forwarded to the inside: the replies the forward chain let through", |x| {
            vec![Match::OutIface(x.clone()), Match::SaddrNotLocal]
        });
        Some(Gateway { input, answers, forward: forward(s), forwarded_out, nat: nat(s) })
    }
}

/// One rule for each inside interface, with the matches `make` gives for it.
fn per_inside(s: &Settings, verdict: Verdict, comment: &'static str, make: impl Fn(&Interface) -> Vec<Match>) -> Vec<Rule> {
    s.forward.interfaces.iter().map(|x| rule(make(x), verdict, comment)).collect()
}

/// Every pair of an inside interface and a tunnel interface.
fn inside_and_tunnel(s: &Settings) -> impl Iterator<Item = (&Interface, &Interface)> {
    s.forward.interfaces.iter().flat_map(|x| s.tunnel.interfaces.iter().map(move |t| (x, t)))
}

fn forward(s: &Settings) -> Vec<Rule> {
    let family = tunnel_family(s);
    let mut forward = vec![rule(vec![Match::CtState(vec![CtState::Invalid])], Verdict::Drop, "invalid")];
    if let Some(resolver) = s.forward.dns {
        if s.tunnel.ipv6 || resolver.is_ipv4() {
            for (x, t) in inside_and_tunnel(s) {
                let m = [vec![Match::InIface(x.clone())], through_tunnel(s, t), vec![dns(), daddr(resolver)]].concat();
                forward.push(rule(m, Verdict::Accept, "DNS from the inside, redirected to [forward] dns, into the tunnel"));
            }
        }
        forward.extend(per_inside(s, Verdict::Block, "DNS from the inside, other than redirected into the tunnel", |x| vec![Match::InIface(x.clone()), dns()]));
    }
    for (x, t) in inside_and_tunnel(s) {
        let m = [vec![Match::InIface(x.clone())], through_tunnel(s, t)].concat().into_iter().chain(family.clone()).collect();
        forward.push(rule(m, Verdict::Accept, "from the inside into the tunnel"));
    }
    for (x, t) in inside_and_tunnel(s) {
        let replies = Match::CtState(vec![CtState::Established, CtState::Related]);
        let m = [from_tunnel(s, t), vec![Match::OutIface(x.clone()), replies]].concat().into_iter().chain(family.clone()).collect();
        forward.push(rule(m, Verdict::Accept, "replies from the tunnel to the inside"));
    }
    forward
}

/// What the gateway accepts from the inside (input), and what it may send it (output).
fn services(s: &Settings) -> (Vec<Rule>, Vec<Rule>) {
    let mut input = per_inside(s, Verdict::Accept, "DHCP requests from the inside", |x| {
        vec![Match::InIface(x.clone()), Match::Family(Family::V4), Match::Udp { sport: 68, dport: 67 }]
    });
    let mut answers = per_inside(s, Verdict::Accept, "DHCP answers to the inside", |x| {
        vec![Match::OutIface(x.clone()), Match::Family(Family::V4), Match::Udp { sport: 67, dport: 68 }]
    });
    // The gateway's own errors about what it forwards or blocks: path MTU discovery through a
    // tunnel with a smaller MTU needs them, and a rejected connection fails at once.
    let errors = [Icmp::DestinationUnreachable, Icmp::TimeExceeded, Icmp::ParameterProblem];
    answers.extend(per_inside(s, Verdict::Accept, "ICMP errors to the inside", |x| vec![Match::OutIface(x.clone()), Match::Icmp(errors.to_vec())]));
    if s.tunnel.ipv6 {
        input.extend(per_inside(s, Verdict::Accept, "IPv6 router solicitations from the inside", |x| {
            [Match::InIface(x.clone())].into_iter().chain(neighbour_discovery(&[Icmpv6::RouterSolicit])).collect()
        }));
        input.extend(per_inside(s, Verdict::Accept, "DHCPv6 requests from the inside", |x| {
            vec![Match::InIface(x.clone()), Match::Family(Family::V6), Match::Udp { sport: 546, dport: 547 }]
        }));
        // To any address on the inside's link, as a machine there solicits from its global
        // address too; hop limit 255 keeps them on the link.
        let nd = [Icmpv6::RouterAdvert, Icmpv6::NeighborSolicit, Icmpv6::NeighborAdvert];
        answers.extend(per_inside(s, Verdict::Accept, "IPv6 neighbour discovery and router advertisements to the inside", |x| {
            [Match::OutIface(x.clone())].into_iter().chain(neighbour_discovery(&nd)).collect()
        }));
        answers.extend(per_inside(s, Verdict::Accept, "DHCPv6 answers to the inside", |x| {
            vec![Match::OutIface(x.clone()), Match::Ip6Daddr(vec![net("fe80::/10")]), Match::Udp { sport: 547, dport: 546 }]
        }));
        let errors = [Icmpv6::DestinationUnreachable, Icmpv6::PacketTooBig, Icmpv6::TimeExceeded, Icmpv6::ParameterProblem];
        answers.extend(per_inside(s, Verdict::Accept, "ICMPv6 errors to the inside", |x| vec![Match::OutIface(x.clone()), Match::Icmpv6(errors.to_vec())]));
    }
    // When the resolver is one of the gateway's own addresses, redirected queries end here.
    if let Some(resolver) = s.forward.dns {
        input.extend(per_inside(s, Verdict::Accept, "DNS from the inside, redirected to this gateway", |x| {
            vec![Match::InIface(x.clone()), dns(), daddr(resolver)]
        }));
        let from_resolver = Match::SrcPorts { protos: vec![Proto::Tcp, Proto::Udp], ports: vec![(53, 53)] };
        answers.extend(per_inside(s, Verdict::Accept, "DNS answers of this gateway to the inside", |x| {
            vec![Match::OutIface(x.clone()), saddr(resolver), from_resolver.clone()]
        }));
    }
    (input, answers)
}

fn nat(s: &Settings) -> Nat {
    let mut nat = Nat::default();
    if let Some(resolver) = s.forward.dns {
        let family = Match::Family(if resolver.is_ipv4() { Family::V4 } else { Family::V6 });
        nat.prerouting = s
            .forward
            .interfaces
            .iter()
            .map(|x| NatRule {
                matches: vec![Match::InIface(x.clone()), family.clone(), dns()],
                action: NatAction::Dnat(resolver),
                comment: "DNS from the inside to [forward] dns",
            })
            .collect();
    }
    nat.postrouting = masquerade(s);
    nat
}

/// With `[forward] masquerade`, forwarded packets leave through the tunnel with its address.
pub(super) fn masquerade(s: &Settings) -> Vec<NatRule> {
    if !s.forward.masquerade {
        return Vec::new();
    }
    s.tunnel
        .interfaces
        .iter()
        .map(|t| NatRule {
            matches: [Match::OutIface(t.clone())].into_iter().chain(tunnel_family(s)).collect(),
            action: NatAction::Masquerade,
            comment: "through the tunnel, with the tunnel's address",
        })
        .collect()
}

/// DNS queries: port 53, TCP and UDP.
pub(super) fn dns() -> Match {
    Match::DstPorts { protos: vec![Proto::Tcp, Proto::Udp], ports: vec![(53, 53)] }
}

fn daddr(a: IpAddr) -> Match {
    match a {
        IpAddr::V4(a) => Match::IpDaddr(vec![Ipv4Net::from(a)]),
        IpAddr::V6(a) => Match::Ip6Daddr(vec![Ipv6Net::from(a)]),
    }
}

fn saddr(a: IpAddr) -> Match {
    match a {
        IpAddr::V4(a) => Match::IpSaddr(vec![Ipv4Net::from(a)]),
        IpAddr::V6(a) => Match::Ip6Saddr(vec![Ipv6Net::from(a)]),
    }
}
