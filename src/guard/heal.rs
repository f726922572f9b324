//! Self-healing: what another process removes or changes of the main layer is loaded again.
//!
//! nf_tables reports each transaction as the notices of its objects followed by one of its new
//! generation, which names the process that made it. With nftables a transaction of another
//! process that touches table inet vpn_firewall is undone by loading the table again: even one
//! whose read-back would look intact (a replaced rule). With iptables, whose rules sit in the
//! built-in chains of shared tables, a transaction of another process leads to a read-back,
//! and to a load when it differs; iptables-legacy reports nothing, so it is read back every
//! half second. Transactions of the guard itself are its own loads. The ARP protection
//! (`arp_ignore`, see `arp`) is a sysctl, of which no notification tells: it is looked at every
//! half second as well.

use super::layers;
use super::requests::Guard;
use crate::arp;
use crate::backend::Backend;
use crate::nft::Notice;
use crate::output::say_err;
use crate::render_nft::TABLE;
use std::time::Instant;

/// NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6: the families of the tables vpn-firewall loads.
const INET: u8 = 1;
const IPV4: u8 = 2;
const IPV6: u8 = 10;

/// At most this many changes are named in the log line of one restoration.
const NAMED_CHANGES: usize = 4;

impl Guard {
    /// Whether the guard must look periodically: while it guards, at what the kernel sends no
    /// notices of (the iptables-legacy rules; `arp_ignore`, which any root process can lower
    /// again), and after a restoration failed.
    pub fn polls(&self) -> bool {
        self.retry || self.guarded.is_some()
    }

    pub fn on_poll(&mut self) {
        let legacy = self.guarded.as_ref().is_some_and(|g| g.backend.name() == "iptables-legacy");
        if self.retry || legacy {
            let cause = if self.retry {
                "the last restoration failed"
            } else {
                "the read-back differs from what the guard loaded (iptables-legacy reports no changes)"
            };
            self.heal(cause.into(), false, Instant::now());
        }
        self.keep_arp_protected();
    }

    /// Raises `arp_ignore` again when another process lowered it: while the rules are loaded,
    /// the LAN must not learn the tunnel's address by ARP (see `arp`). The value recorded by
    /// the first start stays, so `flush` still sets back the one found then.
    fn keep_arp_protected(&mut self) {
        if self.guarded.is_none() {
            return;
        }
        match arp::protect() {
            Ok(arp::Done::Raised(lowered)) => {
                self.arp_failing = false;
                self.restorations += 1;
                let line = format!("restored {} = 1: another process had set it to {lowered}", arp::SYSCTL);
                say_err!("vpn-firewall guard: {line}");
                self.last = Some((Instant::now(), line));
            }
            Ok(_) => self.arp_failing = false,
            Err(e) if !self.arp_failing => {
                self.arp_failing = true;
                say_err!("vpn-firewall guard: error: {e:#}");
            }
            Err(_) => {}
        }
    }

    /// Reacts to the notices read at once: one restoration for all the transactions of other
    /// processes among them (a flush of six chains is one restoration, not six).
    pub fn on_notices(&mut self, batch: &[Notice], seen: Instant) {
        if self.guarded.is_none() {
            self.pending.clear();
            return;
        }
        let nftables = self.guarded.as_ref().is_some_and(|g| matches!(g.backend, Backend::Nftables(_)));
        let mut causes = Vec::new();
        for notice in batch {
            match notice {
                Notice::Object { .. } => self.pending.push(notice.clone()),
                Notice::Lost => {
                    self.pending.clear();
                    causes.push("notices were lost (the kernel reported changes faster than they were read)".to_string());
                }
                Notice::Unheard => {
                    self.pending.clear();
                    causes.push("another process changed the ruleset while the guard loaded its own (it does not listen then)".to_string());
                }
                Notice::Generation { port, pid, process } => {
                    let objects = std::mem::take(&mut self.pending);
                    // Its own loads, made on its own socket (its pid would not tell in a PID
                    // namespace: the kernel names processes by their pid outside it).
                    if *port == self.owner.port() {
                        continue;
                    }
                    let touched: Vec<&Notice> = objects.iter().filter(|o| touches(o, nftables)).collect();
                    if touched.is_empty() {
                        continue;
                    }
                    let culprit = match (process, pid) {
                        (Some(name), Some(pid)) => format!("{name} (pid {pid})"),
                        (None, Some(pid)) => format!("pid {pid}"),
                        _ => "a process the kernel does not name".into(),
                    };
                    let cause = format!("{} by {culprit}", summary(&touched));
                    if !causes.contains(&cause) {
                        causes.push(cause);
                    }
                }
            }
        }
        if !causes.is_empty() {
            self.heal(causes.join("; "), nftables, seen);
        }
    }

    /// Loads again what differs (or, with `force`, the main layer in any case); logs and
    /// counts each restoration.
    fn heal(&mut self, cause: String, force: bool, seen: Instant) {
        let Some(g) = &self.guarded else { return };
        match layers::restore(&mut self.owner, &g.backend, &g.policy, g.hold, force) {
            Ok(Some(what)) => {
                self.retry = false;
                self.restorations += 1;
                let line = format!("restored {what} {} ms after: {cause}", seen.elapsed().as_millis());
                say_err!("vpn-firewall guard: {line}");
                self.last = Some((Instant::now(), line));
            }
            Ok(None) => self.retry = false,
            Err(e) => {
                // The owned table holds meanwhile; the next poll tries again.
                self.retry = true;
                say_err!("vpn-firewall guard: error: cannot restore the rules after {cause}: {e:#}");
            }
        }
    }
}

/// The changes of one transaction, in a few words: a deleted or added table stands for what
/// it held (the kernel reports each of its rules and sets first).
fn summary(changes: &[&Notice]) -> String {
    let tables: Vec<&Notice> = changes.iter().copied().filter(|n| n.is_table()).collect();
    let mut named: Vec<String> = Vec::new();
    for change in if tables.is_empty() { changes } else { &tables } {
        let text = change.describe();
        if !named.contains(&text) {
            named.push(text);
        }
    }
    let more = named.len().saturating_sub(NAMED_CHANGES);
    named.truncate(NAMED_CHANGES);
    let mut text = named.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more changes"));
    }
    text
}

/// Whether a change may concern the main layer: with nftables one in its table; with
/// iptables one in any IPv4 or IPv6 table (the built-in chains hold the jumps and policies).
fn touches(notice: &Notice, nftables: bool) -> bool {
    match notice {
        Notice::Object { family, table, .. } if nftables => *family == INET && table == TABLE,
        Notice::Object { family, .. } => matches!(*family, IPV4 | IPV6),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_nft::FAMILY;

    fn object(family: u8, table: &str) -> Notice {
        Notice::Object { message: 8, family, table: table.into(), name: Some("output".into()) }
    }

    #[test]
    fn only_changes_to_what_vpn_firewall_loaded_count() {
        assert!(touches(&object(INET, TABLE), true));
        assert!(!touches(&object(INET, "vpn_firewall_guard"), true), "the owned table is the guard's own");
        assert!(!touches(&object(IPV4, TABLE), true), "another family's table of the same name");
        assert!(!touches(&object(INET, "firewalld"), true));
        assert!(touches(&object(IPV4, "filter"), false), "iptables-nft's filter table holds the jumps");
        assert!(touches(&object(IPV6, "mangle"), false));
        assert!(!touches(&object(INET, "firewalld"), false));
        assert_eq!(object(INET, TABLE).describe(), format!("deleted a rule of chain output of {FAMILY} {TABLE}"));
    }

    #[test]
    fn a_deleted_table_is_named_instead_of_its_contents() {
        let table = Notice::Object { message: 2, family: INET, table: TABLE.into(), name: None };
        let rules: Vec<Notice> = (0..9).map(|_| object(INET, TABLE)).collect();
        let all: Vec<&Notice> = rules.iter().chain([&table]).collect();
        assert_eq!(summary(&all), format!("deleted table {FAMILY} {TABLE}"));
        let set = |name: &str| Notice::Object { message: 11, family: INET, table: TABLE.into(), name: Some(name.into()) };
        let sets: Vec<Notice> = (0..6).map(|i| set(&format!("s{i}"))).collect();
        let changes: Vec<&Notice> = rules.iter().chain(&sets).collect();
        assert_eq!(
            summary(&changes),
            format!(
                "deleted a rule of chain output of {FAMILY} {TABLE}, deleted set s0 of {FAMILY} {TABLE}, deleted set s1 of {FAMILY} {TABLE}, deleted set s2 of {FAMILY} {TABLE} and 3 more changes"
            )
        );
    }
}
