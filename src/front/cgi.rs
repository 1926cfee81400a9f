//! The CGI front: one request from the environment, the response on stdout,
//! then exit. For hosts where only CGI is allowed; the same core answers.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;
use std::time::Duration;

use crate::archive::Archive;
use crate::archive::Cache;
use crate::http::body::{self, Sink};
use crate::http::{OwnedParams, Response};
use crate::service::Service;
use crate::stats::STATS;

/// Whether we were started as a CGI program.
pub fn is_cgi() -> bool {
    std::env::var_os("GATEWAY_INTERFACE").is_some_and(|v| !v.is_empty())
}

/// Serves the one request and returns the exit status. Mapped pieces of at
/// least `sendfile_min` bytes (0: none) go out with sendfile(2).
pub fn run(service: Service, sendfile_min: u64) -> u8 {
    let env = OwnedParams(
        std::env::vars_os()
            .filter_map(|(k, v): (OsString, OsString)| Some((k.into_string().ok()?, v.into_vec())))
            .collect(),
    );
    let resp = service.respond(&env);
    // Unbuffered: std's line-buffered stdout would scan mapped bytes for newlines,
    // and only the kernel may read them.
    let out = io::stdout().as_fd().try_clone_to_owned().map(File::from);
    match out.and_then(|out| write(out, &resp, sendfile_min)) {
        Ok(()) => 0,
        Err(e) => {
            crate::log::debug!("writing the CGI response: {e}");
            1
        }
    }
}

/// A service for one CGI request: a cache of one archive, checked once.
pub fn service(docroot: Option<std::path::PathBuf>, opts: crate::service::Options) -> Service {
    Service::with_options(docroot, Cache::new(1, Duration::ZERO), opts)
}

fn write(out: File, resp: &Response, sendfile_min: u64) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    resp.write_head(&mut head);
    let mut stdout = Stdout {
        out,
        queued: head,
        error: None,
        sendfile_min,
    };
    // Nothing here waits on anything else: the body is driven to the end on this thread.
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(body::send(&resp.body, &mut stdout))?;
    stdout.write_queued()
}

/// The CGI way to write a body: straight to stdout, blocking.
struct Stdout {
    out: File,
    /// Bytes of ours not yet written, so the head and small pieces go out together.
    queued: Vec<u8>,
    /// The first write error; later pieces are dropped.
    error: Option<io::Error>,
    /// Mapped pieces this large (and larger) go out with sendfile(2); 0: none.
    sendfile_min: u64,
}

impl Stdout {
    /// Sends `len` bytes of `archive` at `offset` with sendfile(2), which
    /// works into a pipe, a socket or a file alike. `Ok(false)` if the kernel
    /// refused before the first byte (stdout of a kind it cannot splice to):
    /// the caller writes from the mapping instead.
    fn send_file(&mut self, archive: &Archive, mut offset: u64, len: u64) -> io::Result<bool> {
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
            match archive.send_file(self.out.as_fd(), offset, want) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the archive ends before the member (cut or rewritten in place?)",
                    ))
                }
                Ok(n) => {
                    STATS.bytes_sendfile.add(n as u64);
                    offset += n as u64;
                    left = left.saturating_sub(n as u64);
                }
                Err(e)
                    if left == len
                        && matches!(
                            e.raw_os_error(),
                            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                        ) =>
                {
                    return Ok(false)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn write_queued(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let result = self.out.write_all(&self.queued);
        self.queued.clear();
        result
    }
}

impl Sink for Stdout {
    const MAY_BLOCK: bool = true;

    fn bytes(&mut self, bytes: &[u8]) {
        self.queued.extend_from_slice(bytes);
    }

    fn mapped(&mut self, archive: &Arc<Archive>, offset: u64, len: u64) {
        if self.error.is_some() {
            return;
        }
        let min = self.sendfile_min;
        let result = self.write_queued().and_then(|()| {
            if min != 0 && len >= min && self.send_file(archive, offset, len)? {
                return Ok(());
            }
            let mapped = archive
                .mapped(offset, len)
                .ok_or_else(|| io::Error::other("member outside the archive"))?;
            // write(2) from the mapping: the kernel reads the pages, not us.
            self.out.write_all(&mapped.io_slice())
        });
        self.error = result.err();
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.write_queued()
    }
}
