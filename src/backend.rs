//! The two backends behind one face, so that the commands need not know which one holds the
//! rules: nftables (`nft`, one table) and iptables (`iptables-restore`, chains of ours).

use crate::iptables::Iptables;
use crate::nft::Nft;
use crate::policy::{Loaded, Policy};
use crate::render_nft::{render_nft, table_comment};
use crate::settings::BackendChoice;
use anyhow::{Result, anyhow};

pub enum Backend {
    Nftables(Nft),
    Iptables(Iptables),
}

impl Backend {
    /// The backend a choice names; `auto` is nftables when `nft` is found, else iptables.
    pub fn choose(choice: BackendChoice) -> Result<Backend> {
        match choice {
            BackendChoice::Nftables => Nft::locate().map(Backend::Nftables),
            BackendChoice::Iptables => Iptables::locate().map(Backend::Iptables),
            BackendChoice::Auto => Nft::locate()
                .map(Backend::Nftables)
                .or_else(|nft| Iptables::locate().map(Backend::Iptables).map_err(|ipt| anyhow!("no backend found: {nft:#}; {ipt:#}"))),
        }
    }

    /// Every backend installed here, so that what is loaded is found whichever backend loaded
    /// it; and why the others cannot be used.
    pub fn installed() -> (Vec<Backend>, Vec<anyhow::Error>) {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for choice in [BackendChoice::Nftables, BackendChoice::Iptables] {
            match Backend::choose(choice) {
                Ok(b) => found.push(b),
                Err(e) => missing.push(e),
            }
        }
        (found, missing)
    }

    /// `nftables`, `iptables-nft` or `iptables-legacy`.
    pub fn name(&self) -> &str {
        match self {
            Backend::Nftables(_) => "nftables",
            Backend::Iptables(ipt) => ipt.name(),
        }
    }

    /// The kernel objects it loads, as the user finds them.
    pub fn objects(&self) -> String {
        match self {
            Backend::Nftables(nft) => nft.objects(),
            Backend::Iptables(ipt) => ipt.objects(),
        }
    }

    /// Whether both are the same kind of backend (nftables, or iptables of either variant).
    pub fn same_kind(&self, other: &Backend) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// What `show` prints: the text `start` loads.
    pub fn render(&self, policy: &Policy) -> String {
        match self {
            Backend::Nftables(_) => render_nft(policy),
            Backend::Iptables(ipt) => crate::render_iptables::render_all(policy, &ipt.ipsets(policy)),
        }
    }

    /// The label of what `policy` loads, to compare with `Loaded::label`.
    pub fn label(&self, policy: &Policy) -> String {
        match self {
            Backend::Nftables(_) => table_comment(policy),
            Backend::Iptables(ipt) => ipt.label(policy),
        }
    }

    /// Whether anything of vpn-firewall is loaded with this backend.
    pub fn exists(&self) -> Result<bool> {
        match self {
            Backend::Nftables(nft) => nft.exists(),
            Backend::Iptables(ipt) => ipt.exists(),
        }
    }

    /// Loads `policy`, replacing what this backend has loaded.
    pub fn load(&self, policy: &Policy) -> Result<()> {
        match self {
            Backend::Nftables(nft) => nft.load(policy),
            Backend::Iptables(ipt) => ipt.load(policy),
        }
    }

    /// Reads back what is loaded and compares it with what `policy` loads.
    pub fn verify(&self, policy: &Policy) -> Result<()> {
        match self {
            Backend::Nftables(nft) => nft.verify(policy),
            Backend::Iptables(ipt) => ipt.verify(policy),
        }
    }

    /// What is loaded, or `None`.
    pub fn read(&self) -> Result<Option<Loaded>> {
        match self {
            Backend::Nftables(nft) => nft.read(),
            Backend::Iptables(ipt) => ipt.read(),
        }
    }

    /// Removes everything this backend loaded; says what it did.
    pub fn flush(&self) -> Result<String> {
        match self {
            Backend::Nftables(nft) => nft.flush(),
            Backend::Iptables(ipt) => ipt.flush().map(|flushed| flushed.said(ipt.name())),
        }
    }
}
