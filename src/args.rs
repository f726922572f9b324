//! The command line resolved once: clap's [`Cli`] parsed, its usage errors said as the contract
//! wants, and turned into the [`Command`] and [`Options`] the commands take. The only module
//! besides `cli` that sees `Cli`.

use crate::cli::{Cli, Cmd};
use crate::commands::{self, Command};
use crate::configuration::Options;
use crate::exit;
use crate::output::say_err;
use crate::selftest::{self, Probe, Sender};
use clap::Parser;

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            crate::output::emit(&e.render().to_string());
            return exit::OK;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{e}");
            return exit::INVALID;
        }
        Err(e) => {
            say_err!("vpn-firewall: error: {}", usage_error(&e.render().to_string()));
            return exit::INVALID;
        }
    };
    let (command, options) = resolve(cli);
    commands::run(&command, &options)
}

/// What the commands take instead of the command line.
fn resolve(cli: Cli) -> (Command, Options) {
    let options = Options { config_dir: cli.config_dir, root: cli.root, backend: cli.backend.map(Into::into) };
    let command = match cli.command {
        Cmd::Start => Command::Start,
        Cmd::Stop => Command::Stop,
        Cmd::Flush => Command::Flush,
        Cmd::Save => Command::Save,
        Cmd::Status => Command::Status,
        Cmd::Check => Command::Check,
        Cmd::Show => Command::Show,
        Cmd::Guard(args) => Command::Guard { second_table: args.second_table },
        Cmd::Selftest(args) => Command::Selftest(selftest::Options { json: args.json, uplink: args.uplink }),
        Cmd::SelftestProbe(args) => {
            let sender = Sender { label: format!("uid {} gid {}", args.uid, args.gid), uid: args.uid, gid: args.gid, mark: args.mark };
            Command::SelftestProbe(Probe::new(args.proto.into(), args.addr, args.port, &sender), args.source_port)
        }
    };
    (command, options)
}

/// Clap's multi-line usage error as one line: the message and its tips.
fn usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines.next().unwrap_or_default().trim_start_matches("error: ").to_string();
    let tips: Vec<&str> = lines.filter_map(|l| l.strip_prefix("tip: ").or_else(|| l.strip_prefix('[')?.strip_suffix(']'))).collect();
    let help = "see vpn-firewall --help";
    if tips.is_empty() { format!("{message} ({help})") } else { format!("{message} ({}; {help})", tips.join("; ")) }
}
