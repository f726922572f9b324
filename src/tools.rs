//! Finding and running the programs the backends drive (`nft`, `iptables-restore`, `ipset`).

use anyhow::{Context, Result, anyhow, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where programs are looked for first: sbin is missing from ordinary users' `PATH` on Debian,
/// and from some service managers'.
const SBIN: &str = "/usr/sbin:/sbin";

/// Finds `program` in the sbin directories, then in the absolute directories of `PATH`: a
/// relative `PATH` entry (or an empty one, meaning the current directory) could make root run
/// whatever program of that name lies where it happens to stand.
pub fn locate(program: &str, debian_package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(SBIN)
        .chain(std::env::split_paths(&path).filter(|d| d.is_absolute()))
        .collect();
    let search = std::env::join_paths(dirs).context("PATH cannot be joined")?;
    which::which_in(program, Some(search), "/").map_err(|_| {
        anyhow!("{program} not found in {SBIN} or PATH; install the {debian_package} package (apt-get install {debian_package})")
    })
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
