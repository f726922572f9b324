//! Every configuration key vpn-firewall knows, with its default and a one-line description.
//!
//! The defaults live here and nowhere else: the shipped `30-default.conf` only repeats them as
//! comments, and `check` prints them with the origin "default".

/// A key of the schema. Code names keys by these, never by their text, so that a misspelt key
/// does not compile; the text of a drop-in becomes a `Key` in [`Key::named`] only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    TunnelInterfaces,
    TunnelTap,
    TunnelUser,
    TunnelGroup,
    TunnelFwmark,
    TunnelServers,
    TunnelIpv6,
    TunnelIncoming,
    LanAllow,
    LanDns,
    LanDhcp,
    LanDhcpUsers,
    LanIncoming,
    LanInterfaces,
    LanMulticast,
    ForwardEnable,
    ForwardInterfaces,
    ForwardMasquerade,
    ForwardDns,
    FirewallBackend,
    FirewallLog,
    FirewallLogRate,
    FirewallReject,
}

/// One known key of one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub id: Key,
    pub section: &'static str,
    pub key: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

const fn spec(id: Key, section: &'static str, key: &'static str, default: &'static str, help: &'static str) -> KeySpec {
    KeySpec { id, section, key, default, help }
}

/// All keys, in the order `check` prints them, which is the order of [`Key`].
pub const KEYS: &[KeySpec] = &[
    spec(Key::TunnelInterfaces, "tunnel", "interfaces", "tun+", "interfaces of the VPN client; a trailing + matches any suffix"),
    spec(Key::TunnelTap, "tunnel", "tap", "no", "let Ethernet-type interfaces of interfaces count as the tunnel (OpenVPN dev tap)"),
    spec(Key::TunnelUser, "tunnel", "user", "tunnel", "user name or uid whose processes may send outside the tunnel"),
    spec(Key::TunnelGroup, "tunnel", "group", "", "group name or gid whose processes may send outside the tunnel"),
    spec(Key::TunnelFwmark, "tunnel", "fwmark", "", "packets with this mark may leave outside the tunnel"),
    spec(Key::TunnelServers, "tunnel", "servers", "", "ADDR:PORT/PROTO endpoints the VPN client is limited to"),
    spec(Key::TunnelIpv6, "tunnel", "ipv6", "no", "allow IPv6 through the tunnel"),
    spec(Key::TunnelIncoming, "tunnel", "incoming", "", "PORT/PROTO accepted as new connections from the tunnel"),
    spec(Key::LanAllow, "lan", "allow", "", "networks (CIDR) reachable outside the tunnel"),
    spec(Key::LanDns, "lan", "dns", "no", "let DNS (53, 853) reach the allowed networks"),
    spec(Key::LanDhcp, "lan", "dhcp", "yes", "let DHCP and DHCPv6 client traffic out and in"),
    spec(Key::LanDhcpUsers, "lan", "dhcp_users", "root systemd-network dhcpcd", "users (names or uids) whose DHCP client messages may leave"),
    spec(Key::LanIncoming, "lan", "incoming", "", "PORT/PROTO accepted as new connections from allowed networks"),
    spec(Key::LanInterfaces, "lan", "interfaces", "", "local interfaces (container and VM bridges) exchanged with as with the LAN"),
    spec(Key::LanMulticast, "lan", "multicast", "no", "mDNS and SSDP to their groups on the LAN's links"),
    spec(Key::ForwardEnable, "forward", "enable", "no", "route traffic from the internal interfaces into the tunnel"),
    spec(Key::ForwardInterfaces, "forward", "interfaces", "", "internal interfaces of the machines behind this gateway"),
    spec(Key::ForwardMasquerade, "forward", "masquerade", "yes", "masquerade forwarded traffic leaving through the tunnel"),
    spec(Key::ForwardDns, "forward", "dns", "", "redirect DNS from the internal interfaces to this address"),
    spec(Key::FirewallBackend, "firewall", "backend", "auto", "auto, nftables or iptables"),
    spec(Key::FirewallLog, "firewall", "log", "yes", "log blocked packets, rate limited"),
    spec(Key::FirewallLogRate, "firewall", "log_rate", "10/minute", "N/second, N/minute or N/hour"),
    spec(Key::FirewallReject, "firewall", "reject", "yes", "reject blocked packets (yes) or drop them silently (no)"),
];

// `Key::spec` indexes `KEYS` by the key: the two orders must agree.
const _: () = {
    let mut i = 0;
    while i < KEYS.len() {
        assert!(KEYS[i].id as usize == i, "KEYS is not in the order of Key");
        i += 1;
    }
};

impl Key {
    pub fn spec(self) -> &'static KeySpec {
        &KEYS[self as usize]
    }

    /// The key a drop-in names `name` in `[section]`, if the schema has it.
    pub fn named(section: &str, name: &str) -> Option<Key> {
        KEYS.iter().find(|k| k.section == section && k.key == name).map(|k| k.id)
    }

    /// The key a legacy alias stands for, with the alias's own static name.
    pub fn legacy(alias: &str) -> Option<(&'static str, Key)> {
        LEGACY.iter().find(|(name, _)| *name == alias).copied()
    }
}

/// Shell-style keys of the original vpn-firewall, accepted outside any section.
pub const LEGACY: &[(&str, Key)] = &[
    ("VPN_INTERFACE", Key::TunnelInterfaces),
    ("LOCAL_NET", Key::LanAllow),
    ("TUNNEL_USER", Key::TunnelUser),
    ("INT_IF", Key::ForwardInterfaces),
    ("FORWARDING", Key::ForwardEnable),
];

pub fn sections() -> impl Iterator<Item = &'static str> {
    let mut seen: Vec<&'static str> = Vec::new();
    for k in KEYS {
        if !seen.contains(&k.section) {
            seen.push(k.section);
        }
    }
    seen.into_iter()
}

/// The closest of `candidates` to `word`, if it is near enough to be a likely typo.
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4) && *distance < c.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// A "did you mean" hint for an unknown section name.
pub fn suggest_section(name: &str) -> String {
    match nearest(name, sections()) {
        Some(s) => format!("; did you mean [{s}]?"),
        None => format!("; known sections: {}", sections().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(" ")),
    }
}

/// A "did you mean" hint for an unknown key: a near miss in the same section, the same key in
/// another section, or the list of keys the section has.
pub fn suggest_key(section: Option<&str>, key: &str) -> String {
    let Some(section) = section else {
        let names = LEGACY.iter().map(|(n, _)| *n);
        return match nearest(key, names.clone()) {
            Some(n) => format!("; did you mean {n}?"),
            None => format!("; outside a section only the legacy keys {} are accepted", names.collect::<Vec<_>>().join(" ")),
        };
    };
    if let Some((alias, _)) = LEGACY.iter().find(|(name, _)| *name == key) {
        return format!("; the legacy key {alias} is accepted only before the first section");
    }
    let own = KEYS.iter().filter(|k| k.section == section).map(|k| k.key);
    if let Some(k) = nearest(key, own.clone()) {
        return format!("; did you mean {k}?");
    }
    if let Some(other) = KEYS.iter().find(|k| k.key == key.to_ascii_lowercase()) {
        return format!("; did you mean {} in [{}]?", other.key, other.section);
    }
    format!("; [{section}] knows: {}", own.collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested() {
        assert_eq!(suggest_key(Some("tunnel"), "interface"), "; did you mean interfaces?");
        assert_eq!(suggest_key(Some("tunnel"), "allow"), "; did you mean allow in [lan]?");
        assert_eq!(suggest_section("tunel"), "; did you mean [tunnel]?");
        assert_eq!(suggest_section("Tunnel"), "; did you mean [tunnel]?");
        assert_eq!(suggest_key(None, "LOCALNET"), "; did you mean LOCAL_NET?");
        assert!(suggest_key(Some("lan"), "zzzzzzzz").contains("[lan] knows: allow dns dhcp dhcp_users incoming"));
    }

    #[test]
    fn keys_are_found_by_their_text() {
        for spec in KEYS {
            assert_eq!(Key::named(spec.section, spec.key), Some(spec.id));
        }
        assert_eq!(Key::named("lan", "alow"), None);
        assert_eq!(Key::legacy("LOCAL_NET"), Some(("LOCAL_NET", Key::LanAllow)));
    }
}
