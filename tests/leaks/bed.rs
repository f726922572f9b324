//! The test bed of one scenario: an uplink with a VPN server on the router, the firewall's
//! configuration, the capture that counts cleartext, and the traffic the host sends.

use crate::common::Netns;
use crate::common::capture::{Capture, NotALeak};
use crate::common::topology::{Bridge, INTERNET, INTERNET6, Probe, RESOLVER, Stream, USER, Uplink, Workstation};
use crate::common::vpn::{Kind, Vpn};
use crate::common::{Backend, Background, ConfigDir, Run, fixtures};
use crate::summary::Ledger;
use std::process::Stdio;

pub struct Bed<'a> {
    // Dropped in this order: the processes end before their namespaces go.
    capture: Option<Capture>,
    /// In gateway scenarios, the workstation behind the host: the traffic comes from it.
    pub inside: Option<Workstation>,
    /// In container scenarios, Docker's docker0 with a container: the traffic comes from it.
    pub containers: Option<Bridge>,
    pub vpn: Vpn,
    pub net: Uplink,
    pub conf: ConfigDir,
    /// More kinds of packet that are no leak in this scenario (the LAN it allows).
    allowed: Vec<NotALeak>,
    scenario: u8,
    /// Unique to the scenario and VPN: part of the namespaces' names.
    tag: String,
    ledger: &'a Ledger,
}

impl<'a> Bed<'a> {
    /// The network and the VPN server; nothing loaded, no client, no capture yet.
    pub fn new(scenario: u8, kind: Kind, backend: Backend, ledger: &'a Ledger) -> Bed<'a> {
        let tag = match kind {
            Kind::OpenVpn => "o",
            Kind::WireGuard => "w",
            Kind::OpenVpnRoot => "r",
            Kind::OpenConnect => "c",
            Kind::WgQuick => "q",
        };
        let tag = format!("s{scenario}{tag}");
        let net = Uplink::new(&tag, backend);
        let vpn = Vpn::serve(&net, kind);
        let conf = ConfigDir::new(Self::config_of(kind, false, false, ""));
        Bed { capture: None, inside: None, containers: None, vpn, net, conf, allowed: Vec::new(), scenario, tag: backend.qualify(&tag), ledger }
    }

    /// The VPN's interface is the tunnel; the client is identified as its kind says (mostly
    /// by the default user, `tunnel`); as a gateway, forwarding from eth1 with DNS redirected
    /// to `RESOLVER`; with containers, docker0 a local interface; then `extra` (a later key
    /// replaces an earlier one).
    fn config_of(kind: Kind, gateway: bool, containers: bool, extra: &str) -> String {
        let forward = if gateway { format!("[forward]\nenable = yes\ninterfaces = eth1\ndns = {RESOLVER}\n") } else { String::new() };
        let local = if containers { "[lan]\ninterfaces = docker0\n" } else { "" };
        format!("[tunnel]\ninterfaces = {}\n{}{forward}{local}{extra}", kind.interface(), kind.identity())
    }

    /// Sets the configuration to the base one plus `extra`.
    pub fn configure(&self, extra: &str) {
        self.conf.set(Self::config_of(self.vpn.kind(), self.inside.is_some(), self.containers.is_some(), extra));
    }

    /// Makes the host the VPN gateway of a workstation on its eth1: from now on the
    /// configuration forwards, and the traffic the bed sends comes from the workstation.
    pub fn behind_gateway(&mut self) {
        self.inside = Some(Workstation::behind(&self.net.host, &self.tag, "eth1"));
        self.configure("");
    }

    /// Runs Docker on the host: a container on docker0 (with br_netfilter in effect) and
    /// Docker's own rules (tests/fixtures/docker-engine-28.rules); from now on docker0 is a
    /// local interface, and the traffic the bed sends comes from the container.
    pub fn in_containers(&mut self) {
        self.containers = Some(Bridge::on(&self.net.host, &self.tag, "docker0", "172.17.0", 1));
        self.net.host.sysctl("net/bridge/bridge-nf-call-iptables", "1");
        fixtures::load_iptables(&self.net.host, "docker-engine-28.rules");
        self.configure("");
    }

    /// Where the traffic comes from: the workstation behind the host, the container on it, or
    /// the host itself.
    pub fn client(&self) -> &Netns {
        let container = self.containers.as_ref().map(|b| &b.machines[0]);
        self.inside.as_ref().map(|w| &w.ns).or(container).unwrap_or(&self.net.host)
    }

    /// Configures and `start`s (which must succeed).
    pub fn start(&self, extra: &str) {
        self.configure(extra);
        self.firewall("start").expect(0);
    }

    pub fn backend(&self) -> Backend {
        self.net.host.backend()
    }

    pub fn firewall(&self, command: &str) -> Run {
        self.net.firewall(&self.conf, command)
    }

    /// Packets of this kind are no leak in this scenario; call before `watch`.
    pub fn allow(&mut self, what: &'static str, filter: impl Into<String>) {
        self.allowed.push(NotALeak::new(what, filter));
    }

    /// Starts counting what leaves the host in cleartext.
    pub fn watch(&mut self) {
        let mut not_leaks = NotALeak::link();
        not_leaks.push(self.vpn.kind().own_traffic());
        not_leaks.append(&mut self.allowed);
        self.capture = Some(Capture::start(&self.net.router, "wan", &not_leaks));
    }

    /// Stops counting, enters the count in the summary, and fails the test with what leaked
    /// unless nothing did.
    pub fn verdict(&mut self) {
        let cleartext = self.capture.take().expect("watch before the verdict").finish();
        self.ledger.set(cleartext.count());
        assert!(cleartext.count() == 0, "LEAK in scenario {} with {} and {}: {cleartext}", self.scenario, self.vpn.kind().name(), self.backend().name());
    }

    pub fn connect(&mut self) {
        self.vpn.connect(&self.net);
    }

    /// Sends each probe from the client, whatever becomes of it: the capture judges.
    pub fn send(&self, probes: &[Probe]) {
        for p in probes {
            p.send(self.client());
        }
    }

    /// Sends `probe` from the client, which must succeed (it is allowed and works).
    pub fn reach(&self, probe: Probe, context: &str) {
        let run = probe.send(self.client());
        assert_eq!(run.code, 0, "{probe} failed ({context}):\n{run}");
    }

    /// New connections from the client to the internet that leave in cleartext unless
    /// something stops them (when the default route goes out of eth0): TCP and UDP, IPv4 and IPv6, as root and as
    /// an ordinary user.
    pub fn knock(&self) {
        self.send(&[
            Probe::tcp(INTERNET, 7000),
            Probe::udp(INTERNET, 7001),
            Probe::tcp(INTERNET, 7000).as_uid(USER),
            Probe::udp(INTERNET, 7001).as_uid(USER),
            Probe::tcp(INTERNET6, 7000).as_uid(USER),
        ]);
    }

    /// An ordinary user's program on the client that keeps sending to the internet: a UDP datagram and a
    /// TCP connection attempt every 10 ms or so, until dropped.
    pub fn chatter(&self) -> Background {
        let script = format!("while :; do echo probe >/dev/udp/{INTERNET}/7001; timeout 1 bash -c 'echo probe >/dev/tcp/{INTERNET}/7000'; sleep 0.01; done");
        let user = USER.to_string();
        let mut cmd = self.client().command("setpriv");
        cmd.args(["--reuid", &user, "--regid", &user, "--clear-groups", "bash", "-c", &script]);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        Background::spawn(cmd)
    }

    /// A TCP stream from the client to the internet on `port`, through the tunnel when it is up.
    pub fn stream(&self, port: u16) -> Stream {
        Stream::open(self.client(), &self.net.router, INTERNET, port)
    }
}
