//! What the commands print, on stdout and stderr. A reader that went away (`status | head -1`,
//! `start 2>&1 | head -1`) is no error: the rest is not wanted, and the command goes on to the
//! end of its work and exits with its own code. `println!`/`eprintln!` would panic instead,
//! possibly half-way: after the configuration's errors were said but before the lockdown was
//! loaded. (SIGPIPE stays ignored, as Rust sets it: a write to an `nft` that died must be an
//! error `start` handles, not a signal that kills it before it can load the lockdown.)

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() != ErrorKind::BrokenPipe {
            emit_err(&format!("vpn-firewall: error: cannot write the output: {e}\n"));
        }
    }
}

/// Writes `text` to stderr; a failure has nowhere to be said.
pub fn emit_err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `println!` through [`emit`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::emit(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;

/// `eprintln!` through [`emit_err`].
macro_rules! say_err {
    ($($arg:tt)*) => {
        $crate::output::emit_err(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say_err;
