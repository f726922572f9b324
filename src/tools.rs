//! Finding and running the system tools vpn-firewall runs (`nft`, `ip`).

use anyhow::{Context, Result, anyhow};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Where tools are looked for first: sbin is missing from ordinary users' `PATH` on Debian, and
/// from some service managers'.
const SBIN: &str = "/usr/sbin:/sbin";

/// `name` from the sbin directories, then from the absolute directories of `PATH`; the error
/// names the Debian package. A relative `PATH` entry (or an empty one, meaning the current
/// directory) could make root run whatever program of that name lies where it happens to stand.
pub fn locate(name: &str, debian_package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(SBIN)
        .chain(std::env::split_paths(&path).filter(|d| d.is_absolute()))
        .collect();
    let search = std::env::join_paths(dirs).context("PATH cannot be joined")?;
    which::which_in(name, Some(search), "/").map_err(|_| {
        anyhow!("{name} not found in {SBIN} or PATH; install the {debian_package} package (apt-get install {debian_package})")
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
