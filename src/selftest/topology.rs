//! Builds the sandbox of the plan and changes the host's routes and tunnel interface from one
//! situation to the next. Every command here is `ip -n NAME` for a sandbox namespace, or runs on
//! a thread inside one (the tun devices of the stand-in tunnel).

use super::plan::{Plan, Situation, TUNNEL_NET4, TUNNEL_NET6, UPLINK_NET4, UPLINK_NET6, link_addresses, net};
use super::sandbox::{Netns, Sandbox};
use super::tunnel::TunPair;
use crate::output::say_err;
use anyhow::Result;
use std::cell::{Cell, RefCell};
use std::net::IpAddr;

/// The far ends of the host's links, in the uplink and tunnel namespaces.
const WIRE: &str = "wire";

/// The far end of the impostor, in the uplink namespace.
const IMPOSTOR: &str = "impostor";

pub struct Topology {
    pub plan: Plan,
    pub host: Netns,
    /// The uplink side: LAN, VPN servers, the internet.
    pub net: Netns,
    /// The tunnel side: the internet through the VPN.
    pub tun: Netns,
    situation: Cell<Situation>,
    /// The stand-in tunnel while it exists.
    tunnel: RefCell<Option<TunPair>>,
    /// Dropped last: it removes the namespaces.
    sandbox: Sandbox,
}

/// `addr add` lines for an address (a host route's worth: /32 or /128) on `dev`.
fn host_address(addr: IpAddr, dev: &str) -> String {
    let len = if addr.is_ipv4() { 32 } else { 128 };
    format!("addr add {addr}/{len} dev {dev}")
}

/// `addr add` of the host's (or the far side's) address of a link network.
fn link_address(network: &str, far: bool, dev: &str) -> String {
    let (host, far_end) = link_addresses(network);
    let prefix = net(network).prefix_len();
    let nodad = if network.contains(':') { " nodad" } else { "" };
    format!("addr add {}/{prefix} dev {dev}{nodad}", if far { far_end } else { host })
}

/// The gateway on the far side of a link, for an address of `addr`'s family.
fn gateway(addr: IpAddr, v4: &str, v6: &str) -> IpAddr {
    link_addresses(if addr.is_ipv4() { v4 } else { v6 }).1
}

impl Topology {
    /// The three namespaces, wired and addressed, with the default routes through the tunnel
    /// (or out of the uplink when there is no tunnel interface).
    pub fn build(sandbox: Sandbox, plan: Plan) -> Result<Topology> {
        let host = sandbox.netns("host")?;
        let uplink_side = sandbox.netns("net")?;
        let tun = sandbox.netns("tun")?;
        let up = plan.uplink.name.clone();
        sandbox.ip(
            &host,
            &[
                format!("link add {up} type veth peer name {WIRE} netns {}", uplink_side.name),
                link_address(UPLINK_NET4, false, &up),
                link_address(UPLINK_NET6, false, &up),
                format!("link set {up} up"),
            ],
        )?;
        let mut far = vec![link_address(UPLINK_NET4, true, WIRE), link_address(UPLINK_NET6, true, WIRE), format!("link set {WIRE} up")];
        far.extend(plan.uplink_side_addresses().into_iter().map(|a| host_address(a, "lo")));
        sandbox.ip(&uplink_side, &far)?;
        let internet = [IpAddr::V4(plan.internet4), IpAddr::V6(plan.internet6)];
        sandbox.ip(&tun, &internet.map(|a| host_address(a, "lo")))?;
        // Host routes to the LAN hosts and servers, as a VPN client keeps its server reachable.
        let routes: Vec<String> = plan
            .far_hosts()
            .into_iter()
            .filter(|a| ![UPLINK_NET4, UPLINK_NET6].map(net).iter().any(|n| n.contains(a)))
            .map(|a| format!("route add {a} via {} dev {up}", gateway(a, UPLINK_NET4, UPLINK_NET6)))
            .collect();
        sandbox.ip(&host, &routes)?;
        // Starts as "deleted" so that entering the first situation creates the tunnel interface.
        let t = Topology { plan, host, net: uplink_side, tun, situation: Cell::new(Situation::TunnelDeleted), tunnel: RefCell::new(None), sandbox };
        t.enter(if t.plan.tunnel.is_ok() { Situation::VpnUp } else { Situation::VpnDown })?;
        Ok(t)
    }

    pub fn namespaces(&self) -> [&str; 3] {
        [&self.host.name, &self.net.name, &self.tun.name]
    }

    /// Changes the host's routes (and tunnel interface) to those of `next`.
    pub fn enter(&self, next: Situation) -> Result<()> {
        let up = self.plan.uplink.name.clone();
        let tunnel = self.plan.tunnel.as_ref().ok().map(|t| t.name.clone());
        let now = self.situation.get();
        let mut commands = Vec::new();
        let pushed = [IpAddr::V4(self.plan.internet4), IpAddr::V6(self.plan.internet6)];
        if now == Situation::PushedRoute {
            commands.extend(pushed.map(|a| format!("route del {a}")));
        }
        if let Some(tun) = &tunnel {
            if now == Situation::Impostor && next != Situation::Impostor {
                commands.push(format!("link del {tun}"));
            }
            self.sandbox.ip(&self.host, &std::mem::take(&mut commands))?;
            match (has_tunnel(now), has_tunnel(next)) {
                (false, true) => self.create_tunnel(tun)?,
                // Its devices go with the copying thread, as a tun device goes with its VPN client.
                (true, false) => drop(self.tunnel.take()),
                _ => {}
            }
            if next == Situation::Impostor && now != Situation::Impostor {
                self.create_impostor(tun)?;
            }
        }
        let (via, v4, v6) = match (&tunnel, next) {
            (Some(tun), Situation::VpnUp | Situation::PushedRoute | Situation::Impostor) => (tun.clone(), TUNNEL_NET4, TUNNEL_NET6),
            _ => (up.clone(), UPLINK_NET4, UPLINK_NET6),
        };
        for default in ["0.0.0.0/0", "::/0"] {
            let gw = if default.contains(':') { link_addresses(v6).1 } else { link_addresses(v4).1 };
            commands.push(format!("route replace {default} via {gw} dev {via}"));
        }
        if next == Situation::PushedRoute {
            commands.extend(pushed.map(|a| format!("route replace {a} via {} dev {up}", gateway(a, UPLINK_NET4, UPLINK_NET6))));
        }
        self.sandbox.ip(&self.host, &commands)?;
        self.situation.set(next);
        Ok(())
    }

    /// The stand-in tunnel: a pair of tun devices from the host to the tunnel side.
    fn create_tunnel(&self, tun: &str) -> Result<()> {
        self.tunnel.replace(Some(TunPair::new(&self.host, tun, &self.tun, WIRE)?));
        self.address_link(tun, &self.tun, WIRE)
    }

    /// An Ethernet-type interface named like the tunnel: a veth from the host to the uplink side,
    /// addressed as the tunnel was.
    fn create_impostor(&self, tun: &str) -> Result<()> {
        self.sandbox.ip(&self.host, &[format!("link add {tun} type veth peer name {IMPOSTOR} netns {}", self.net.name)])?;
        self.address_link(tun, &self.net, IMPOSTOR)
    }

    /// Addresses both ends of the host's link `near` to `far` in `peer`, as the tunnel's, and
    /// brings them up.
    fn address_link(&self, near: &str, peer: &Netns, far: &str) -> Result<()> {
        self.sandbox.ip(&self.host, &[link_address(TUNNEL_NET4, false, near), link_address(TUNNEL_NET6, false, near), format!("link set {near} up")])?;
        self.sandbox.ip(peer, &[link_address(TUNNEL_NET4, true, far), link_address(TUNNEL_NET6, true, far), format!("link set {far} up")])
    }
}

/// Before the sandbox goes: the record of arp_ignore that `start` left in /run for the host
/// namespace (see `crate::arp`) would outlive it.
impl Drop for Topology {
    fn drop(&mut self) {
        if let Err(e) = self.host.within(crate::arp::forget) {
            say_err!("vpn-firewall: warning: {e:#}");
        }
    }
}

/// Whether the tunnel interface exists in `situation`.
fn has_tunnel(situation: Situation) -> bool {
    !matches!(situation, Situation::TunnelDeleted | Situation::Impostor)
}
