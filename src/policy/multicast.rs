//! `[lan] multicast`: mDNS (224.0.0.251 and ff02::fb, UDP 5353) and SSDP (239.255.255.250 and
//! ff02::c, UDP 1900) on the LAN's links, for printers and casting. Off by default: it announces
//! this machine to the LAN (its name, its services), and any of its programs may send to these
//! groups outside the tunnel.
//!
//! - Out: to the groups only (mDNS answers are multicast too), and IGMP reports for them (an
//!   IGMP-snooping switch forwards a group only to the ports that joined it; MLD reports pass
//!   already, policy.rs).
//! - In, from any interface but the tunnel: what is sent to the groups; IGMP queries; answers
//!   sent to this machine's own address (mDNS from port 5353 to 5353, SSDP from port 1900) only
//!   from `[lan] allow`, where the devices found must be anyway to be used.
//!
//! Finding a device is all this gives: talking to it afterwards needs it in `[lan] allow`.

use super::{Match, Rule, SetId, Verdict, net, rule};
use crate::settings::Settings;
use crate::values::Proto;

/// What `[lan] multicast` adds to the policy.
pub(super) struct Multicast {
    pub input: Vec<Rule>,
    pub output: Vec<Rule>,
}

/// A discovery protocol: its IPv4 and IPv6 groups, its port, and the comments of its rules.
struct Discovery {
    v4: &'static str,
    v6: &'static str,
    port: u16,
    out: &'static str,
    inbound: &'static str,
}

const MDNS: Discovery = Discovery {
    v4: "224.0.0.251/32",
    v6: "ff02::fb/128",
    port: 5353,
    out: "mDNS to its group ([lan] multicast)",
    inbound: "mDNS to its group, from the LAN ([lan] multicast)",
};
const SSDP: Discovery = Discovery {
    v4: "239.255.255.250/32",
    v6: "ff02::c/128",
    port: 1900,
    out: "SSDP to its group ([lan] multicast)",
    inbound: "SSDP to its group, from the LAN ([lan] multicast)",
};

impl Multicast {
    /// The rules, or `None` with `[lan] multicast = no`. `own`: the match that limits an egress
    /// exception to this machine's own packets, when it forwards; `lan_sets`: the `[lan] allow`
    /// lists that have entries.
    pub fn of(s: &Settings, own: Option<Match>, lan_sets: &[SetId]) -> Option<Multicast> {
        if !s.lan.multicast {
            return None;
        }
        let not_tunnel: Vec<Match> = s.tunnel.interfaces.iter().cloned().map(Match::NotInIface).collect();
        let (mut input, mut output) = (Vec::new(), Vec::new());
        for d in [MDNS, SSDP] {
            for group in [Match::IpDaddr(vec![net(d.v4)]), Match::Ip6Daddr(vec![net(d.v6)])] {
                let m = [group.clone(), udp_dport(d.port)].into_iter().chain(own.clone()).collect();
                output.push(rule(m, Verdict::Accept, d.out));
                let m = not_tunnel.iter().cloned().chain([group, udp_dport(d.port)]).collect();
                input.push(rule(m, Verdict::Accept, d.inbound));
            }
        }
        let joined = [MDNS.v4, SSDP.v4, "224.0.0.2/32", "224.0.0.22/32"].map(net).to_vec();
        output.push(rule(
            [Match::Igmp, Match::IpDaddr(joined)].into_iter().chain(own).collect(),
            Verdict::Accept,
            "IGMP reports of the mDNS and SSDP groups ([lan] multicast)",
        ));
        let queried = ["224.0.0.1/32", MDNS.v4, SSDP.v4].map(net).to_vec();
        input.push(rule(
            not_tunnel.iter().cloned().chain([Match::Igmp, Match::IpDaddr(queried)]).collect(),
            Verdict::Accept,
            "IGMP queries of the mDNS and SSDP groups ([lan] multicast)",
        ));
        // Answers sent to this machine's own address come from the devices' own (no link-local
        // group proves them on the link): only from `[lan] allow`, or the uplink would be open
        // to the internet from these source ports.
        for id in lan_sets {
            let mdns = Match::Udp { sport: MDNS.port, dport: MDNS.port };
            input.push(rule(
                not_tunnel.iter().cloned().chain([mdns, Match::SaddrIn(*id)]).collect(),
                Verdict::Accept,
                "mDNS answers from the LAN ([lan] multicast)",
            ));
            let ssdp = Match::SrcPorts { protos: vec![Proto::Udp], ports: vec![(SSDP.port, SSDP.port)] };
            input.push(rule(
                not_tunnel.iter().cloned().chain([ssdp, Match::SaddrIn(*id)]).collect(),
                Verdict::Accept,
                "SSDP answers from the LAN ([lan] multicast)",
            ));
        }
        Some(Multicast { input, output })
    }
}

fn udp_dport(port: u16) -> Match {
    Match::DstPorts { protos: vec![Proto::Udp], ports: vec![(port, port)] }
}
