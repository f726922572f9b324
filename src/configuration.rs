//! One run's configuration: the drop-in directories read ([`crate::config`]), on Qubes OS the
//! qube's own too, validated into [`Settings`], with the backend the command line asks for
//! merged in. The commands get it from here, once, and never look at the command line.

use crate::accounts::SystemAccounts;
use crate::config::schema::Key;
use crate::config::{ConfigErrors, RawConfig};
use crate::output::say_err;
use crate::qubes::{self, Qubes};
use crate::settings::{BackendChoice, Settings, Validated};
use std::path::PathBuf;

/// What the command line says about the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The directory of the `*.conf` drop-ins.
    pub config_dir: PathBuf,
    /// Where the Qubes OS files and the installed VPN clients' files are looked for: `/` but
    /// for tests.
    pub root: PathBuf,
    /// The backend that overrides `[firewall] backend`.
    pub backend: Option<BackendChoice>,
}

/// The configuration as read and validated.
pub struct Configuration {
    pub raw: RawConfig,
    pub validated: Validated,
    /// The Qubes OS qube it was read in, if any.
    pub qubes: Option<Qubes>,
    /// The backend to use: the command line's choice, else the configuration's.
    pub backend: BackendChoice,
}

/// A configuration that is not valid, and the backend a lockdown should use.
#[derive(Debug)]
pub struct Invalid {
    pub errors: ConfigErrors,
    /// The command line's choice, else `[firewall] backend` when its value is valid itself.
    pub backend: Option<BackendChoice>,
}

impl From<Invalid> for ConfigErrors {
    fn from(invalid: Invalid) -> ConfigErrors {
        invalid.errors
    }
}

impl Options {
    /// Reads and validates the configuration directory (and on Qubes OS the qube's own). Every
    /// problem comes back at once: a misspelt key does not hide a malformed value. The
    /// warnings of a valid configuration are printed to stderr.
    pub fn load(&self) -> Result<Configuration, Invalid> {
        let qubes = Qubes::detect(&self.root);
        let dirs = qubes::config_dirs(&self.config_dir, qubes.as_ref());
        let (raw, mut errors) = RawConfig::read_dirs(&dirs, &qubes::defaults(qubes.as_ref())).map_err(|errors| Invalid { errors, backend: self.backend })?;
        let validated = Settings::validate(&raw, &SystemAccounts);
        let validated = match validated {
            Ok(v) if errors.is_empty() => v,
            outcome => {
                errors.extend(outcome.err().into_iter().flat_map(|e| e.0));
                let configured = BackendChoice::parse(raw.get(Key::FirewallBackend).value.trim()).ok();
                return Err(Invalid { errors: ConfigErrors(errors), backend: self.backend.or(configured) });
            }
        };
        let platform = qubes.iter().flat_map(|q| q.warnings(&validated.settings));
        for w in validated.warnings.iter().cloned().chain(platform) {
            say_err!("vpn-firewall: warning: {w}");
        }
        let backend = self.backend.unwrap_or(validated.settings.firewall.backend);
        Ok(Configuration { raw, validated, qubes, backend })
    }
}
