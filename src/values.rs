//! Parsers for the typed values of the configuration. Each returns the value or a message that
//! says what was wrong and what was expected; the caller adds `FILE:LINE`.
//!
//! Nothing a user writes reaches a rendered ruleset except through these types, so each one only
//! admits text that is safe to print into nft or iptables syntax.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

pub type Parsed<T> = Result<T, String>;

/// Splits a list on spaces and/or commas.
pub fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split([' ', ',', '\t']).filter(|s| !s.is_empty())
}

pub fn boolean(value: &str) -> Parsed<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("{value:?} is not a boolean (expected yes/no, true/false, on/off or 1/0)")),
    }
}

/// An interface name, or a prefix pattern ending in `+`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interface(String);

impl Interface {
    /// The name without a trailing `+`, and whether it is a prefix pattern.
    pub fn prefix(&self) -> (&str, bool) {
        match self.0.strip_suffix('+') {
            Some(p) => (p, true),
            None => (&self.0, false),
        }
    }

    /// Whether a concrete interface name matches this name or pattern.
    pub fn matches(&self, name: &str) -> bool {
        match self.prefix() {
            (p, true) => name.starts_with(p),
            (n, false) => name == n,
        }
    }

    /// Whether some interface name matches both this and `other`.
    pub fn overlaps(&self, other: &Interface) -> bool {
        match (self.prefix(), other.prefix()) {
            ((a, true), (b, true)) => a.starts_with(b) || b.starts_with(a),
            ((_, true), (name, false)) => self.matches(name),
            ((name, false), _) => other.matches(name),
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kernel allows at most 15 bytes (IFNAMSIZ - 1) and no `/`, `:` or white space; this also
/// refuses quotes, `*` and other punctuation that nft or iptables would read as syntax.
pub fn interface(value: &str) -> Parsed<Interface> {
    let name = value.strip_suffix('+').unwrap_or(value);
    let expected = "expected an interface name of letters, digits, '-', '_' and '.', at most 15 bytes, \
                    optionally ending in '+' to match any suffix";
    if value.len() > 15 {
        return Err(format!("interface {value:?} is longer than 15 bytes ({expected})"));
    }
    if name.is_empty() {
        return Err(format!("interface {value:?} would match every interface, the uplink too ({expected})"));
    }
    if name == "." || name == ".." {
        return Err(format!("interface {value:?} is not a valid name ({expected})"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(format!("interface {value:?} contains {bad:?} ({expected})"));
    }
    Ok(Interface(value.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

fn proto(value: &str, whole: &str) -> Parsed<Proto> {
    match value.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err(format!("{whole:?} has protocol {value:?} (expected tcp or udp)")),
    }
}

fn port(value: &str, whole: &str) -> Parsed<u16> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 && !value.starts_with('+') => Ok(p),
        _ => Err(format!("{whole:?} has port {value:?} (expected a number from 1 to 65535)")),
    }
}

/// `PORT/PROTO` or `LOW-HIGH/PROTO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    pub proto: Proto,
    pub low: u16,
    pub high: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high { write!(f, "{}/{}", self.low, self.proto.name()) } else { write!(f, "{}-{}/{}", self.low, self.high, self.proto.name()) }
    }
}

pub fn port_range(value: &str) -> Parsed<PortRange> {
    let Some((ports, p)) = value.split_once('/') else {
        return Err(format!("{value:?} has no protocol (expected PORT/PROTO or LOW-HIGH/PROTO, like 22/tcp)"));
    };
    let proto = proto(p, value)?;
    let (low, high) = match ports.split_once('-') {
        Some((l, h)) => (port(l, value)?, port(h, value)?),
        None => (port(ports, value)?, port(ports, value)?),
    };
    if low > high {
        return Err(format!("{value:?} is an empty range (expected LOW-HIGH with LOW <= HIGH)"));
    }
    Ok(PortRange { proto, low, high })
}

/// A VPN server: `ADDR:PORT/PROTO` or `[V6ADDR]:PORT/PROTO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
    pub proto: Proto,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", SocketAddr::new(self.addr, self.port), self.proto.name())
    }
}

pub fn endpoint(value: &str) -> Parsed<Endpoint> {
    let expected = "expected ADDR:PORT/PROTO or [V6ADDR]:PORT/PROTO with an IP address, like 198.51.100.7:1194/udp";
    let Some((addr_port, p)) = value.rsplit_once('/') else {
        return Err(format!("{value:?} has no protocol ({expected})"));
    };
    let proto = proto(p, value)?;
    let Some((addr, port_text)) = addr_port.rsplit_once(':') else {
        return Err(format!("{value:?} has no port ({expected})"));
    };
    let port = port(port_text, value)?;
    let addr = match addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().map(IpAddr::V6).ok(),
        None => addr.parse::<std::net::Ipv4Addr>().map(IpAddr::V4).ok(),
    };
    let Some(addr) = addr else {
        return Err(format!(
            "{value:?} is not an IP address endpoint ({expected}; names are not resolved, \
             the rules load before the network is up)"
        ));
    };
    Ok(Endpoint { addr, port, proto })
}

/// A network in CIDR notation; a bare address means that one host. Host bits are cleared.
pub fn network(value: &str) -> Parsed<IpNet> {
    if let Ok(net) = IpNet::from_str(value) {
        return Ok(net.trunc());
    }
    if let Ok(addr) = IpAddr::from_str(value) {
        return Ok(IpNet::from(addr));
    }
    Err(format!("{value:?} is not a network (expected CIDR like 192.168.1.0/24 or fd00::/64, or an address)"))
}

pub fn address(value: &str) -> Parsed<IpAddr> {
    IpAddr::from_str(value).map_err(|_| format!("{value:?} is not an IP address (expected like 10.8.0.1 or fd00::1)"))
}

/// A firewall mark: decimal or 0x-hex, 1 to 0xffffffff (mark 0 is every unmarked packet).
pub fn fwmark(value: &str) -> Parsed<u32> {
    let (digits, radix) = match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (value, 10),
    };
    // from_str_radix would also take a sign.
    let parsed = digits.chars().all(|c| c.is_digit(radix)).then(|| u32::from_str_radix(digits, radix).ok()).flatten();
    match parsed {
        Some(0) => Err(format!("fwmark {value:?} would match every unmarked packet (expected 1 to 0xffffffff)")),
        Some(m) => Ok(m),
        None => Err(format!("fwmark {value:?} is not a 32-bit number (expected decimal or 0x-hex, 1 to 0xffffffff)")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Second,
    Minute,
    Hour,
}

/// A log rate limit: `N/second`, `N/minute` or `N/hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Per,
}

impl Rate {
    pub fn unit(self) -> &'static str {
        match self.per {
            Per::Second => "second",
            Per::Minute => "minute",
            Per::Hour => "hour",
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.unit())
    }
}

pub fn rate(value: &str) -> Parsed<Rate> {
    let expected = "expected N/second, N/minute or N/hour with N from 1 to 10000";
    let (n, unit) = value.split_once('/').ok_or_else(|| format!("{value:?} is not a rate ({expected})"))?;
    let count = match n.trim().parse::<u32>() {
        Ok(c) if (1..=10_000).contains(&c) && !n.starts_with('+') => c,
        _ => return Err(format!("{value:?} has count {n:?} ({expected})")),
    };
    let per = match unit.trim().to_ascii_lowercase().as_str() {
        "second" => Per::Second,
        "minute" => Per::Minute,
        "hour" => Per::Hour,
        _ => return Err(format!("{value:?} has unit {unit:?} ({expected})")),
    };
    Ok(Rate { count, per })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of `bad` is refused by `parse`.
    fn refused<T, E>(parse: impl Fn(&str) -> Result<T, E>, bad: &[&str]) {
        for value in bad {
            assert!(parse(value).is_err(), "{value} was accepted");
        }
    }

    #[test]
    fn booleans() {
        for t in ["yes", "True", "ON", "1"] {
            assert_eq!(boolean(t), Ok(true));
        }
        for f in ["no", "FALSE", "off", "0"] {
            assert_eq!(boolean(f), Ok(false));
        }
        assert!(boolean("maybe").unwrap_err().contains("expected yes/no"));
    }

    #[test]
    fn lists_split_on_spaces_and_commas() {
        assert_eq!(list(" a, b ,c  d,,").collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(list("").count(), 0);
    }

    #[test]
    fn interfaces() {
        assert!(interface("tun+").unwrap().matches("tun0"));
        assert!(!interface("tun0").unwrap().matches("tun01"));
        assert!(interface("wg-home_1.2").is_ok());
        assert!(interface("123456789012345").is_ok());
        let overlap = |a: &str, b: &str| interface(a).unwrap().overlaps(&interface(b).unwrap());
        for (a, b) in [("tun+", "tun0"), ("tun+", "tu+"), ("eth1", "eth1"), ("tun0", "tun+"), ("vif+", "vif3.0"), ("tun0", "tun0+")] {
            assert!(overlap(a, b) && overlap(b, a), "{a} {b}");
        }
        for (a, b) in [("tun+", "eth1"), ("tun0", "tun1"), ("tun0+", "tun1+"), ("tun01", "tun0")] {
            assert!(!overlap(a, b) && !overlap(b, a), "{a} {b}");
        }
        refused(interface, &["1234567890123456", "+", "tun0; flush ruleset", "tu\"n", "tun*", "a/b", "a:b", "t+n", ".", "tün0"]);
    }

    #[test]
    fn port_ranges() {
        assert_eq!(port_range("22/tcp").unwrap().to_string(), "22/tcp");
        assert_eq!(port_range("6000-6010/UDP").unwrap().to_string(), "6000-6010/udp");
        refused(port_range, &["22", "0/tcp", "65536/tcp", "22/icmp", "10-5/tcp", "a/tcp", "+5/tcp", "-5/tcp", "5-/tcp"]);
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("198.51.100.7:1194/udp").unwrap().to_string(), "198.51.100.7:1194/udp");
        assert_eq!(endpoint("[2001:db8::7]:443/tcp").unwrap().to_string(), "[2001:db8::7]:443/tcp");
        refused(endpoint, &["vpn.example.org:1194/udp", "2001:db8::7:443/tcp", "1.2.3.4/udp", "1.2.3.4:0/udp", "1.2.3.4:1194"]);
        assert!(endpoint("vpn.example.org:1194/udp").unwrap_err().contains("names are not resolved"));
    }

    #[test]
    fn networks() {
        assert_eq!(network("192.168.1.7/24").unwrap().to_string(), "192.168.1.0/24");
        assert_eq!(network("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(network("fd00::1/8").unwrap().to_string(), "fd00::/8");
        refused(network, &["10.0.0.0/33", "lan", "10.0.0", "10.0.0.0/8 ; x"]);
    }

    #[test]
    fn fwmarks() {
        assert_eq!(fwmark("51820"), Ok(51820));
        assert_eq!(fwmark("0xCA6C"), Ok(0xca6c));
        assert_eq!(fwmark("0xffffffff"), Ok(u32::MAX));
        refused(fwmark, &["0", "0x0", "0x100000000", "4294967296", "-1", "mark", "+1", "0x+1", "0x", ""]);
    }

    #[test]
    fn rates() {
        assert_eq!(rate("10/minute").unwrap().to_string(), "10/minute");
        assert_eq!(rate("3/Second").unwrap().to_string(), "3/second");
        refused(rate, &["10", "0/minute", "10/day", "x/hour", "100000/second"]);
    }
}
