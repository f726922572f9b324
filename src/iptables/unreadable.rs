//! Tables iptables-nft cannot read. Another tool's native nftables rules in a table iptables-nft
//! uses (`nft add rule ip filter OUTPUT udp dport 53 ct state new accept`) make iptables-nft-save
//! leave the whole table out. Read that way, vpn-firewall's jumps and the built-in policies look
//! absent: a load would insert a second jump, a read-back would fail, `status` would report
//! ACCEPT policies. So where such a table is one vpn-firewall loads into, it refuses to load,
//! verify or flush, and says which table and chain and why; only the lockdown, where nothing of
//! vpn-firewall is loaded, is loaded without reading (it inserts its jumps first and sets DROP,
//! whatever the chains hold).

use super::saved::Saved;
use crate::policy::{Family, Policy};
use crate::render_iptables::{Table, family_name};
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
        let saved = parse("# Table `filter' is incompatible, use 'nft' tool.\n*mangle\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -m foo [unsupported revision]\nCOMMIT\n");
        let found = find(&saved, Family::V4, |table, chain| table == Table::Filter && chain == "OUTPUT");
        assert_eq!(found, [
            Unreadable { family: Family::V4, table: Table::Filter, chains: vec!["OUTPUT".into()] },
            Unreadable { family: Family::V4, table: Table::Mangle, chains: vec!["POSTROUTING".into()] },
        ]);
        assert_eq!(
            found[0].to_string(),
            "IPv4 table filter, chain OUTPUT: holds rules made with nft or another nftables tool, which iptables-nft cannot read"
        );
        let other = find(&saved, Family::V6, |_, _| false);
        assert!(other[0].to_string().starts_with("IPv6 table filter, a chain other than the built-in ones: "), "{}", other[0]);
        assert_eq!(find(&parse("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"), Family::V4, |_, _| true), []);
    }
}
