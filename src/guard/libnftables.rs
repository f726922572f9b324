//! libnftables, linked in-process: nft's own parser and netlink code, run on a context that
//! keeps one netlink socket open for as long as it lives. A table created through it with
//! `flags owner` belongs to that socket, so to this process: no other process may delete or
//! change it, `nft flush ruleset` leaves it, and the kernel removes it when the socket closes.
//!
//! Only the handful of calls of libnftables.h that loading a text needs are declared; the
//! library is Debian's libnftables1 (libnftables-dev to build), ABI version 1 since nft 0.9.

use anyhow::{Result, anyhow, bail};
use std::ffi::{CStr, CString, c_char, c_int, c_uint};
use std::ptr::NonNull;

#[repr(C)]
struct RawContext {
    _opaque: [u8; 0],
}

#[link(name = "nftables")]
unsafe extern "C" {
    fn nft_ctx_new(flags: c_uint) -> *mut RawContext;
    fn nft_ctx_free(ctx: *mut RawContext);
    fn nft_ctx_buffer_output(ctx: *mut RawContext) -> c_int;
    fn nft_ctx_get_output_buffer(ctx: *mut RawContext) -> *const c_char;
    fn nft_ctx_buffer_error(ctx: *mut RawContext) -> c_int;
    fn nft_ctx_get_error_buffer(ctx: *mut RawContext) -> *const c_char;
    fn nft_run_cmd_from_buffer(ctx: *mut RawContext, buf: *const c_char) -> c_int;
}

/// NFT_CTX_DEFAULT: the context opens its netlink socket itself.
const CTX_DEFAULT: c_uint = 0;

/// One libnftables context: its netlink socket stays open until it is dropped. Not `Send`:
/// libnftables contexts are not thread-safe, and the guard uses its one from one thread.
pub struct Context {
    raw: NonNull<RawContext>,
}

impl Context {
    pub fn new() -> Result<Context> {
        // SAFETY: nft_ctx_new takes flags by value and returns an owned context or NULL.
        let raw = NonNull::new(unsafe { nft_ctx_new(CTX_DEFAULT) }).ok_or_else(|| anyhow!("libnftables could not create a context (out of memory?)"))?;
        let ctx = Context { raw };
        // SAFETY: a live context; buffering makes nft keep its output and errors for us
        // instead of printing them.
        let buffered = unsafe { nft_ctx_buffer_output(ctx.raw.as_ptr()) == 0 && nft_ctx_buffer_error(ctx.raw.as_ptr()) == 0 };
        if !buffered {
            bail!("libnftables could not buffer its output");
        }
        Ok(ctx)
    }

    /// Runs a text as `nft -f` would: one transaction, applied whole or not at all. Returns
    /// what nft prints (listings); an error carries nft's own message.
    pub fn run(&self, text: &str) -> Result<String> {
        let text = CString::new(text).map_err(|_| anyhow!("an nft text with a NUL byte"))?;
        // SAFETY: a live context and a NUL-terminated text that outlives the call.
        let rc = unsafe { nft_run_cmd_from_buffer(self.raw.as_ptr(), text.as_ptr()) };
        // SAFETY: the buffers are owned by the context and valid until the next run; they are
        // copied at once.
        let (output, error) = unsafe {
            (buffer(nft_ctx_get_output_buffer(self.raw.as_ptr())), buffer(nft_ctx_get_error_buffer(self.raw.as_ptr())))
        };
        if rc != 0 {
            let error = error.trim();
            bail!("nft (libnftables) refused the transaction: {}", if error.is_empty() { "no reason given" } else { error });
        }
        Ok(output)
    }
}

/// A buffer of libnftables as a string: NULL is empty.
///
/// SAFETY: `ptr` is NULL or a NUL-terminated string.
unsafe fn buffer(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: as promised by the caller.
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context is live and dropped once; this closes its netlink socket, and
        // with it the kernel releases the tables it owns.
        unsafe { nft_ctx_free(self.raw.as_ptr()) }
    }
}
