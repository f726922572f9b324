//! Validated settings: the merged configuration with every value parsed and checked, or every
//! error found, each naming `FILE:LINE`.

use crate::accounts::Accounts;
use crate::config::schema::Key;
use crate::config::{ConfigError, ConfigErrors, Origin, RawConfig};
use crate::uplink::Outward;
use crate::values::{self, Endpoint, Interface, Parsed, PortRange, Rate};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// nftables when `nft` is found, else iptables
    #[default]
    Auto,
    Nftables,
    Iptables,
}

impl BackendChoice {
    pub fn parse(value: &str) -> Parsed<Self> {
        match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "nftables" | "nft" => Ok(BackendChoice::Nftables),
            "iptables" => Ok(BackendChoice::Iptables),
            _ => Err(format!("{value:?} is not a backend (expected auto, nftables or iptables)")),
        }
    }

    /// As the configuration and the command line spell it.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Nftables => "nftables",
            BackendChoice::Iptables => "iptables",
        }
    }
}

/// A user or group that exists, by the name or number the configuration gave and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    pub interfaces: Vec<Interface>,
    /// Ethernet-type interfaces of `interfaces` count as the tunnel too (OpenVPN `dev tap`).
    pub tap: bool,
    pub user: Option<Account>,
    pub group: Option<Account>,
    pub fwmark: Option<u32>,
    pub servers: Vec<Endpoint>,
    pub ipv6: bool,
    pub incoming: Vec<PortRange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lan {
    pub allow: Vec<IpNet>,
    pub dns: bool,
    pub dhcp: bool,
    /// The users whose sockets may send DHCP client messages (root allowed: see `dhcp_users`).
    pub dhcp_users: Vec<Account>,
    pub incoming: Vec<PortRange>,
    /// Local interfaces (container and VM bridges), exchanged with as with the LAN.
    pub interfaces: Vec<Interface>,
    pub multicast: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub enable: bool,
    pub interfaces: Vec<Interface>,
    pub masquerade: bool,
    pub dns: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    pub backend: BackendChoice,
    pub log: bool,
    pub log_rate: Rate,
    pub reject: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub tunnel: Tunnel,
    pub lan: Lan,
    pub forward: Forward,
    pub firewall: Firewall,
}

/// Valid settings, and what `check` should warn about.
#[derive(Debug, Clone)]
pub struct Validated {
    pub settings: Settings,
    pub warnings: Vec<String>,
}

/// Collects the errors of every key while the settings are being built.
struct Validator<'a> {
    raw: &'a RawConfig,
    /// With the place they were set, to report them in file order.
    errors: Vec<(Option<Origin>, ConfigError)>,
    warnings: Vec<String>,
}

impl Validator<'_> {
    /// Where a key was set (`FILE:LINE`, or the directory for a default) and which key it is.
    fn locate(&self, key: Key) -> (String, String) {
        let (entry, spec) = (self.raw.get(key), key.spec());
        let dir = self.raw.dirs.first().map(|d| d.display().to_string()).unwrap_or_default();
        match (&entry.origin, entry.platform) {
            (Some(o), _) => (o.to_string(), format!("[{}] {}", spec.section, spec.key)),
            (None, None) => (dir, format!("[{}] {} (default {:?})", spec.section, spec.key, entry.value)),
            (None, Some(p)) => (dir, format!("[{}] {} (default on {p} {:?})", spec.section, spec.key, entry.value)),
        }
    }

    fn error(&mut self, key: Key, message: String) {
        let (location, name) = self.locate(key);
        let origin = self.raw.get(key).origin.clone();
        self.errors.push((origin, ConfigError { location, message: format!("{name}: {message}") }));
    }

    fn warn(&mut self, key: Key, message: String) {
        let (location, name) = self.locate(key);
        self.warnings.push(format!("{location}: {name}: {message}"));
    }

    fn one<T: Default>(&mut self, key: Key, parse: impl Fn(&str) -> Parsed<T>) -> T {
        match parse(self.raw.get(key).value.trim()) {
            Ok(v) => v,
            Err(message) => {
                self.error(key, message);
                T::default()
            }
        }
    }

    fn optional<T>(&mut self, key: Key, parse: impl Fn(&str) -> Parsed<T>) -> Option<T> {
        let value = self.raw.get(key).value.trim().to_string();
        if value.is_empty() {
            return None;
        }
        parse(&value).map_err(|message| self.error(key, message)).ok()
    }

    /// A list; duplicates are dropped, the order of first appearance kept.
    fn list<T: Ord + Clone>(&mut self, key: Key, parse: impl Fn(&str) -> Parsed<T>) -> Vec<T> {
        let value = self.raw.get(key).value.clone();
        let mut out = Vec::new();
        // A set beside the list keeps a list of ten thousand networks from taking quadratic time.
        let mut seen = BTreeSet::new();
        for item in values::list(&value) {
            match parse(item) {
                Ok(v) if seen.insert(v.clone()) => out.push(v),
                Ok(_) => {}
                Err(message) => self.error(key, message),
            }
        }
        out
    }

    /// A user or group by name or number. A name that does not exist is an error, except for the
    /// built-in default, which only gives a warning and no exception.
    fn account(&mut self, key: Key, what: &str, lookup: impl Fn(&str) -> Option<u32>) -> Option<Account> {
        let entry = self.raw.get(key).clone();
        let value = entry.value.trim();
        if value.is_empty() {
            return None;
        }
        match resolve(value, &lookup) {
            Some(0) => {
                self.error(
                    key,
                    format!(
                        "{what} {value:?} is root's: every process running as root would send outside the tunnel \
                     (expected the VPN client's own {what}, such as tunnel)"
                    ),
                );
                None
            }
            Some(id) => Some(Account { name: value.to_string(), id }),
            None if entry.origin.is_none() => {
                let spec = key.spec();
                self.warn(
                    key,
                    format!(
                        "{what} {value:?} does not exist, so no process may send outside the tunnel; \
                     create it (the package does) or set [{}] {}",
                        spec.section, spec.key
                    ),
                );
                None
            }
            None => {
                self.error(key, format!("{what} {value:?} does not exist (expected an existing {what} name or a numeric id)"));
                None
            }
        }
    }

    /// The DHCP clients' users. Root is allowed here, unlike in `[tunnel] user`: the exception
    /// lets out only client-shaped messages, and root can bypass netfilter through a packet
    /// socket anyway. A default user that does not exist (its client is not installed) is
    /// skipped silently (`check` lists it): most machines run one DHCP client of the three; a
    /// user named in a file that does not exist is an error.
    fn dhcp_users(&mut self, lookup: impl Fn(&str) -> Option<u32>) -> Vec<Account> {
        let key = Key::LanDhcpUsers;
        let entry = self.raw.get(key).clone();
        let mut out: Vec<Account> = Vec::new();
        for name in values::list(&entry.value) {
            match resolve(name, &lookup) {
                Some(id) if out.iter().any(|a| a.id == id) => {}
                Some(id) => out.push(Account { name: name.to_string(), id }),
                None if entry.origin.is_none() => {}
                None => self.error(key, format!("user {name:?} does not exist (expected an existing user name or a numeric uid)")),
            }
        }
        out
    }
}

/// The id of a user or group the configuration names by number or by name, if it exists.
fn resolve(value: &str, lookup: impl Fn(&str) -> Option<u32>) -> Option<u32> {
    if value.bytes().all(|b| b.is_ascii_digit()) { value.parse::<u32>().ok().filter(|id| *id != u32::MAX) } else { lookup(value) }
}

impl Settings {
    /// Validates every key of `raw` on this machine; all problems are returned together.
    pub fn validate(raw: &RawConfig, accounts: &dyn Accounts) -> Result<Validated, ConfigErrors> {
        Self::validate_with(raw, accounts, &crate::uplink::outward())
    }

    /// Validates every key of `raw`, `outward` being the interfaces through which packets leave
    /// this machine onto a network (its uplinks, bridges holding a network card).
    pub fn validate_with(raw: &RawConfig, accounts: &dyn Accounts, outward: &[Outward]) -> Result<Validated, ConfigErrors> {
        let mut v = Validator { raw, errors: Vec::new(), warnings: Vec::new() };
        let tunnel = Tunnel {
            interfaces: v.list(Key::TunnelInterfaces, values::interface),
            tap: v.one(Key::TunnelTap, values::boolean),
            user: v.account(Key::TunnelUser, "user", |n| accounts.uid(n)),
            group: v.account(Key::TunnelGroup, "group", |n| accounts.gid(n)),
            fwmark: v.optional(Key::TunnelFwmark, values::fwmark),
            servers: v.list(Key::TunnelServers, values::endpoint),
            ipv6: v.one(Key::TunnelIpv6, values::boolean),
            incoming: v.list(Key::TunnelIncoming, values::port_range),
        };
        let allow = IpNet::aggregate(&v.list(Key::LanAllow, values::network));
        let dns = v.one(Key::LanDns, values::boolean);
        let lan = Lan {
            allow,
            dns,
            dhcp: v.one(Key::LanDhcp, values::boolean),
            dhcp_users: v.dhcp_users(|n| accounts.uid(n)),
            incoming: v.list(Key::LanIncoming, values::port_range),
            interfaces: v.list(Key::LanInterfaces, values::interface),
            multicast: v.one(Key::LanMulticast, values::boolean),
        };
        let forward = Forward {
            enable: v.one(Key::ForwardEnable, values::boolean),
            interfaces: v.list(Key::ForwardInterfaces, values::interface),
            masquerade: v.one(Key::ForwardMasquerade, values::boolean),
            dns: v.optional(Key::ForwardDns, values::address),
        };
        let firewall = Firewall {
            backend: v.one(Key::FirewallBackend, BackendChoice::parse),
            log: v.one(Key::FirewallLog, values::boolean),
            log_rate: v.optional(Key::FirewallLogRate, values::rate).unwrap_or(DEFAULT_RATE),
            reject: v.one(Key::FirewallReject, values::boolean),
        };
        let settings = Settings { tunnel, lan, forward, firewall };
        settings.cross_check(&mut v);
        settings.check_local_interfaces(&mut v, outward);
        if v.errors.is_empty() {
            return Ok(Validated { settings, warnings: v.warnings });
        }
        v.errors.sort_by_key(|(origin, _)| origin.as_ref().map(|o| (o.file.clone(), o.line)));
        Err(ConfigErrors(v.errors.into_iter().map(|(_, e)| e).collect()))
    }

    /// Rules that tie keys together, and warnings for settings that are valid but likely wrong.
    fn cross_check(&self, v: &mut Validator) {
        self.check_forward(v);
        if self.tunnel.interfaces.is_empty() {
            v.warn(Key::TunnelInterfaces, "no tunnel interface: nothing may leave except to [lan] allow and for the VPN client".into());
        }
        let no_identity = self.tunnel.user.is_none() && self.tunnel.group.is_none() && self.tunnel.fwmark.is_none();
        if no_identity && !self.tunnel.servers.is_empty() {
            v.warn(Key::TunnelServers, "servers are set but no user, group or fwmark may use them".into());
        }
        if let Some(everything) = self.lan.allow.iter().find(|n| n.prefix_len() == 0) {
            v.warn(Key::LanAllow, format!("{everything} lets all traffic out outside the tunnel: this is no kill switch"));
        }
        let has_v6 = self.tunnel.servers.iter().any(|s| s.addr.is_ipv6()) || self.lan.allow.iter().any(|n| matches!(n, IpNet::V6(_)));
        if has_v6 && !self.tunnel.ipv6 {
            v.warn(
                Key::TunnelIpv6,
                "IPv6 servers or networks are listed: they are reachable outside the tunnel, while IPv6 through the tunnel stays blocked".into(),
            );
        }
    }

    /// Gateway mode: the inside is neither the tunnel nor the machine itself.
    fn check_forward(&self, v: &mut Validator) {
        let (enable, interfaces, dns) = (Key::ForwardEnable, Key::ForwardInterfaces, Key::ForwardDns);
        let f = &self.forward;
        if f.enable && f.interfaces.is_empty() {
            v.error(enable, "forwarding is enabled but [forward] interfaces is empty (expected the internal interfaces, like eth1)".into());
        }
        for inside in &f.interfaces {
            if let Some(tunnel) = self.tunnel.interfaces.iter().find(|t| t.overlaps(inside)) {
                v.error(
                    interfaces,
                    format!(
                        "{inside} also matches the tunnel interface {tunnel}: the inside and the tunnel must be apart \
                     (expected the interfaces of the machines behind this gateway, like eth1)"
                    ),
                );
            }
        }
        if let Some(addr) = f.dns {
            if addr.is_loopback() || addr.is_unspecified() || addr.is_multicast() || addr == IpAddr::from([255, 255, 255, 255]) {
                v.error(
                    dns,
                    format!(
                        "{addr} cannot receive redirected DNS (expected a resolver reached through the tunnel, \
                     or this gateway's address on the internal interface)"
                    ),
                );
            } else if addr.is_ipv6() && !self.tunnel.ipv6 && f.enable {
                v.warn(
                    dns,
                    format!(
                        "{addr} is IPv6, which is not forwarded ([tunnel] ipv6 = no): DNS from the inside is blocked \
                     unless {addr} is this gateway's own address"
                    ),
                );
            }
        }
        if !f.enable {
            for key in [interfaces, dns] {
                if set_in_a_file(v, key) {
                    v.warn(key, "has no effect: forwarding is not enabled ([forward] enable = no)".into());
                }
            }
        }
    }
}

impl Settings {
    /// `[lan] interfaces` are local: neither the tunnel, nor the inside of gateway mode, nor an
    /// uplink (everything would leave through it in the clear). `[lan] multicast` is announced.
    fn check_local_interfaces(&self, v: &mut Validator, outward: &[Outward]) {
        let spec = Key::LanInterfaces;
        let expected = "expected the bridges of containers and VMs on this machine, like docker0, br-+ or virbr0";
        for local in &self.lan.interfaces {
            if let Some(tunnel) = self.tunnel.interfaces.iter().find(|t| t.overlaps(local)) {
                v.error(spec, format!("{local} also matches the tunnel interface {tunnel}: a local interface is never the tunnel ({expected})"));
            }
            if let Some(inside) = self.forward.interfaces.iter().find(|x| self.forward.enable && x.overlaps(local)) {
                v.error(
                    spec,
                    format!(
                        "{local} also matches [forward] interfaces {inside}: list an interface in one of them \
                     ([lan] interfaces for containers and VMs on this machine, [forward] interfaces for the machines behind it)"
                    ),
                );
            }
            if let Some(out) = outward.iter().find(|o| local.matches(&o.name)) {
                v.error(
                    spec,
                    format!(
                        "{local} matches {}, {}: everything would leave through it in the clear \
                     ({expected}; list the network it reaches in [lan] allow instead)",
                        out.name, out.what
                    ),
                );
            }
        }
        if self.lan.multicast {
            v.warn(
                Key::LanMulticast,
                "announces this machine to the LAN: mDNS and SSDP let any program on it tell \
                the link its name and services, outside the tunnel"
                    .into(),
            );
        }
    }
}

/// Whether a configuration file sets `spec` (rather than a default).
fn set_in_a_file(v: &Validator, key: Key) -> bool {
    v.raw.get(key).origin.is_some() && !v.raw.get(key).value.trim().is_empty()
}

pub const DEFAULT_RATE: Rate = Rate { count: 10, per: values::Per::Minute };

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::FixedAccounts;

    const ACCOUNTS: FixedAccounts = FixedAccounts(&[("tunnel", 999), ("vpn", 1001), ("root", 0), ("systemd-network", 998), ("dhcpcd", 997)]);

    fn validate(text: &str, accounts: &dyn Accounts) -> Result<Validated, ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("50-test.conf"), text).unwrap();
        Settings::validate(&RawConfig::load(dir.path())?, accounts)
    }

    #[test]
    fn defaults_are_a_closed_kill_switch() {
        let v = validate("", &ACCOUNTS).unwrap();
        let t = &v.settings.tunnel;
        assert_eq!(t.interfaces.iter().map(ToString::to_string).collect::<Vec<_>>(), ["tun+"]);
        assert_eq!(t.user, Some(Account { name: "tunnel".into(), id: 999 }));
        assert!(!t.ipv6 && t.servers.is_empty() && v.settings.lan.allow.is_empty());
        assert!(!v.settings.lan.dns && v.settings.lan.dhcp && !v.settings.forward.enable);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn a_missing_default_user_warns_and_exempts_nobody() {
        let v = validate("", &FixedAccounts(&[])).unwrap();
        assert_eq!(v.settings.tunnel.user, None);
        assert!(v.warnings[0].contains("user \"tunnel\" does not exist"), "{:?}", v.warnings);
    }

    #[test]
    fn a_missing_named_user_is_an_error_even_when_it_is_the_default_name() {
        let e = validate("[tunnel]\nuser = tunnel\n", &FixedAccounts(&[])).unwrap_err();
        assert!(
            e.to_string().ends_with("50-test.conf:2: [tunnel] user: user \"tunnel\" does not exist (expected an existing user name or a numeric id)"),
            "{e}"
        );
        let e = validate("TUNNEL_USER=nobody-here\n", &ACCOUNTS).unwrap_err();
        assert!(e.to_string().contains("50-test.conf:1: [tunnel] user:"), "{e}");
    }

    #[test]
    fn numeric_ids_need_no_account() {
        let v = validate("[tunnel]\nuser = 4242\ngroup = 50\n", &FixedAccounts(&[])).unwrap();
        assert_eq!(v.settings.tunnel.user.unwrap().id, 4242);
        assert_eq!(v.settings.tunnel.group.unwrap().id, 50);
        assert!(validate("[tunnel]\nuser = 4294967295\n", &ACCOUNTS).is_err());
    }

    #[test]
    fn root_is_never_the_vpn_client() {
        for text in ["[tunnel]\nuser = 0\n", "[tunnel]\ngroup = 0\n", "[tunnel]\nuser = root\n", "TUNNEL_USER=root\n"] {
            let e = validate(text, &FixedAccounts(&[("root", 0)])).unwrap_err();
            assert!(e.to_string().contains("is root's"), "{text}: {e}");
        }
    }

    #[test]
    fn dhcp_users_skip_missing_defaults_and_refuse_missing_names() {
        let v = validate("[tunnel]\nuser = 4242\n", &FixedAccounts(&[("root", 0), ("systemd-network", 998)])).unwrap();
        let ids: Vec<u32> = v.settings.lan.dhcp_users.iter().map(|a| a.id).collect();
        assert_eq!(ids, [0, 998]);
        assert!(v.warnings.is_empty(), "a missing default DHCP user is skipped silently: {:?}", v.warnings);
        let v = validate("[lan]\ndhcp_users = root, 0, 1234\n", &ACCOUNTS).unwrap();
        assert_eq!(v.settings.lan.dhcp_users.iter().map(|a| a.id).collect::<Vec<_>>(), [0, 1234]);
        let e = validate("[lan]\ndhcp_users = root nosuchuser\n", &ACCOUNTS).unwrap_err();
        assert!(
            e.to_string().ends_with("50-test.conf:2: [lan] dhcp_users: user \"nosuchuser\" does not exist (expected an existing user name or a numeric uid)"),
            "{e}"
        );
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let e = validate("[lan]\nallow = 10.0.0.0/8 nonsense\ndns = perhaps\n[tunnel]\nfwmark = 0\n", &ACCOUNTS).unwrap_err();
        let lines: Vec<String> = e.0.iter().map(|e| e.location.rsplit(':').next().unwrap().to_string()).collect();
        assert_eq!(lines, ["2", "3", "5"]);
    }

    #[test]
    fn forwarding_needs_interfaces_apart_from_the_tunnel() {
        let e = validate("[forward]\nenable = yes\n", &ACCOUNTS).unwrap_err();
        assert!(e.to_string().contains("50-test.conf:2: [forward] enable: forwarding is enabled but [forward] interfaces is empty"), "{e}");
        let v = validate("FORWARDING=yes\nINT_IF=eth1\n", &ACCOUNTS).unwrap();
        assert!(v.settings.forward.enable && v.warnings.is_empty(), "{:?}", v.warnings);
        let e = validate("[tunnel]\ninterfaces = tun0 wg+\n[forward]\nenable = yes\ninterfaces = eth1 wg0\n", &ACCOUNTS).unwrap_err();
        assert!(e.to_string().ends_with("50-test.conf:5: [forward] interfaces: wg0 also matches the tunnel interface wg+: the inside and the tunnel must be apart (expected the interfaces of the machines behind this gateway, like eth1)"), "{e}");
    }

    #[test]
    fn redirected_dns_needs_an_address_that_can_receive_it() {
        for bad in ["127.0.0.53", "::1", "0.0.0.0", "224.0.0.251", "255.255.255.255"] {
            let e = validate(&format!("[forward]\nenable = yes\ninterfaces = eth1\ndns = {bad}\n"), &ACCOUNTS).unwrap_err();
            assert!(e.to_string().contains(":4: [forward] dns: ") && e.to_string().contains("cannot receive redirected DNS"), "{bad}: {e}");
        }
        let v = validate("[forward]\nenable = yes\ninterfaces = eth1\ndns = fd00::53\n", &ACCOUNTS).unwrap();
        assert!(v.warnings.iter().any(|w| w.contains("[forward] dns: fd00::53 is IPv6, which is not forwarded")), "{:?}", v.warnings);
    }

    #[test]
    fn forward_settings_without_forwarding_warn() {
        let v = validate("[forward]\ninterfaces = eth1\ndns = 10.8.0.1\n", &ACCOUNTS).unwrap();
        assert_eq!(v.warnings.len(), 2, "{:?}", v.warnings);
        assert!(v.warnings.iter().all(|w| w.ends_with("has no effect: forwarding is not enabled ([forward] enable = no)")), "{:?}", v.warnings);
    }

    #[test]
    fn leaky_settings_warn() {
        let v = validate("[lan]\nallow = 0.0.0.0/0\n", &ACCOUNTS).unwrap();
        assert!(v.warnings.iter().any(|w| w.contains("this is no kill switch")), "{:?}", v.warnings);
        let v = validate("[tunnel]\ninterfaces =\n", &ACCOUNTS).unwrap();
        assert!(v.warnings.iter().any(|w| w.contains("no tunnel interface")), "{:?}", v.warnings);
    }

    #[test]
    fn local_interfaces_are_neither_the_tunnel_nor_the_inside_nor_the_uplink() {
        let on = |text: &str, outward: &[(&str, &str)]| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("50-test.conf"), text).unwrap();
            let outward: Vec<Outward> = outward.iter().map(|(name, what)| Outward { name: name.to_string(), what: what.to_string() }).collect();
            Settings::validate_with(&RawConfig::load(dir.path()).unwrap(), &ACCOUNTS, &outward)
        };
        let uplink = "the interface of this machine's default route";
        let v = on("[lan]\ninterfaces = docker0 br-+ virbr+\n", &[("eth0", uplink)]).unwrap();
        assert_eq!(v.settings.lan.interfaces.len(), 3);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        let e = on("[lan]\ninterfaces = docker0 br+\n", &[("br0", uplink)]).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "50-test.conf:2: [lan] interfaces: br+ matches br0, the interface of this machine's default route: \
            everything would leave through it in the clear (expected the bridges of containers and VMs on this machine, like docker0, br-+ or virbr0; \
            list the network it reaches in [lan] allow instead)"
            ),
            "{e}"
        );
        let e = on("[lan]\ninterfaces = virbr0 lan0\n", &[("eth0", uplink), ("lan0", "a bridge that holds the network card eth1")]).unwrap_err();
        assert!(e.to_string().contains("[lan] interfaces: lan0 matches lan0, a bridge that holds the network card eth1: everything would leave"), "{e}");
        let e = on("[lan]\ninterfaces = tun9\n", &[]).unwrap_err();
        assert!(e.to_string().contains("[lan] interfaces: tun9 also matches the tunnel interface tun+"), "{e}");
        let e = on("[lan]\ninterfaces = docker0\n[forward]\nenable = yes\ninterfaces = docker0\n", &[]).unwrap_err();
        assert!(e.to_string().contains("[lan] interfaces: docker0 also matches [forward] interfaces docker0"), "{e}");
    }

    #[test]
    fn multicast_is_off_by_default_and_warns_when_on() {
        assert!(!validate("", &ACCOUNTS).unwrap().settings.lan.multicast);
        let v = validate("[lan]\nmulticast = yes\n", &ACCOUNTS).unwrap();
        assert!(v.settings.lan.multicast);
        assert!(v.warnings.iter().any(|w| w.contains("50-test.conf:2: [lan] multicast: announces this machine to the LAN")), "{:?}", v.warnings);
    }

    #[test]
    fn lan_networks_are_merged_and_lists_deduplicated() {
        let v = validate("[lan]\nallow = 10.0.0.0/9 10.128.0.0/9 10.1.0.0/16\nincoming = 22/tcp 22/tcp\n", &ACCOUNTS).unwrap();
        assert_eq!(v.settings.lan.allow.iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.0.0.0/8"]);
        assert_eq!(v.settings.lan.incoming.len(), 1);
    }
}
