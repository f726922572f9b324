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

mod link;

use crate::policy::{CtState, DHCPV6_CLIENT_TYPES, Family, Hook, Icmp, Icmpv6, Kind, Match, NatAction, NatHook, Policy, SetId, TcpFlag, Verdict};
use crate::values::Interface;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The start of the name of every chain (and ipset) of ours.
pub const PREFIX: &str = "VPN_FIREWALL_";

/// Never jumped to: its rules' comments say what was loaded, and the built-in policies before.
pub const INFO: &str = "VPN_FIREWALL_INFO";

/// A list with more entries than this is matched with ipset when ipset is installed; a shorter
/// one, or any without ipset, with one rule per entry.
pub const IPSET_ABOVE: usize = 16;

/// The set a reload fills before swapping it for the one the rules use.
pub const IPSET_NEW: &str = "VPN_FIREWALL_NEW";

/// multiport takes at most 15 ports, a range counting as two.
const MULTIPORT_SLOTS: usize = 15;

/// The filter chains vpn-firewall sets to policy DROP.
pub const DROP_POLICY: [&str; 3] = ["INPUT", "FORWARD", "OUTPUT"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Filter,
    Mangle,
    Nat,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Filter, Table::Mangle, Table::Nat];

    pub fn name(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Mangle => "mangle",
            Table::Nat => "nat",
        }
    }
}

/// The table and built-in chain in which a hook's rules run.
pub fn builtin(hook: Hook) -> (Table, &'static str) {
    match hook {
        Hook::Input => (Table::Filter, "INPUT"),
        Hook::Output => (Table::Filter, "OUTPUT"),
        Hook::Forward => (Table::Filter, "FORWARD"),
        Hook::Postrouting => (Table::Mangle, "POSTROUTING"),
    }
}

/// Our chain of a hook's rules.
pub fn chain(hook: Hook) -> String {
    format!("{PREFIX}{}", hook.name().to_ascii_uppercase())
}

/// Our chain that counts, logs and rejects or drops what a hook's rules block.
pub fn block_chain(hook: Hook) -> String {
    format!("{PREFIX}BLOCK_{}", short_name(hook).to_ascii_uppercase())
}

/// The jump from the built-in chain to ours, exactly as iptables-save prints it.
pub fn jump(hook: Hook) -> String {
    format!("-j {}", chain(hook))
}

/// The nat table's built-in chain in which a NAT hook's rules run.
pub fn nat_builtin(hook: NatHook) -> &'static str {
    match hook {
        NatHook::Prerouting => "PREROUTING",
        NatHook::Postrouting => "POSTROUTING",
    }
}

/// Our chain of a NAT hook's rules (`VPN_FIREWALL_POSTROUTING` is the mangle table's).
pub fn nat_chain(hook: NatHook) -> String {
    format!("{PREFIX}{}", nat_short_name(hook))
}

fn nat_short_name(hook: NatHook) -> &'static str {
    match hook {
        NatHook::Prerouting => "PREROUTING",
        NatHook::Postrouting => "NAT_POST",
    }
}

/// The jump from the nat table's built-in chain to ours, exactly as iptables-save prints it.
pub fn nat_jump(hook: NatHook) -> String {
    format!("-j {}", nat_chain(hook))
}

fn hooks_in(table: Table) -> impl Iterator<Item = Hook> {
    Hook::ALL.into_iter().filter(move |h| builtin(*h).0 == table)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainPolicy {
    Accept,
    Drop,
}

impl ChainPolicy {
    pub fn name(self) -> &'static str {
        match self {
            ChainPolicy::Accept => "ACCEPT",
            ChainPolicy::Drop => "DROP",
        }
    }

    pub fn parse(text: &str) -> Option<ChainPolicy> {
        match text {
            "ACCEPT" => Some(ChainPolicy::Accept),
            "DROP" => Some(ChainPolicy::Drop),
            _ => None,
        }
    }
}

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
    let s = &policy.sets;
    let ids = [SetId::Lan4, SetId::Lan6, SetId::Servers4, SetId::Servers6];
    ids.into_iter()
        .filter(|id| s.len(*id) > IPSET_ABOVE)
        .map(|id| {
            let (short, kind, entries): (&str, &str, Vec<String>) = match id {
                // hash:net refuses a /0: its two halves hold the same addresses.
                SetId::Lan4 => ("LAN4", "hash:net", s.lan4.iter().flat_map(|n| halves(*n)).collect()),
                SetId::Lan6 => ("LAN6", "hash:net", s.lan6.iter().flat_map(|n| halves(*n)).collect()),
                SetId::Servers4 => ("SERVERS4", "hash:ip,port", s.servers4.iter().map(|(a, p, port)| format!("{a},{}:{port}", p.name())).collect()),
                SetId::Servers6 => ("SERVERS6", "hash:ip,port", s.servers6.iter().map(|(a, p, port)| format!("{a},{}:{port}", p.name())).collect()),
            };
            let family = if id.family() == Family::V4 { "inet" } else { "inet6" };
            let create = format!("{kind} family {family} maxelem {}", entries.len().max(65536));
            let digest = Sha256::digest(format!("{create}\n{}", entries.join("\n")).as_bytes());
            let name = format!("{PREFIX}{short}_{}", hex(&digest[..4]));
            Ipset { id, name, create, entries }
        })
        .collect()
}

/// A network as ipset's hash:net takes it: a /0 as its two halves.
fn halves<N: Into<ipnet::IpNet>>(net: N) -> Vec<String> {
    let net: ipnet::IpNet = net.into();
    if net.prefix_len() > 0 {
        return vec![net.to_string()];
    }
    net.subnets(1).expect("a /0 has /1 subnets").map(|n| n.to_string()).collect()
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

/// What the rules of `policy` are, for the INFO chain: its kind and a digest of both families'
/// chains, so that `status` can tell whether what is loaded is what the configuration renders.
pub fn label(policy: &Policy, ipsets: &[Ipset]) -> String {
    let kind = match policy.kind {
        Kind::Configured => "ruleset",
        Kind::Lockdown => "lockdown",
    };
    let mut hasher = Sha256::new();
    for family in [Family::V4, Family::V6] {
        for table in Table::ALL {
            hasher.update(chains(policy, family, ipsets, table).as_bytes());
        }
    }
    format!("vpn-firewall {kind} {}", hex(&hasher.finalize()[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `IPv4` or `IPv6`.
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// The `iptables-restore --noflush` (IPv4) or `ip6tables-restore --noflush` (IPv6) input that
/// loads `policy`, attached as `found` requires.
pub fn render_iptables(policy: &Policy, family: Family, ipsets: &[Ipset], found: &Found) -> String {
    let mut out = String::new();
    let what = match policy.kind {
        Kind::Configured => "the ruleset of the configuration",
        Kind::Lockdown => "the lockdown ruleset (only loopback passes)",
    };
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
        match (policy.nat.rules(hook).is_empty(), found.nat_jumps(hook)) {
            (false, (1, true)) => {}
            (translates, (count, _)) => {
                for _ in 0..count {
                    writeln!(out, "-D {builtin} {}", nat_jump(hook)).unwrap();
                }
                if !translates {
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

/// Our chains of one table with their rules, declared first since they jump to one another.
fn chains(policy: &Policy, family: Family, ipsets: &[Ipset], table: Table) -> String {
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
            let place = Place { chain: chain(hook), helper_prefix: format!("{PREFIX}{}_", short_name(hook).to_ascii_uppercase()), hook: Some(hook) };
            let target = |nested: bool| verdict(rule.verdict, hook, nested);
            rules.extend(rule_lines(policy, &rule.matches, rule.comment, &place, &target, family, ipsets, &mut helpers));
        }
        rules.push(format!("-A {} -g {}", chain(hook), block_chain(hook)));
    }
    for name in names.iter().chain(&helpers) {
        writeln!(out, ":{name} - [0:0]").unwrap();
    }
    for rule in rules {
        writeln!(out, "{rule}").unwrap();
    }
    for &hook in &hooks {
        let block = block_chain(hook);
        // The counter `status` reads: every blocked packet passes this rule.
        writeln!(out, "-A {block} -m comment --comment \"blocked: counted\"").unwrap();
        if let Some(rate) = policy.blocking.log {
            writeln!(out, "-A {block} -m limit --limit {}/{} -j LOG --log-prefix \"vpn-firewall: blocked {}: \"", rate.count, rate.unit(), short_name(hook)).unwrap();
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
        let place = Place { chain: nat_chain(hook), helper_prefix: format!("{PREFIX}{}_", nat_short_name(hook)), hook: None };
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
    for name in names.iter().chain(&helpers) {
        writeln!(out, ":{name} - [0:0]").unwrap();
    }
    for rule in rules {
        writeln!(out, "{rule}").unwrap();
    }
    out
}

/// The target of a filter or mangle rule with `verdict`, in our chain or (`nested`) a helper.
fn verdict(verdict: Verdict, hook: Hook, nested: bool) -> String {
    match (verdict, builtin(hook).0) {
        // Accepted by us, and the built-in chain's other rules still see it; from a helper
        // chain RETURN would only go back to our chain, so there it accepts outright.
        (Verdict::Accept, Table::Mangle) if !nested => "-j RETURN".to_string(),
        (Verdict::Accept, _) => "-j ACCEPT".to_string(),
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

/// The hook's name in block chains and log prefixes: iptables allows 28 characters in a chain
/// name and 29 in a log prefix, too few for `VPN_FIREWALL_BLOCK_POSTROUTING` and
/// `vpn-firewall: blocked postrouting: `.
fn short_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Input => "in",
        Hook::Output => "out",
        Hook::Forward => "fwd",
        Hook::Postrouting => "post",
    }
}

/// One way a match holds: its text, the protocol it needs (`-p`), if any, and the basic option
/// it uses (`-i`, `-o`, `-s`, `-d`, `-f`), which a rule may hold only once.
#[derive(Debug, Clone)]
struct Alt {
    proto: Option<&'static str>,
    option: Option<&'static str>,
    text: String,
}

fn any(text: impl Into<String>) -> Alt {
    Alt { proto: None, option: None, text: text.into() }
}

fn basic(option: &'static str, text: impl Into<String>) -> Alt {
    Alt { proto: None, option: Some(option), text: text.into() }
}

fn with_proto(proto: &'static str, alt: Alt) -> Alt {
    Alt { proto: Some(proto), ..alt }
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

/// The ways a match holds in `family`, one of which must; `None` when it never does there.
fn alternatives(policy: &Policy, m: &Match, family: Family, ipsets: &[Ipset], hook: Option<Hook>) -> Option<Vec<Alt>> {
    let only = |f: Family, alts: Vec<Alt>| (f == family).then_some(alts);
    Some(match m {
        Match::InLinkType(types) => vec![any(link::link_type(types, hook, false).unwrap_or_default())],
        Match::OutLinkType(types) => vec![any(link::link_type(types, hook, true).unwrap_or_default())],
        Match::DhcpRequest => return only(Family::V4, vec![any(link::dhcp_request())]),
        Match::Dhcpv6ClientMessage => return only(Family::V6, vec![any(link::dhcpv6_client_message(&DHCPV6_CLIENT_TYPES))]),
        Match::SolicitedNodeReport { records } => return only(Family::V6, vec![any(link::solicited_node_report(*records))]),
        Match::InIface(i) => vec![basic("-i", format!("-i {}", iface(i)))],
        Match::NotInIface(i) => vec![basic("-i", format!("! -i {}", iface(i)))],
        Match::OutIface(i) => vec![basic("-o", format!("-o {}", iface(i)))],
        Match::Family(f) => return only(*f, vec![any("")]),
        Match::Uid(uid) => vec![any(format!("-m owner --uid-owner {uid}"))],
        Match::Gid(gid) => vec![any(format!("-m owner --gid-owner {gid}"))],
        Match::Mark(mark) => vec![any(format!("-m mark --mark {mark:#x}"))],
        Match::DaddrIn(id) => return only(id.family(), addresses(policy, *id, ipsets, "-d", "dst")),
        Match::SaddrIn(id) => return only(id.family(), addresses(policy, *id, ipsets, "-s", "src")),
        Match::EndpointIn(id) => return only(id.family(), endpoints(policy, *id, ipsets)),
        Match::DstPorts { protos, ports } => protos
            .iter()
            .flat_map(|p| multiport(ports).into_iter().map(|list| with_proto(p.name(), any(format!("-m multiport --dports {list}")))))
            .collect(),
        Match::Udp { sport, dport } => vec![with_proto("udp", any(format!("-m udp --sport {sport} --dport {dport}")))],
        Match::CtState(states) => {
            let names: Vec<&str> = states
                .iter()
                .map(|s| match s {
                    CtState::New => "NEW",
                    CtState::Established => "ESTABLISHED",
                    CtState::Related => "RELATED",
                    CtState::Invalid => "INVALID",
                })
                .collect();
            vec![any(format!("-m conntrack --ctstate {}", names.join(",")))]
        }
        Match::Icmpv6(types) => {
            let alts = types.iter().map(|t| with_proto("ipv6-icmp", any(format!("-m icmp6 --icmpv6-type {}", icmpv6(*t))))).collect();
            return only(Family::V6, alts);
        }
        Match::HopLimit255 => return only(Family::V6, vec![any("-m hl --hl-eq 255")]),
        Match::IpDaddr(nets) => return only(Family::V4, nets.iter().map(|n| basic("-d", format!("-d {n}"))).collect()),
        Match::IpSaddr(nets) => return only(Family::V4, nets.iter().map(|n| basic("-s", format!("-s {n}"))).collect()),
        Match::Ip6Saddr(nets) => return only(Family::V6, nets.iter().map(|n| basic("-s", format!("-s {n}"))).collect()),
        Match::SrcPorts { protos, ports } => protos
            .iter()
            .flat_map(|p| multiport(ports).into_iter().map(|list| with_proto(p.name(), any(format!("-m multiport --sports {list}")))))
            .collect(),
        Match::SaddrLocal => vec![any("-m addrtype --src-type LOCAL")],
        Match::SaddrNotLocal => vec![any("-m addrtype ! --src-type LOCAL")],
        Match::Icmp(types) => {
            let alts = types.iter().map(|t| with_proto("icmp", any(format!("-m icmp --icmp-type {}", icmp(*t))))).collect();
            return only(Family::V4, alts);
        }
        Match::Ip6Daddr(nets) => return only(Family::V6, nets.iter().map(|n| basic("-d", format!("-d {n}"))).collect()),
        Match::TcpFlags { mask, equals, negate } => {
            let not = if *negate { "! " } else { "" };
            vec![with_proto("tcp", any(format!("-m tcp {not}--tcp-flags {} {}", flags(mask), flags(equals))))]
        }
        Match::Fragment(Family::V4) => return only(Family::V4, vec![basic("-f", "-f")]),
        Match::Fragment(Family::V6) => return only(Family::V6, vec![any("-m frag")]),
        // addrtype with a list of types matches any of them for IPv4, but for IPv6 demands all
        // of the address-class types (MULTICAST) at once, and knows no BROADCAST: there each
        // type is its own match. --limit-iface-in asks the receiving interface, as nft's
        // `fib daddr . iif` does.
        Match::DaddrNotOnInIface => vec![any(match family {
            Family::V4 => "-m addrtype ! --dst-type LOCAL,BROADCAST,MULTICAST --limit-iface-in",
            Family::V6 => "-m addrtype ! --dst-type LOCAL --limit-iface-in -m addrtype ! --dst-type MULTICAST",
        })],
    })
}

fn iface(i: &Interface) -> String {
    match i.prefix() {
        (prefix, true) => format!("{prefix}+"),
        (name, false) => name.to_string(),
    }
}

/// A list's addresses: its ipset (of networks), or one alternative per address.
fn addresses(policy: &Policy, id: SetId, ipsets: &[Ipset], option: &'static str, direction: &str) -> Vec<Alt> {
    if let Some(set) = ipsets.iter().find(|s| s.id == id && matches!(id, SetId::Lan4 | SetId::Lan6)) {
        return vec![any(format!("-m set --match-set {} {direction}", set.name))];
    }
    let s = &policy.sets;
    let texts: Vec<String> = match id {
        SetId::Lan4 => s.lan4.iter().map(ToString::to_string).collect(),
        SetId::Lan6 => s.lan6.iter().map(ToString::to_string).collect(),
        SetId::Servers4 => s.servers4.iter().map(|(a, _, _)| a.to_string()).collect(),
        SetId::Servers6 => s.servers6.iter().map(|(a, _, _)| a.to_string()).collect(),
    };
    texts.into_iter().map(|t| basic(option, format!("{option} {t}"))).collect()
}

/// A list of server endpoints: its ipset, or one alternative per endpoint.
fn endpoints(policy: &Policy, id: SetId, ipsets: &[Ipset]) -> Vec<Alt> {
    if let Some(set) = ipsets.iter().find(|s| s.id == id && matches!(id, SetId::Servers4 | SetId::Servers6)) {
        return vec![any(format!("-m set --match-set {} dst,dst", set.name))];
    }
    let s = &policy.sets;
    let endpoint = |addr: String, proto: crate::values::Proto, port: u16| {
        with_proto(proto.name(), basic("-d", format!("-d {addr} -m {} --dport {port}", proto.name())))
    };
    match id {
        SetId::Servers4 => s.servers4.iter().map(|(a, p, port)| endpoint(a.to_string(), *p, *port)).collect(),
        SetId::Servers6 => s.servers6.iter().map(|(a, p, port)| endpoint(a.to_string(), *p, *port)).collect(),
        // A network list as endpoints: any protocol and port.
        SetId::Lan4 => s.lan4.iter().map(|n| basic("-d", format!("-d {n}"))).collect(),
        SetId::Lan6 => s.lan6.iter().map(|n| basic("-d", format!("-d {n}"))).collect(),
    }
}

/// Port ranges as multiport lists of at most 15 ports each.
fn multiport(ports: &[(u16, u16)]) -> Vec<String> {
    let mut lists: Vec<(usize, Vec<String>)> = Vec::new();
    for &(low, high) in ports {
        let (slots, item) = if low == high { (1, low.to_string()) } else { (2, format!("{low}:{high}")) };
        match lists.last_mut() {
            Some((used, items)) if *used + slots <= MULTIPORT_SLOTS => {
                *used += slots;
                items.push(item);
            }
            _ => lists.push((slots, vec![item])),
        }
    }
    lists.into_iter().map(|(_, items)| items.join(",")).collect()
}

/// ip6tables' name of an ICMPv6 type, or its number where it has none.
fn icmpv6(t: Icmpv6) -> &'static str {
    match t {
        Icmpv6::RouterSolicit => "router-solicitation",
        Icmpv6::RouterAdvert => "router-advertisement",
        Icmpv6::NeighborSolicit => "neighbour-solicitation",
        Icmpv6::NeighborAdvert => "neighbour-advertisement",
        Icmpv6::MldQuery => "130",
        Icmpv6::MldReport => "131",
        Icmpv6::Mld2Report => "143",
        Icmpv6::DestinationUnreachable => "destination-unreachable",
        Icmpv6::PacketTooBig => "packet-too-big",
        Icmpv6::TimeExceeded => "time-exceeded",
        Icmpv6::ParameterProblem => "parameter-problem",
    }
}

/// iptables' name of an ICMP type.
fn icmp(t: Icmp) -> &'static str {
    match t {
        Icmp::DestinationUnreachable => "destination-unreachable",
        Icmp::TimeExceeded => "time-exceeded",
        Icmp::ParameterProblem => "parameter-problem",
    }
}

fn flags(f: &[TcpFlag]) -> String {
    if f.is_empty() {
        return "NONE".into();
    }
    let names: Vec<&str> = f
        .iter()
        .map(|f| match f {
            TcpFlag::Fin => "FIN",
            TcpFlag::Syn => "SYN",
            TcpFlag::Rst => "RST",
            TcpFlag::Psh => "PSH",
            TcpFlag::Ack => "ACK",
            TcpFlag::Urg => "URG",
        })
        .collect();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Blocking, Nat, NatRule, Rule, Sets};
    use crate::values::{Proto, interface};

    fn policy(output: Vec<Rule>, sets: Sets) -> Policy {
        Policy {
            kind: Kind::Configured,
            sets,
            input: Vec::new(),
            postrouting: output.clone(),
            output,
            forward: Vec::new(),
            nat: Nat::default(),
            blocking: Blocking { log: None, reject: false },
        }
    }

    fn rule(matches: Vec<Match>) -> Rule {
        Rule { matches, verdict: Verdict::Accept, comment: "test" }
    }

    /// The rules of our output chain, without the final goto.
    fn output_lines(p: &Policy, family: Family, ipsets: &[Ipset]) -> Vec<String> {
        let text = render_iptables(p, family, ipsets, &Found::fresh());
        text.lines().filter(|l| l.starts_with("-A VPN_FIREWALL_OUTPUT ") && !l.contains(" -g ")).map(str::to_string).collect()
    }

    fn lan(n: u32) -> Sets {
        Sets { lan4: (0..n).map(|i| ipnet::Ipv4Net::new((0x0a00_0000 + (i << 9)).into(), 24).unwrap()).collect(), ..Sets::default() }
    }

    #[test]
    fn multiport_takes_15_ports_a_range_counting_two() {
        let ports: Vec<(u16, u16)> = (1..=16).map(|p| (p, p)).collect();
        assert_eq!(multiport(&ports).iter().map(|l| l.split(',').count()).collect::<Vec<_>>(), [15, 1]);
        let ranges: Vec<(u16, u16)> = (0..8).map(|i| (i * 10 + 1, i * 10 + 5)).collect();
        assert_eq!(multiport(&ranges), ["1:5,11:15,21:25,31:35,41:45,51:55,61:65", "71:75"]);
    }

    #[test]
    fn a_list_without_ipset_is_one_rule_per_entry_in_order() {
        let p = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(20));
        let lines = output_lines(&p, Family::V4, &ipsets(&p, false));
        let expected: Vec<String> =
            p.sets.lan4.iter().map(|n| format!("-A VPN_FIREWALL_OUTPUT -d {n} -m comment --comment \"test\" -j ACCEPT")).collect();
        assert_eq!(lines, expected);
        assert_eq!(output_lines(&p, Family::V6, &[]), Vec::<String>::new(), "an IPv4 list matches nothing in IPv6");
    }

    #[test]
    fn only_lists_longer_than_the_threshold_use_ipset() {
        let short = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(IPSET_ABOVE as u32));
        assert_eq!(ipsets(&short, true), []);
        let long = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(IPSET_ABOVE as u32 + 1));
        let sets = ipsets(&long, true);
        assert_eq!(sets.len(), 1);
        assert_eq!(output_lines(&long, Family::V4, &sets), [format!(
            "-A VPN_FIREWALL_OUTPUT -m set --match-set {} dst -m comment --comment \"test\" -j ACCEPT",
            sets[0].name
        )]);
        assert_eq!(sets[0].entries.len(), IPSET_ABOVE + 1);
    }

    #[test]
    fn hash_net_gets_a_default_route_as_two_halves() {
        let mut sets = lan(IPSET_ABOVE as u32);
        sets.lan4.push("0.0.0.0/0".parse().unwrap());
        sets.lan6 = vec!["::/0".parse().unwrap()];
        let p = policy(Vec::new(), sets);
        let entries = |id: SetId, installed: &[Ipset]| installed.iter().find(|s| s.id == id).map(|s| s.entries.clone());
        let v4 = entries(SetId::Lan4, &ipsets(&p, true)).expect("a long list");
        assert_eq!(&v4[IPSET_ABOVE..], ["0.0.0.0/1", "128.0.0.0/1"]);
        assert_eq!(halves("::/0".parse::<ipnet::IpNet>().unwrap()), ["::/1", "8000::/1"]);
    }

    #[test]
    fn ways_that_need_two_protocols_at_once_are_left_out() {
        let servers = Sets { servers4: vec![("192.0.2.1".parse().unwrap(), Proto::Udp, 1194), ("192.0.2.2".parse().unwrap(), Proto::Tcp, 443)], ..Sets::default() };
        let tcp_flags = Match::TcpFlags { mask: vec![TcpFlag::Syn], equals: vec![TcpFlag::Syn], negate: false };
        let p = policy(vec![rule(vec![Match::EndpointIn(SetId::Servers4), tcp_flags])], servers);
        let lines = output_lines(&p, Family::V4, &[]);
        assert_eq!(lines.len(), 1, "only the TCP endpoint can have TCP flags: {lines:?}");
        assert!(lines[0].starts_with("-A VPN_FIREWALL_OUTPUT -p tcp -d 192.0.2.2 -m tcp --dport 443"), "{lines:?}");
    }

    #[test]
    fn a_way_with_an_option_twice_goes_through_a_helper_chain() {
        let not_tunnels = [Match::NotInIface(interface("tun0").unwrap()), Match::NotInIface(interface("wg+").unwrap())];
        let mut p = policy(Vec::new(), lan(1));
        p.input = vec![rule([not_tunnels.to_vec(), vec![Match::SaddrIn(SetId::Lan4)]].concat())];
        p.output = vec![rule(vec![Match::IpDaddr(vec!["192.0.2.1/32".parse().unwrap()]), Match::IpDaddr(vec!["192.0.2.0/24".parse().unwrap()])])];
        p.postrouting = p.output.clone();
        let text = render_iptables(&p, Family::V4, &[], &Found::fresh());
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("--comment \"test\"")).collect();
        assert_eq!(lines, [
            "-A VPN_FIREWALL_INPUT ! -i tun0 -s 10.0.0.0/24 -m comment --comment \"test\" -j VPN_FIREWALL_IN_1",
            "-A VPN_FIREWALL_IN_1 ! -i wg+ -m comment --comment \"test\" -j ACCEPT",
            "-A VPN_FIREWALL_OUTPUT -d 192.0.2.1/32 -m comment --comment \"test\" -j VPN_FIREWALL_OUT_1",
            "-A VPN_FIREWALL_OUT_1 -d 192.0.2.0/24 -m comment --comment \"test\" -j ACCEPT",
            "-A VPN_FIREWALL_POSTROUTING -d 192.0.2.1/32 -m comment --comment \"test\" -j VPN_FIREWALL_POST_1",
            // RETURN would go back to VPN_FIREWALL_POSTROUTING, which would block.
            "-A VPN_FIREWALL_POST_1 -d 192.0.2.0/24 -m comment --comment \"test\" -j ACCEPT",
        ]);
        for helper in ["IN_1", "OUT_1"] {
            assert!(text.contains(&format!("\n:VPN_FIREWALL_{helper} - [0:0]\n")), "{helper} is declared:\n{text}");
        }
    }

    #[test]
    fn jumps_are_moved_to_the_head_only_when_they_are_not_there_alone() {
        let p = policy(Vec::new(), Sets::default());
        let mut found = Found::fresh();
        found.jumps = [(1, true), (2, true), (1, false), (0, false)];
        let text = render_iptables(&p, Family::V4, &[], &found);
        let attach: Vec<&str> = text.lines().filter(|l| l.starts_with("-D ") || l.starts_with("-I ")).collect();
        assert_eq!(attach, [
            "-D OUTPUT -j VPN_FIREWALL_OUTPUT",
            "-D OUTPUT -j VPN_FIREWALL_OUTPUT",
            "-I OUTPUT 1 -j VPN_FIREWALL_OUTPUT",
            "-D FORWARD -j VPN_FIREWALL_FORWARD",
            "-I FORWARD 1 -j VPN_FIREWALL_FORWARD",
            "-I POSTROUTING 1 -j VPN_FIREWALL_POSTROUTING",
        ]);
    }

    #[test]
    fn a_reload_removes_the_chains_of_the_earlier_ruleset_it_does_not_declare() {
        let p = policy(Vec::new(), Sets::default());
        let mut found = Found::fresh();
        found.chains = vec![(Table::Filter, chain(Hook::Input)), (Table::Filter, "VPN_FIREWALL_IN_1".into()), (Table::Mangle, "VPN_FIREWALL_POST_2".into())];
        let text = render_iptables(&p, Family::V4, &[], &found);
        let removals: Vec<&str> = text.lines().filter(|l| l.starts_with("-F ") || l.starts_with("-X ")).collect();
        assert_eq!(removals, ["-F VPN_FIREWALL_IN_1", "-X VPN_FIREWALL_IN_1", "-F VPN_FIREWALL_POST_2", "-X VPN_FIREWALL_POST_2"]);
    }

    #[test]
    fn flush_removes_jumps_and_chains_and_reopens_only_what_was_accept() {
        assert_eq!(render_flush(&Found::fresh()), "", "nothing loaded, nothing to send");
        let found = Found {
            jumps: [(1, true), (2, false), (1, true), (1, true)],
            nat_jumps: [(0, false); 2],
            before: [ChainPolicy::Accept, ChainPolicy::Drop, ChainPolicy::Accept],
            chains: vec![(Table::Filter, chain(Hook::Output)), (Table::Filter, block_chain(Hook::Output)), (Table::Mangle, chain(Hook::Postrouting))],
        };
        assert_eq!(
            render_flush(&found),
            "*filter\n-D INPUT -j VPN_FIREWALL_INPUT\n-D OUTPUT -j VPN_FIREWALL_OUTPUT\n-D OUTPUT -j VPN_FIREWALL_OUTPUT\n\
             -D FORWARD -j VPN_FIREWALL_FORWARD\n-F VPN_FIREWALL_OUTPUT\n-F VPN_FIREWALL_BLOCK_OUT\n-X VPN_FIREWALL_OUTPUT\n\
             -X VPN_FIREWALL_BLOCK_OUT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\nCOMMIT\n\
             *mangle\n-D POSTROUTING -j VPN_FIREWALL_POSTROUTING\n-F VPN_FIREWALL_POSTROUTING\n-X VPN_FIREWALL_POSTROUTING\nCOMMIT\n"
        );
    }

    fn translating() -> Policy {
        let mut p = policy(Vec::new(), Sets::default());
        let inside = Match::InIface(interface("eth1").unwrap());
        p.nat = Nat {
            prerouting: vec![
                NatRule { matches: vec![Match::Family(Family::V4), inside.clone()], action: NatAction::Dnat("192.0.2.53".parse().unwrap()), comment: "dns" },
                NatRule { matches: vec![Match::Family(Family::V6), inside], action: NatAction::Dnat("2001:db8::53".parse().unwrap()), comment: "dns" },
            ],
            postrouting: vec![NatRule { matches: vec![Match::Family(Family::V4), Match::OutIface(interface("tun0").unwrap())], action: NatAction::Masquerade, comment: "masq" }],
        };
        p
    }

    fn nat_part(text: &str) -> &str {
        text.split_once("*nat\n").map_or("", |(_, nat)| nat)
    }

    #[test]
    fn nat_rules_go_into_our_nat_chains_jumped_to_first() {
        let p = translating();
        assert_eq!(
            nat_part(&render_iptables(&p, Family::V4, &[], &Found::fresh())),
            ":VPN_FIREWALL_PREROUTING - [0:0]\n:VPN_FIREWALL_NAT_POST - [0:0]\n\
             -A VPN_FIREWALL_PREROUTING -i eth1 -m comment --comment \"dns\" -j DNAT --to-destination 192.0.2.53\n\
             -A VPN_FIREWALL_NAT_POST -o tun0 -m comment --comment \"masq\" -j MASQUERADE\n\
             -I PREROUTING 1 -j VPN_FIREWALL_PREROUTING\n-I POSTROUTING 1 -j VPN_FIREWALL_NAT_POST\nCOMMIT\n"
        );
        assert!(
            nat_part(&render_iptables(&p, Family::V6, &[], &Found::fresh()))
                .contains("-A VPN_FIREWALL_PREROUTING -i eth1 -m comment --comment \"dns\" -j DNAT --to-destination 2001:db8::53\n"),
        );
        assert!(nat_chain(NatHook::Prerouting).len() <= 28 && nat_chain(NatHook::Postrouting).len() <= 28);
    }

    #[test]
    fn the_nat_table_is_written_only_to_translate_or_to_remove_an_earlier_rulesets_chains() {
        let plain = policy(Vec::new(), Sets::default());
        assert!(!render_iptables(&plain, Family::V4, &[], &Found::fresh()).contains("*nat"));
        let mut found = Found::fresh();
        found.nat_jumps = [(1, true), (2, false)];
        found.chains = vec![(Table::Nat, nat_chain(NatHook::Prerouting)), (Table::Nat, nat_chain(NatHook::Postrouting))];
        assert_eq!(
            nat_part(&render_iptables(&plain, Family::V4, &[], &found)),
            "-D PREROUTING -j VPN_FIREWALL_PREROUTING\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n\
             -F VPN_FIREWALL_PREROUTING\n-X VPN_FIREWALL_PREROUTING\n-F VPN_FIREWALL_NAT_POST\n-X VPN_FIREWALL_NAT_POST\nCOMMIT\n"
        );
        let again = nat_part(&render_iptables(&translating(), Family::V4, &[], &found)).to_string();
        assert!(!again.contains("PREROUTING 1") && !again.contains("-X "), "the head jump stays, nothing goes:\n{again}");
        assert!(again.contains("-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-I POSTROUTING 1 -j VPN_FIREWALL_NAT_POST\n"), "{again}");
        assert!(render_flush(&found).ends_with(
            "*nat\n-D PREROUTING -j VPN_FIREWALL_PREROUTING\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n\
             -F VPN_FIREWALL_PREROUTING\n-F VPN_FIREWALL_NAT_POST\n-X VPN_FIREWALL_PREROUTING\n-X VPN_FIREWALL_NAT_POST\nCOMMIT\n"
        ));
    }

    #[test]
    fn the_label_follows_the_rules_and_the_kind() {
        let p = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(2));
        let other = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(3));
        assert!(label(&p, &[]).starts_with("vpn-firewall ruleset "));
        assert_ne!(label(&p, &[]), label(&other, &[]));
        assert!(label(&Policy::lockdown(), &[]).starts_with("vpn-firewall lockdown "));
    }
}
