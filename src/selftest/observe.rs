//! Seeing on the wire what left the host: in each far namespace a packet socket (no tcpdump
//! needed) receives every frame that arrives there, and the TCP and UDP packets are counted by
//! protocol and source port, which tells each probe's packets apart. Nothing is loaded into the
//! host namespace for this: its firewall is only the configuration's.

use super::sandbox::Netns;
use crate::values::Proto;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType, recvfrom, socket};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

/// Packets seen on the uplink side and on the tunnel side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub uplink: u64,
    pub tunnel: u64,
}

/// The kernel's `PACKET_OUTGOING`: a frame the namespace sent, not one it received.
const PACKET_OUTGOING: u8 = 4;
/// Loopback is the first interface of every network namespace.
const LOOPBACK_INDEX: usize = 1;

/// A packet socket of one far namespace and what it has counted so far.
struct Tap {
    socket: OwnedFd,
    counts: Mutex<HashMap<(Proto, u16), u64>>,
}

impl Tap {
    /// A packet socket for every protocol, made inside `ns` (it stays bound to that namespace,
    /// also to interfaces made later in it).
    fn open(ns: &Netns) -> Result<Tap> {
        let socket = ns
            .within(|| Ok(socket(AddressFamily::Packet, SockType::Datagram, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, SockProtocol::EthAll)?))
            .with_context(|| format!("cannot open a packet socket in {}", ns.name))?;
        Ok(Tap { socket, counts: Mutex::default() })
    }

    /// Reads every frame received so far and returns the count for `proto` from `port`.
    fn count(&self, proto: Proto, port: u16) -> Result<u64> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        // Only the headers matter; a longer frame is cut short.
        let mut buf = [0u8; 128];
        loop {
            match recvfrom::<LinkAddr>(self.socket.as_raw_fd(), &mut buf) {
                Ok((len, Some(from))) if from.pkttype() != PACKET_OUTGOING && from.ifindex() != LOOPBACK_INDEX => {
                    if let Some(key) = source(&buf[..len.min(buf.len())]) {
                        *counts.entry(key).or_default() += 1;
                    }
                }
                Ok(_) => {}
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e).context("cannot read the packet socket"),
            }
        }
        Ok(counts.get(&(proto, port)).copied().unwrap_or(0))
    }
}

/// The protocol and source port of an IPv4 or IPv6 packet from a TCP or UDP port.
fn source(packet: &[u8]) -> Option<(Proto, u16)> {
    let (next, header) = match packet.first()? >> 4 {
        4 => (*packet.get(9)?, usize::from(packet[0] & 0x0f) * 4),
        6 => (*packet.get(6)?, 40),
        _ => return None,
    };
    let proto = match next {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        _ => return None,
    };
    let port = packet.get(header..header + 2)?;
    Some((proto, u16::from_be_bytes([port[0], port[1]])))
}

/// Counts what arrives on the uplink side and on the tunnel side.
pub struct Observer {
    uplink: Tap,
    tunnel: Tap,
}

impl Observer {
    pub fn install(uplink: &Netns, tunnel: &Netns) -> Result<Observer> {
        Ok(Observer { uplink: Tap::open(uplink)?, tunnel: Tap::open(tunnel)? })
    }

    /// The packets counted so far for `proto` from `port` on each side.
    pub fn seen(&self, proto: Proto, port: u16) -> Result<Seen> {
        Ok(Seen { uplink: self.uplink.count(proto, port)?, tunnel: self.tunnel.count(proto, port)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_of_tcp_and_udp_over_ipv4_and_ipv6() {
        let mut v4 = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 2, 203, 0, 113, 10];
        v4.extend([0x9c, 0x41, 0xc3, 0x50]);
        assert_eq!(source(&v4), Some((Proto::Tcp, 40001)));
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        v6.extend([0u8; 32]);
        v6.extend([0, 53, 0x12, 0x34]);
        assert_eq!(source(&v6), Some((Proto::Udp, 53)));
        v6[6] = 58; // ICMPv6
        assert_eq!(source(&v6), None);
        assert_eq!(source(&v4[..21]), None);
        assert_eq!(source(&[]), None);
    }
}
