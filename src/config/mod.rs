//! Reading the drop-in directories: `*.conf` files in byte order, directory after directory,
//! later assignments replacing earlier ones, every key checked against the schema.

mod drop_ins;
mod ini_file;
pub mod schema;

use schema::Key;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One problem with the configuration, reported as `FILE:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `FILE:LINE`, or the path alone when no line applies.
    pub location: String,
    pub message: String,
}

impl ConfigError {
    pub fn at(origin: Origin, message: impl Into<String>) -> Self {
        ConfigError { location: origin.to_string(), message: message.into() }
    }

    pub fn path(path: &Path, message: impl Into<String>) -> Self {
        ConfigError { location: path.display().to_string(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Every problem found in a configuration; the commands exit 2 on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// The value a key ends up with, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    /// `None` for a default.
    pub origin: Option<Origin>,
    /// The legacy shell-style name it was set with, if any.
    pub legacy: Option<&'static str>,
    /// For a default that is the platform's own, rather than the built-in one: its name.
    pub platform: Option<&'static str>,
}

/// A directory of drop-in files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropInDir {
    pub path: PathBuf,
    /// A missing optional directory holds no files; a missing required one is an error.
    pub optional: bool,
}

/// A default that one platform changes: on Qubes OS, `[forward] interfaces` is `vif+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformDefault {
    pub key: Key,
    pub value: &'static str,
    pub platform: &'static str,
}

/// The merged configuration: every known key with its effective, still unvalidated, value.
#[derive(Debug, Clone)]
pub struct RawConfig {
    /// The directories that were read, in order; the first is the required one.
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
    entries: BTreeMap<Key, Entry>,
}

impl RawConfig {
    /// Only the defaults (the platform's where it has its own), as if no file had been read.
    fn defaults(platform: &[PlatformDefault]) -> Self {
        let entries = schema::KEYS
            .iter()
            .map(|k| {
                let own = platform.iter().find(|d| d.key == k.id);
                let entry = Entry { value: own.map_or(k.default, |d| d.value).to_string(), origin: None, legacy: None, platform: own.map(|d| d.platform) };
                (k.id, entry)
            })
            .collect();
        RawConfig { dirs: Vec::new(), files: Vec::new(), entries }
    }

    pub fn get(&self, key: Key) -> &Entry {
        &self.entries[&key]
    }

    /// Reads every `*.conf` file of `dir`, in byte order of the file names.
    pub fn load(dir: &Path) -> Result<Self, ConfigErrors> {
        Self::load_dirs(&[DropInDir { path: dir.to_path_buf(), optional: false }], &[])
    }

    /// Reads the `*.conf` files of each directory in turn, each directory's in byte order of
    /// their names: a later file, in the same directory or a later one, replaces what an
    /// earlier one set. Keys no file sets take the platform's default, else the built-in one.
    pub fn load_dirs(dirs: &[DropInDir], platform: &[PlatformDefault]) -> Result<Self, ConfigErrors> {
        let (config, errors) = Self::read_dirs(dirs, platform)?;
        if errors.is_empty() { Ok(config) } else { Err(ConfigErrors(errors)) }
    }

    /// As `load_dirs`, but the problems of single files and lines (unknown keys, lines that do
    /// not parse, unreadable files) come beside what the other lines set, so that the values can
    /// be validated in the same run and every problem reported at once. Only a directory that
    /// cannot be listed is an error on its own.
    pub fn read_dirs(dirs: &[DropInDir], platform: &[PlatformDefault]) -> Result<(Self, Vec<ConfigError>), ConfigErrors> {
        let mut config = RawConfig::defaults(platform);
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for dir in dirs {
            match drop_ins::list(&dir.path) {
                Ok(None) if dir.optional => {}
                Ok(None) => return Err(ConfigError::path(&dir.path, "cannot read the configuration directory: it does not exist").into()),
                Ok(Some(found)) => {
                    config.dirs.push(dir.path.clone());
                    files.extend(found);
                }
                Err(e) => return Err(e.into()),
            }
        }
        for path in files {
            let text = match drop_ins::read_text(&path) {
                Ok(text) => text,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match ini_file::parse(&path, &text) {
                Ok(items) => errors.extend(config.assign_all(items)),
                Err(e) => errors.push(e),
            }
            config.files.push(path);
        }
        Ok((config, errors))
    }

    /// Applies a file's items in order; returns the unknown sections and keys.
    fn assign_all(&mut self, items: Vec<ini_file::Item>) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        // `None` outside any section; `Some(None)` inside an unknown one (reported once, at its line).
        let mut section: Option<Option<&'static str>> = None;
        for item in items {
            match item {
                ini_file::Item::Section { name, origin } => {
                    let known = schema::sections().find(|s| *s == name);
                    if known.is_none() {
                        let hint = schema::suggest_section(&name);
                        errors.push(ConfigError::at(origin, format!("unknown section [{name}]{hint}")));
                    }
                    section = Some(known);
                }
                ini_file::Item::Assignment { key, value, origin } => {
                    let found = match section {
                        None => Key::legacy(&key)
                            .map(|(alias, known)| (known, Some(alias)))
                            .ok_or_else(|| format!("unknown key {key:?} outside any section{}", schema::suggest_key(None, &key))),
                        Some(None) => continue,
                        Some(Some(s)) => Key::named(s, &key)
                            .map(|known| (known, None))
                            .ok_or_else(|| format!("unknown key {key:?} in [{s}]{}", schema::suggest_key(Some(s), &key))),
                    };
                    match found {
                        Ok((known, legacy)) => {
                            let entry = Entry { value, origin: Some(origin), legacy, platform: None };
                            self.entries.insert(known, entry);
                        }
                        Err(message) => errors.push(ConfigError::at(origin, message)),
                    }
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn value(c: &RawConfig, key: Key) -> String {
        c.get(key).value.clone()
    }

    #[test]
    fn later_files_replace_earlier_values_and_other_files_are_ignored() {
        let dir = dir_with(&[
            ("50-b.conf", "[lan]\nallow = 10.0.0.0/8\n"),
            ("10-a.conf", "[lan]\nallow = 192.168.0.0/16\ndns = yes\n"),
            ("60-c.conf.dpkg-old", "[lan]\nallow = 1.2.3.0/24\n"),
            ("70-d.conf~", "garbage"),
            ("90-e.conf", "[lan]\ndns =\n"),
        ]);
        let c = RawConfig::load(dir.path()).unwrap();
        assert_eq!(value(&c, Key::LanAllow), "10.0.0.0/8");
        assert_eq!(value(&c, Key::LanDns), "");
        assert_eq!(value(&c, Key::TunnelInterfaces), "tun+");
        assert_eq!(c.files.len(), 3);
        let origin = c.get(Key::LanAllow).origin.clone().unwrap();
        assert_eq!(origin.line, 2);
        assert!(origin.file.ends_with("50-b.conf"));
    }

    #[test]
    fn directories_are_read_in_turn_and_an_optional_one_may_be_missing() {
        let (etc, rw) = (dir_with(&[("90-b.conf", "[lan]\nallow = 10.0.0.0/8\ndns = yes\n")]), dir_with(&[("10-a.conf", "[lan]\n\nallow = 192.168.0.0/16\n")]));
        let dirs = |optional: &Path| {
            [
                DropInDir { path: etc.path().to_path_buf(), optional: false },
                DropInDir { path: rw.path().to_path_buf(), optional: false },
                DropInDir { path: optional.to_path_buf(), optional: true },
            ]
        };
        let c = RawConfig::load_dirs(&dirs(Path::new("/nonexistent/rw")), &[]).unwrap();
        assert_eq!(value(&c, Key::LanAllow), "192.168.0.0/16");
        assert_eq!(value(&c, Key::LanDns), "yes");
        let origin = c.get(Key::LanAllow).origin.clone().unwrap();
        assert_eq!((origin.file, origin.line), (rw.path().join("10-a.conf"), 3));
        assert_eq!(c.dirs, [etc.path(), rw.path()]);
        assert_eq!(c.files, [etc.path().join("90-b.conf"), rw.path().join("10-a.conf")]);

        let mut required = dirs(etc.path()).to_vec();
        required[1].path = PathBuf::from("/nonexistent/etc");
        let e = RawConfig::load_dirs(&required, &[]).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/etc: cannot read the configuration directory: it does not exist");
    }

    #[test]
    fn a_platform_default_stands_until_a_file_sets_the_key() {
        let key = Key::ForwardInterfaces;
        let platform = [PlatformDefault { key, value: "vif+", platform: "Qubes OS" }];
        let c = RawConfig::load_dirs(&[DropInDir { path: dir_with(&[]).path().to_path_buf(), optional: false }], &platform).unwrap();
        assert_eq!(c.get(key), &Entry { value: "vif+".into(), origin: None, legacy: None, platform: Some("Qubes OS") });
        let set = dir_with(&[("50-a.conf", "INT_IF=eth1\n")]);
        let c = RawConfig::load_dirs(&[DropInDir { path: set.path().to_path_buf(), optional: false }], &platform).unwrap();
        assert_eq!((c.get(key).value.as_str(), c.get(key).platform), ("eth1", None));
    }

    #[test]
    fn legacy_keys_are_aliases() {
        let dir = dir_with(&[("50_user.conf", "VPN_INTERFACE=\"tun0\"\nLOCAL_NET=\"10.0.0.0/8 192.168.1.0/24\"\n")]);
        let c = RawConfig::load(dir.path()).unwrap();
        assert_eq!(value(&c, Key::TunnelInterfaces), "tun0");
        let e = c.get(Key::LanAllow);
        assert_eq!(e.value, "10.0.0.0/8 192.168.1.0/24");
        assert_eq!(e.legacy, Some("LOCAL_NET"));
    }

    #[test]
    fn unknown_keys_and_sections_are_errors_with_hints() {
        let dir = dir_with(&[("a.conf", "[tunel]\nuser=x\ngroup=y\n[lan]\nalow=1\n[empty]\n")]);
        let errors = RawConfig::load(dir.path()).unwrap_err().0;
        assert_eq!(errors.len(), 3);
        assert!(errors[0].to_string().ends_with("a.conf:1: unknown section [tunel]; did you mean [tunnel]?"));
        assert!(errors[2].to_string().contains("a.conf:6: unknown section [empty]"));
        assert!(errors[1].to_string().ends_with("a.conf:5: unknown key \"alow\" in [lan]; did you mean allow?"));
    }

    #[test]
    fn an_editors_lock_link_and_a_byte_order_mark_are_harmless() {
        let dir = dir_with(&[("50-a.conf", "\u{feff}[lan]\ndns = yes\n")]);
        std::os::unix::fs::symlink("/nonexistent/lock", dir.path().join(".#50-a.conf")).unwrap();
        let c = RawConfig::load(dir.path()).unwrap();
        assert_eq!(value(&c, Key::LanDns), "yes");
        assert_eq!(c.files.len(), 1);
    }

    #[test]
    fn a_drop_in_that_is_no_readable_file_is_an_error_never_skipped() {
        // A link to a file on a mount that is not there yet: skipping it would drop its servers.
        let dir = dir_with(&[("10-a.conf", "[lan]\ndns = yes\n"), ("90-z.conf", "[lan]\nallow = 10.0.0.0/8\n")]);
        std::os::unix::fs::symlink("/nonexistent/50-local.conf", dir.path().join("50-local.conf")).unwrap();
        std::fs::create_dir(dir.path().join("60-dir.conf")).unwrap();
        let errors = RawConfig::load(dir.path()).unwrap_err().0;
        let locations: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
        let expected = [dir.path().join("50-local.conf"), dir.path().join("60-dir.conf")];
        assert_eq!(locations, expected.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>(), "{errors:?}");
        assert!(errors[0].message.starts_with("is a dangling link to /nonexistent/50-local.conf (its target does not exist)"), "{errors:?}");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let e = RawConfig::load(Path::new("/nonexistent/vpn-firewall")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/vpn-firewall: cannot read the configuration directory"));
    }

    #[test]
    fn non_utf8_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.conf"), b"[lan]\ndns = \xff\n").unwrap();
        let e = RawConfig::load(dir.path()).unwrap_err();
        assert!(e.to_string().ends_with("a.conf:2: is not UTF-8 text"), "{e}");
    }
}
