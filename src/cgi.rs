//! The CGI front: one request from the environment, the response on stdout,
//! then exit. For hosts where only CGI is allowed; the same core answers.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use crate::archive::Cache;
use crate::http::response::Piece;
use crate::http::{OwnedParams, Response, Service};

/// Whether we were started as a CGI program.
pub fn is_cgi() -> bool {
    std::env::var_os("GATEWAY_INTERFACE").is_some_and(|v| !v.is_empty())
}

/// Serves the one request and returns the exit status.
pub fn run(service: Service) -> u8 {
    let env = OwnedParams(
        std::env::vars_os()
            .filter_map(|(k, v): (OsString, OsString)| Some((k.into_string().ok()?, v.into_vec())))
            .collect(),
    );
    let resp = service.respond(&env);
    // Unbuffered: std's line-buffered stdout would scan mapped bytes for newlines,
    // and only the kernel may read them.
    let out = io::stdout().as_fd().try_clone_to_owned().map(File::from);
    match out.and_then(|mut out| write(&mut out, &resp)) {
        Ok(()) => 0,
        Err(e) => {
            crate::log::debug(format_args!("writing the CGI response: {e}"));
            1
        }
    }
}

/// A service for one CGI request: a cache of one archive, checked once.
pub fn service(
    docroot: Option<std::path::PathBuf>,
    opts: crate::http::respond::Options,
) -> Service {
    Service::with_options(docroot, Cache::new(1, Duration::ZERO), opts)
}

fn write(out: &mut File, resp: &Response) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    resp.write_head(&mut head);
    out.write_all(&head)?;
    let mut result = Ok(());
    resp.body.pieces(|piece| {
        if result.is_ok() {
            result = match piece {
                Piece::Bytes(b) => out.write_all(b),
                Piece::Mapped(offset, len) => resp
                    .body
                    .archive()
                    .and_then(|a| a.mapped(offset, len))
                    .ok_or_else(|| io::Error::other("member outside the archive"))
                    .and_then(|bytes| out.write_all(bytes)),
            };
        }
    });
    result?;
    if let Some((mut inflater, skip)) = resp.body.inflater() {
        inflater.skip(skip)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = inflater.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(buf.get(..n).unwrap_or_default())?;
        }
    }
    Ok(())
}
