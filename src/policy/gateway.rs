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

use super::{CtState, Family, Icmp, Icmpv6, Match, Nat, NatAction, NatRule, Rule, Verdict, net, neighbour_discovery, rule, tunnel_family};
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
        let f = &s.forward;
        if !f.enable {
            return None;
        }
        let (inside, tunnels) = (&f.interfaces, &s.tunnel.interfaces);
        let per_inside = |make: &dyn Fn(&Interface) -> Vec<Match>, verdict: Verdict, comment: &'static str| -> Vec<Rule> {
            inside.iter().map(|x| rule(make(x), verdict, comment)).collect()
        };
        // Every pair of an inside interface and a tunnel interface, in that order.
        let pairs = || inside.iter().flat_map(|x| tunnels.iter().map(move |t| (x, t)));
        let family = tunnel_family(s);

        let mut forward = vec![rule(vec![Match::CtState(vec![CtState::Invalid])], Verdict::Drop, "invalid")];
        if let Some(resolver) = f.dns {
            if s.tunnel.ipv6 || resolver.is_ipv4() {
                for (x, t) in pairs() {
                    let m = vec![Match::InIface(x.clone()), Match::OutIface(t.clone()), dns(), daddr(resolver)];
                    forward.push(rule(m, Verdict::Accept, "DNS from the inside, redirected to [forward] dns, into the tunnel"));
                }
            }
            forward.extend(per_inside(&|x| vec![Match::InIface(x.clone()), dns()], Verdict::Block, "DNS from the inside, not redirected"));
        }
        for (x, t) in pairs() {
            let m = [Match::InIface(x.clone()), Match::OutIface(t.clone())].into_iter().chain(family.clone()).collect();
            forward.push(rule(m, Verdict::Accept, "from the inside into the tunnel"));
        }
        for (x, t) in pairs() {
            let replies = Match::CtState(vec![CtState::Established, CtState::Related]);
            let m = [Match::InIface(t.clone()), Match::OutIface(x.clone()), replies].into_iter().chain(family.clone()).collect();
            forward.push(rule(m, Verdict::Accept, "replies from the tunnel to the inside"));
        }

        let mut input = per_inside(&|x| vec![Match::InIface(x.clone()), Match::Family(Family::V4), Match::Udp { sport: 68, dport: 67 }], Verdict::Accept, "DHCP requests from the inside");
        let mut answers = per_inside(&|x| vec![Match::OutIface(x.clone()), Match::Family(Family::V4), Match::Udp { sport: 67, dport: 68 }], Verdict::Accept, "DHCP answers to the inside");
        // The gateway's own errors about what it forwards or blocks: path MTU discovery through
        // a tunnel with a smaller MTU needs them, and a rejected connection fails at once.
        let errors = Match::Icmp(vec![Icmp::DestinationUnreachable, Icmp::TimeExceeded, Icmp::ParameterProblem]);
        answers.extend(per_inside(&|x| vec![Match::OutIface(x.clone()), errors.clone()], Verdict::Accept, "ICMP errors to the inside"));
        if s.tunnel.ipv6 {
            input.extend(per_inside(&|x| [Match::InIface(x.clone())].into_iter().chain(neighbour_discovery(&[Icmpv6::RouterSolicit])).collect(), Verdict::Accept, "IPv6 router solicitations from the inside"));
            input.extend(per_inside(&|x| vec![Match::InIface(x.clone()), Match::Family(Family::V6), Match::Udp { sport: 546, dport: 547 }], Verdict::Accept, "DHCPv6 requests from the inside"));
            // To any address on the inside's link: a machine there solicits from its global
            // address too. Hop limit 255 keeps them on the link.
            let nd = neighbour_discovery(&[Icmpv6::RouterAdvert, Icmpv6::NeighborSolicit, Icmpv6::NeighborAdvert]);
            answers.extend(per_inside(&|x| [Match::OutIface(x.clone())].into_iter().chain(nd.clone()).collect(), Verdict::Accept, "IPv6 neighbour discovery and router advertisements to the inside"));
            answers.extend(per_inside(&|x| vec![Match::OutIface(x.clone()), Match::Ip6Daddr(vec![net("fe80::/10")]), Match::Udp { sport: 547, dport: 546 }], Verdict::Accept, "DHCPv6 answers to the inside"));
            let errors = Match::Icmpv6(vec![Icmpv6::DestinationUnreachable, Icmpv6::PacketTooBig, Icmpv6::TimeExceeded, Icmpv6::ParameterProblem]);
            answers.extend(per_inside(&|x| vec![Match::OutIface(x.clone()), errors.clone()], Verdict::Accept, "ICMPv6 errors to the inside"));
        }
        let mut nat = Nat::default();
        if let Some(resolver) = f.dns {
            input.extend(per_inside(&|x| vec![Match::InIface(x.clone()), dns(), daddr(resolver)], Verdict::Accept, "DNS from the inside, redirected to this gateway"));
            let from_resolver = Match::SrcPorts { protos: vec![Proto::Tcp, Proto::Udp], ports: vec![(53, 53)] };
            answers.extend(per_inside(&|x| vec![Match::OutIface(x.clone()), saddr(resolver), from_resolver.clone()], Verdict::Accept, "DNS answers of this gateway to the inside"));
            let of_resolver = Match::Family(if resolver.is_ipv4() { Family::V4 } else { Family::V6 });
            nat.prerouting = inside
                .iter()
                .map(|x| NatRule { matches: vec![Match::InIface(x.clone()), of_resolver.clone(), dns()], action: NatAction::Dnat(resolver), comment: "DNS from the inside to [forward] dns" })
                .collect();
        }
        if f.masquerade {
            nat.postrouting = tunnels
                .iter()
                .map(|t| NatRule { matches: [Match::OutIface(t.clone())].into_iter().chain(family.clone()).collect(), action: NatAction::Masquerade, comment: "through the tunnel, with the tunnel's address" })
                .collect();
        }
        let forwarded_out = per_inside(&|x| vec![Match::OutIface(x.clone()), Match::SaddrNotLocal], Verdict::Accept, "forwarded to the inside: the replies the forward chain let through");
        Some(Gateway { input, answers, forward, forwarded_out, nat })
    }
}

/// DNS queries: port 53, TCP and UDP.
fn dns() -> Match {
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
