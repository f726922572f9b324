//! ipset, for long lists: fill the sets the rules match, count their entries, destroy ours.

use crate::render_iptables::PREFIX;
use crate::tools;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The `ipset` program.
pub struct IpsetProgram {
    path: PathBuf,
}

impl IpsetProgram {
    /// `ipset`, when it is installed: without it long lists become rules.
    pub fn locate() -> Option<IpsetProgram> {
        tools::locate("ipset", "ipset").ok().map(|path| IpsetProgram { path })
    }

    /// The names of vpn-firewall's sets.
    pub fn ours(&self) -> Result<Vec<String>> {
        let names = tools::run(&self.path, &["list", "-n"], None)?;
        Ok(names.lines().filter(|n| n.starts_with(PREFIX)).map(str::to_string).collect())
    }

    /// Runs `ipset restore` on `text`; it stops at the first command that fails.
    pub fn restore(&self, text: &str) -> Result<()> {
        tools::run(&self.path, &["restore"], Some(text)).map(drop)
    }

    /// The number of entries of the set `name`.
    pub fn entries(&self, name: &str) -> Result<usize> {
        let header = tools::run(&self.path, &["list", "-t", name], None)?;
        header
            .lines()
            .find_map(|l| l.strip_prefix("Number of entries:"))
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("ipset list -t {name} does not say its number of entries"))
    }

    pub fn destroy(&self, name: &str) -> Result<()> {
        tools::run(&self.path, &["destroy", name], None).map(drop)
    }
}
