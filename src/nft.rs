//! The nftables backend's kernel side: load a rendered transaction with `nft -f -`, and read
//! the table back from the kernel (over netlink, see `netlink`, which sends read requests only).
//! The only module that changes the kernel's rules. `nfnetlink` is the netfilter netlink socket
//! the read-back (and the guard) builds on: numbered requests whose replies are checked, dumps,
//! change notifications.

mod netlink;
pub mod nfnetlink;
mod notices;

pub use netlink::generation;
pub use notices::{Notice, Subscription};

use crate::policy::{Hook, Loaded, Policy, SetId};
use crate::render_netlink::TABLE_F_PERSIST;
use crate::render_nft::{FAMILY, Layer, TABLE, layer_comment, nat_chain, render_flush, render_nft, render_nft_over_loaded};
use crate::tools;
use anyhow::{Result, anyhow, bail};
use std::path::PathBuf;

pub struct Nft {
    path: PathBuf,
}

/// The vpn-firewall table as the kernel has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadedTable {
    pub comment: Option<String>,
    pub ownership: Ownership,
    pub chains: Vec<Chain>,
    /// Name and number of elements.
    pub sets: Vec<(String, usize)>,
    /// Name and packets.
    pub counters: Vec<(String, u64)>,
}

/// A chain of the table as the kernel has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Chain {
    pub name: String,
    /// Base chains only.
    pub hook: Option<String>,
    /// Base chains only: `drop` or `accept`.
    pub policy: Option<String>,
    pub rules: usize,
}

impl Chain {
    fn base(name: String, hook: &str, policy: &str, rules: usize) -> Chain {
        Chain { name, hook: Some(hook.into()), policy: Some(policy.into()), rules }
    }
}

/// A table's flags as to who may change it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ownership {
    /// `TABLE_F_OWNER`, `TABLE_F_PERSIST`.
    pub flags: u32,
    /// While a socket owns the table: that socket's port id.
    pub owner: Option<u32>,
}

impl Ownership {
    /// A persistent table whose owner has gone: anyone may delete it, but no transaction may
    /// add it without the flag (the kernel refuses to change it), as nft's text does first.
    pub fn orphaned(self) -> bool {
        self.flags & TABLE_F_PERSIST != 0 && self.owner.is_none()
    }

    /// Whether the netlink socket with port id `port` owns the table.
    pub fn owned_by(self, port: u32) -> bool {
        self.owner == Some(port)
    }
}

impl LoadedTable {
    pub fn packets(&self, counter: &str) -> Option<u64> {
        self.counters.iter().find(|(n, _)| n == counter).map(|(_, p)| *p)
    }

    /// The packets each hook's counter (`blocked_HOOK`) counted, `None` for one missing.
    pub fn blocked(&self) -> Vec<(Hook, Option<u64>)> {
        Hook::ALL.iter().map(|h| (*h, self.packets(&format!("blocked_{}", h.name())))).collect()
    }
}

impl Nft {
    /// Finds `nft` (see `tools::locate`).
    pub fn locate() -> Result<Nft> {
        tools::locate("nft", "nftables").map(|path| Nft { path })
    }

    /// The kernel objects it loads, as the user finds them.
    pub fn objects(&self) -> String {
        format!("table {FAMILY} {TABLE}")
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        tools::run(&self.path, args, stdin)
    }

    /// Loads a transaction; the kernel applies all of it or none of it.
    fn load_text(&self, text: &str) -> Result<()> {
        self.run(&["-f", "-"], Some(text)).map(drop)
    }

    /// Loads `policy`, replacing the table in one transaction. A table a guard left (owned and
    /// persistent until it ended) refuses the text's first line: then it is deleted and loaded
    /// anew without it, still in one transaction.
    pub fn load(&self, policy: &Policy) -> Result<()> {
        let refused = match self.load_text(&render_nft(policy)) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        match netlink::inet_table_ownership(TABLE) {
            Ok(Some(ownership)) if ownership.orphaned() => self.load_text(&render_nft_over_loaded(policy)),
            _ => Err(refused),
        }
    }

    /// Reads the table back and compares it with what `policy` loads.
    pub fn verify(&self, policy: &Policy) -> Result<()> {
        let table = self.table()?.ok_or_else(|| anyhow!("table {FAMILY} {TABLE} is missing right after loading it"))?;
        compare(&table, policy, Layer::Main)
    }

    /// What is loaded, or `None`.
    pub fn read(&self) -> Result<Option<Loaded>> {
        Ok(self.table()?.map(|table| Loaded { blocked: table.blocked(), label: table.comment, warnings: Vec::new() }))
    }

    /// Deletes the table; says what it did.
    pub fn flush(&self) -> Result<String> {
        self.load_text(&render_flush())?;
        if self.exists()? {
            bail!("table {FAMILY} {TABLE} is still loaded after deleting it");
        }
        Ok(format!("removed table {FAMILY} {TABLE}"))
    }

    /// Whether the vpn-firewall table is loaded.
    pub fn exists(&self) -> Result<bool> {
        netlink::inet_table_exists(TABLE)
    }

    /// The vpn-firewall table as the kernel has it, or `None` when none is loaded.
    pub fn table(&self) -> Result<Option<LoadedTable>> {
        read_table(Layer::Main)
    }
}

/// Either table as the kernel has it, or `None` when it is not loaded. Needs no `nft`.
pub fn read_table(layer: Layer) -> Result<Option<LoadedTable>> {
    netlink::read_inet_table(layer.table())
}

/// Whether either table is loaded, and who may change it: one request, not a whole read.
pub fn table_ownership_on(socket: &mut nfnetlink::Socket, layer: Layer) -> Result<Option<Ownership>> {
    netlink::inet_table_ownership_on(socket, layer.table())
}

/// `read_table` on a socket of the caller's (the guard's, which stays open: see `guard`).
pub fn read_table_on(socket: &mut nfnetlink::Socket, layer: Layer) -> Result<Option<LoadedTable>> {
    netlink::read_inet_table_on(socket, layer.table())
}

/// The table a policy should produce, in the shape `table()` reads back.
fn expected_table(policy: &Policy, layer: Layer) -> LoadedTable {
    let mut t = LoadedTable { comment: Some(layer_comment(policy, layer)), ..Default::default() };
    for hook in Hook::ALL {
        let rules = policy.rules(hook).len() + 1;
        t.chains.push(Chain::base(hook.name().into(), hook.name(), "drop", rules));
    }
    for hook in policy.nat.hooks().filter(|_| layer == Layer::Main) {
        t.chains.push(Chain::base(nat_chain(hook), hook.name(), "accept", policy.nat.rules(hook).len()));
    }
    for hook in Hook::ALL {
        let rules = 2 + usize::from(policy.blocking.log.is_some());
        t.chains.push(Chain { name: format!("block_{}", hook.name()), hook: None, policy: None, rules });
    }
    for id in [SetId::Lan4, SetId::Lan6, SetId::Servers4, SetId::Servers6] {
        if policy.sets.len(id) > 0 {
            t.sets.push((id.name().into(), policy.sets.len(id)));
        }
    }
    for hook in Hook::ALL {
        t.counters.push((format!("blocked_{}", hook.name()), 0));
    }
    t
}

/// Compares what the kernel has with what was sent; counters are compared by name only.
/// Either table: the guard's has no NAT chains.
pub fn compare(loaded: &LoadedTable, policy: &Policy, layer: Layer) -> Result<()> {
    let expected = expected_table(policy, layer);
    let sorted = |t: &LoadedTable| {
        let mut t = t.clone();
        t.chains.sort();
        t.sets.sort();
        t.counters = t.counters.iter().map(|(n, _)| (n.clone(), 0)).collect();
        t.counters.sort();
        t
    };
    let (got, want) = (sorted(loaded), sorted(&expected));
    let mut differences = Vec::new();
    if got.comment != want.comment {
        differences.push(format!("comment {:?} instead of {:?}", got.comment, want.comment));
    }
    if got.chains != want.chains {
        differences.push(format!("chains {:?} instead of {:?}", got.chains, want.chains));
    }
    if got.sets != want.sets {
        differences.push(format!("sets {:?} instead of {:?}", got.sets, want.sets));
    }
    if got.counters != want.counters {
        differences.push(format!("counters {:?} instead of {:?}", got.counters, want.counters));
    }
    if !differences.is_empty() {
        bail!("the loaded table {FAMILY} {} is not what was sent: {}", layer.table(), differences.join("; "));
    }
    Ok(())
}
