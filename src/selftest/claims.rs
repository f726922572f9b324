//! The claims selftest proves, each as the probes that show it and what each must do. The
//! expectations come from vpn-firewall's promise (README, "What it does"), not from the
//! ruleset: a ruleset that does not keep the promise fails them.

use super::observe::Seen;
use super::plan::{Plan, Side, Situation, UPLINK_NET4, UPLINK_NET6, link_addresses};
use super::probe::{Outcome, Probe, Sender};
use crate::settings::Settings;
use crate::values::Proto;
use std::net::IpAddr;

/// The ports of probes that are not DNS and not to a VPN server.
pub const TCP_PORT: u16 = 40001;
pub const UDP_PORT: u16 = 40002;
/// The uid and gid of the ordinary user, unless the configuration exempts them.
const NOBODY: u32 = 65534;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Nothing arrives on either side; a TCP connection fails.
    Blocked,
    /// It arrives on the side its route leads to, and only there.
    Passes,
}

/// Which ruleset is loaded when a probe is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The configuration's, by `start`.
    Configured,
    /// The lockdown, by `start` with a broken drop-in and nothing loaded.
    Lockdown,
    /// The configuration's, loaded through a guard, then flushed by another process while
    /// the guard was paused: only the table the guard owns is left.
    Tampered,
}

/// What a probe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub outcome: Outcome,
    pub seen: Seen,
    /// Where its route leads.
    pub side: Side,
}

impl Observed {
    /// Whether it arrived where its route leads, and only there, and its sender got what it
    /// wanted: a TCP connection an answer, a datagram sent.
    pub fn arrived(&self) -> bool {
        let (there, elsewhere) = match self.side {
            Side::Uplink => (self.seen.uplink, self.seen.tunnel),
            Side::Tunnel => (self.seen.tunnel, self.seen.uplink),
        };
        self.outcome.left && there > 0 && elsewhere == 0
    }

    /// No packet of it arrived anywhere, and no answer came back.
    pub fn nothing_left(&self) -> bool {
        self.seen == Seen::default() && !self.outcome.answered
    }

    pub fn meets(&self, expect: Expect) -> bool {
        match expect {
            Expect::Blocked => self.nothing_left(),
            Expect::Passes => self.arrived(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub stage: Stage,
    pub situation: Situation,
    pub probe: Probe,
    pub expect: Expect,
    pub observed: Option<Observed>,
}

impl Check {
    pub fn held(&self) -> bool {
        self.observed.as_ref().is_some_and(|o| o.meets(self.expect))
    }
}

/// A statement about the run that holds or not (an exit code, the table loaded).
#[derive(Debug, Clone)]
pub struct Fact {
    pub text: String,
    pub holds: bool,
}

#[derive(Debug, Clone)]
pub struct Claim {
    pub id: &'static str,
    pub title: String,
    /// What the reader should know to judge the evidence.
    pub notes: Vec<String>,
    pub facts: Vec<Fact>,
    pub checks: Vec<Check>,
}

impl Claim {
    fn new(id: &'static str, title: impl Into<String>) -> Claim {
        Claim { id, title: title.into(), notes: Vec::new(), facts: Vec::new(), checks: Vec::new() }
    }

    pub fn passed(&self) -> bool {
        self.facts.iter().all(|f| f.holds) && self.checks.iter().all(Check::held)
    }

    fn check(&mut self, stage: Stage, situation: Situation, probe: Probe, expect: Expect) {
        self.checks.push(Check { stage, situation, probe, expect, observed: None });
    }

    /// The same check for each sender, TCP and UDP alternating so that both are covered.
    fn both_protocols(&mut self, stage: Stage, situation: Situation, addr: IpAddr, senders: &[&Sender], expect: Expect) {
        for sender in senders {
            self.check(stage, situation, Probe::new(Proto::Tcp, addr, TCP_PORT, sender), expect);
            self.check(stage, situation, Probe::new(Proto::Udp, addr, UDP_PORT, sender), expect);
        }
    }
}

/// Who sends the probes.
struct Senders {
    root: Sender,
    /// An ordinary user the configuration does not exempt.
    user: Sender,
    /// The VPN client's identities: user, group, fwmark.
    vpn: Vec<Sender>,
    /// The uid and gid the configuration exempts.
    exempt: (Option<u32>, Option<u32>),
}

impl Senders {
    fn new(s: &Settings) -> Senders {
        let user_id = s.tunnel.user.as_ref().map(|a| a.id);
        let group_id = s.tunnel.group.as_ref().map(|a| a.id);
        let uid = (1000..=NOBODY).rev().find(|u| Some(*u) != user_id).expect("one of two differs");
        let gid = (1000..=NOBODY).rev().find(|g| Some(*g) != group_id).expect("one of two differs");
        let mut vpn = Vec::new();
        if let Some(u) = &s.tunnel.user {
            vpn.push(Sender { label: format!("VPN user {}", u.name), uid: u.id, gid, mark: None });
        }
        if let Some(g) = &s.tunnel.group {
            vpn.push(Sender { label: format!("VPN group {}", g.name), uid, gid: g.id, mark: None });
        }
        if let Some(m) = s.tunnel.fwmark {
            vpn.push(Sender { label: format!("root, fwmark {m:#x}"), uid: 0, gid: 0, mark: Some(m) });
        }
        let user = Sender { label: format!("user {uid}"), uid, gid, mark: None };
        Senders { root: Sender::root(), user, vpn, exempt: (user_id, group_id) }
    }

    /// Whether the configuration makes every process of `sender`'s uid or gid the VPN client.
    fn is_exempt(&self, sender: &Sender) -> bool {
        self.exempt.0 == Some(sender.uid) || self.exempt.1 == Some(sender.gid)
    }
}

/// Every claim, with its checks not yet run. `user_value` is the `[tunnel] user` as written
/// (or its default), to say why no user is exempt when it names no account.
pub fn claims(s: &Settings, plan: &Plan, user_value: &str) -> Vec<Claim> {
    let who = Senders::new(s);
    let internet4 = IpAddr::V4(plan.internet4);
    let internet6 = IpAddr::V6(plan.internet6);
    let tunnel = plan.tunnel.is_ok();
    let (root, user) = (&who.root, &who.user);
    let everyone = [root, user];
    use Expect::{Blocked, Passes};
    use Situation::*;
    use Stage::*;

    let mut outside = Claim::new("outside-tunnel", "Nothing reaches the internet outside the tunnel");
    let situations: &[Situation] = if tunnel { &[VpnDown, PushedRoute] } else { &[VpnDown] };
    for situation in situations {
        outside.both_protocols(Configured, *situation, internet4, &everyone, Blocked);
    }
    if let Some(net) = s.lan.allow.iter().find(|n| n.contains(&internet4)) {
        outside.notes.push(format!("every internet address tried is in [lan] allow: {internet4} is in {net}"));
    }

    let mut through = Claim::new("through-tunnel", "Traffic through the tunnel passes");
    match &plan.tunnel {
        Ok(_) => {
            through.both_protocols(Configured, VpnUp, internet4, &everyone, Passes);
            if s.tunnel.ipv6 {
                through.both_protocols(Configured, VpnUp, internet6, &everyone, Passes);
            }
        }
        Err(why) => through.facts.push(Fact { text: why.clone(), holds: false }),
    }

    let mut client = Claim::new(
        "vpn-client",
        if s.tunnel.servers.is_empty() {
            "Only the VPN client leaves outside the tunnel (to any IPv4 address: [tunnel] servers is empty)"
        } else {
            "Only the VPN client leaves outside the tunnel, and only to [tunnel] servers"
        },
    );
    if who.vpn.is_empty() {
        let why = match &s.tunnel.user {
            None if !user_value.trim().is_empty() => format!("[tunnel] user {:?} does not exist", user_value.trim()),
            _ => "[tunnel] user, group and fwmark are empty".into(),
        };
        client.notes.push(format!("no process is exempt ({why}): nothing may leave outside the tunnel, the strictest outcome"));
    }
    let in_lan = |a: IpAddr| s.lan.allow.iter().any(|n| n.contains(&a));
    for vpn in &who.vpn {
        if s.tunnel.servers.is_empty() {
            client.both_protocols(Configured, VpnDown, internet4, &[vpn], Passes);
            client.check(Configured, VpnDown, Probe::new(Proto::Tcp, internet6, TCP_PORT, vpn), Blocked);
            continue;
        }
        for server in plan.servers.iter().filter(|sv| sv.usable) {
            let e = server.endpoint;
            client.check(Configured, VpnDown, Probe::new(e.proto, e.addr, e.port, vpn), Passes);
            let other_port = if e.port == u16::MAX { e.port - 1 } else { e.port + 1 };
            let other_proto = if e.proto == Proto::Tcp { Proto::Udp } else { Proto::Tcp };
            for (proto, port) in [(e.proto, other_port), (other_proto, e.port)] {
                let listed = s.tunnel.servers.iter().any(|o| (o.addr, o.port, o.proto) == (e.addr, port, proto));
                if !listed && !in_lan(e.addr) {
                    client.check(Configured, VpnDown, Probe::new(proto, e.addr, port, vpn), Blocked);
                }
            }
        }
        client.check(Configured, VpnDown, Probe::new(Proto::Tcp, internet4, TCP_PORT, vpn), Blocked);
    }
    let others: Vec<&Sender> = everyone.into_iter().filter(|p| !who.is_exempt(p)).collect();
    for server in &plan.servers {
        let e = server.endpoint;
        if !server.usable {
            client.notes.push(format!("{e} is on the sandbox's own links: not probed"));
        } else if in_lan(e.addr) {
            client.notes.push(format!("{e} is in [lan] allow: every process may reach it"));
        } else {
            for sender in &others {
                client.check(Configured, VpnDown, Probe::new(e.proto, e.addr, e.port, sender), Blocked);
            }
        }
    }

    let mut lan =
        Claim::new("lan", if s.lan.dns { "[lan] allow is reachable, DNS to it too ([lan] dns = yes)" } else { "[lan] allow is reachable, DNS to it is not" });
    let lan_situation = if tunnel { VpnUp } else { VpnDown };
    if s.lan.allow.is_empty() {
        lan.notes.push("[lan] allow is empty: no network is reachable outside the tunnel".into());
    }
    for l in &plan.lan {
        let Some(host) = l.host else {
            lan.notes.push(format!("{} has no address the sandbox can route to: not probed", l.network));
            continue;
        };
        lan.both_protocols(Configured, lan_situation, host, &everyone, Passes);
        let dns = if s.lan.dns { Passes } else { Blocked };
        for (proto, port, sender) in [(Proto::Udp, 53, root), (Proto::Tcp, 53, user), (Proto::Udp, 853, user), (Proto::Tcp, 853, root)] {
            lan.check(Configured, lan_situation, Probe::new(proto, host, port, sender), dns);
        }
    }
    // The uplink's own network, as any network not listed: blocked.
    for network in [UPLINK_NET4, UPLINK_NET6] {
        let router = link_addresses(network).1;
        if !in_lan(router) {
            lan.check(Configured, lan_situation, Probe::new(Proto::Tcp, router, TCP_PORT, root), Blocked);
            lan.check(Configured, lan_situation, Probe::new(Proto::Udp, router, UDP_PORT, user), Blocked);
        }
    }

    let mut ipv6 = Claim::new(
        "ipv6",
        if s.tunnel.ipv6 { "IPv6 never leaves outside the tunnel" } else { "IPv6 never leaves, outside the tunnel nor through it ([tunnel] ipv6 = no)" },
    );
    ipv6.both_protocols(Configured, VpnDown, internet6, &everyone, Blocked);
    if tunnel {
        ipv6.both_protocols(Configured, PushedRoute, internet6, &[root], Blocked);
        if !s.tunnel.ipv6 {
            ipv6.both_protocols(Configured, VpnUp, internet6, &[user], Blocked);
        }
    }
    if let Some(net) = s.lan.allow.iter().find(|n| n.contains(&internet6)) {
        ipv6.notes.push(format!("every internet address tried is in [lan] allow: {internet6} is in {net}"));
    }

    let mut deleted = Claim::new("tunnel-deleted", "Everything is still blocked after the tunnel interface is deleted");
    if let Err(why) = &plan.tunnel {
        deleted.notes.push(format!("there is no tunnel interface to delete ({why}): probed without one"));
    }
    deleted.both_protocols(Configured, TunnelDeleted, internet4, &everyone, Blocked);
    deleted.check(Configured, TunnelDeleted, Probe::new(Proto::Tcp, internet6, TCP_PORT, user), Blocked);

    let mut impostor = Claim::new("impostor", "An Ethernet-type interface merely named like the tunnel is not the tunnel");
    match &plan.tunnel {
        Ok(_) if s.tunnel.tap => impostor.facts.push(Fact {
            text: "[tunnel] tap = yes: an Ethernet-type interface named like the tunnel is the tunnel, as OpenVPN's dev tap needs".into(),
            holds: true,
        }),
        Ok(t) => {
            impostor.notes.push(format!("a veth to the uplink side named {}, as the tunnel was, with the default routes through it", t.name));
            impostor.both_protocols(Configured, Impostor, internet4, &everyone, Blocked);
            impostor.check(Configured, Impostor, Probe::new(Proto::Tcp, internet6, TCP_PORT, root), Blocked);
        }
        Err(why) => impostor.facts.push(Fact { text: format!("no interface is the tunnel, so none can be impersonated ({why})"), holds: true }),
    }

    let mut broken = Claim::new("broken-config", "A broken configuration keeps the loaded rules, and with none loaded gives the lockdown");
    let lockdown_situations: &[Situation] = if tunnel { &[VpnUp, VpnDown] } else { &[VpnDown] };
    for situation in lockdown_situations {
        broken.both_protocols(Lockdown, *situation, internet4, &everyone, Blocked);
        broken.check(Lockdown, *situation, Probe::new(Proto::Tcp, internet6, TCP_PORT, root), Blocked);
    }
    if let Some(host) = plan.lan.iter().find_map(|l| l.host) {
        broken.check(Lockdown, VpnDown, Probe::new(Proto::Tcp, host, TCP_PORT, root), Blocked);
    }
    if let Some(vpn) = who.vpn.first() {
        let server = plan.servers.iter().find(|s| s.usable).map(|s| s.endpoint);
        let probe = server.map_or(Probe::new(Proto::Udp, internet4, UDP_PORT, vpn), |e| Probe::new(e.proto, e.addr, e.port, vpn));
        broken.check(Lockdown, VpnDown, probe, Blocked);
    }

    let mut guarded =
        Claim::new("guard-tamper", "While the guard runs, another process flushing the rules opens nothing, and the guard keeps or restores them");
    guarded.notes.push("the guard is paused (SIGSTOP) while the rules are flushed and the probes sent, so that its own table stands alone".into());
    guarded.both_protocols(Tampered, VpnDown, internet4, &everyone, Blocked);
    guarded.check(Tampered, VpnDown, Probe::new(Proto::Tcp, internet6, TCP_PORT, user), Blocked);

    vec![outside, through, client, lan, ipv6, deleted, impostor, broken, guarded]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::tests::settings;
    use crate::values::interface;

    fn claims_of(text: &str) -> Vec<Claim> {
        let s = settings(text);
        claims(&s, &Plan::new(&s, Some(&interface("eth0").unwrap())), "tunnel")
    }

    /// `(sender, target, expect)` of a claim's checks.
    fn checks_of(claims: &[Claim], id: &str) -> Vec<(String, String, Expect)> {
        let claim = claims.iter().find(|c| c.id == id).unwrap();
        claim.checks.iter().map(|c| (c.probe.sender.label.clone(), c.probe.target(), c.expect)).collect()
    }

    #[test]
    fn without_the_default_user_no_process_is_exempt_and_that_is_said() {
        let claims = claims_of("");
        let client = claims.iter().find(|c| c.id == "vpn-client").unwrap();
        assert!(client.checks.is_empty());
        assert_eq!(
            client.notes,
            ["no process is exempt ([tunnel] user \"tunnel\" does not exist): nothing may leave outside the tunnel, the strictest outcome"]
        );
    }

    #[test]
    fn the_vpn_client_reaches_only_its_servers_and_no_one_else_does() {
        let claims = claims_of("[tunnel]\nuser = 4242\nservers = 198.51.100.7:1194/udp\n");
        let checks = checks_of(&claims, "vpn-client");
        let check = |who: &str, to: &str| checks.iter().find(|(w, t, _)| w == who && t == to).map(|c| c.2);
        assert_eq!(check("VPN user 4242", "UDP 198.51.100.7:1194"), Some(Expect::Passes));
        assert_eq!(check("VPN user 4242", "UDP 198.51.100.7:1195"), Some(Expect::Blocked));
        assert_eq!(check("VPN user 4242", "TCP 198.51.100.7:1194"), Some(Expect::Blocked));
        assert_eq!(check("VPN user 4242", "TCP 203.0.113.10:40001"), Some(Expect::Blocked));
        assert_eq!(check("root", "UDP 198.51.100.7:1194"), Some(Expect::Blocked));
        assert_eq!(check("user 65534", "UDP 198.51.100.7:1194"), Some(Expect::Blocked));
    }

    #[test]
    fn nothing_passes_an_ethernet_interface_named_like_the_tunnel() {
        let claims = claims_of("");
        let impostor = claims.iter().find(|c| c.id == "impostor").unwrap();
        assert!(impostor.checks.len() >= 5 && impostor.checks.iter().all(|c| c.expect == Expect::Blocked && c.situation == Situation::Impostor));
    }

    #[test]
    fn the_ordinary_user_is_never_the_vpn_client() {
        let claims = claims_of("[tunnel]\nuser = 65534\ngroup = 65534\n");
        let senders: Vec<String> = checks_of(&claims, "outside-tunnel").into_iter().map(|c| c.0).collect();
        assert!(senders.contains(&"user 65533".to_string()), "{senders:?}");
    }
}
