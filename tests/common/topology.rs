//! The test networks. `Uplink`: a host (where vpn-firewall is loaded) wired to a router, the
//! way a laptop is wired to its ISP; the leak suite adds real VPN servers on the router and real
//! clients on the host (see `vpn`). `Topology`: the same with a stand-in tunnel, a pair of tun
//! devices to a third namespace (point-to-point, like a VPN's), for the kernel tests.
//!
//! ```text
//!  router ns                        host ns (firewalled)                      vpn ns
//!  wan 198.51.100.1/24  <-veth->  eth0 198.51.100.2/24   tun0 192.0.2.2/24  <-tun->   tun 192.0.2.1/24
//!      2001:db8:1::1/64                2001:db8:1::2/64       2001:db8:2::2/64          2001:db8:2::1/64
//!  lo  203.0.113.10 (internet)                                                     lo  203.0.113.10 (internet)
//!      203.0.113.1  (VPN server)                                                       2001:db8:ff::10
//!      2001:db8:ff::10
//!                                      `Uplink` is the left half: router and host.
//!
//!  ws ns (behind the host: `Workstation`)          host ns
//!  eth0 203.0.113.194/26, 2001:db8:3::2/64  <-veth->  eth1 (or vif3.0) 203.0.113.193/26, 2001:db8:3::1/64
//! ```
//!
//! In `Topology` the "internet" address exists on both sides, so the host's default route
//! decides where a packet to it goes: through tun0 (the VPN is up) or out of eth0 (the VPN is
//! broken, or a more specific route was pushed). The VPN server is reached through eth0 only.
//! Both far sides count, before routing, every TCP and UDP packet that arrives for a port: that
//! count is what proves whether something left, and which way. Both far sides also have a DNS
//! resolver's address, 203.0.113.53, where gateway mode redirects DNS from the workstation.

use super::{Backend, Background, ConfigDir, Netns, Run, wait_for};
use std::fmt;
use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vpn_firewall::policy::Hook;

pub const INTERNET: &str = "203.0.113.10";
pub const INTERNET6: &str = "2001:db8:ff::10";
pub const VPN_SERVER: &str = "203.0.113.1";
/// The uplink's network, and the router on it (the LAN of `lan.allow` tests).
pub const LAN: &str = "198.51.100.0/24";
pub const ROUTER: &str = "198.51.100.1";
pub const ROUTER6: &str = "2001:db8:1::1";
/// Where gateway mode redirects DNS: a resolver on the internet, to be reached through the tunnel.
pub const RESOLVER: &str = "203.0.113.53";
/// The network behind the host, and the addresses of the workstation and of the host on it.
pub const INSIDE: &str = "203.0.113.192/26";
pub const WORKSTATION: &str = "203.0.113.194";
pub const WORKSTATION6: &str = "2001:db8:3::2";
pub const GATEWAY: &str = "203.0.113.193";

/// The user that stands in for an ordinary unprivileged user.
pub const USER: u32 = 4343;
/// The user that stands in for the VPN client.
pub const VPN_CLIENT: u32 = 4242;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One attempt to send something from the host: a TCP connection that sends a line, or one
/// UDP datagram, as root or as another user, optionally from a socket bound to an interface.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub proto: Proto,
    pub addr: &'static str,
    pub port: u16,
    pub uid: Option<u32>,
    /// `SO_BINDTODEVICE`, as `curl --interface` does.
    pub device: Option<&'static str>,
    /// The source port, when it matters (DHCP).
    pub sport: Option<u16>,
}

/// What every probe sends. Its first byte, `p`, starts no OpenVPN or WireGuard message, so a
/// probe to a VPN server's port never passes for the VPN's own traffic on the wire.
pub const PROBE_PAYLOAD: &str = "probe\n";

impl Probe {
    pub fn tcp(addr: &'static str, port: u16) -> Probe {
        Probe { proto: Proto::Tcp, addr, port, uid: None, device: None, sport: None }
    }

    pub fn udp(addr: &'static str, port: u16) -> Probe {
        Probe { proto: Proto::Udp, addr, port, uid: None, device: None, sport: None }
    }

    pub fn as_uid(self, uid: u32) -> Probe {
        Probe { uid: Some(uid), ..self }
    }

    pub fn bound_to(self, device: &'static str) -> Probe {
        Probe { device: Some(device), ..self }
    }

    pub fn from_port(self, sport: u16) -> Probe {
        Probe { sport: Some(sport), ..self }
    }

    fn socat_address(&self) -> String {
        let v6 = self.addr.contains(':');
        let address = match (self.proto, v6) {
            (Proto::Tcp, false) => format!("TCP4:{}:{},connect-timeout=2", self.addr, self.port),
            (Proto::Tcp, true) => format!("TCP6:[{}]:{},connect-timeout=2", self.addr, self.port),
            (Proto::Udp, false) => format!("UDP4:{}:{}", self.addr, self.port),
            (Proto::Udp, true) => format!("UDP6:[{}]:{}", self.addr, self.port),
        };
        let mut options: Vec<String> = self.device.iter().map(|d| format!("so-bindtodevice={d}")).collect();
        options.extend(self.sport.map(|p| format!("sourceport={p}")));
        if self.addr == "255.255.255.255" {
            options.push("broadcast".into());
        }
        std::iter::once(address).chain(options).collect::<Vec<_>>().join(",")
    }

    /// Sends the probe from `ns`; exit 0 when the sender succeeded.
    pub fn send(&self, ns: &Netns) -> Run {
        let uid = self.uid.map(|u| u.to_string());
        let mut args: Vec<&str> = match &uid {
            Some(u) => vec!["--reuid", u, "--regid", u, "--clear-groups", "socat"],
            None => Vec::new(),
        };
        let address = self.socat_address();
        args.extend(["-u", "-", &address]);
        let program = if uid.is_some() { "setpriv" } else { "socat" };
        ns.run(program, &args, PROBE_PAYLOAD)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = if self.proto == Proto::Tcp { "TCP" } else { "UDP" };
        let who = self.uid.map_or("root".to_string(), |u| format!("uid {u}"));
        if self.addr.contains(':') {
            write!(f, "{proto} to [{}]:{} as {who}", self.addr, self.port)?;
        } else {
            write!(f, "{proto} to {}:{} as {who}", self.addr, self.port)?;
        }
        if let Some(sport) = self.sport {
            write!(f, " from port {sport}")?;
        }
        match self.device {
            Some(device) => write!(f, " bound to {device}"),
            None => Ok(()),
        }
    }
}

/// What a probe did: whether the sender succeeded, and what arrived on each far side.
#[derive(Debug)]
pub struct Outcome {
    pub sent: bool,
    pub uplink: u64,
    pub tunnel: u64,
    pub log: String,
}

/// Where a probe is expected to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Out of eth0, at the router.
    Uplink,
    /// Through tun0, at the VPN side.
    Tunnel,
    /// To the host itself: over loopback from the host, to its inside address from a
    /// workstation.
    Host,
}

/// A host wired to a router: eth0 to wan, both IPv4 and IPv6, the host's default routes
/// through the router.
pub struct Uplink {
    pub host: Netns,
    pub router: Netns,
}

impl Uplink {
    /// The host, where vpn-firewall runs with `backend`, and its router.
    pub fn new(test: &str, backend: Backend) -> Uplink {
        let u = Uplink { host: Netns::host(test, backend), router: Netns::new(&backend.qualify(test), "r") };
        u.host.ip(&format!("link add eth0 type veth peer name wan netns {}", u.router.name()));
        bring_up([(&u.host, "eth0", "198.51.100.2/24", "2001:db8:1::2/64"), (&u.router, "wan", "198.51.100.1/24", "2001:db8:1::1/64")]);
        for addr in ["203.0.113.10/32", "203.0.113.1/32", "203.0.113.53/32", "2001:db8:ff::10/128"] {
            u.router.ip(&format!("addr add {addr} dev lo"));
        }
        u.route_via_uplink();
        u
    }

    /// The default routes (IPv4 and IPv6) go out of eth0: the ISP's, or what is left when the
    /// VPN is broken or a route was pushed around it.
    pub fn route_via_uplink(&self) {
        self.host.ip("route replace default via 198.51.100.1 dev eth0");
        self.host.ip("-6 route replace default via 2001:db8:1::1 dev eth0");
    }

    pub fn firewall(&self, config: &ConfigDir, command: &str) -> Run {
        self.host.firewall(config.path(), command)
    }

    /// `start`, which must succeed.
    pub fn start(&self, config: &ConfigDir) -> Run {
        self.firewall(config, "start").expect(0)
    }

    /// Packets the loaded ruleset blocked on output so far.
    pub fn blocked_output(&self) -> u64 {
        self.host.blocked(Hook::Output)
    }
}

/// Addresses the two ends of a veth pair (namespace, interface, IPv4 and IPv6 address) and
/// brings them up.
fn bring_up(ends: [(&Netns, &str, &str, &str); 2]) {
    for (ns, dev, v4, v6) in ends {
        ns.ip(&format!("addr add {v4} dev {dev}"));
        ns.ip(&format!("addr add {v6} dev {dev} nodad"));
        ns.ip(&format!("link set {dev} up"));
    }
}

/// A point-to-point link like a VPN's: `near` in `ns` and `far` in `peer`, two tun devices (no
/// link-layer header, as tun and WireGuard devices have) whose packets socat, running in `ns`
/// and ended with it, copies from one to the other. Both are made in `ns`, then `far` moves.
pub fn tun_pair(ns: &Netns, near: &str, peer: &Netns, far: &str) {
    let moving = format!("{near}-far");
    let mut relay = ns.command("socat");
    let tun = |name: &str| format!("TUN,tun-name={name},tun-type=tun,iff-no-pi");
    relay.args(["-b", "65536", &tun(near), &tun(&moving)]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    ns.children.borrow_mut().push(Background::spawn(relay));
    wait_for(&format!("socat to make {near} and {moving}"), Duration::from_secs(5), || ns.has_link(near) && ns.has_link(&moving));
    ns.ip(&format!("link set {moving} netns {} name {far}", peer.name()));
}

/// An `Uplink` plus a stand-in tunnel to a third namespace.
pub struct Topology {
    uplink: Uplink,
    pub vpn: Netns,
}

/// A `Topology` is an `Uplink` with more: its host, router and their methods are the uplink's.
impl std::ops::Deref for Topology {
    type Target = Uplink;

    fn deref(&self) -> &Uplink {
        &self.uplink
    }
}

impl Topology {
    /// The three namespaces, wired and addressed; the default routes go through the tunnel.
    pub fn new(test: &str, backend: Backend) -> Topology {
        let t = Topology { uplink: Uplink::new(test, backend), vpn: Netns::new(&backend.qualify(test), "v") };
        tun_pair(&t.host, "tun0", &t.vpn, "tun");
        bring_up([(&t.host, "tun0", "192.0.2.2/24", "2001:db8:2::2/64"), (&t.vpn, "tun", "192.0.2.1/24", "2001:db8:2::1/64")]);
        for addr in ["203.0.113.10/32", "203.0.113.53/32", "2001:db8:ff::10/128"] {
            t.vpn.ip(&format!("addr add {addr} dev lo"));
        }
        t.host.ip("route add 203.0.113.1/32 via 198.51.100.1 dev eth0");
        t.route_via_tunnel();
        t
    }

    /// The VPN is up: the default routes (IPv4 and IPv6) go through tun0.
    pub fn route_via_tunnel(&self) {
        self.host.ip("route replace default via 192.0.2.1 dev tun0");
        self.host.ip("-6 route replace default via 2001:db8:2::1 dev tun0");
    }

    /// Sends the probe from `from` (the host, or a workstation behind it) and counts what
    /// arrived on each side, waiting up to `patience` for a packet the sender did send to show up.
    pub fn probe(&self, from: &Netns, p: Probe, patience: Duration) -> Outcome {
        if p.proto == Proto::Tcp {
            for ns in [&self.host, &self.router, &self.vpn] {
                ns.listen_tcp(p.port);
            }
        }
        let before = (self.router.arrivals(p.port), self.vpn.arrivals(p.port));
        let run = p.send(from);
        let sent = run.code == 0;
        // A packet that was sent may still be on its way through the veth; one that was refused
        // on the host was never sent, so a short pause is enough to see that nothing comes.
        let deadline = Instant::now() + if sent { patience } else { Duration::from_millis(50) };
        loop {
            let now = (self.router.arrivals(p.port), self.vpn.arrivals(p.port));
            let arrived = now != before;
            if arrived || Instant::now() >= deadline {
                return Outcome { sent, uplink: now.0 - before.0, tunnel: now.1 - before.1, log: run.stderr };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Nothing of the probe from the host leaves it, either way; a TCP connection fails.
    pub fn assert_blocked(&self, p: Probe, context: &str) {
        self.assert_blocked_from(&self.host, p, context);
    }

    /// Nothing of the probe from `from` leaves the host, either way; a TCP connection fails.
    pub fn assert_blocked_from(&self, from: &Netns, p: Probe, context: &str) {
        let o = self.probe(from, p, Duration::from_secs(1));
        assert!(
            o.uplink == 0 && o.tunnel == 0,
            "LEAK ({context}): {p}: {} packets arrived at the router (out of eth0), {} at the VPN side (through tun0); sender: {}",
            o.uplink,
            o.tunnel,
            o.log.trim()
        );
        if p.proto == Proto::Tcp {
            assert!(!o.sent, "LEAK ({context}): {p}: the connection succeeded (though nothing reached a far side)");
        }
    }

    /// The probe from the host arrives on `side`, and only there.
    pub fn assert_reaches(&self, p: Probe, side: Side, context: &str) {
        self.assert_reaches_from(&self.host, p, side, context);
    }

    /// The probe from `from` arrives on `side`, and only there.
    pub fn assert_reaches_from(&self, from: &Netns, p: Probe, side: Side, context: &str) {
        let patience = if side == Side::Host { Duration::ZERO } else { Duration::from_secs(1) };
        let o = self.probe(from, p, patience);
        let expected = match side {
            Side::Uplink => o.uplink > 0 && o.tunnel == 0,
            Side::Tunnel => o.tunnel > 0 && o.uplink == 0,
            Side::Host => o.tunnel == 0 && o.uplink == 0,
        };
        assert!(
            o.sent && expected,
            "BLOCKED ({context}): {p} should reach the {side:?} side: sent {}, {} packets arrived at the router, {} at the VPN side; sender: {}",
            o.sent,
            o.uplink,
            o.tunnel,
            o.log.trim()
        );
    }

    /// A TCP connection from the host to `addr:port` that sends a short line every 20 ms and is
    /// read on the VPN side.
    pub fn stream(&self, addr: &str, port: u16) -> Stream {
        Stream::open(&self.host, &self.vpn, addr, port)
    }
}

/// A machine behind the host, which is its gateway: a namespace of its own wired to an
/// internal interface of the host, its default routes (IPv4 and IPv6) through the host. The
/// host's kernel forwards, IPv4 and IPv6, as an admin turns it on: what passes is up to the
/// firewall.
pub struct Workstation {
    pub ns: Netns,
}

impl Workstation {
    /// Wires a new workstation to the host's interface `iface` (`eth1`; `vif3.0` on Qubes).
    pub fn behind(host: &Netns, test: &str, iface: &str) -> Workstation {
        let ws = Netns::new(test, "w");
        host.ip(&format!("link add {iface} type veth peer name eth0 netns {}", ws.name()));
        bring_up([(host, iface, "203.0.113.193/26", "2001:db8:3::1/64"), (&ws, "eth0", "203.0.113.194/26", "2001:db8:3::2/64")]);
        ws.ip(&format!("route add default via {GATEWAY}"));
        ws.ip("-6 route add default via 2001:db8:3::1");
        for forwarding in ["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"] {
            host.sysctl(forwarding, "1");
        }
        for ns in [host, &ws] {
            ns.await_ipv6();
        }
        Workstation { ns: ws }
    }
}

/// Machines on a bridge of the host, as containers are on Docker's docker0 and VMs on libvirt's
/// virbr0: the bridge holds the host's address `NET.1/24`, each machine is a namespace of its own
/// with eth0 on a port of the bridge (`BRIDGEpN` on the host, the name cut to 12 bytes), addressed `NET.(N+1)` with its
/// default route through the host, or left for DHCP to address (`Bridge::unaddressed`). The
/// host's kernel forwards IPv4, as Docker and libvirt turn it on.
///
/// ```text
///  host ns                                  cN ns (N = 1, 2, ...)
///  BRIDGE NET.1/24 ── BRIDGEpN  <-veth->  eth0 NET.(N+1)/24, default via NET.1
/// ```
pub struct Bridge {
    pub name: &'static str,
    net: &'static str,
    pub machines: Vec<Netns>,
}

impl Bridge {
    /// The bridge `name` on the host, with `count` addressed machines on `net` (`172.17.0`).
    pub fn on(host: &Netns, test: &str, name: &'static str, net: &'static str, count: usize) -> Bridge {
        let bridge = Bridge::unaddressed(host, test, name, net, count);
        for (i, machine) in bridge.machines.iter().enumerate() {
            machine.ip(&format!("addr add {}/24 dev eth0", bridge.address(i)));
            machine.ip(&format!("route add default via {net}.1"));
        }
        bridge
    }

    /// The same, with machines whose eth0 is up but has no IPv4 address yet.
    pub fn unaddressed(host: &Netns, test: &str, name: &'static str, net: &'static str, count: usize) -> Bridge {
        host.ip(&format!("link add {name} type bridge"));
        host.ip(&format!("addr add {net}.1/24 dev {name}"));
        host.ip(&format!("link set {name} up"));
        let machines: Vec<Netns> = (1..=count)
            .map(|n| {
                let machine = Netns::new(test, &format!("c{n}"));
                // Interface names have at most 15 bytes: Docker's br-<12 hex digits> has 15.
                let port = format!("{}p{n}", &name[..name.len().min(12)]);
                host.ip(&format!("link add {port} type veth peer name eth0 netns {}", machine.name()));
                host.ip(&format!("link set {port} master {name} up"));
                machine.ip("link set eth0 up");
                machine
            })
            .collect();
        host.sysctl("net/ipv4/ip_forward", "1");
        Bridge { name, net, machines }
    }

    /// The address of machine `i` (from 0).
    pub fn address(&self, i: usize) -> String {
        format!("{}.{}", self.net, i + 2)
    }
}

/// What the receiving side of a stream has read so far.
#[derive(Debug, Default)]
struct Progress {
    bytes: u64,
    closed: bool,
    last: Option<Instant>,
    /// The longest time between two reads.
    longest_pause: Duration,
}

impl Progress {
    fn arrived(&mut self, n: usize) {
        let now = Instant::now();
        if let Some(last) = self.last {
            self.longest_pause = self.longest_pause.max(now - last);
        }
        self.last = Some(now);
        self.bytes += n as u64;
    }
}

/// A running TCP stream between two namespaces; both ends are killed when dropped.
pub struct Stream {
    sender: Background,
    receiver: Background,
    progress: Arc<Mutex<Progress>>,
}

impl Stream {
    /// A TCP connection from the namespace `from` to `addr:port`, read in the namespace `to`,
    /// on which `from` writes a short line every 20 ms.
    pub fn open(from: &Netns, to: &Netns, addr: &str, port: u16) -> Stream {
        let mut receiver = to.command("socat");
        receiver.args(["-u", &format!("TCP4-LISTEN:{port},reuseaddr"), "STDOUT"]);
        receiver.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut receiver = Background::spawn(receiver);
        to.wait_listening(port);

        let progress = Arc::new(Mutex::new(Progress::default()));
        let mut out = receiver.child.stdout.take().expect("stdout is piped");
        let seen = progress.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                seen.lock().unwrap().arrived(n);
            }
            seen.lock().unwrap().closed = true;
        });

        let mut sender = from.command("bash");
        let script = format!("exec 3>/dev/tcp/{addr}/{port} || exit 9; while echo tick >&3; do sleep 0.02; done");
        sender.args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let stream = Stream { sender: Background::spawn(sender), receiver, progress };
        stream.wait_for_more(0, "the first bytes of the stream");
        stream
    }

    pub fn received(&self) -> u64 {
        self.progress.lock().unwrap().bytes
    }

    /// The longest time the receiving side went without data, since the stream began.
    pub fn longest_pause(&self) -> Duration {
        self.progress.lock().unwrap().longest_pause
    }

    /// Waits up to a second until more than `than` bytes have arrived; panics naming `what`
    /// if they do not.
    pub fn wait_for_more(&self, than: u64, what: &str) {
        wait_for(what, Duration::from_secs(1), || self.received() > than);
    }

    /// Panics if either end has given up on the connection.
    pub fn assert_open(&mut self, context: &str) {
        assert_eq!(self.sender.exited(), None, "the stream's sender ended ({context}): the connection was reset or refused");
        assert!(!self.progress.lock().unwrap().closed, "the stream's receiver saw the connection end ({context})");
        assert_eq!(self.receiver.exited(), None, "the stream's receiver ended ({context})");
    }
}
