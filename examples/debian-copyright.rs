//! Writes debian/copyright (the machine-readable format) to standard output: vpn-firewall's own
//! files under GPL-3+, then one paragraph for each crate locked in Cargo.lock, as
//! "debian/rules vendor" puts it in vendor/NAME-VERSION/, with the authors and the licence its
//! Cargo.toml declares, then the text of every licence named (from debian/copyright-licenses):
//!
//!     cargo run --locked --example debian-copyright > debian/copyright
//!
//! A crate under a licence that debian/copyright-licenses does not hold is an error: only
//! licences checked for compatibility with GPL-3+ are there. tests/package.rs checks that the
//! committed debian/copyright is what this writes.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

const LICENSES: &str = include_str!("../debian/copyright-licenses");

const HEADER: &str = "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vpn-firewall
Comment: Written by examples/debian-copyright.rs from Cargo.lock (run
 \"cargo run --locked --example debian-copyright > debian/copyright\" after
 changing it). The binary is linked from the crates of Cargo.lock, which
 \"debian/rules vendor\" puts in vendor/; each is listed with the licence its
 Cargo.toml declares.

Files: *
Copyright: 2026 the vpn-firewall developers
License: GPL-3+
";

fn main() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    print!("{}", copyright(&metadata)?);
    Ok(())
}

fn copyright(metadata: &Value) -> Result<String> {
    let mut crates: Vec<(String, String, String, String)> = Vec::new();
    for package in metadata["packages"].as_array().context("no packages in cargo metadata")? {
        let text = |key: &str| package[key].as_str().unwrap_or_default().to_string();
        let (name, version) = (text("name"), text("version"));
        if name == env!("CARGO_PKG_NAME") {
            continue;
        }
        let spdx = text("license");
        let license = dep5_license(&spdx).with_context(|| format!("crate {name} {version}: license {spdx:?}"))?;
        let authors: Vec<&str> = package["authors"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let holders = if authors.is_empty() { format!("the {name} authors") } else { authors.join("\n ") };
        crates.push((name, version, holders, license));
    }
    crates.sort();

    let mut out = String::from(HEADER);
    let mut named = BTreeSet::from(["GPL-3+".to_string()]);
    for (name, version, holders, license) in &crates {
        out.push_str(&format!("\nFiles: vendor/{name}-{version}/*\nCopyright: {holders}\nLicense: {license}\n"));
        named.extend(license.split([' ', ',']).filter(|w| !w.is_empty() && *w != "or" && *w != "and").map(str::to_string));
    }
    for name in &named {
        let text = license_text(name).with_context(|| {
            format!("no paragraph \"License: {name}\" in debian/copyright-licenses: check that {name} is compatible with GPL-3+, then add its text")
        })?;
        out.push_str(&format!("\nLicense: {name}\n{text}"));
    }
    Ok(out)
}

/// The text of `name`'s paragraph in debian/copyright-licenses, each line with its leading space.
fn license_text(name: &str) -> Option<&'static str> {
    let start = LICENSES.find(&format!("\nLicense: {name}\n"))? + "\nLicense: \n".len() + name.len();
    let rest = &LICENSES[start..];
    Some(rest.find("\n\n").map_or(rest, |end| &rest[..=end]))
}

/// An SPDX expression as Cargo.toml has it ("MIT OR Apache-2.0", "MIT/Apache-2.0",
/// "(MIT OR Apache-2.0) AND Unicode-3.0") in the syntax of debian/copyright, where "and" binds
/// tighter than "or" and a comma ends a group: "MIT or Apache-2.0, and Unicode-3.0".
fn dep5_license(spdx: &str) -> Result<String> {
    let spaced = spdx.replace('/', " OR ").replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let (alternatives, rest) = parse_or(&tokens)?;
    if !rest.is_empty() {
        bail!("unexpected {:?}", rest.join(" "));
    }
    Ok(alternatives.iter().map(|all| all.join(if all.iter().any(|a| a.contains(" or ")) { ", and " } else { " and " })).collect::<Vec<_>>().join(" or "))
}

/// Alternatives, each the licences that all apply; the tokens after them.
fn parse_or<'a>(mut tokens: &'a [&'a str]) -> Result<(Vec<Vec<String>>, &'a [&'a str])> {
    let mut alternatives = Vec::new();
    loop {
        let mut all = Vec::new();
        loop {
            let (one, rest) = match tokens {
                ["(", rest @ ..] => {
                    let (inner, rest) = parse_or(rest)?;
                    let ([")", rest @ ..], true) = (rest, inner.iter().all(|a| a.len() == 1)) else {
                        bail!("a group this syntax cannot say, or no closing parenthesis");
                    };
                    (inner.into_iter().flatten().collect::<Vec<_>>().join(" or "), rest)
                }
                [id, "WITH", exception, rest @ ..] => (format!("{}-with-{exception}", short_name(id)), rest),
                [id, rest @ ..] if !["OR", "AND", ")"].contains(id) => (short_name(id), rest),
                _ => bail!("a licence expected"),
            };
            all.push(one);
            tokens = rest;
            match tokens {
                ["AND", rest @ ..] => tokens = rest,
                _ => break,
            }
        }
        alternatives.push(all);
        match tokens {
            ["OR", rest @ ..] => tokens = rest,
            _ => return Ok((alternatives, tokens)),
        }
    }
}

/// The SPDX identifier as debian/copyright names it: GPL-3.0-or-later is GPL-3+.
fn short_name(id: &str) -> String {
    id.replace(".0-or-later", "+").replace("-or-later", "+")
}
