//! Renders a `Policy` for the iptables backend: `iptables-restore` input for IPv4 and
//! `ip6tables-restore` input for IPv6 (both loaded with `--noflush`), and `ipset restore` input
//! for the lists long enough to be worth a hash. Pure text, no kernel access.
//!
//! Every hook's rules live in a chain of ours, `VPN_FIREWALL_<HOOK>`, reached by a jump that is
//! the first rule of the hook's built-in chain; what the chain does not accept goes to
//! `VPN_FIREWALL_BLOCK_<IN|OUT|FWD|POST>`, whose first rule counts it, then logs and rejects or
//! drops. Input, output and forward run in the filter table, whose built-in chains get policy
//! DROP: should the jump ever go (`iptables -F`), the machine stays closed. The filter table has
//! no postrouting chain, so the egress rules' second check runs in the mangle table's
//! POSTROUTING; there an accepted packet RETURNs, so that other tools' mangle rules (MSS
//! clamping, say) still see it, and the built-in policy is left as it is.
//!
//! Declaring a chain (`:CHAIN - [0:0]`) with `--noflush` empties it if it exists: one table's
//! commit replaces all of our rules at once, and no other chain's.
//!
//! Gateway mode's address translation runs in the nat table, in chains of ours reached by a jump
//! at the head of nat PREROUTING and POSTROUTING, whose policies stay ACCEPT: a packet no rule
//! translates returns untranslated. The nat table is written only when the policy translates, or
//! to remove what an earlier ruleset left there.
//!
//! iptables takes one value per option where nft takes a set: a match on a list (ICMPv6 types,
//! more ports than multiport's 15, the networks of a list not in an ipset) becomes one rule per
//! value, in a row, all with the rule's verdict; the first that matches decides, as the one nft
//! rule would. And a rule holds each of `-i`, `-o`, `-s`, `-d`, `-f` once: a rule that needs one
//! twice is split over helper chains.
//!
//! Here are the entry points; `names` holds the names of our tables, chains and jumps (which the
//! kernel side, `crate::iptables`, uses too), `ipset` the long lists, `rules` our chains and their
//! rule lines, `matches` how each kind of match is written, and `link` the matches written as
//! small programs over the packet (`-m bpf`, `-m u32`).

mod ipset;
mod link;
mod matches;
mod names;
mod rules;
#[cfg(test)]
mod tests;

pub use ipset::{IPSET_ABOVE, IPSET_NEW, Ipset, ipsets, render_ipset};
pub use names::{ChainPolicy, DROP_POLICY, INFO, PREFIX, Table, block_chain, builtin, chain, family_name, jump, nat_builtin, nat_chain, nat_jump};

use crate::policy::{Family, Hook, NatHook, Policy};
use crate::render_common::description;
use names::hooks_in;
use rules::chains;
use std::fmt::Write;

/// What of vpn-firewall is in one family's tables: how `start` attaches its chains and what
/// `flush` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Per hook, in `Hook::ALL` order: how many jumps to our chain its built-in chain holds, and
    /// whether the built-in chain's first rule is one.
    pub jumps: [(usize, bool); 4],
    /// The same for the nat table's hooks, in `NatHook::ALL` order.
    pub nat_jumps: [(usize, bool); 2],
    /// The policies of the `DROP_POLICY` chains, in that order, before vpn-firewall set them:
    /// what the loaded ruleset recorded, or, where it recorded nothing, what they are now.
    pub before: [ChainPolicy; 3],
    /// Our chains, with their tables.
    pub chains: Vec<(Table, String)>,
}

impl Found {
    /// Nothing of vpn-firewall loaded, every built-in policy ACCEPT: what `show` assumes.
    pub fn fresh() -> Found {
        Found { jumps: [(0, false); 4], nat_jumps: [(0, false); 2], before: [ChainPolicy::Accept; 3], chains: Vec::new() }
    }

    fn jumps(&self, hook: Hook) -> (usize, bool) {
        self.jumps[Hook::ALL.iter().position(|h| *h == hook).expect("every hook is in Hook::ALL")]
    }

    fn nat_jumps(&self, hook: NatHook) -> (usize, bool) {
        self.nat_jumps[NatHook::ALL.iter().position(|h| *h == hook).expect("every NAT hook is in NatHook::ALL")]
    }

    /// Whether anything of ours is in the nat table.
    fn in_nat(&self) -> bool {
        self.chains.iter().any(|(t, _)| *t == Table::Nat) || self.nat_jumps.iter().any(|(count, _)| *count > 0)
    }
}

/// What the rules of `policy` are, for the INFO chain: its kind and a digest of both families'
/// chains, so that `status` can tell whether what is loaded is what the configuration renders.
pub fn label(policy: &Policy, ipsets: &[Ipset]) -> String {
    let families = [Family::V4, Family::V6].into_iter();
    let rules: String = families.flat_map(|family| Table::ALL.map(|table| chains(policy, family, ipsets, table))).collect();
    crate::render_common::label(policy.kind, &rules)
}

/// The `iptables-restore --noflush` (IPv4) or `ip6tables-restore --noflush` (IPv6) input that
/// loads `policy`, attached as `found` requires.
pub fn render_iptables(policy: &Policy, family: Family, ipsets: &[Ipset], found: &Found) -> String {
    let mut out = String::new();
    let what = description(policy.kind);
    let program = if family == Family::V4 { "iptables-restore" } else { "ip6tables-restore" };
    writeln!(out, "# vpn-firewall: {what}, {}, one commit per table for {program} --noflush", family_name(family)).unwrap();
    for table in Table::ALL {
        if table == Table::Nat && policy.nat.hooks().next().is_none() && !found.in_nat() {
            continue;
        }
        writeln!(out, "*{}", table.name()).unwrap();
        let chains = chains(policy, family, ipsets, table);
        out.push_str(&chains);
        if table == Table::Nat {
            attach_nat(policy, found, &mut out);
        }
        // A chain of an earlier ruleset this one does not declare (a helper chain): its rules
        // went when the chains that jump to it were declared anew above.
        let stale = found.chains.iter().filter(|(t, c)| *t == table && !chains.contains(&format!(":{c} - [0:0]\n")));
        for (_, chain) in stale {
            writeln!(out, "-F {chain}\n-X {chain}").unwrap();
        }
        if table == Table::Filter {
            writeln!(out, "-A {INFO} -m comment --comment \"{}\"", label(policy, ipsets)).unwrap();
            // Kept for flush, which restores only what start changed.
            for (chain, before) in DROP_POLICY.iter().zip(found.before) {
                writeln!(out, "-A {INFO} -m comment --comment \"{chain} policy before vpn-firewall: {}\"", before.name()).unwrap();
            }
            for chain in DROP_POLICY {
                writeln!(out, "-P {chain} DROP").unwrap();
            }
        }
        for hook in hooks_in(table) {
            let (_, builtin) = builtin(hook);
            match found.jumps(hook) {
                (1, true) => {}
                (count, _) => {
                    for _ in 0..count {
                        writeln!(out, "-D {builtin} {}", jump(hook)).unwrap();
                    }
                    writeln!(out, "-I {builtin} 1 {}", jump(hook)).unwrap();
                }
            }
        }
        writeln!(out, "COMMIT").unwrap();
    }
    out
}

/// The jumps to our NAT chains: one at the head of each built-in chain whose hook has rules,
/// none where it has none (before that chain goes as a stale one).
fn attach_nat(policy: &Policy, found: &Found, out: &mut String) {
    for hook in NatHook::ALL {
        let builtin = nat_builtin(hook);
        let has_rules = !policy.nat.rules(hook).is_empty();
        match (has_rules, found.nat_jumps(hook)) {
            (true, (1, true)) => {}
            (_, (count, _)) => {
                for _ in 0..count {
                    writeln!(out, "-D {builtin} {}", nat_jump(hook)).unwrap();
                }
                if has_rules {
                    writeln!(out, "-I {builtin} 1 {}", nat_jump(hook)).unwrap();
                }
            }
        }
    }
}

/// The ipset, IPv4 and IPv6 inputs, one after the other, as on a machine where nothing of
/// vpn-firewall is loaded and the built-in policies are ACCEPT: what `show` prints.
pub fn render_all(policy: &Policy, ipsets: &[Ipset]) -> String {
    let mut out = String::new();
    if !ipsets.is_empty() {
        out.push_str("# vpn-firewall: the long lists, for ipset restore, before the rules that match them\n");
        out.push_str(&render_ipset(ipsets, false));
    }
    for family in [Family::V4, Family::V6] {
        out.push_str(&render_iptables(policy, family, ipsets, &Found::fresh()));
    }
    out
}

/// The input that removes what `found` holds of ours from one family's tables: the jumps, the
/// chains, and the DROP policies that were ACCEPT before vpn-firewall set them. Empty when there
/// is nothing to remove.
pub fn render_flush(found: &Found) -> String {
    let mut out = String::new();
    for table in Table::ALL {
        let ours: Vec<&String> = found.chains.iter().filter(|(t, _)| *t == table).map(|(_, c)| c).collect();
        let mut lines = Vec::new();
        for hook in hooks_in(table) {
            let (count, _) = found.jumps(hook);
            lines.extend((0..count).map(|_| format!("-D {} {}", builtin(hook).1, jump(hook))));
        }
        if table == Table::Nat {
            for hook in NatHook::ALL {
                let (count, _) = found.nat_jumps(hook);
                lines.extend((0..count).map(|_| format!("-D {} {}", nat_builtin(hook), nat_jump(hook))));
            }
        }
        // Emptied first: our chains jump to one another.
        lines.extend(ours.iter().map(|c| format!("-F {c}")));
        lines.extend(ours.iter().map(|c| format!("-X {c}")));
        if table == Table::Filter && !ours.is_empty() {
            let restore = DROP_POLICY.iter().zip(found.before).filter(|(_, before)| *before == ChainPolicy::Accept);
            lines.extend(restore.map(|(chain, _)| format!("-P {chain} ACCEPT")));
        }
        if !lines.is_empty() {
            writeln!(out, "*{}\n{}\nCOMMIT", table.name(), lines.join("\n")).unwrap();
        }
    }
    out
}
