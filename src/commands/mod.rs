//! The commands: each ties configuration, policy, rendering and the kernel together.

mod apply;
mod check;
mod status;

use crate::accounts::SystemAccounts;
use crate::cli::{Cli, Cmd};
use crate::config::{ConfigErrors, RawConfig};
use crate::backend::Backend;
use crate::forwarding;
use crate::iptables;
use crate::policy::Policy;
use crate::qubes::{self, Qubes};
use crate::render_nft::render_nft;
use crate::settings::{BackendChoice, Settings, Validated};
use anyhow::{Result, bail};
use clap::Parser;

/// Exit codes of the contract.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const NOT_LOADED: i32 = 3;
    pub const UNKNOWN: i32 = 4;
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            emit(&e.render().to_string());
            return exit::OK;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{e}");
            return exit::INVALID;
        }
        Err(e) => {
            eprintln!("vpn-firewall: error: {}", usage_error(&e.render().to_string()));
            return exit::INVALID;
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(e) => report(&e, exit::FAILED),
    }
}

/// Prints an error as `vpn-firewall: error:` lines; configuration errors exit 2.
fn report(e: &anyhow::Error, otherwise: i32) -> i32 {
    if let Some(errors) = e.downcast_ref::<ConfigErrors>() {
        print_config_errors(errors);
        return exit::INVALID;
    }
    eprintln!("vpn-firewall: error: {e:#}");
    otherwise
}

/// Clap's multi-line usage error as one line: the message and its tips.
fn usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines.next().unwrap_or_default().trim_start_matches("error: ").to_string();
    let tips: Vec<&str> = lines
        .filter_map(|l| l.strip_prefix("tip: ").or_else(|| l.strip_prefix('[')?.strip_suffix(']')))
        .collect();
    let help = "see vpn-firewall --help";
    if tips.is_empty() { format!("{message} ({help})") } else { format!("{message} ({}; {help})", tips.join("; ")) }
}

/// Prints a command's output. A reader that went away (`show | head`) is no error: the rest is
/// not wanted. (SIGPIPE stays ignored, as Rust sets it: a write to an `nft` that died must be an
/// error `start` handles, not a signal that kills it before it can load the lockdown.)
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("vpn-firewall: error: cannot write the output: {e}");
        }
    }
}

fn print_config_errors(errors: &ConfigErrors) {
    for line in &errors.0 {
        eprintln!("vpn-firewall: error: {line}");
    }
}

fn run(cli: &Cli) -> Result<i32> {
    match cli.command {
        Cmd::Start => apply::start(cli),
        Cmd::Flush => apply::flush(),
        Cmd::Status => Ok(status::status(cli)),
        Cmd::Check => check::check(cli),
        Cmd::Show => show(cli),
        Cmd::Selftest(ref args) => crate::selftest::selftest(cli, args),
        Cmd::Guard => crate::guard::run(cli),
        Cmd::SelftestProbe(ref args) => Ok(crate::selftest::probe_command(args)),
        Cmd::Stop => {
            println!(
                "vpn-firewall: stop keeps the ruleset loaded, so nothing leaks while the VPN and the \
                 network go down (a running guard goes on guarding it); to remove it, run: vpn-firewall flush"
            );
            Ok(exit::OK)
        }
        Cmd::Save => {
            println!(
                "vpn-firewall: nothing to save: the ruleset is built from the configuration in {} at every start",
                cli.config_dir.display()
            );
            Ok(exit::OK)
        }
    }
}

/// The configuration as read and validated, and the Qubes OS qube it was read in, if any.
pub(crate) struct Configuration {
    pub(crate) raw: RawConfig,
    pub(crate) validated: Validated,
    pub(crate) qubes: Option<Qubes>,
}

/// Reads and validates the configuration directory (and on Qubes OS the qube's own);
/// warnings are printed to stderr.
pub(crate) fn load_settings(cli: &Cli) -> Result<Configuration, ConfigErrors> {
    let qubes = Qubes::detect(&cli.root);
    let dirs = qubes::config_dirs(&cli.config_dir, qubes.as_ref());
    let raw = RawConfig::load_dirs(&dirs, &qubes::defaults(qubes.as_ref()))?;
    let validated = Settings::validate(&raw, &SystemAccounts)?;
    let platform = qubes.iter().flat_map(|q| q.warnings(&validated.settings));
    for w in validated.warnings.iter().cloned().chain(platform) {
        eprintln!("vpn-firewall: warning: {w}");
    }
    Ok(Configuration { raw, validated, qubes })
}

/// Says when gateway mode is configured but the kernel does not forward.
fn warn_if_not_forwarding(settings: &Settings) {
    for w in forwarding::warnings(settings) {
        eprintln!("vpn-firewall: warning: {w}");
    }
}

/// The backend to use: the command line's choice, else the configuration's.
pub(crate) fn backend(cli: &Cli, configured: BackendChoice) -> Result<Backend> {
    Backend::choose(cli.backend.unwrap_or(configured))
}

fn require_root(what: &str) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("{what} needs root to change the kernel's firewall; run it with sudo");
    }
    Ok(())
}

fn show(cli: &Cli) -> Result<i32> {
    let validated = load_settings(cli)?.validated;
    let policy = Policy::from_settings(&validated.settings);
    // Rendering needs no backend installed, unless auto has to find out which one it is.
    let text = match cli.backend.unwrap_or(validated.settings.firewall.backend) {
        BackendChoice::Nftables => render_nft(&policy),
        BackendChoice::Iptables => iptables::render(&policy),
        BackendChoice::Auto => backend(cli, BackendChoice::Auto)?.render(&policy),
    };
    emit(&text);
    Ok(exit::OK)
}
