//! The backends the kernel and leak tests run vpn-firewall with, and what each one leaves in a
//! namespace: its objects, its blocked-packet counters.
//!
//! iptables comes in two variants, run side by side: iptables-nft (Debian's default) and
//! iptables-legacy, picked with vpn-firewall's `VPN_FIREWALL_IPTABLES` rather than by switching
//! the machine's alternatives.

use super::{Netns, Run};
use std::process::Command;
use vpn_firewall::iptables::{VARIANT_ENV, saved};
use vpn_firewall::policy::Hook;
use vpn_firewall::render_iptables::{PREFIX, Table, block_chain, builtin};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Nftables,
    /// nftables with a guard started with `--second-table`: the way kernels before 6.9 guard
    /// (tests/guard.rs). Without a guard, the same as `Nftables`.
    NftablesSecondTable,
    IptablesNft,
    IptablesLegacy,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::Nftables, Backend::IptablesNft, Backend::IptablesLegacy];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Nftables | Backend::NftablesSecondTable => "nftables",
            Backend::IptablesNft => "iptables-nft",
            Backend::IptablesLegacy => "iptables-legacy",
        }
    }

    /// `test`, made unique per backend for the names of its namespaces.
    pub fn qualify(self, test: &str) -> String {
        let tag = match self {
            Backend::Nftables => "n",
            Backend::NftablesSecondTable => "n2",
            Backend::IptablesNft => "in",
            Backend::IptablesLegacy => "il",
        };
        format!("{test}.{tag}")
    }

    pub fn is_iptables(self) -> bool {
        matches!(self, Backend::IptablesNft | Backend::IptablesLegacy)
    }

    /// What `vpn-firewall guard` is started with.
    pub fn guard_args(self) -> &'static [&'static str] {
        if self == Backend::NftablesSecondTable { &["--second-table"] } else { &[] }
    }

    /// Whether a guard owns table inet vpn_firewall itself (nftables, Linux 6.9), rather than
    /// a second table beside it: then no other process can change it at all.
    pub fn guard_owns_main(self) -> bool {
        self == Backend::Nftables
    }

    /// The table a running guard owns.
    pub fn owned_table(self) -> &'static str {
        if self.guard_owns_main() { "vpn_firewall" } else { "vpn_firewall_guard" }
    }

    /// The nftables tables of vpn-firewall while a guard runs.
    pub fn guarded_tables(self) -> &'static [&'static str] {
        match self {
            Backend::Nftables => &["vpn_firewall"],
            Backend::NftablesSecondTable => &["vpn_firewall", "vpn_firewall_guard"],
            Backend::IptablesNft | Backend::IptablesLegacy => &["vpn_firewall_guard"],
        }
    }

    /// Tells vpn-firewall to use this backend: `--backend`.
    pub fn select(self, cmd: &mut Command) {
        cmd.args(["--backend", if self.is_iptables() { "iptables" } else { "nftables" }]);
    }

    /// Tells vpn-firewall which iptables the host of this backend has: the variant, or the
    /// alternatives' choice next to nftables.
    pub fn host_iptables(self, cmd: &mut Command) {
        match self {
            Backend::Nftables | Backend::NftablesSecondTable => cmd.env_remove(VARIANT_ENV),
            Backend::IptablesNft => cmd.env(VARIANT_ENV, "nft"),
            Backend::IptablesLegacy => cmd.env(VARIANT_ENV, "legacy"),
        };
    }

    /// The `iptables` (or, `ipv6`, `ip6tables`) that other tools on this backend's host use:
    /// the variant vpn-firewall uses, or Debian's default next to nftables.
    pub fn iptables(self, ipv6: bool) -> String {
        let program = if ipv6 { "ip6tables" } else { "iptables" };
        match self {
            Backend::Nftables | Backend::NftablesSecondTable => program.to_string(),
            Backend::IptablesNft => format!("{program}-nft"),
            Backend::IptablesLegacy => format!("{program}-legacy"),
        }
    }

    /// What a loaded ruleset consists of, as `Netns::firewall_objects` lists it.
    pub fn loaded_objects(self) -> Vec<String> {
        if !self.is_iptables() {
            return vec!["inet vpn_firewall".into()];
        }
        let filter = ["BLOCK_FWD", "BLOCK_IN", "BLOCK_OUT", "FORWARD", "INFO", "INPUT", "OUTPUT"];
        let mut objects = Vec::new();
        for family in ["IPv4", "IPv6"] {
            objects.extend(filter.iter().map(|c| format!("{family} filter {PREFIX}{c}")));
            objects.extend(["BLOCK_POST", "POSTROUTING"].iter().map(|c| format!("{family} mangle {PREFIX}{c}")));
        }
        objects
    }
}

impl Netns {
    /// Runs `iptables ARGS` (or ip6tables) of the host's variant, waiting for the xtables lock
    /// that iptables-legacy shares across namespaces.
    pub fn iptables(&self, ipv6: bool, args: &[&str]) -> Run {
        let mut all = vec!["-w"];
        all.extend(args);
        self.run(self.backend().iptables(ipv6), &all, "")
    }

    /// `iptables-save -c` (or ip6tables-save) of the host's variant, parsed.
    pub fn iptables_save(&self, ipv6: bool) -> saved::Saved {
        let program = format!("{}-save", self.backend().iptables(ipv6));
        saved::parse(&self.run(program, &["-c"], "").expect(0).stdout)
    }

    /// vpn-firewall's objects in the namespace, sorted: its nft tables, or its iptables chains
    /// by family and table, and its ipsets.
    pub fn firewall_objects(&self) -> Vec<String> {
        if !self.backend().is_iptables() {
            return self.tables().into_iter().filter(|t| t.contains("vpn_firewall")).collect();
        }
        let mut objects = Vec::new();
        for (ipv6, family) in [(false, "IPv4"), (true, "IPv6")] {
            for table in self.iptables_save(ipv6).tables {
                let ours = table.chains.iter().filter(|c| c.name.starts_with(PREFIX));
                objects.extend(ours.map(|c| format!("{family} {} {}", table.name, c.name)));
            }
        }
        let sets = self.run("ipset", &["list", "-n"], "").expect(0).stdout;
        objects.extend(sets.lines().filter(|s| s.starts_with(PREFIX)).map(|s| format!("ipset {s}")));
        objects.sort();
        objects
    }

    /// The packets vpn-firewall blocked in `hook` since it was loaded, IPv4 and IPv6.
    pub fn blocked(&self, hook: Hook) -> u64 {
        if !self.backend().is_iptables() {
            return self.counter("inet", "vpn_firewall", &format!("blocked_{}", hook.name()));
        }
        let table = builtin(hook).0.name();
        [false, true]
            .into_iter()
            .map(|ipv6| {
                let saved = self.iptables_save(ipv6);
                let counted = saved.chain(table, &block_chain(hook)).and_then(|c| c.rules.first()).map(|r| r.packets);
                counted.unwrap_or_else(|| panic!("no counting rule in {} of {table}", block_chain(hook)))
            })
            .sum()
    }

    /// What other tools loaded, to compare before and after: nft tables other than
    /// vpn-firewall's, iptables-nft's and the tests' own (with handles, without counters), and
    /// iptables' chains of the host's variant without vpn-firewall's. A built-in chain that is
    /// empty and accepts counts as none: iptables-nft makes them on demand and leaves them.
    pub fn foreign_rules(&self) -> String {
        let mut text = String::new();
        for table in self.tables() {
            let (family, name) = table.split_once(' ').expect("nft lists tables as FAMILY NAME");
            let iptables_nft = matches!(family, "ip" | "ip6") && matches!(name, "filter" | "mangle" | "nat" | "raw" | "security");
            if !(iptables_nft || name.starts_with("vpn_firewall") || name == super::PROBE_TABLE) {
                text.push_str(&self.nft(&["-a", "-s", "list", "table", family, name]));
            }
        }
        for ipv6 in [false, true] {
            for table in self.iptables_save(ipv6).tables {
                for chain in table.chains.iter().filter(|c| !c.name.starts_with(PREFIX)) {
                    let rules: Vec<&str> = chain.rules.iter().map(|r| r.spec.as_str()).filter(|r| !r.contains(PREFIX)).collect();
                    let policy = chain.policy.as_deref().unwrap_or("-");
                    if rules.is_empty() && policy == "ACCEPT" {
                        continue;
                    }
                    text.push_str(&format!("IPv6 {ipv6}: {} {} {policy}\n", table.name, chain.name));
                    text.extend(rules.iter().map(|r| format!("  {r}\n")));
                }
            }
        }
        text
    }

    /// The rules of one built-in chain (`ipv6` or not), as iptables-save prints them.
    pub fn builtin_rules(&self, ipv6: bool, table: Table, chain: &str) -> Vec<String> {
        let saved = self.iptables_save(ipv6);
        saved.chain(table.name(), chain).map(|c| c.rules.iter().map(|r| r.spec.clone()).collect()).unwrap_or_default()
    }
}
