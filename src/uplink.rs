//! This machine's uplinks: the interfaces of its default routes, IPv4 then IPv6, that are
//! neither loopback nor a tunnel device (tun/tap, WireGuard). Selftest names its sandbox's
//! uplink after the first; `[lan] interfaces` may name none of them, nor a bridge that holds a
//! network card (`outward`). Only reads /proc and /sys.

use crate::values::interface;
use std::path::Path;

/// The uplinks, in the order of the routing tables, each once.
pub fn uplinks() -> Vec<String> {
    let v4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let v4 = v4.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| f[0].to_string())
    });
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    let v6 = v6.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00").then(|| f[9].to_string())
    });
    let mut found: Vec<String> = Vec::new();
    for name in v4.collect::<Vec<_>>().into_iter().chain(v6) {
        let sys = Path::new("/sys/class/net").join(&name);
        let uevent = std::fs::read_to_string(sys.join("uevent")).unwrap_or_default();
        let real = name != "lo" && interface(&name).is_ok() && !sys.join("tun_flags").exists() && !uevent.lines().any(|l| l == "DEVTYPE=wireguard");
        if real && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

/// An interface through which packets leave this machine onto a network, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outward {
    pub name: String,
    pub what: String,
}

/// The uplinks, then every bridge that holds a network card (a port with a device behind it:
/// PCI, USB, virtio; never a veth, tap or dummy), such as br0 with eth0 for VMs on the LAN.
pub fn outward() -> Vec<Outward> {
    let mut found: Vec<Outward> = uplinks().into_iter().map(|name| Outward { name, what: "the interface of this machine's default route".into() }).collect();
    let net = Path::new("/sys/class/net");
    let bridges = std::fs::read_dir(net).into_iter().flatten().flatten().map(|e| e.file_name().to_string_lossy().into_owned());
    for bridge in bridges {
        let ports = std::fs::read_dir(net.join(&bridge).join("brif")).into_iter().flatten().flatten();
        let card = ports.map(|p| p.file_name().to_string_lossy().into_owned()).find(|port| net.join(port).join("device").exists());
        if let Some(card) = card {
            if !found.iter().any(|o| o.name == bridge) {
                found.push(Outward { what: format!("a bridge that holds the network card {card}"), name: bridge });
            }
        }
    }
    found
}
