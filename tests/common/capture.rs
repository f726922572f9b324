//! Counting cleartext on the wire, the way an attacker on the uplink sees it: tcpdump on the
//! router's side of the uplink records every packet that arrives from the host, except the
//! kinds a host must send to be on a network at all and the VPN's own traffic to its server.
//! Whatever else it records is a leak.

use super::{Background, Netns, require_tools};
use nix::sys::signal::Signal;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use vpn_firewall::policy::{DHCP_MAX_LENGTH, DHCPV6_CLIENT_TYPES, DHCPV6_MAX_PAYLOAD, MAX_REPORTED_GROUPS};

/// A kind of packet that is no leak: what it is, and a pcap filter that matches it.
pub struct NotALeak {
    pub what: &'static str,
    pub filter: String,
}

impl NotALeak {
    pub fn new(what: &'static str, filter: impl Into<String>) -> NotALeak {
        NotALeak { what, filter: filter.into() }
    }

    /// What every host sends to live on a link, in the shapes the ruleset lets out. ARP and
    /// neighbour discovery resolve the router; DHCP and DHCPv6 client messages (a BOOTP request
    /// with the magic cookie; a client's DHCPv6 message type; no longer than a client's, so never a
    /// fragment) are allowed by `lan.dhcp`;
    /// multicast listener reports only for solicited-node groups (with their 8-byte hop-by-hop
    /// router alert header), which neighbour discovery needs. Anything else in these protocols
    /// (a payload of a process's choice from port 68, a report naming a group a process joined)
    /// counts as a leak.
    pub fn link() -> Vec<NotALeak> {
        let dhcpv6_types: Vec<String> = DHCPV6_CLIENT_TYPES.iter().map(|t| format!("ip6[48] = {t}")).collect();
        vec![
            NotALeak::new("ARP", "arp"),
            NotALeak::new(
                "DHCP client",
                format!("ip and ip[2:2] <= {DHCP_MAX_LENGTH} and udp src port 68 and udp dst port 67 and udp[8] = 1 and udp[244:4] = 0x63825363"),
            ),
            NotALeak::new(
                "DHCPv6 client",
                format!("ip6 and ip6[4:2] <= {DHCPV6_MAX_PAYLOAD} and udp src port 546 and udp dst port 547 and ({})", dhcpv6_types.join(" or ")),
            ),
            NotALeak::new("neighbour discovery", "icmp6 and ip6[40] >= 133 and ip6[40] <= 136"),
            NotALeak::new("multicast listener reports", solicited_node_reports()),
        ]
    }
}

/// MLDv1 reports to a solicited-node group, and MLDv2 reports whose every record names one,
/// without sources or auxiliary data; the report at byte 48, after the hop-by-hop header.
fn solicited_node_reports() -> String {
    let header = "ip6[6] = 0 and ip6[40] = 58 and ip6[41] = 0";
    let v1 = "ip6[48] = 131 and ip6 dst net ff02::1:ff00:0/104".to_string();
    let v2 = (1..=usize::from(MAX_REPORTED_GROUPS)).map(|n| {
        let records: Vec<String> = (0..n)
            .map(|i| {
                let at = 56 + 20 * i;
                format!(
                    "ip6[{}:2] = 0 and ip6[{}] = 0 and ip6[{}:4] = 0xff020000 and ip6[{}:4] = 0 and ip6[{}:4] = 1 and ip6[{}] = 0xff",
                    at + 2,
                    at + 1,
                    at + 4,
                    at + 8,
                    at + 12,
                    at + 16
                )
            })
            .collect();
        format!("(ip6[54:2] = {n} and ip6[4:2] = {} and {})", 16 + 20 * n, records.join(" and "))
    });
    let v2 = format!("ip6 dst ff02::16 and ip6[48] = 143 and ({})", v2.collect::<Vec<_>>().join(" or "));
    format!("{header} and (({v1}) or ({v2}))")
}

/// tcpdump, capturing what arrives on one interface, stopped and read by `finish`.
pub struct Capture {
    tcpdump: Background,
    packets: Arc<Mutex<Vec<String>>>,
    /// The threads that read tcpdump's output, and what it says on stderr.
    readers: Vec<JoinHandle<()>>,
    stderr: Receiver<String>,
    interface: String,
}

/// How long tcpdump may take to open its capture.
const STARTUP: Duration = Duration::from_secs(10);

impl Capture {
    /// Starts recording what arrives on `interface` of `ns` and is none of `not_leaks`;
    /// returns once tcpdump says it is listening, so that no later packet is missed.
    pub fn start(ns: &Netns, interface: &str, not_leaks: &[NotALeak]) -> Capture {
        require_tools(&[("tcpdump", "tcpdump")]);
        let filter = not_leaks.iter().map(|n| format!("({})", n.filter)).collect::<Vec<_>>().join(" or ");
        let filter = if filter.is_empty() { String::new() } else { format!("not ({filter})") };
        let mut cmd = ns.command("tcpdump");
        // -Q in: only what the host sent; -nn: addresses and ports as numbers; -l: a line per
        // packet as it comes; --immediate-mode: no buffering in the kernel either.
        cmd.args(["-i", interface, "-Q", "in", "-nn", "-l", "--immediate-mode", "-p"]).arg(&filter);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut tcpdump = Background::spawn(cmd);

        let packets = Arc::new(Mutex::new(Vec::new()));
        let out = tcpdump.child.stdout.take().expect("stdout is piped");
        let seen = packets.clone();
        let stdout = std::thread::spawn(move || {
            // tcpdump ends its output with an empty line when it stops.
            for line in BufReader::new(out).lines().map_while(Result::ok).filter(|l| !l.is_empty()) {
                seen.lock().unwrap().push(line);
            }
        });
        let err = tcpdump.child.stderr.take().expect("stderr is piped");
        let (send, stderr) = mpsc::channel();
        let errors = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });

        let mut said = Vec::new();
        loop {
            match stderr.recv_timeout(STARTUP) {
                Ok(line) if line.starts_with("listening on") => break,
                Ok(line) => said.push(line),
                Err(_) => panic!("tcpdump did not start listening on {interface} in {}: {}", ns.name(), said.join("\n")),
            }
        }
        Capture { tcpdump, packets, readers: vec![stdout, errors], stderr, interface: interface.to_string() }
    }

    /// Stops tcpdump (by its pid) once packets still on their way have arrived, and returns
    /// every packet it recorded. Panics when tcpdump lost packets: then no count can be trusted.
    pub fn finish(mut self) -> Cleartext {
        // A packet sent a moment ago may still be crossing the veth and the capture socket.
        std::thread::sleep(Duration::from_millis(300));
        self.tcpdump.signal(Signal::SIGTERM);
        self.tcpdump.wait_exit(Duration::from_secs(5));
        for reader in self.readers.drain(..) {
            reader.join().expect("the readers of tcpdump's output do not panic");
        }
        let stats: Vec<String> = self.stderr.try_iter().collect();
        let packets = std::mem::take(&mut *self.packets.lock().unwrap());
        let number = |what: &str| {
            stats
                .iter()
                .find_map(|l| l.strip_suffix(what)?.trim().parse::<usize>().ok())
                .unwrap_or_else(|| panic!("tcpdump on {} printed no count of {what:?}: {}", self.interface, stats.join("\n")))
        };
        let (captured, dropped) = (number("packets captured"), number("packets dropped by kernel"));
        assert!(
            dropped == 0 && captured == packets.len(),
            "tcpdump on {} lost packets ({dropped} dropped by the kernel, {captured} captured, {} printed): the count of leaks cannot be trusted",
            self.interface,
            packets.len()
        );
        Cleartext { packets }
    }
}

/// What left the host in cleartext, as tcpdump printed it.
pub struct Cleartext {
    pub packets: Vec<String>,
}

impl Cleartext {
    pub fn count(&self) -> usize {
        self.packets.len()
    }
}

/// The count and the first packets: what a failure message needs to say what leaked.
impl fmt::Display for Cleartext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 12;
        write!(f, "{} packets", self.count())?;
        if self.count() > 0 {
            write!(f, ", the first as tcpdump printed them:")?;
        }
        for packet in self.packets.iter().take(SHOWN) {
            write!(f, "\n    {packet}")?;
        }
        if self.count() > SHOWN {
            write!(f, "\n    ... and {} more", self.count() - SHOWN)?;
        }
        Ok(())
    }
}
