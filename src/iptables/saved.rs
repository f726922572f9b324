//! `iptables-save` output as data. vpn-firewall's own `iptables-restore` input has the same
//! shape, so the same parser tells what was sent and what the kernel has.

/// Tables, chains and rules, in the order printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    pub tables: Vec<SavedTable>,
    /// What iptables-nft said it could not print: tables (`chain` `None`) or rules of one chain,
    /// in the order said.
    pub unreadable: Vec<Unprinted>,
}

/// A table, or the rules of one chain, that iptables-nft-save could not print in full: native
/// nftables rules (made with nft or another nftables tool) it cannot express as iptables rules.
/// iptables-nft 1.8.9 leaves such a table out (`# Table `filter' is incompatible, use 'nft'
/// tool.`); a match it knows no revision of is printed as `[unsupported revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unprinted {
    pub table: String,
    pub chain: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedTable {
    pub name: String,
    pub chains: Vec<SavedChain>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedChain {
    pub name: String,
    /// `ACCEPT` or `DROP` for a built-in chain; `None` for a user-defined one (`-`).
    pub policy: Option<String>,
    pub rules: Vec<SavedRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedRule {
    /// The rule after `-A CHAIN `.
    pub spec: String,
    /// Packets counted, when saved with `-c`.
    pub packets: u64,
}

impl Saved {
    pub fn table(&self, name: &str) -> Option<&SavedTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The chain `chain` of the table `table`.
    pub fn chain(&self, table: &str, chain: &str) -> Option<&SavedChain> {
        self.table(table)?.chains.iter().find(|c| c.name == chain)
    }
}

impl SavedRule {
    /// The text of its `-m comment --comment`, unquoted.
    pub fn comment(&self) -> Option<String> {
        let rest = self.spec.split_once("--comment ")?.1;
        match rest.strip_prefix('"') {
            Some(quoted) => {
                let mut text = String::new();
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => return Some(text),
                        '\\' => text.extend(chars.next()),
                        c => text.push(c),
                    }
                }
                None
            }
            None => rest.split_whitespace().next().map(str::to_string),
        }
    }
}

/// Reads `*table`, `:CHAIN POLICY [p:b]` (or `-N CHAIN`) and `[p:b] -A CHAIN ...` lines, and what
/// iptables-nft says it cannot print; ignores other comments, `COMMIT` and other commands (`-P`,
/// `-I`, `-D` in restore input).
pub fn parse(text: &str) -> Saved {
    let mut saved = Saved::default();
    for line in text.lines().map(str::trim) {
        if let Some(table) = incompatible_table(line) {
            saved.unreadable.push(Unprinted { table, chain: None });
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            saved.tables.push(SavedTable { name: name.to_string(), chains: Vec::new() });
            continue;
        }
        let Some(table) = saved.tables.last_mut() else { continue };
        // `iptables -S CHAIN` declares a user-defined chain with `-N CHAIN`.
        if let Some(name) = line.strip_prefix("-N ") {
            table.chains.push(SavedChain { name: name.trim().to_string(), policy: None, rules: Vec::new() });
            continue;
        }
        if let Some(declaration) = line.strip_prefix(':') {
            let mut words = declaration.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let policy = words.next().filter(|p| *p != "-").map(str::to_string);
            table.chains.push(SavedChain { name, policy, rules: Vec::new() });
            continue;
        }
        let (packets, command) = match line.strip_prefix('[').and_then(|l| l.split_once(']')) {
            Some((counters, rest)) => (counters.split(':').next().and_then(|p| p.parse().ok()).unwrap_or(0), rest.trim_start()),
            None => (0, line),
        };
        let Some(rule) = command.strip_prefix("-A ") else { continue };
        let (chain, spec) = rule.split_once(' ').unwrap_or((rule, ""));
        if spec.contains("[unsupported revision]") {
            let unprinted = Unprinted { table: table.name.clone(), chain: Some(chain.to_string()) };
            if !saved.unreadable.contains(&unprinted) {
                saved.unreadable.push(unprinted);
            }
        }
        let rule = SavedRule { spec: spec.to_string(), packets };
        match table.chains.iter_mut().find(|c| c.name == chain) {
            Some(c) => c.rules.push(rule),
            None => table.chains.push(SavedChain { name: chain.to_string(), policy: None, rules: vec![rule] }),
        }
    }
    saved
}

/// The chains `iptables -v -S CHAIN` lists of `table`: `-N CHAIN`, then `-A CHAIN ...` rules
/// with their counters as `-c PACKETS BYTES` among the options, taken out of the rule.
pub fn parse_listed(table: &str, text: &str) -> Saved {
    let mut saved = parse(&format!("*{table}\n{text}"));
    for rule in saved.tables.iter_mut().flat_map(|t| &mut t.chains).flat_map(|c| &mut c.rules) {
        let words: Vec<&str> = rule.spec.split(' ').collect();
        let counters = words.windows(3).position(|w| w[0] == "-c" && w[1].parse::<u64>().is_ok() && w[2].parse::<u64>().is_ok());
        if let Some(at) = counters {
            rule.packets = words[at + 1].parse().unwrap_or_default();
            rule.spec = words[..at].iter().chain(&words[at + 3..]).copied().collect::<Vec<_>>().join(" ");
        }
    }
    saved
}

/// The table a comment such as "# Table `filter' is incompatible, use 'nft' tool." names (or,
/// in later versions, "... contains incompatible base chains ...").
fn incompatible_table(line: &str) -> Option<String> {
    let comment = line.strip_prefix('#')?.trim_start();
    let (name, rest) = comment.strip_prefix("Table `")?.split_once('\'')?;
    rest.contains("incompatible").then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVED: &str = "\
# Generated by iptables-nft-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:OUTPUT DROP [7:420]
:VPN_FIREWALL_INFO - [0:0]
[3:180] -A OUTPUT -j VPN_FIREWALL_OUTPUT
[0:0] -A OUTPUT -d 192.0.2.99/32 -j ACCEPT
[0:0] -A VPN_FIREWALL_INFO -m comment --comment \"vpn-firewall ruleset 0123\"
[0:0] -A VPN_FIREWALL_INFO -m comment --comment loopback
[0:0] -A VPN_FIREWALL_INFO -m comment --comment \"say \\\"hi\\\"\" -j ACCEPT
COMMIT
*mangle
:POSTROUTING ACCEPT [0:0]
COMMIT
";

    #[test]
    fn tables_chains_policies_rules_and_counters() {
        let saved = parse(SAVED);
        assert_eq!(saved.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["filter", "mangle"]);
        let output = saved.chain("filter", "OUTPUT").unwrap();
        assert_eq!(output.policy.as_deref(), Some("DROP"));
        assert_eq!(
            output.rules.iter().map(|r| (r.spec.as_str(), r.packets)).collect::<Vec<_>>(),
            [("-j VPN_FIREWALL_OUTPUT", 3), ("-d 192.0.2.99/32 -j ACCEPT", 0)]
        );
        assert_eq!(saved.chain("filter", "VPN_FIREWALL_INFO").unwrap().policy, None);
        assert_eq!(saved.chain("mangle", "POSTROUTING").unwrap().rules, []);
        assert!(saved.chain("mangle", "OUTPUT").is_none());
    }

    #[test]
    fn comments_quoted_bare_and_escaped() {
        let saved = parse(SAVED);
        let comments: Vec<Option<String>> = saved.chain("filter", "VPN_FIREWALL_INFO").unwrap().rules.iter().map(SavedRule::comment).collect();
        assert_eq!(comments, [Some("vpn-firewall ruleset 0123".into()), Some("loopback".into()), Some("say \"hi\"".into())]);
    }

    #[test]
    fn tables_and_chains_iptables_nft_cannot_print_are_named() {
        let saved = parse(
            "# Generated by iptables-nft-save v1.8.9 (nf_tables)\n\
             # Table `filter' is incompatible, use 'nft' tool.\n\
             *mangle\n:POSTROUTING ACCEPT [0:0]\n\
             [0:0] -A POSTROUTING -m foo [unsupported revision] -j ACCEPT\n\
             [0:0] -A POSTROUTING -m bar [unsupported revision] -j ACCEPT\n\
             COMMIT\n\
             # Table `nat' contains incompatible base chains, use 'nft' tool to list them.\n\
             # Table `raw' is fine, says this comment\n",
        );
        let unprinted = |table: &str, chain: Option<&str>| Unprinted { table: table.into(), chain: chain.map(str::to_string) };
        assert_eq!(saved.unreadable, [unprinted("filter", None), unprinted("mangle", Some("POSTROUTING")), unprinted("nat", None)]);
        assert!(saved.table("filter").is_none(), "iptables-nft 1.8.9 leaves the table out");
        assert!(parse(SAVED).unreadable.is_empty());
    }

    #[test]
    fn restore_input_without_counters_and_with_other_commands() {
        let saved = parse(
            "*filter\n:VPN_FIREWALL_OUTPUT - [0:0]\n-A VPN_FIREWALL_OUTPUT -o lo -j ACCEPT\n-P OUTPUT DROP\n-I OUTPUT 1 -j VPN_FIREWALL_OUTPUT\nCOMMIT\n",
        );
        let chain = saved.chain("filter", "VPN_FIREWALL_OUTPUT").unwrap();
        assert_eq!(chain.rules, [SavedRule { spec: "-o lo -j ACCEPT".into(), packets: 0 }]);
        assert!(saved.chain("filter", "OUTPUT").is_none(), "-P and -I declare nothing");
    }

    #[test]
    fn chains_listed_with_their_counters() {
        let listed = parse_listed(
            "filter",
            "-N VPN_FIREWALL_BLOCK_OUT\n-N VPN_FIREWALL_EMPTY\n-A VPN_FIREWALL_BLOCK_OUT -m comment --comment \"blocked: counted\" -c 7 420\n\
             -A VPN_FIREWALL_BLOCK_OUT -c 0 0 -j DROP\n",
        );
        let block = listed.chain("filter", "VPN_FIREWALL_BLOCK_OUT").unwrap();
        assert_eq!(
            block.rules.iter().map(|r| (r.spec.as_str(), r.packets)).collect::<Vec<_>>(),
            [("-m comment --comment \"blocked: counted\"", 7), ("-j DROP", 0)]
        );
        assert_eq!(block.rules[0].comment().as_deref(), Some("blocked: counted"));
        assert_eq!(listed.chain("filter", "VPN_FIREWALL_EMPTY").unwrap().rules, [], "declared with -N");
    }
}
