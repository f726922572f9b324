//! The commands: each ties configuration, policy, rendering and the kernel together.

mod apply;
mod check;
mod status;

use crate::backend::Backend;
use crate::config::ConfigErrors;
use crate::configuration::Options;
use crate::exit;
use crate::forwarding;
use crate::iptables;
use crate::output::{emit, say, say_err};
use crate::policy::Policy;
use crate::render_nft::render_nft;
use crate::selftest::{self, Probe};
use crate::settings::{BackendChoice, Settings};
use anyhow::{Result, bail};

/// A command with what it needs beyond the [`Options`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    Flush,
    Save,
    Status,
    Check,
    Show,
    Selftest(selftest::Options),
    /// Stay in the foreground and keep the ruleset in force (see `guard`); with a second table
    /// even where the kernel could keep the main one owned.
    Guard {
        second_table: bool,
    },
    /// One probe of selftest's, from this source port.
    SelftestProbe(Probe, u16),
}

/// Runs a command and returns the exit code.
pub fn run(command: &Command, options: &Options) -> i32 {
    match dispatch(command, options) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// Prints an error as `vpn-firewall: error:` lines; configuration errors exit 2.
fn report(e: &anyhow::Error) -> i32 {
    if let Some(errors) = e.downcast_ref::<ConfigErrors>() {
        print_config_errors(errors);
        return exit::INVALID;
    }
    say_err!("vpn-firewall: error: {e:#}");
    exit::FAILED
}

fn print_config_errors(errors: &ConfigErrors) {
    for line in &errors.0 {
        say_err!("vpn-firewall: error: {line}");
    }
}

fn dispatch(command: &Command, options: &Options) -> Result<i32> {
    match command {
        Command::Start => apply::start(options),
        Command::Flush => apply::flush(),
        Command::Status => Ok(status::status(options)),
        Command::Check => check::check(options),
        Command::Show => show(options),
        Command::Selftest(selftest) => selftest::selftest(options, selftest),
        Command::Guard { second_table } => crate::guard::run(options, *second_table),
        Command::SelftestProbe(probe, source_port) => Ok(selftest::probe_command(probe, *source_port)),
        Command::Stop => {
            say!(
                "vpn-firewall: stop keeps the ruleset loaded, so nothing leaks while the VPN and the \
                 network go down (a running guard goes on guarding it); to remove it, run: vpn-firewall flush"
            );
            Ok(exit::OK)
        }
        Command::Save => {
            say!("vpn-firewall: nothing to save: the ruleset is built from the configuration in {} at every start", options.config_dir.display());
            Ok(exit::OK)
        }
    }
}

/// Says when gateway mode is configured but the kernel does not forward.
fn warn_if_not_forwarding(settings: &Settings) {
    for w in forwarding::warnings(settings) {
        say_err!("vpn-firewall: warning: {w}");
    }
}

fn require_root(what: &str) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("{what} needs root to change the kernel's firewall; run it with sudo");
    }
    Ok(())
}

fn show(options: &Options) -> Result<i32> {
    let configuration = options.load().map_err(ConfigErrors::from)?;
    let policy = Policy::from_settings(&configuration.validated.settings);
    // Rendering needs no backend installed, unless auto has to find out which one it is.
    let text = match configuration.backend {
        BackendChoice::Nftables => render_nft(&policy),
        BackendChoice::Iptables => iptables::render(&policy),
        BackendChoice::Auto => Backend::choose(BackendChoice::Auto)?.render(&policy),
    };
    emit(&text);
    Ok(exit::OK)
}
