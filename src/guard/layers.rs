//! The two layers the guard keeps loaded: the main one, which `start` loads without a guard too
//! (table inet vpn_firewall, or the iptables chains), and the guard's own table inet
//! vpn_firewall_guard, owned by the guard's netlink socket (see `owner`). A packet must pass both: a
//! flush by another process leaves the owned table, and a killed guard leaves the main layer.

use super::owner::Owner;
use crate::backend::Backend;
use crate::nft::compare;
use crate::policy::{Kind, Policy};
use crate::render_netlink::{render_delete, render_layers};
use crate::render_nft::{FAMILY, GUARD_TABLE, Layer};
use anyhow::{Context as _, Result, anyhow};

/// What a load left in force.
pub enum Outcome {
    /// The policy, both layers read back.
    Loaded,
    /// The kernel refused it and what was loaded before stays as it was.
    Refused(anyhow::Error),
    /// It could not be loaded or read back, and the lockdown ruleset was loaded instead.
    LockedDown(anyhow::Error),
    /// Neither it nor the lockdown ruleset could be loaded.
    Failed(anyhow::Error),
}

/// Loads both layers of `policy`. As `start` does, a load must not leave the machine open: when
/// the kernel refuses it and nothing was loaded before (`nothing_before`), or when what was
/// loaded is not what was sent, the lockdown ruleset is loaded instead.
pub fn apply(owner: &mut Owner, backend: &Backend, policy: &Policy, nothing_before: bool) -> Outcome {
    let error = match load(owner, backend, policy) {
        Err(e) if !nothing_before => return Outcome::Refused(e),
        Err(e) => e,
        Ok(()) => match verify(owner, backend, policy) {
            Ok(()) => return Outcome::Loaded,
            Err(e) => e,
        },
    };
    if policy.kind == Kind::Lockdown {
        return Outcome::Failed(error);
    }
    match load(owner, backend, &Policy::lockdown()) {
        Ok(()) => Outcome::LockedDown(error),
        Err(l) => Outcome::Failed(error.context(format!("the lockdown ruleset could not be loaded either: {l:#}"))),
    }
}

/// Loads both layers; with nftables in one transaction.
fn load(owner: &mut Owner, backend: &Backend, policy: &Policy) -> Result<()> {
    match backend {
        Backend::Nftables(_) => owner.apply(&render_layers(policy, &[Layer::Main, Layer::Guard])),
        Backend::Iptables(ipt) => {
            ipt.load(policy)?;
            owner.apply(&render_layers(policy, &[Layer::Guard]))
        }
    }
}

/// Reads both layers back and compares them with `policy`; the tables on the guard's socket.
fn verify(owner: &mut Owner, backend: &Backend, policy: &Policy) -> Result<()> {
    verify_main(owner, backend, policy)?;
    verify_owned(owner, policy)
}

fn verify_main(owner: &mut Owner, backend: &Backend, policy: &Policy) -> Result<()> {
    match backend {
        Backend::Nftables(nft) => {
            let table = owner.read(Layer::Main)?.ok_or_else(|| anyhow!("{} is missing right after loading it", nft.objects()))?;
            compare(&table, policy, Layer::Main)
        }
        Backend::Iptables(_) => backend.verify(policy),
    }
}

fn verify_owned(owner: &mut Owner, policy: &Policy) -> Result<()> {
    let table = owner.read(Layer::Guard)?.ok_or_else(|| anyhow!("table {FAMILY} {GUARD_TABLE} is missing"))?;
    compare(&table, policy, Layer::Guard)
}

/// Loads again what differs from `policy`: the main layer when its read-back differs, or
/// always with `force_main` (another process changed it, in a way a read-back of rule counts
/// may not show, such as a replaced rule); the owned table when it differs. Says what it
/// loaded, or `None` when both were intact.
pub fn restore(owner: &mut Owner, backend: &Backend, policy: &Policy, force_main: bool) -> Result<Option<String>> {
    let mut restored = Vec::new();
    if force_main || verify_main(owner, backend, policy).is_err() {
        match backend {
            Backend::Nftables(_) => owner.apply(&render_layers(policy, &[Layer::Main]))?,
            Backend::Iptables(ipt) => ipt.load(policy)?,
        }
        verify_main(owner, backend, policy).context("read back after restoring it")?;
        restored.push(backend.objects());
    }
    if verify_owned(owner, policy).is_err() {
        owner.apply(&render_layers(policy, &[Layer::Guard]))?;
        verify_owned(owner, policy)?;
        restored.push(format!("table {FAMILY} {GUARD_TABLE}"));
    }
    Ok((!restored.is_empty()).then(|| restored.join(" and ")))
}

/// Whether the owned table is loaded.
fn owned_present(owner: &mut Owner) -> Result<bool> {
    Ok(owner.read(Layer::Guard)?.is_some())
}

/// Removes the owned table (only its owner can) and the main layer, whichever backend loaded
/// it; says what it did.
pub fn remove(owner: &mut Owner) -> Result<Vec<String>> {
    let mut said = Vec::new();
    if owned_present(owner)? {
        owner.apply(&render_delete(Layer::Guard))?;
        said.push(format!("removed table {FAMILY} {GUARD_TABLE}"));
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
