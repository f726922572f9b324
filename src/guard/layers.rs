//! What the guard keeps loaded, in one of two ways (see `Hold`). With nftables on Linux 6.9 or
//! later, the main table itself, inet vpn_firewall, owned by the guard's netlink socket and
//! persistent: no other process may delete or change it, and when the guard ends the kernel
//! keeps it, unowned, just as `start` without a guard loads it. Otherwise two layers: the main
//! one, which `start` loads without a guard too (table inet vpn_firewall, or the iptables
//! chains), and the guard's own table inet vpn_firewall_guard, owned by its socket (see
//! `owner`). A packet must pass both: a flush by another process leaves the owned table, and a
//! killed guard leaves the main layer.

use super::owner::Owner;
use crate::backend::Backend;
use crate::nft::compare;
use crate::policy::{Kind, Policy};
use crate::render_netlink::{Change, Replace, TABLE_F_OWNER, TABLE_F_PERSIST, TableLoad, render_delete, render_tables};
use crate::render_nft::{FAMILY, GUARD_TABLE, Layer, TABLE};
use anyhow::{Context as _, Result, anyhow, bail};

/// How the guard makes the policy outlast other processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The main table, owned by the guard and persistent. One table: a packet is checked once.
    OwnedMain,
    /// The main layer, which any root process may change (and the guard restores), and a
    /// second table owned by the guard: with iptables, where the kernel cannot keep an owned
    /// table (before 6.9), or with `guard --second-table`.
    SecondTable,
}

impl Hold {
    /// How the guard holds what `backend` loads, when the kernel can keep owned tables
    /// (`persist`).
    pub fn of(backend: &Backend, persist: bool) -> Hold {
        if persist && matches!(backend, Backend::Nftables(_)) { Hold::OwnedMain } else { Hold::SecondTable }
    }

    /// The table the guard owns.
    pub fn owned(self) -> Layer {
        match self {
            Hold::OwnedMain => Layer::Main,
            Hold::SecondTable => Layer::Guard,
        }
    }

    /// What it loads, as the user finds it: the owned table last.
    pub fn objects(self, backend: &Backend) -> String {
        match self {
            Hold::OwnedMain => format!("table {FAMILY} {TABLE}"),
            Hold::SecondTable => format!("{} and table {FAMILY} {GUARD_TABLE}", backend.objects()),
        }
    }

    /// What stays loaded when the guard ends.
    pub fn left_behind(self, backend: &Backend) -> String {
        match self {
            Hold::OwnedMain => format!("table {FAMILY} {TABLE} stays, no longer owned"),
            Hold::SecondTable => format!("{} stays, the guard's own table goes with it", backend.objects()),
        }
    }
}

/// What a load left in force.
pub enum Outcome {
    /// The policy, read back.
    Loaded,
    /// The kernel refused it and what was loaded before stays as it was.
    Refused(anyhow::Error),
    /// It could not be loaded or read back, and the lockdown ruleset was loaded instead.
    LockedDown(anyhow::Error),
    /// Neither it nor the lockdown ruleset could be loaded.
    Failed(anyhow::Error),
}

/// Loads `policy` as `hold` holds it. As `start` does, a load must not leave the machine
/// open: when the kernel refuses it and nothing was loaded before (`nothing_before`), or when
/// what was loaded is not what was sent, the lockdown ruleset is loaded instead.
pub fn apply(owner: &mut Owner, backend: &Backend, policy: &Policy, hold: Hold, nothing_before: bool) -> Outcome {
    let error = match load(owner, backend, policy, hold) {
        Err(e) if !nothing_before => return Outcome::Refused(e),
        Err(e) => e,
        Ok(()) => match verify(owner, backend, policy, hold) {
            Ok(()) => return Outcome::Loaded,
            Err(e) => e,
        },
    };
    if policy.kind == Kind::Lockdown {
        return Outcome::Failed(error);
    }
    match load(owner, backend, &Policy::lockdown(), hold) {
        Ok(()) => Outcome::LockedDown(error),
        Err(l) => Outcome::Failed(error.context(format!("the lockdown ruleset could not be loaded either: {l:#}"))),
    }
}

/// How often a batch is sent again when what it replaces changed between looking and sending.
const ATTEMPTS: usize = 3;

/// Loads what `hold` holds; with nftables in one transaction.
fn load(owner: &mut Owner, backend: &Backend, policy: &Policy, hold: Hold) -> Result<()> {
    if let Backend::Iptables(ipt) = backend {
        ipt.load(policy)?;
    }
    load_tables(owner, policy, hold, backend, tables(hold, backend))
}

/// The nftables tables `hold` keeps loaded with `backend`.
fn tables(hold: Hold, backend: &Backend) -> &'static [Layer] {
    match (hold, backend) {
        (Hold::OwnedMain, _) => &[Layer::Main],
        (Hold::SecondTable, Backend::Nftables(_)) => &[Layer::Main, Layer::Guard],
        (Hold::SecondTable, Backend::Iptables(_)) => &[Layer::Guard],
    }
}

/// Loads `layers` with the flags `hold` gives them; a table of ours that the guard owns and
/// `hold` has no place for (the other way's, after a switch of backends) is deleted with them.
/// The kernel refuses to change a loaded table's flags, so each one loaded is deleted first;
/// what is loaded is looked at before, and again when the batch was refused.
fn load_tables(owner: &mut Owner, policy: &Policy, hold: Hold, backend: &Backend, layers: &[Layer]) -> Result<()> {
    let mut last: Option<(Vec<Change>, anyhow::Error)> = None;
    for _ in 0..ATTEMPTS {
        let mut batch = Vec::new();
        for layer in [Layer::Main, Layer::Guard] {
            let ownership = owner.ownership(layer)?;
            let loaded = ownership.is_some();
            if layers.contains(&layer) {
                let flags = match (hold, layer) {
                    (Hold::OwnedMain, _) => TABLE_F_OWNER | TABLE_F_PERSIST,
                    (Hold::SecondTable, Layer::Guard) => TABLE_F_OWNER,
                    (Hold::SecondTable, Layer::Main) => 0,
                };
                let replace = if loaded { Replace::Loaded } else { Replace::NoneLoaded };
                batch.extend(render_tables(policy, &[TableLoad { layer, flags, replace }]));
            } else if ownership.is_some_and(|o| o.owned_by(owner.port())) && !tables(hold, backend).contains(&layer) {
                batch.extend(render_delete(layer));
            }
        }
        match last {
            // What is loaded is as it was: the same refusal again.
            Some((before, e)) if before == batch => return Err(e),
            _ => {}
        }
        match owner.apply(&batch) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some((batch, e)),
        }
    }
    Err(last.map(|(_, e)| e).unwrap_or_else(|| anyhow!("nothing was sent")))
}

/// Reads back what `hold` holds and compares it with `policy`; the tables on the guard's
/// socket.
fn verify(owner: &mut Owner, backend: &Backend, policy: &Policy, hold: Hold) -> Result<()> {
    verify_main(owner, backend, policy, hold)?;
    verify_owned(owner, policy, hold)
}

fn verify_main(owner: &mut Owner, backend: &Backend, policy: &Policy, hold: Hold) -> Result<()> {
    match backend {
        Backend::Nftables(nft) => {
            let table = owner.read(Layer::Main)?.ok_or_else(|| anyhow!("{} is missing right after loading it", nft.objects()))?;
            compare(&table, policy, Layer::Main)?;
            if hold == Hold::OwnedMain && (!table.ownership.owned_by(owner.port()) || table.ownership.flags & TABLE_F_PERSIST == 0) {
                bail!("table {FAMILY} {TABLE} is not owned by the guard and persistent: {:?}", table.ownership);
            }
            Ok(())
        }
        Backend::Iptables(_) => backend.verify(policy),
    }
}

fn verify_owned(owner: &mut Owner, policy: &Policy, hold: Hold) -> Result<()> {
    if hold == Hold::OwnedMain {
        // The main table, read back by `verify_main`.
        return Ok(());
    }
    let table = owner.read(Layer::Guard)?.ok_or_else(|| anyhow!("table {FAMILY} {GUARD_TABLE} is missing"))?;
    compare(&table, policy, Layer::Guard)
}

/// Loads again what differs from `policy`: the main layer when its read-back differs, or
/// always with `force_main` (another process changed it, in a way a read-back of rule counts
/// may not show, such as a replaced rule); the owned table when it differs. Says what it
/// loaded, or `None` when all was intact. A main table the guard owns no other process can
/// change: it is only read back.
pub fn restore(owner: &mut Owner, backend: &Backend, policy: &Policy, hold: Hold, force_main: bool) -> Result<Option<String>> {
    let force_main = force_main && hold == Hold::SecondTable;
    let mut restored = Vec::new();
    if force_main || verify_main(owner, backend, policy, hold).is_err() {
        match backend {
            Backend::Nftables(_) => load_tables(owner, policy, hold, backend, &[Layer::Main])?,
            Backend::Iptables(ipt) => ipt.load(policy)?,
        }
        verify_main(owner, backend, policy, hold).context("read back after restoring it")?;
        restored.push(backend.objects());
    }
    if verify_owned(owner, policy, hold).is_err() {
        load_tables(owner, policy, hold, backend, &[Layer::Guard])?;
        verify_owned(owner, policy, hold)?;
        restored.push(format!("table {FAMILY} {GUARD_TABLE}"));
    }
    Ok((!restored.is_empty()).then(|| restored.join(" and ")))
}

/// Removes the tables the guard owns (only it can) and the main layer, whichever backend
/// loaded it; says what it did.
pub fn remove(owner: &mut Owner) -> Result<Vec<String>> {
    let mut said = Vec::new();
    for layer in [Layer::Guard, Layer::Main] {
        if owner.owns(layer)? {
            owner.apply(&render_delete(layer))?;
            said.push(format!("removed table {FAMILY} {}", layer.table()));
        }
    }
    let (installed, _) = Backend::installed();
    for backend in installed {
        if !backend.exists()? {
            continue;
        }
        said.push(backend.flush()?);
    }
    Ok(said)
}
