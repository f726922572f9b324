//! Finding and running the system tools vpn-firewall runs (`nft`, `iptables-restore`, `ipset`,
//! `ip`).

use anyhow::{Context, Result, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where tools are looked for first: sbin is missing from ordinary users' `PATH` on Debian, and
/// from some service managers'.
const SBIN: &str = "/usr/sbin:/sbin";

/// `name` from the sbin directories, then from the absolute directories of `PATH`; the error
/// names the Debian package. A relative `PATH` entry (or an empty one, meaning the current
/// directory) could make root run whatever program of that name lies where it happens to stand.
pub fn locate(name: &str, debian_package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(SBIN).chain(std::env::split_paths(&path).filter(|d| d.is_absolute())).collect();
    let search = std::env::join_paths(dirs).context("PATH cannot be joined")?;
    which::which_in(name, Some(search), "/")
        .map_err(|_| anyhow!("{name} not found in {SBIN} or PATH; install the {debian_package} package (apt-get install {debian_package})"))
}

/// Runs `program` with `args`, feeding it `stdin`; its standard output, or an error with the
/// first lines of what it said on stderr.
pub fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let name = program.file_name().map_or_else(|| program.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes()).with_context(|| format!("cannot write the ruleset to {name}"))?;
    }
    let out = child.wait_with_output().with_context(|| format!("{name} did not finish"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).take(2).collect();
        let hint = if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") { " (are you root?)" } else { "" };
        bail!("{name} {} failed{hint}: {}", args.join(" "), first.join(" | "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` to the end with `stdin` on its standard input and returns what it printed. A
/// command that ends without reading all of its input is no error here: its exit status tells.
pub fn output_with_input(cmd: &mut Command, stdin: &str) -> Result<Output> {
    let what = format!("{cmd:?}");
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("cannot run {what}"))?;
    let _ = child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes());
    child.wait_with_output().with_context(|| format!("{what} did not finish"))
}
