//! Tables iptables-nft cannot read. Another tool's native nftables rules in a table iptables-nft
//! uses (`nft add rule ip filter OUTPUT udp dport 53 ct state new accept`) make iptables-nft-save
//! leave the whole table out. Read that way, vpn-firewall's jumps and the built-in policies look
//! absent: a load would insert a second jump, a read-back would fail, `status` would report
//! ACCEPT policies. So vpn-firewall's own chains in such a table are listed one by one
//! (`iptables -S CHAIN` lists iptables rules even there), so that what is loaded and its label
//! are known; the built-in chains that cannot be listed stay unknown. Where such a table is one
//! vpn-firewall loads into, it refuses to load, verify or flush, and says which table and chain
//! and why; only the lockdown, where nothing of vpn-firewall is loaded, goes in without reading
//! them (it inserts its jumps first and sets DROP, whatever the chains hold).

use super::saved::{self, Saved, SavedChain};
use crate::policy::{Family, Hook, NatHook, Policy};
use crate::render_iptables::{INFO, PREFIX, Table, builtin, chain, family_name, nat_chain};
use std::fmt;

/// One table of one family iptables-nft cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub family: Family,
    pub table: Table,
    /// Its built-in chains that iptables-nft cannot read; empty when only other chains are.
    pub chains: Vec<String>,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chains = match self.chains.as_slice() {
            [] => "a chain other than the built-in ones".to_string(),
            [one] => format!("chain {one}"),
            more => format!("chains {}", more.join(", ")),
        };
        write!(
            f,
            "{} table {}, {chains}: holds rules made with nft or another nftables tool, which iptables-nft cannot read",
            family_name(self.family),
            self.table.name()
        )
    }
}

/// What a user can do about it, after the list of unreadable tables.
pub const ADVICE: &str = "use the nftables backend ([firewall] backend = nftables), which works beside them, or move \
                          those rules to a table of their own (nft list ruleset shows them)";

/// The built-in chains of a table.
fn builtins(table: Table) -> &'static [&'static str] {
    match table {
        Table::Filter => &["INPUT", "FORWARD", "OUTPUT"],
        Table::Mangle => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        Table::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    }
}

/// The tables of `saved` (one family's) that iptables-nft said it could not print, with their
/// unreadable built-in chains: those it named, else those `unreadable_chain` finds.
pub fn find(saved: &Saved, family: Family, unreadable_chain: impl Fn(Table, &str) -> bool) -> Vec<Unreadable> {
    let mut found: Vec<Unreadable> = Vec::new();
    for table in Table::ALL {
        let said: Vec<&Option<String>> = saved.unreadable.iter().filter(|u| u.table == table.name()).map(|u| &u.chain).collect();
        if said.is_empty() {
            continue;
        }
        let named: Vec<String> = said.iter().filter_map(|c| (*c).clone()).collect();
        let chains = if said.iter().any(|c| c.is_none()) {
            builtins(table).iter().filter(|c| unreadable_chain(table, c)).map(|c| c.to_string()).collect()
        } else {
            named
        };
        found.push(Unreadable { family, table, chains });
    }
    found
}

/// vpn-firewall's chains in a `table` iptables-nft-save left out, listed one by one (its chains
/// are iptables rules, which `iptables -v -S CHAIN` lists even there): `list(chain)` is that
/// output, `None` where the chain does not exist. From the chains the built-in ones jump to (and INFO),
/// the jumps and gotos lead to the rest.
pub fn our_chains(table: Table, list: impl Fn(&str) -> Option<String>) -> Vec<SavedChain> {
    let mut todo: Vec<String> = Hook::ALL.iter().filter(|h| builtin(**h).0 == table).map(|h| chain(*h)).collect();
    match table {
        Table::Filter => todo.push(INFO.to_string()),
        Table::Mangle => {}
        Table::Nat => todo.extend(NatHook::ALL.map(nat_chain)),
    }
    let mut chains: Vec<SavedChain> = Vec::new();
    while let Some(name) = todo.pop() {
        if chains.iter().any(|c| c.name == name) {
            continue;
        }
        let Some(text) = list(&name) else { continue };
        let parsed = saved::parse_listed(table.name(), &text);
        let Some(listed) = parsed.chain(table.name(), &name).cloned() else { continue };
        for rule in &listed.rules {
            let mut words = rule.spec.split_whitespace();
            while let Some(word) = words.next() {
                if matches!(word, "-j" | "-g") {
                    todo.extend(words.next().filter(|t| t.starts_with(PREFIX)).map(str::to_string));
                }
            }
        }
        chains.push(listed);
    }
    chains.sort_by(|a, b| a.name.cmp(&b.name));
    chains
}

/// Whether `policy` loads anything into `table` (its chains, or, for filter, the policies).
pub fn used_by(policy: &Policy, table: Table) -> bool {
    table != Table::Nat || policy.nat.hooks().next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iptables::saved::parse;

    #[test]
    fn a_table_left_out_is_named_with_the_built_in_chains_that_cannot_be_read() {
        let saved = parse(
            "# Table `filter' is incompatible, use 'nft' tool.\n*mangle\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -m foo [unsupported revision]\nCOMMIT\n",
        );
        let found = find(&saved, Family::V4, |table, chain| table == Table::Filter && chain == "OUTPUT");
        assert_eq!(
            found,
            [
                Unreadable { family: Family::V4, table: Table::Filter, chains: vec!["OUTPUT".into()] },
                Unreadable { family: Family::V4, table: Table::Mangle, chains: vec!["POSTROUTING".into()] },
            ]
        );
        assert_eq!(found[0].to_string(), "IPv4 table filter, chain OUTPUT: holds rules made with nft or another nftables tool, which iptables-nft cannot read");
        let other = find(&saved, Family::V6, |_, _| false);
        assert!(other[0].to_string().starts_with("IPv6 table filter, a chain other than the built-in ones: "), "{}", other[0]);
        assert_eq!(find(&parse("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"), Family::V4, |_, _| true), []);
    }

    #[test]
    fn our_chains_in_a_table_left_out_are_found_from_the_jumps() {
        let listed = |chain: &str| match chain {
            "VPN_FIREWALL_OUTPUT" => {
                Some("-N VPN_FIREWALL_OUTPUT\n-A VPN_FIREWALL_OUTPUT -j VPN_FIREWALL_OUT_1\n-A VPN_FIREWALL_OUTPUT -g VPN_FIREWALL_BLOCK_OUT\n".into())
            }
            "VPN_FIREWALL_OUT_1" => Some("-N VPN_FIREWALL_OUT_1\n-A VPN_FIREWALL_OUT_1 -j ACCEPT\n".into()),
            "VPN_FIREWALL_BLOCK_OUT" => Some("-N VPN_FIREWALL_BLOCK_OUT\n-A VPN_FIREWALL_BLOCK_OUT -c 3 180 -j VPN_FIREWALL_OUTPUT\n".into()),
            "VPN_FIREWALL_INFO" => Some("-N VPN_FIREWALL_INFO\n-A VPN_FIREWALL_INFO -m comment --comment \"vpn-firewall lockdown 01\"\n".into()),
            _ => None,
        };
        let chains = our_chains(Table::Filter, listed);
        let names: Vec<(&str, usize)> = chains.iter().map(|c| (c.name.as_str(), c.rules.len())).collect();
        assert_eq!(names, [("VPN_FIREWALL_BLOCK_OUT", 1), ("VPN_FIREWALL_INFO", 1), ("VPN_FIREWALL_OUTPUT", 2), ("VPN_FIREWALL_OUT_1", 1)]);
        assert_eq!(chains[0].rules[0].packets, 3, "with its counters");
        assert_eq!(our_chains(Table::Mangle, listed), []);
    }
}
