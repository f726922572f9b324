//! Finding and running the system tools vpn-firewall runs (`nft`, `ip`).

use anyhow::{Context, Result, anyhow};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Where tools are looked for besides `PATH`: sbin is missing from ordinary users' `PATH` on
/// Debian, and from some service managers'.
const SBIN: &str = "/usr/sbin:/sbin";

/// `name` from `PATH`, then from the sbin directories; the error names the Debian package.
pub fn locate(name: &str, debian_package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(std::env::split_paths(SBIN));
    let search = std::env::join_paths(dirs).context("PATH cannot be joined")?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    which::which_in(name, Some(search), cwd).map_err(|_| {
        anyhow!("{name} not found in PATH or {SBIN}; install the {debian_package} package (apt-get install {debian_package})")
    })
}

/// Runs `cmd` to the end with `stdin` on its standard input and returns what it printed. A
/// command that ends without reading all of its input is no error here: its exit status tells.
pub fn output_with_input(cmd: &mut Command, stdin: &str) -> Result<Output> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    let _ = child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes());
    child.wait_with_output().with_context(|| format!("{what} did not finish"))
}
