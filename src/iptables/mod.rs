//! The iptables backend's kernel side: load the rendered rules with `iptables-restore
//! --noflush` and `ip6tables-restore --noflush` (long lists with `ipset restore` first), read
//! them back with `iptables-save`, remove them. Works with both of Debian's iptables,
//! iptables-nft and iptables-legacy: whichever the alternatives select, or `VARIANT_ENV` says.

mod ipset;
pub mod saved;
mod unreadable;

use crate::output::say_err;
use crate::policy::{Family, Hook, Kind, Loaded, NatHook, Policy};
use crate::render_iptables::{
    self as render, ChainPolicy, DROP_POLICY, Found, INFO, IPSET_NEW, PREFIX, Table, block_chain, builtin, chain, family_name, jump, nat_builtin, nat_chain,
    nat_jump, render_flush, render_ipset, render_iptables,
};
use crate::tools;
use anyhow::{Result, bail};
use ipset::IpsetProgram;
use saved::Saved;
use std::path::PathBuf;
use unreadable::Unreadable;

/// Picks the iptables variant, `nft` or `legacy`, instead of the one Debian's alternatives
/// select. The tests run both side by side with it; it also serves a machine whose other rules
/// live in the variant the alternatives do not select.
pub const VARIANT_ENV: &str = "VPN_FIREWALL_IPTABLES";

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

pub struct Iptables {
    name: String,
    /// `iptables-restore` and `iptables-save`, then the same for IPv6.
    tools: [(PathBuf, PathBuf); 2],
    /// `iptables` and `ip6tables`, which name a chain iptables-nft-save cannot print.
    list: [PathBuf; 2],
    ipset: Option<IpsetProgram>,
}

/// What `flush` did to the built-in policies.
pub struct Flushed {
    /// Set back to ACCEPT.
    pub restored: Vec<String>,
    /// Left at DROP: DROP before vpn-firewall, or no record of what they were.
    pub kept: Vec<String>,
}

impl Flushed {
    /// What `flush` says it did, with `name`, the variant.
    pub fn said(&self, name: &str) -> String {
        let mut said = format!("removed chains VPN_FIREWALL_* and their jumps ({name})");
        if !self.restored.is_empty() {
            said.push_str(&format!("; set the policies of {} back to ACCEPT", self.restored.join(", ")));
        }
        if !self.kept.is_empty() {
            said.push_str(&format!(
                "; left {} at DROP, as they were before vpn-firewall (or no record of them was found: iptables -P CHAIN ACCEPT opens one)",
                self.kept.join(", ")
            ));
        }
        said
    }
}

impl Iptables {
    /// Finds iptables-restore, iptables-save and their IPv6 twins of the selected variant, and
    /// ipset when it is installed.
    pub fn locate() -> Result<Iptables> {
        let infix = match std::env::var(VARIANT_ENV).ok().as_deref() {
            None | Some("") => "",
            Some("nft") => "-nft",
            Some("legacy") => "-legacy",
            Some(other) => bail!("{VARIANT_ENV}={other:?} is not an iptables variant (expected nft or legacy)"),
        };
        let tool = |program: String| tools::locate(&program, "iptables");
        let tools = [
            (tool(format!("iptables{infix}-restore"))?, tool(format!("iptables{infix}-save"))?),
            (tool(format!("ip6tables{infix}-restore"))?, tool(format!("ip6tables{infix}-save"))?),
        ];
        let list = [tool(format!("iptables{infix}"))?, tool(format!("ip6tables{infix}"))?];
        let version = tools::run(&tools[0].0, &["--version"], None)?;
        let name = if version.contains("(nf_tables)") {
            "iptables-nft"
        } else if version.contains("(legacy)") {
            "iptables-legacy"
        } else {
            bail!("{} --version names neither nf_tables nor legacy: {}", tools[0].0.display(), version.trim());
        };
        Ok(Iptables { name: name.to_string(), tools, list, ipset: IpsetProgram::locate() })
    }

    /// `iptables-nft` or `iptables-legacy`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel objects it loads, as the user finds them.
    pub fn objects(&self) -> String {
        "chains VPN_FIREWALL_* for IPv4 and IPv6".into()
    }

    /// The lists of `policy` matched with ipset here.
    pub fn ipsets(&self, policy: &Policy) -> Vec<render::Ipset> {
        render::ipsets(policy, self.ipset.is_some())
    }

    /// The label the INFO chain holds when `policy` is loaded.
    pub fn label(&self, policy: &Policy) -> String {
        render::label(policy, &self.ipsets(policy))
    }

    fn tools(&self, family: Family) -> &(PathBuf, PathBuf) {
        &self.tools[usize::from(family == Family::V6)]
    }

    /// `iptables ARGS -t TABLE -S CHAIN` (or ip6tables): one chain's rules.
    fn list(&self, family: Family, table: Table, chain: &str, args: &[&str]) -> Result<String> {
        let all: Vec<&str> = args.iter().copied().chain(["-w", "-t", table.name(), "-S", chain]).collect();
        tools::run(&self.list[usize::from(family == Family::V6)], &all, None)
    }

    /// What is loaded in one family. A table iptables-nft-save leaves out (see `unreadable`) is
    /// filled in with vpn-firewall's chains, listed one by one; its built-in chains stay unknown.
    fn save(&self, family: Family) -> Result<Saved> {
        let mut saved = saved::parse(&tools::run(&self.tools(family).1, &["-c"], None)?);
        for table in Table::ALL {
            let left_out = saved.unreadable.iter().any(|u| u.table == table.name() && u.chain.is_none());
            if !left_out || saved.table(table.name()).is_some() {
                continue;
            }
            let chains = unreadable::our_chains(table, |chain| self.list(family, table, chain, &["-v"]).ok());
            if !chains.is_empty() {
                saved.tables.push(saved::SavedTable { name: table.name().to_string(), chains });
            }
        }
        Ok(saved)
    }

    /// The tables of one family that iptables-nft cannot read (see `unreadable`), as `saved` of
    /// that family says, with the built-in chains that `iptables -S CHAIN` cannot list.
    fn unreadable(&self, family: Family, saved: &Saved) -> Vec<Unreadable> {
        unreadable::find(saved, family, |table, chain| self.list(family, table, chain, &[]).is_err_and(|e| format!("{e:#}").contains("incompatible")))
    }

    /// One `--noflush` restore: each table's commit is atomic.
    fn restore(&self, family: Family, text: &str) -> Result<()> {
        tools::run(&self.tools(family).0, &["--noflush", "--wait=10"], Some(text)).map(drop)
    }

    /// Whether any chain of vpn-firewall's is loaded, IPv4 or IPv6.
    pub fn exists(&self) -> Result<bool> {
        for family in FAMILIES {
            if !found(&self.save(family)?).chains.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Loads `policy`: the ipsets it needs, then IPv4's tables, then IPv6's, each attached as
    /// what is loaded requires; then destroys the sets no rule uses any more. Refuses, loading
    /// nothing, where a table it loads into cannot be read, except for a lockdown where nothing
    /// of vpn-firewall shows: that one goes in as onto empty chains, its jumps first, recording
    /// the unknown policies as DROP (so that `flush` leaves them closed).
    pub fn load(&self, policy: &Policy) -> Result<()> {
        let saved = [self.save(Family::V4)?, self.save(Family::V6)?];
        let unreadable: Vec<Unreadable> =
            FAMILIES.iter().zip(&saved).flat_map(|(family, saved)| self.unreadable(*family, saved)).filter(|u| unreadable::used_by(policy, u.table)).collect();
        let onto_nothing = policy.kind == Kind::Lockdown && saved.iter().all(|s| found(s).chains.is_empty());
        if !unreadable.is_empty() && !onto_nothing {
            bail!("cannot load beside rules iptables-nft cannot read: {}; {}", listed(&unreadable), unreadable::ADVICE);
        }
        let ipsets = self.ipsets(policy);
        // Not a let chain: rustc 1.85 (Debian trixie) has none.
        if let Some(tool) = self.ipset.as_ref().filter(|_| !ipsets.is_empty()) {
            let stale_new = tool.ours()?.iter().any(|n| n == IPSET_NEW);
            tool.restore(&render_ipset(&ipsets, stale_new))?;
        }
        for (family, saved) in FAMILIES.into_iter().zip(&saved) {
            let mut found = found(saved);
            if unreadable.iter().any(|u| u.family == family && u.table == Table::Filter) {
                found.before = [ChainPolicy::Drop; 3];
            }
            self.restore(family, &render_iptables(policy, family, &ipsets, &found))?;
        }
        if let Some(tool) = &self.ipset {
            for name in tool.ours()?.into_iter().filter(|n| !ipsets.iter().any(|s| s.name == *n)) {
                if let Err(e) = tool.destroy(&name) {
                    say_err!("vpn-firewall: warning: cannot destroy the unused ipset {name}: {e:#}");
                }
            }
        }
        Ok(())
    }

    /// Compares what the kernel has with what `load` sent: our chains and their numbers of
    /// rules, the label, each jump alone at the head of its built-in chain, the DROP policies,
    /// and the ipsets' numbers of entries.
    pub fn verify(&self, policy: &Policy) -> Result<()> {
        let ipsets = self.ipsets(policy);
        let mut differences = Vec::new();
        for family in FAMILIES {
            let loaded = self.save(family)?;
            let sent = saved::parse(&render_iptables(policy, family, &ipsets, &Found::fresh()));
            let what = family_name(family);
            // What cannot be read cannot be compared: no verification passes with it.
            let unreadable = self.unreadable(family, &loaded);
            if !unreadable.is_empty() {
                differences.extend(unreadable.iter().map(ToString::to_string));
                continue;
            }
            for table in Table::ALL {
                let (got, want) = (our_chains(&loaded, table), our_chains(&sent, table));
                if got != want {
                    differences.push(format!("{what} {} chains {got:?} instead of {want:?}", table.name()));
                }
            }
            let label = render::label(policy, &ipsets);
            if labels(&loaded).first() != Some(&label) {
                differences.push(format!("{what} label {:?} instead of {label:?}", labels(&loaded).first()));
            }
            differences.extend(attachment_problems(&loaded, family, &[]));
        }
        if let Some(tool) = &self.ipset {
            for set in &ipsets {
                let entries = tool.entries(&set.name)?;
                if entries != set.entries.len() {
                    differences.push(format!("ipset {} has {entries} entries instead of {}", set.name, set.entries.len()));
                }
            }
        }
        if !differences.is_empty() {
            bail!("the loaded {} chains are not what was sent: {}", self.name, differences.join("; "));
        }
        Ok(())
    }

    /// What is loaded, for `status`; `None` when nothing of vpn-firewall is.
    pub fn read(&self) -> Result<Option<Loaded>> {
        let saved = [self.save(Family::V4)?, self.save(Family::V6)?];
        if saved.iter().all(|s| found(s).chains.is_empty()) {
            return Ok(None);
        }
        let unreadable: Vec<Unreadable> = FAMILIES.iter().zip(&saved).flat_map(|(f, s)| self.unreadable(*f, s)).collect();
        let mut warnings: Vec<String> =
            unreadable.iter().map(|u| format!("{u}: vpn-firewall cannot check its rules, jumps and policies there; {}", unreadable::ADVICE)).collect();
        warnings.extend(FAMILIES.iter().zip(&saved).flat_map(|(f, s)| attachment_problems(s, *f, &unreadable)));
        let labels: Vec<Option<String>> = saved.iter().map(|s| labels(s).into_iter().next()).collect();
        if labels[0] != labels[1] {
            let [v4, v6] = [&labels[0], &labels[1]].map(|l| l.as_deref().unwrap_or("no label"));
            warnings.push(format!("IPv4 holds {v4} and IPv6 {v6}: run vpn-firewall reload"));
        }
        let blocked = Hook::ALL
            .iter()
            .map(|hook| {
                let table = builtin(*hook).0.name();
                let counted = saved.iter().map(|s| Some(s.chain(table, &block_chain(*hook))?.rules.first()?.packets));
                (*hook, counted.sum::<Option<u64>>())
            })
            .collect();
        let label = if labels[0] == labels[1] { labels[0].clone() } else { None };
        Ok(Some(Loaded { label, blocked, warnings }))
    }

    /// Removes our jumps, chains and ipsets, and sets the built-in policies vpn-firewall changed
    /// from ACCEPT back to ACCEPT.
    pub fn flush(&self) -> Result<Flushed> {
        let saved = [self.save(Family::V4)?, self.save(Family::V6)?];
        let (unreadable, unseen): (Vec<Unreadable>, Vec<Unreadable>) =
            FAMILIES.iter().zip(&saved).flat_map(|(f, s)| self.unreadable(*f, s)).partition(|u| u.table != Table::Nat);
        if !unreadable.is_empty() {
            bail!(
                "cannot remove vpn-firewall's chains beside rules iptables-nft cannot read: {}; remove those rules (nft list ruleset \
                 shows them), then run vpn-firewall flush again",
                listed(&unreadable)
            );
        }
        for u in unseen {
            say_err!("vpn-firewall: warning: {u}: vpn-firewall's gateway chains there, if any, stay");
        }
        let mut flushed = Flushed { restored: Vec::new(), kept: Vec::new() };
        for (family, saved) in FAMILIES.into_iter().zip(&saved) {
            let found = found(saved);
            let text = render_flush(&found);
            if text.is_empty() {
                continue;
            }
            self.restore(family, &text)?;
            if !found.chains.iter().any(|(table, _)| *table == Table::Filter) {
                continue;
            }
            for (chain, before) in DROP_POLICY.iter().zip(found.before) {
                let list = if before == ChainPolicy::Accept { &mut flushed.restored } else { &mut flushed.kept };
                list.push(format!("{chain} ({})", family_name(family)));
            }
        }
        if let Some(tool) = &self.ipset {
            for name in tool.ours()? {
                tool.destroy(&name)?;
            }
        }
        if self.exists()? {
            bail!("chains of vpn-firewall are still loaded after removing them");
        }
        Ok(flushed)
    }
}

/// What `show` prints: every input `start` sends, as on a machine where nothing of vpn-firewall
/// is loaded and the built-in policies are ACCEPT (`start` moves or adds the jumps as it finds
/// them, and keeps the policies it recorded at the first start).
pub fn render(policy: &Policy) -> String {
    render::render_all(policy, &render::ipsets(policy, IpsetProgram::locate().is_some()))
}

/// The unreadable tables, one after another.
fn listed(unreadable: &[Unreadable]) -> String {
    unreadable.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// What of vpn-firewall one family's tables hold.
fn found(saved: &Saved) -> Found {
    let jumps = Hook::ALL.map(|hook| {
        let (table, builtin) = builtin(hook);
        jumps_in(saved, table, builtin, &jump(hook))
    });
    let nat_jumps = NatHook::ALL.map(|hook| jumps_in(saved, Table::Nat, nat_builtin(hook), &nat_jump(hook)));
    let recorded = |chain: &str| {
        let prefix = format!("{chain} policy before vpn-firewall: ");
        let info = saved.chain(Table::Filter.name(), INFO)?;
        info.rules.iter().find_map(|r| ChainPolicy::parse(r.comment()?.strip_prefix(&prefix)?))
    };
    // A built-in chain that does not exist (iptables-nft makes them on demand) accepts.
    let current = |chain: &str| {
        let policy = saved.chain(Table::Filter.name(), chain).and_then(|c| c.policy.as_deref().and_then(ChainPolicy::parse));
        policy.unwrap_or(ChainPolicy::Accept)
    };
    let before = DROP_POLICY.map(|c| recorded(c).unwrap_or_else(|| current(c)));
    let chains = Table::ALL
        .into_iter()
        .flat_map(|t| saved.table(t.name()).into_iter().flat_map(move |table| table.chains.iter().map(move |c| (t, c.name.clone()))))
        .filter(|(_, name)| name.starts_with(PREFIX))
        .collect();
    Found { jumps, nat_jumps, before, chains }
}

/// How many rules of a built-in chain are `jump`, and whether its first rule is.
fn jumps_in(saved: &Saved, table: Table, builtin: &str, jump: &str) -> (usize, bool) {
    let Some(c) = saved.chain(table.name(), builtin) else { return (0, false) };
    (c.rules.iter().filter(|r| r.spec == jump).count(), c.rules.first().is_some_and(|r| r.spec == jump))
}

/// Our chains of a table with their numbers of rules, sorted.
fn our_chains(saved: &Saved, table: Table) -> Vec<(String, usize)> {
    let mut chains: Vec<(String, usize)> = saved
        .table(table.name())
        .map(|t| t.chains.iter().filter(|c| c.name.starts_with(PREFIX)).map(|c| (c.name.clone(), c.rules.len())).collect())
        .unwrap_or_default();
    chains.sort();
    chains
}

/// The comments of the INFO chain that say what was loaded.
fn labels(saved: &Saved) -> Vec<String> {
    let Some(info) = saved.chain(Table::Filter.name(), INFO) else { return Vec::new() };
    info.rules.iter().filter_map(|r| r.comment()).filter(|c| c.starts_with("vpn-firewall ")).collect()
}

/// What weakens the loaded chains in one family: a jump that is not alone at the head of its
/// built-in chain, a built-in policy that is not DROP. Tables in `unreadable` are not judged:
/// what they hold is unknown, not absent.
fn attachment_problems(saved: &Saved, family: Family, unreadable: &[Unreadable]) -> Vec<String> {
    let what = family_name(family);
    let readable = |table: Table| !unreadable.iter().any(|u| u.family == family && u.table == table);
    let mut problems = Vec::new();
    let filtering = Hook::ALL.map(|hook| {
        let (table, builtin) = builtin(hook);
        (table, builtin, chain(hook))
    });
    // A NAT chain is loaded only where the policy translates; where it is, it must be reached.
    let translating = NatHook::ALL
        .map(|hook| (Table::Nat, nat_builtin(hook), nat_chain(hook)))
        .into_iter()
        .filter(|(table, _, chain)| saved.chain(table.name(), chain).is_some());
    for (table, builtin, chain) in filtering.into_iter().chain(translating).filter(|(table, _, _)| readable(*table)) {
        let jump = format!("-j {chain}");
        let rules = saved.chain(table.name(), builtin).map(|c| c.rules.as_slice()).unwrap_or_default();
        let position = rules.iter().position(|r| r.spec == jump);
        match position {
            None => problems.push(format!(
                "{what} {builtin} ({}) does not jump to {}: vpn-firewall does not see its packets; run vpn-firewall reload",
                table.name(),
                chain
            )),
            Some(0) => {}
            Some(n) => problems.push(format!(
                "{n} other rule{} come{} before vpn-firewall's jump in {what} {builtin} ({}): another tool can accept traffic there \
                 before vpn-firewall sees it; run vpn-firewall reload to put the jump first again",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                table.name()
            )),
        }
        if rules.iter().filter(|r| r.spec == jump).count() > 1 {
            problems.push(format!("{what} {builtin} ({}) jumps to {chain} more than once", table.name()));
        }
    }
    for builtin in DROP_POLICY.iter().filter(|_| readable(Table::Filter)) {
        let policy = saved.chain(Table::Filter.name(), builtin).and_then(|c| c.policy.clone());
        if policy.as_deref() != Some("DROP") {
            problems.push(format!("{what} {builtin} has policy {} instead of DROP", policy.as_deref().unwrap_or("ACCEPT (no chain)")));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADED: &str = "\
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
:VPN_FIREWALL_INFO - [0:0]
:VPN_FIREWALL_OUTPUT - [0:0]
-A INPUT -j VPN_FIREWALL_INPUT
-A OUTPUT -j ACCEPT
-A OUTPUT -j VPN_FIREWALL_OUTPUT
-A OUTPUT -j VPN_FIREWALL_OUTPUT
-A VPN_FIREWALL_INFO -m comment --comment \"vpn-firewall ruleset 0123\"
-A VPN_FIREWALL_INFO -m comment --comment \"INPUT policy before vpn-firewall: ACCEPT\"
-A VPN_FIREWALL_INFO -m comment --comment \"FORWARD policy before vpn-firewall: DROP\"
COMMIT
*mangle
:POSTROUTING ACCEPT [0:0]
COMMIT
";

    #[test]
    fn found_counts_jumps_and_prefers_recorded_policies_to_current_ones() {
        let loaded = found(&saved::parse(LOADED));
        assert_eq!(loaded.jumps, [(1, true), (2, false), (0, false), (0, false)]);
        // OUTPUT has no record: what it is now.
        assert_eq!(loaded.before, [ChainPolicy::Accept, ChainPolicy::Drop, ChainPolicy::Drop]);
        assert_eq!(loaded.chains, [(Table::Filter, INFO.to_string()), (Table::Filter, chain(Hook::Output))]);
        let nothing = found(&Saved::default());
        assert_eq!(nothing, Found::fresh(), "no tables: no jumps, no chains, and built-in chains that do not exist accept");
    }

    #[test]
    fn attachment_problems_name_rules_before_the_jump_missing_jumps_and_policies() {
        let problems = attachment_problems(&saved::parse(LOADED), Family::V4, &[]);
        assert_eq!(
            problems,
            [
                "1 other rule comes before vpn-firewall's jump in IPv4 OUTPUT (filter): another tool can accept traffic there before \
             vpn-firewall sees it; run vpn-firewall reload to put the jump first again",
                "IPv4 OUTPUT (filter) jumps to VPN_FIREWALL_OUTPUT more than once",
                "IPv4 FORWARD (filter) does not jump to VPN_FIREWALL_FORWARD: vpn-firewall does not see its packets; run vpn-firewall reload",
                "IPv4 POSTROUTING (mangle) does not jump to VPN_FIREWALL_POSTROUTING: vpn-firewall does not see its packets; run vpn-firewall reload",
            ]
        );
    }
}
