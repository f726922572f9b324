//! The Debian package as the tests get it (build.rs), the chroots they install it in
//! (chroot.rs), and helpers to look into .deb files.

pub mod build;
pub mod chroot;

use crate::sandbox::tool;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Where the tests keep what they build: cargo's directory for integration tests' data.
pub fn scratch() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// Runs `cmd` with no input; its standard output, or everything it said when it failed.
pub fn succeed(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).into_owned()) } else { Err(describe(&format!("{cmd:?}"), &out)) }
}

/// What a finished command did, for a failure message.
pub fn describe(what: &str, out: &Output) -> String {
    format!("$ {what}\n{}\n--- stdout\n{}--- stderr\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `dpkg-deb ARGS`, which must succeed.
pub fn dpkg_deb(args: &[&std::ffi::OsStr]) -> String {
    succeed(Command::new(tool("dpkg-deb", "dpkg")).args(args)).unwrap_or_else(|e| panic!("{e}"))
}

/// One entry of `dpkg-deb --contents`: its mode string, owner and path (without the leading
/// dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: String,
    pub owner: String,
    pub path: String,
}

pub fn contents(deb: &Path) -> Vec<Entry> {
    dpkg_deb(&["--contents".as_ref(), deb.as_os_str()])
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 6, "unexpected dpkg-deb --contents line {line:?}");
            Entry { mode: fields[0].to_string(), owner: fields[1].to_string(), path: fields[5].trim_start_matches('.').trim_end_matches('/').to_string() }
        })
        .collect()
}
