//! Listing and reading the drop-in files of one directory, safely: a `*.conf` entry that is not
//! a readable regular file is an error naming it, never skipped (skipping a file can only make
//! the ruleset looser), and nothing here blocks, whatever the directory holds.
//!
//! Blocking is what a FIFO, a device or a kernel file such as `/proc/kmsg` would do on read,
//! with `start` holding the lock at boot. So each entry's type is checked before it is opened,
//! the open does not wait (`O_NONBLOCK`), the type is checked again on what was opened (the
//! entry may have been replaced in between), and at most `MAX_SIZE` bytes are read.

use super::{ConfigError, Origin};
use nix::sys::statfs::{self, FsType};
use std::fs::Metadata;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The most a drop-in may hold: far more than any configuration needs (10 000 `[lan] allow`
/// networks take about 200 KiB), little enough to read at once.
pub const MAX_SIZE: u64 = 4 << 20;

/// The kernel's own filesystems: their files are regular by type but are kernel interfaces
/// (`/proc/kmsg` blocks on read and takes the messages it returns from the system log).
const KERNEL_FILESYSTEMS: [(FsType, &str); 9] = [
    (statfs::PROC_SUPER_MAGIC, "proc"),
    (statfs::SYSFS_MAGIC, "sysfs"),
    (statfs::DEBUGFS_MAGIC, "debugfs"),
    (statfs::TRACEFS_MAGIC, "tracefs"),
    (statfs::SECURITYFS_MAGIC, "securityfs"),
    (statfs::CGROUP_SUPER_MAGIC, "cgroup"),
    (statfs::CGROUP2_SUPER_MAGIC, "cgroup2"),
    (statfs::BPF_FS_MAGIC, "bpf"),
    (statfs::DEVPTS_SUPER_MAGIC, "devpts"),
];

/// The `*.conf` entries of `dir`, whatever their type, sorted byte-wise; `None` when `dir` does
/// not exist. Names that are no drop-ins are left out: other endings (`.dpkg-old`, `~`,
/// `.conf.bak`) and dotfiles (such as an editor's lock link `.#50-local.conf`).
pub fn list(dir: &Path) -> Result<Option<Vec<PathBuf>>, ConfigError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ConfigError::path(dir, format!("cannot read the configuration directory: {e}"))),
    };
    let mut files = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| ConfigError::path(dir, format!("cannot list: {e}")))?;
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        if name.ends_with(b".conf") && !name.starts_with(b".") {
            files.push(entry.path());
        }
    }
    files.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    Ok(Some(files))
}

/// The text of the drop-in `path`: UTF-8, without a byte order mark. An error says what the
/// entry is instead of a readable regular file of at most `MAX_SIZE` bytes.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let refuse = |what: String| ConfigError::path(path, format!("{what}; a *.conf drop-in must be a readable regular file"));
    let link = link_target(path);
    // Before opening: what the name leads to.
    let before = std::fs::metadata(path).map_err(|e| refuse(cannot_look_at(link.as_deref(), &e)))?;
    let filesystem = statfs::statfs(path).map(|s| s.filesystem_type()).ok();
    not_regular(&before, filesystem).map_err(|what| refuse(what_is(link.as_deref(), &what)))?;
    let file =
        std::fs::File::options().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path).map_err(|e| refuse(format!("cannot open: {e}")))?;
    // After: what was opened, should the entry have been replaced in between.
    let opened = file.metadata().map_err(|e| ConfigError::path(path, format!("cannot read: {e}")))?;
    let filesystem = statfs::fstatfs(&file).map(|s| s.filesystem_type()).ok();
    not_regular(&opened, filesystem).map_err(|what| refuse(what_is(link.as_deref(), &what)))?;
    let mut bytes = Vec::new();
    file.take(MAX_SIZE + 1).read_to_end(&mut bytes).map_err(|e| ConfigError::path(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(ConfigError::path(path, format!("is larger than {} MiB, the most a drop-in may hold", MAX_SIZE >> 20)));
    }
    match String::from_utf8(bytes) {
        // Some editors start UTF-8 files with a byte order mark.
        Ok(text) => Ok(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            Err(ConfigError::at(Origin { file: path.to_path_buf(), line }, "is not UTF-8 text"))
        }
    }
}

/// Where `path` links to, when it is a symbolic link.
fn link_target(path: &Path) -> Option<PathBuf> {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link { std::fs::read_link(path).ok() } else { None }
}

/// Why the entry cannot even be looked at.
fn cannot_look_at(link: Option<&Path>, e: &std::io::Error) -> String {
    match (link, e.raw_os_error()) {
        (Some(target), _) if e.kind() == ErrorKind::NotFound => format!("is a dangling link to {} (its target does not exist)", target.display()),
        (Some(target), Some(libc::ELOOP)) => format!("is a link to {}, which is a loop of links", target.display()),
        _ => format!("cannot read: {e}"),
    }
}

/// "is X", or "is a link to T, which is X".
fn what_is(link: Option<&Path>, what: &str) -> String {
    match link {
        Some(target) => format!("is a link to {}, which is {what}", target.display()),
        None => format!("is {what}"),
    }
}

/// What the entry is when it is not a regular file on a filesystem that stores files.
fn not_regular(metadata: &Metadata, filesystem: Option<FsType>) -> Result<(), String> {
    let kind = metadata.file_type();
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if !kind.is_file() {
        "not a regular file"
    } else {
        match filesystem.and_then(|f| KERNEL_FILESYSTEMS.iter().find(|(magic, _)| *magic == f)) {
            Some((_, name)) => return Err(format!("a file of the kernel's {name} filesystem, not a configuration file")),
            None => return Ok(()),
        }
    };
    Err(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn error(path: &Path) -> String {
        read_text(path).unwrap_err().to_string()
    }

    #[test]
    fn only_drop_in_names_are_listed_whatever_they_are() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["50-b.conf", "10-a.conf", "60-c.conf.dpkg-old", "70-d.conf~", "80-e.conf.bak", ".hidden.conf"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("20-dir.conf")).unwrap();
        symlink("/nonexistent/lock", dir.path().join(".#50-b.conf")).unwrap();
        symlink("/nonexistent/file", dir.path().join("30-dangling.conf")).unwrap();
        let names: Vec<String> = list(dir.path()).unwrap().unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["10-a.conf", "20-dir.conf", "30-dangling.conf", "50-b.conf"]);
        assert_eq!(list(Path::new("/nonexistent/vpn-firewall")).unwrap(), None);
    }

    #[test]
    fn what_is_not_a_readable_regular_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        symlink("/nonexistent/50-local.conf", at("dangling.conf")).unwrap();
        symlink("loop-b.conf", at("loop-a.conf")).unwrap();
        symlink("loop-a.conf", at("loop-b.conf")).unwrap();
        std::fs::create_dir(at("dir.conf")).unwrap();
        nix::unistd::mkfifo(&at("fifo.conf"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        symlink("/dev/null", at("null.conf")).unwrap();
        symlink("/proc/self/status", at("proc.conf")).unwrap();
        let cases = [
            ("dangling.conf", "is a dangling link to /nonexistent/50-local.conf (its target does not exist)"),
            ("loop-a.conf", "is a link to loop-b.conf, which is a loop of links"),
            ("dir.conf", "is a directory"),
            ("fifo.conf", "is a FIFO (named pipe)"),
            ("null.conf", "is a link to /dev/null, which is a character device"),
            ("proc.conf", "is a link to /proc/self/status, which is a file of the kernel's proc filesystem, not a configuration file"),
        ];
        for (name, says) in cases {
            let expected = format!("{}: {says}; a *.conf drop-in must be a readable regular file", at(name).display());
            assert_eq!(error(&at(name)), expected);
        }
    }

    #[test]
    fn a_regular_file_is_read_up_to_the_maximum_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        std::fs::write(&path, "\u{feff}[lan]\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "[lan]\n", "without its byte order mark");
        symlink(&path, dir.path().join("link.conf")).unwrap();
        assert_eq!(read_text(&dir.path().join("link.conf")).unwrap(), "[lan]\n", "a link to a regular file is one");
        std::fs::write(&path, vec![b'#'; MAX_SIZE as usize]).unwrap();
        assert_eq!(read_text(&path).unwrap().len() as u64, MAX_SIZE);
        std::fs::write(&path, vec![b'#'; MAX_SIZE as usize + 1]).unwrap();
        assert_eq!(error(&path), format!("{}: is larger than 4 MiB, the most a drop-in may hold", path.display()));
    }
}
