//! Writes the manual page vpn-firewall(8) and the bash, zsh and fish completions, generated from
//! the command-line definition (src/cli.rs), into the directory named by the only argument:
//!
//!     cargo run --example generate-docs -- OUT_DIR
//!
//! debian/rules runs it at package build time. It is an example rather than a binary so that the
//! package ships no generator and clap_mangen and clap_complete stay development dependencies.

use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};
use std::path::Path;
use vpn_firewall::cli::Cli;

/// The sections no command-line definition holds: files, boot, the VPN clients, see also.
const HAND_WRITTEN: &str = include_str!("../man/vpn-firewall.8.extra");

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        bail!("usage: generate-docs OUT_DIR");
    };
    let out = Path::new(&out);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    let page = out.join("vpn-firewall.8");
    std::fs::write(&page, manual_page()?).with_context(|| format!("cannot write {}", page.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut Cli::command(), "vpn-firewall", out)
            .with_context(|| format!("cannot write the {shell} completion into {}", out.display()))?;
    }
    Ok(())
}

/// clap_mangen's title, name, synopsis, description and options, then every command with its
/// long help and example (clap_mangen would only list them, pointing at per-command pages),
/// the examples, and the hand-written sections.
fn manual_page() -> Result<Vec<u8>> {
    let cli = Cli::command();
    let man = Man::new(cli.clone()).section("8").manual("System Administration").source(format!("vpn-firewall {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;

    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        roff.control("TP", []);
        let names: Vec<&str> = std::iter::once(command.get_name()).chain(command.get_visible_aliases()).collect();
        let mut heading = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                heading.push(roman(", "));
            }
            heading.push(bold(*name));
        }
        roff.text(heading);
        let help = command.get_long_about().or(command.get_about()).map(|h| h.to_string()).unwrap_or_default();
        for (i, paragraph) in help.split("\n\n").enumerate() {
            if i > 0 {
                roff.control("IP", []);
            }
            filled(&mut roff, paragraph);
        }
        for option in command.get_arguments().filter(|a| !a.is_hide_set() && a.get_long().is_some_and(|l| l != "help")) {
            roff.control("IP", []);
            let mut line = vec![bold(format!("--{}", option.get_long().unwrap_or_default()))];
            if let Some(values) = option.get_value_names().filter(|_| option.get_action().takes_values()) {
                line.push(roman(" "));
                line.push(italic(values.join(" ")));
            }
            if let Some(help) = option.get_long_help().or(option.get_help()) {
                line.push(roman(format!(": {help}")));
            }
            roff.text(line);
        }
        if let Some(example) = command.get_after_help() {
            roff.control("IP", []);
            literal(&mut roff, &example.to_string());
        }
    }
    if let Some(examples) = cli.get_after_help() {
        let examples = examples.to_string();
        roff.control("SH", ["EXAMPLES"]);
        literal(&mut roff, examples.trim_start_matches("Examples:").trim_start_matches('\n'));
    }
    roff.to_writer(&mut page)?;
    page.extend_from_slice(HAND_WRITTEN.as_bytes());
    Ok(page)
}

/// A paragraph of help, filled; its indented lines (lists) each start a line of their own.
fn filled(roff: &mut Roff, paragraph: &str) {
    let mut text = Vec::new();
    for line in paragraph.lines() {
        if line.starts_with(' ') {
            if !text.is_empty() {
                roff.text([roman(text.join(" "))]);
                text.clear();
            }
            roff.control("br", []);
            roff.text([roman(line.trim())]);
        } else {
            text.push(line);
        }
    }
    if !text.is_empty() {
        roff.text([roman(text.join(" "))]);
    }
}

/// Lines kept as they are (no filling), for command examples; a heading line ending in a colon
/// is set in italics.
fn literal(roff: &mut Roff, text: &str) {
    let mut lines = text.lines().peekable();
    if let Some(heading) = lines.next_if(|l| l.ends_with(':')) {
        roff.text([italic(heading)]);
    }
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}
