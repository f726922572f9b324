//! Whether the kernel forwards packets at all. Enabling it stays the admin's decision (a
//! sysctl; Docker and libvirt turn it on themselves), so vpn-firewall only says when gateway
//! mode or local interfaces are configured and the kernel does not route: the machines behind
//! would get nothing through.

use crate::settings::Settings;
use std::path::PathBuf;

/// The sysctls gateway mode and local interfaces need, read in the network namespace
/// vpn-firewall runs in.
pub fn warnings(s: &Settings) -> Vec<String> {
    let key = match (s.forward.enable, s.lan.interfaces.is_empty()) {
        (true, _) => "[forward] enable = yes",
        (false, false) => "[lan] interfaces is set",
        (false, true) => return Vec::new(),
    };
    let needed = [("net.ipv4.ip_forward", true), ("net.ipv6.conf.all.forwarding", s.tunnel.ipv6)];
    let mut warnings = Vec::new();
    for (name, _) in needed.into_iter().filter(|(_, needed)| *needed) {
        let path = PathBuf::from("/proc/sys").join(name.replace('.', "/"));
        match std::fs::read_to_string(&path) {
            Ok(value) if value.trim() == "0" => warnings.push(format!(
                "{key}, but {name} = 0: the kernel forwards nothing from the machines behind; \
                 enable it with sysctl -w {name}=1, and in /etc/sysctl.d/ to keep it"
            )),
            Ok(_) => {}
            Err(e) => warnings.push(format!("cannot tell whether the kernel forwards packets: {}: {e}", path.display())),
        }
    }
    warnings
}
