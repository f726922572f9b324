//! The lists long enough to be worth a hash, as ipsets, and the `ipset restore` input that
//! fills them.

use super::names::PREFIX;
use crate::policy::{Entry, Family, Policy, SetId};
use crate::render_common::digest;
use std::fmt::Write;

/// A list with more entries than this is matched with ipset when ipset is installed; a shorter
/// one, or any without ipset, with one rule per entry.
pub const IPSET_ABOVE: usize = 16;

/// The set a reload fills before swapping it for the one the rules use.
pub const IPSET_NEW: &str = "VPN_FIREWALL_NEW";

/// A list matched with ipset. Its name ends in a digest of its contents, so a reload that
/// changes the list makes a new set, which the new rules name while the rules still loaded keep
/// using the old one: the switch happens with the table's commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipset {
    pub id: SetId,
    pub name: String,
    /// Type and options of `ipset create`.
    pub create: String,
    pub entries: Vec<String>,
}

/// The lists of `policy` that are matched with ipset, when it is installed.
pub fn ipsets(policy: &Policy, installed: bool) -> Vec<Ipset> {
    if !installed {
        return Vec::new();
    }
    let ids = [SetId::Lan4, SetId::Lan6, SetId::Servers4, SetId::Servers6];
    ids.into_iter()
        .filter(|id| policy.sets.len(*id) > IPSET_ABOVE)
        .map(|id| {
            let entries: Vec<String> = policy.sets.entries(id).into_iter().flat_map(entry).collect();
            let kind = if id.holds_endpoints() { "hash:ip,port" } else { "hash:net" };
            let family = if id.family() == Family::V4 { "inet" } else { "inet6" };
            let create = format!("{kind} family {family} maxelem {}", entries.len().max(65536));
            let name = format!("{PREFIX}{}_{}", short_name(id), digest(&format!("{create}\n{}", entries.join("\n")), 4));
            Ipset { id, name, create, entries }
        })
        .collect()
}

fn short_name(id: SetId) -> &'static str {
    match id {
        SetId::Lan4 => "LAN4",
        SetId::Lan6 => "LAN6",
        SetId::Servers4 => "SERVERS4",
        SetId::Servers6 => "SERVERS6",
    }
}

/// A list's entry as ipset takes it: hash:net refuses a /0, so that goes as its two halves,
/// which hold the same addresses.
fn entry(entry: Entry) -> Vec<String> {
    match entry {
        Entry::Network(net) if net.prefix_len() == 0 => net.subnets(1).expect("a /0 has /1 subnets").map(|n| n.to_string()).collect(),
        Entry::Network(net) => vec![net.to_string()],
        Entry::Endpoint(addr, proto, port) => vec![format!("{addr},{}:{port}", proto.name())],
    }
}

/// The `ipset restore` input that makes each set hold its entries: filled under a new name and
/// swapped in, so that a set in use never lacks an entry. `stale_new` when a set named
/// `IPSET_NEW` is left over from an interrupted run.
pub fn render_ipset(sets: &[Ipset], stale_new: bool) -> String {
    let mut out = String::new();
    if stale_new {
        writeln!(out, "destroy {IPSET_NEW}").unwrap();
    }
    for set in sets {
        writeln!(out, "create {} {} -exist", set.name, set.create).unwrap();
        writeln!(out, "create {IPSET_NEW} {}", set.create).unwrap();
        for entry in &set.entries {
            writeln!(out, "add {IPSET_NEW} {entry}").unwrap();
        }
        writeln!(out, "swap {IPSET_NEW} {}", set.name).unwrap();
        writeln!(out, "destroy {IPSET_NEW}").unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Sets;

    #[test]
    fn hash_net_gets_a_default_route_as_two_halves() {
        let mut sets =
            Sets { lan4: (0..IPSET_ABOVE as u32).map(|i| ipnet::Ipv4Net::new((0x0a00_0000 + (i << 9)).into(), 24).unwrap()).collect(), ..Sets::default() };
        sets.lan4.push("0.0.0.0/0".parse().unwrap());
        sets.lan6 = vec!["::/0".parse().unwrap()];
        let p = Policy { sets, ..Policy::lockdown() };
        let v4 = ipsets(&p, true).into_iter().find(|s| s.id == SetId::Lan4).map(|s| s.entries).expect("a long list");
        assert_eq!(&v4[IPSET_ABOVE..], ["0.0.0.0/1", "128.0.0.0/1"]);
        assert_eq!(entry(Entry::Network("::/0".parse().unwrap())), ["::/1", "8000::/1"]);
    }
}
