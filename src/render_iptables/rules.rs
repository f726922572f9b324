//! Our chains of one table and their rule lines: one line for each way a rule's matches hold
//! together, split over helper chains where a line would hold a basic option twice.

use super::ipset::Ipset;
use super::matches::{Alt, alternatives};
use super::names::{INFO, Table, block_chain, builtin, chain, helper_prefix, hooks_in, nat_chain, nat_helper_prefix, short_name};
use crate::policy::{Family, Hook, Match, NatAction, Policy, Verdict};
use std::fmt::Write;

/// Our chains of one table with their rules, declared first since they jump to one another.
pub(super) fn chains(policy: &Policy, family: Family, ipsets: &[Ipset], table: Table) -> String {
    if table == Table::Nat {
        return nat_chains(policy, family, ipsets);
    }
    let mut out = String::new();
    let hooks: Vec<Hook> = hooks_in(table).collect();
    let mut names: Vec<String> = hooks.iter().flat_map(|h| [chain(*h), block_chain(*h)]).collect();
    if table == Table::Filter {
        names.push(INFO.to_string());
    }
    let mut rules = Vec::new();
    let mut helpers = Vec::new();
    for &hook in &hooks {
        for rule in policy.rules(hook) {
            let place = Place { chain: chain(hook), helper_prefix: helper_prefix(hook), hook: Some(hook) };
            let target = |nested: bool| verdict(rule.verdict, hook, nested);
            rules.extend(rule_lines(policy, &rule.matches, rule.comment, &place, &target, family, ipsets, &mut helpers));
        }
        rules.push(format!("-A {} -g {}", chain(hook), block_chain(hook)));
    }
    declare(&mut out, &names, &helpers, &rules);
    for &hook in &hooks {
        let block = block_chain(hook);
        // The counter `status` reads: every blocked packet passes this rule.
        writeln!(out, "-A {block} -m comment --comment \"blocked: counted\"").unwrap();
        if let Some(rate) = policy.blocking.log {
            writeln!(out, "-A {block} -m limit --limit {}/{} -j LOG --log-prefix \"vpn-firewall: blocked {}: \"", rate.count, rate.unit(), short_name(hook))
                .unwrap();
        }
        let verdict = match (policy.blocking.rejects(hook), family) {
            (false, _) => "-j DROP",
            (true, Family::V4) => "-j REJECT --reject-with icmp-admin-prohibited",
            (true, Family::V6) => "-j REJECT --reject-with icmp6-adm-prohibited",
        };
        writeln!(out, "-A {block} {verdict}").unwrap();
    }
    out
}

/// Our NAT chains of one family with their rules: those of the hooks that have rules.
fn nat_chains(policy: &Policy, family: Family, ipsets: &[Ipset]) -> String {
    let mut names = Vec::new();
    let mut rules = Vec::new();
    let mut helpers = Vec::new();
    for hook in policy.nat.hooks() {
        names.push(nat_chain(hook));
        let place = Place { chain: nat_chain(hook), helper_prefix: nat_helper_prefix(hook), hook: None };
        for rule in policy.nat.rules(hook) {
            let target = match rule.action {
                NatAction::Dnat(to) if (to.is_ipv4()) != (family == Family::V4) => continue,
                NatAction::Dnat(to) => format!("-j DNAT --to-destination {to}"),
                NatAction::Masquerade => "-j MASQUERADE".to_string(),
            };
            rules.extend(rule_lines(policy, &rule.matches, rule.comment, &place, &|_| target.clone(), family, ipsets, &mut helpers));
        }
    }
    let mut out = String::new();
    declare(&mut out, &names, &helpers, &rules);
    out
}

/// The chains' declarations, then their rules.
fn declare(out: &mut String, names: &[String], helpers: &[String], rules: &[String]) {
    for name in names.iter().chain(helpers) {
        writeln!(out, ":{name} - [0:0]").unwrap();
    }
    for rule in rules {
        writeln!(out, "{rule}").unwrap();
    }
}

/// The target of a filter or mangle rule with `verdict`, in our chain or (`nested`) a helper.
fn verdict(verdict: Verdict, hook: Hook, nested: bool) -> String {
    match (verdict, builtin(hook).0) {
        // Accepted by us, and the built-in chain's other rules still see it; from a helper
        // chain RETURN would only go back to our chain, so there it accepts outright.
        (Verdict::Accept, Table::Mangle) if !nested => "-j RETURN".to_string(),
        (Verdict::Pass, _) if !nested => "-j RETURN".to_string(),
        (Verdict::Accept | Verdict::Pass, _) => "-j ACCEPT".to_string(),
        (Verdict::Drop, _) => "-j DROP".to_string(),
        (Verdict::Block, _) => format!("-g {}", block_chain(hook)),
    }
}

/// Where a rule's lines go: our chain, and the start of the names of its helper chains.
struct Place {
    chain: String,
    helper_prefix: String,
    /// The filter hook, for the matches whose meaning depends on it; `None` in NAT chains.
    hook: Option<Hook>,
}

/// The lines of one rule: one for each way all its matches hold together (none when one of them
/// cannot hold in this family). A way that needs a basic option twice (`! -i tun0 ! -i wg0`) is
/// split over helper chains, added to `helpers`: each level matches part of it and jumps to the
/// next, the last gives the verdict, and a level that does not match returns to the rule after.
#[allow(clippy::too_many_arguments)]
fn rule_lines(
    policy: &Policy,
    matches: &[Match],
    comment: &str,
    place: &Place,
    target: &dyn Fn(bool) -> String,
    family: Family,
    ipsets: &[Ipset],
    helpers: &mut Vec<String>,
) -> Vec<String> {
    let mut ways: Vec<Vec<Alt>> = vec![Vec::new()];
    for m in matches {
        let Some(alts) = alternatives(policy, m, family, ipsets, place.hook) else { return Vec::new() };
        ways = ways.iter().flat_map(|way| alts.iter().map(move |a| [way.clone(), vec![a.clone()]].concat())).collect();
    }
    let mut lines = Vec::new();
    for way in ways {
        let protos: Vec<&str> = way.iter().filter_map(|a| a.proto).collect();
        // Two different protocols in one way: it can never match.
        if protos.windows(2).any(|pair| pair[0] != pair[1]) {
            continue;
        }
        let proto = protos.first().map(|p| format!(" -p {p}")).unwrap_or_default();
        let levels = levels(way);
        let mut from = place.chain.clone();
        for (i, level) in levels.iter().enumerate() {
            let texts: String = level.iter().filter(|a| !a.text.is_empty()).map(|a| format!(" {}", a.text)).collect();
            let (target, next) = if i + 1 == levels.len() {
                (target(i > 0), String::new())
            } else {
                let prefix = &place.helper_prefix;
                let helper = format!("{prefix}{}", helpers.iter().filter(|h| h.starts_with(prefix.as_str())).count() + 1);
                helpers.push(helper.clone());
                (format!("-j {helper}"), helper)
            };
            lines.push(format!("-A {from}{proto}{texts} -m comment --comment \"{comment}\" {target}"));
            from = next;
        }
    }
    lines
}

/// A way's alternatives in levels in which no basic option repeats.
fn levels(way: Vec<Alt>) -> Vec<Vec<Alt>> {
    let mut levels: Vec<Vec<Alt>> = vec![Vec::new()];
    for alt in way {
        let free = levels.iter_mut().find(|level| alt.option.is_none() || !level.iter().any(|a| a.option == alt.option));
        match free {
            Some(level) => level.push(alt),
            None => levels.push(vec![alt]),
        }
    }
    levels
}
