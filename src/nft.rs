//! The nftables backend's kernel side: load a rendered transaction with `nft -f -`, and read
//! the table back from the kernel (over netlink, see `netlink`). The only module that changes
//! the kernel's rules.

mod netlink;

pub use netlink::{Notice, Subscription};

use crate::policy::{Hook, Policy, SetId};
use crate::render_nft::{FAMILY, Layer, TABLE, layer_comment, nat_chain};
use crate::tools;
use anyhow::{Result, bail};
use std::path::PathBuf;

pub struct Nft {
    path: PathBuf,
}

/// The vpn-firewall table as the kernel has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadedTable {
    pub comment: Option<String>,
    /// Name, hook (base chains only), policy (base chains only), number of rules.
    pub chains: Vec<(String, Option<String>, Option<String>, usize)>,
    /// Name and number of elements.
    pub sets: Vec<(String, usize)>,
    /// Name and packets.
    pub counters: Vec<(String, u64)>,
}

impl LoadedTable {
    pub fn is_lockdown(&self) -> bool {
        self.comment.as_deref().is_some_and(|c| c.starts_with("vpn-firewall lockdown"))
    }

    pub fn packets(&self, counter: &str) -> Option<u64> {
        self.counters.iter().find(|(n, _)| n == counter).map(|(_, p)| *p)
    }
}

impl Nft {
    /// Finds `nft` (see `tools::locate`).
    pub fn locate() -> Result<Nft> {
        tools::locate("nft", "nftables").map(|path| Nft { path })
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        tools::run(&self.path, args, stdin)
    }

    /// Loads a transaction; the kernel applies all of it or none of it.
    pub fn load(&self, text: &str) -> Result<()> {
        self.run(&["-f", "-"], Some(text)).map(drop)
    }

    /// Asks nft whether it would accept a transaction, without loading anything.
    pub fn check(&self, text: &str) -> Result<()> {
        self.run(&["-c", "-f", "-"], Some(text)).map(drop)
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

/// The table a policy should produce, in the shape `table()` reads back.
pub fn expected_table(policy: &Policy) -> LoadedTable {
    expected_layer(policy, Layer::Main)
}

/// Either table as a policy should produce it.
fn expected_layer(policy: &Policy, layer: Layer) -> LoadedTable {
    let mut t = LoadedTable { comment: Some(layer_comment(policy, layer)), ..Default::default() };
    for hook in Hook::ALL {
        let rules = policy.rules(hook).len() + 1;
        t.chains.push((hook.name().into(), Some(hook.name().into()), Some("drop".into()), rules));
    }
    for hook in policy.nat.hooks().filter(|_| layer == Layer::Main) {
        t.chains.push((nat_chain(hook), Some(hook.name().into()), Some("accept".into()), policy.nat.rules(hook).len()));
    }
    for hook in Hook::ALL {
        let rules = 2 + usize::from(policy.blocking.log.is_some());
        t.chains.push((format!("block_{}", hook.name()), None, None, rules));
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
pub fn verify(loaded: &LoadedTable, policy: &Policy) -> Result<()> {
    verify_layer(loaded, policy, Layer::Main)
}

/// `verify` for either table.
pub fn verify_layer(loaded: &LoadedTable, policy: &Policy, layer: Layer) -> Result<()> {
    let expected = expected_layer(policy, layer);
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
