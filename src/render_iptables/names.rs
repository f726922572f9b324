//! The names of our tables, chains and jumps, which the kernel side (`crate::iptables`) also
//! uses to find and remove what is loaded.

use crate::policy::{Family, Hook, NatHook};

/// The start of the name of every chain (and ipset) of ours.
pub const PREFIX: &str = "VPN_FIREWALL_";

/// Never jumped to: its rules' comments say what was loaded, and the built-in policies before.
pub const INFO: &str = "VPN_FIREWALL_INFO";

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

/// The table and built-in chain in which a hook's rules run.
pub fn builtin(hook: Hook) -> (Table, &'static str) {
    match hook {
        Hook::Input => (Table::Filter, "INPUT"),
        Hook::Output => (Table::Filter, "OUTPUT"),
        Hook::Forward => (Table::Filter, "FORWARD"),
        Hook::Postrouting => (Table::Mangle, "POSTROUTING"),
    }
}

/// The hooks whose rules run in `table`.
pub(super) fn hooks_in(table: Table) -> impl Iterator<Item = Hook> {
    Hook::ALL.into_iter().filter(move |h| builtin(*h).0 == table)
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

/// The start of the names of the helper chains of a hook's rules.
pub(super) fn helper_prefix(hook: Hook) -> String {
    format!("{PREFIX}{}_", short_name(hook).to_ascii_uppercase())
}

/// The hook's name in block chains and log prefixes: iptables allows 28 characters in a chain
/// name and 29 in a log prefix, too few for `VPN_FIREWALL_BLOCK_POSTROUTING` and
/// `vpn-firewall: blocked postrouting: `.
pub(super) fn short_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Input => "in",
        Hook::Output => "out",
        Hook::Forward => "fwd",
        Hook::Postrouting => "post",
    }
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

/// The start of the names of the helper chains of a NAT hook's rules.
pub(super) fn nat_helper_prefix(hook: NatHook) -> String {
    format!("{PREFIX}{}_", nat_short_name(hook))
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

/// `IPv4` or `IPv6`, in what the kernel side reports.
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}
