//! A plain HTTP/1.1 front for local preview (`wwz serve --http ADDR`): browse
//! CI artifacts or try a site without a web server. Same core, same headers;
//! bodies are `Bytes` that own a reference to the mapping, so they are still
//! not copied by us. It is a preview: no TLS, no HTTP/2, no access log, and it
//! trusts the local network; put a real web server in front for production.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::archive::inflate::Inflater;
use crate::archive::Archive;
use crate::http::response::Piece;
use crate::http::{Body, OwnedParams, Response, Service};
use crate::log;

/// Serves HTTP on `listener` until `shutdown` completes.
pub async fn run(
    listener: std::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    log::error(format_args!("accept: {e}"));
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let svc = Arc::clone(&service);
        tokio::spawn(async move {
            let handler = service_fn(move |req| {
                let svc = Arc::clone(&svc);
                async move { Ok::<_, Infallible>(handle(&svc, &req)) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await
            {
                log::debug(format_args!("http connection: {e}"));
            }
        });
    }
}

/// Translates an HTTP request to CGI-style params, asks the core, translates back.
fn handle(svc: &Service, req: &hyper::Request<Incoming>) -> hyper::Response<PreviewBody> {
    let mut params = OwnedParams::default();
    let uri = req.uri();
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    params.0.push((
        "REQUEST_METHOD".into(),
        req.method().as_str().as_bytes().to_vec(),
    ));
    params.0.push(("REQUEST_URI".into(), target.into_bytes()));
    params.0.push((
        "QUERY_STRING".into(),
        uri.query().unwrap_or_default().as_bytes().to_vec(),
    ));
    for (name, value) in req.headers() {
        let key = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        params.0.push((key, value.as_bytes().to_vec()));
    }
    let resp = svc.respond(&params);
    convert(resp)
}

fn convert(resp: Response) -> hyper::Response<PreviewBody> {
    let mut head = Vec::with_capacity(512);
    resp.write_head(&mut head);
    let mut builder = hyper::Response::builder().status(resp.status);
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        if name.eq_ignore_ascii_case(b"Status") {
            continue;
        }
        let value = value.get(1..).unwrap_or_default();
        let value = value.strip_prefix(b" ").unwrap_or(value);
        builder = builder.header(name, value);
    }
    let body = PreviewBody::new(resp.body);
    builder.body(body).unwrap_or_else(|e| {
        log::error(format_args!("building the HTTP response: {e}"));
        let mut r = hyper::Response::new(PreviewBody::new(Body::Empty));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// Mapped bytes owned by a `Bytes`: the `Arc` keeps the mapping alive while
/// hyper holds the buffer.
struct MappedSlice {
    archive: Arc<Archive>,
    offset: u64,
    len: u64,
}

impl AsRef<[u8]> for MappedSlice {
    fn as_ref(&self) -> &[u8] {
        self.archive
            .mapped(self.offset, self.len)
            .unwrap_or_default()
    }
}

fn mapped(archive: &Arc<Archive>, offset: u64, len: u64) -> Bytes {
    Bytes::from_owner(MappedSlice {
        archive: Arc::clone(archive),
        offset,
        len,
    })
}

/// A response body: ready chunks, then an optional inflate stream.
pub struct PreviewBody {
    chunks: VecDeque<Bytes>,
    inflate: Option<Inflater>,
    remaining: u64,
}

impl PreviewBody {
    fn new(body: Body) -> PreviewBody {
        let total = body.len();
        let mut chunks = VecDeque::new();
        let mut inflate = None;
        // Mapped pieces become Bytes that own an Arc of the archive: not copied.
        let archive = body.archive().cloned();
        body.pieces(|piece| match (piece, &archive) {
            (Piece::Bytes(b), _) => chunks.push_back(Bytes::copy_from_slice(b)),
            (Piece::Mapped(offset, len), Some(archive)) => {
                chunks.push_back(mapped(archive, offset, len))
            }
            (Piece::Mapped(..), None) => {}
        });
        if let Some((mut inflater, skip)) = body.inflater() {
            match inflater.skip(skip) {
                Ok(()) => inflate = Some(inflater),
                Err(e) => log::error(format_args!("inflating member: {e}")),
            }
        }
        PreviewBody {
            chunks,
            inflate,
            remaining: total,
        }
    }
}

impl http_body::Body for PreviewBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(chunk) = self.chunks.pop_front() {
            self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let cap = usize::try_from(self.remaining).map_or(64 * 1024, |r| r.min(64 * 1024));
        let Some(inflater) = &mut self.inflate else {
            return Poll::Ready(None);
        };
        let mut buf = vec![0u8; cap];
        let result = match inflater.read(&mut buf) {
            Ok(0) => return Poll::Ready(None),
            Ok(n) => {
                buf.truncate(n);
                Ok(Frame::data(Bytes::from(buf)))
            }
            Err(e) => Err(e),
        };
        if let Ok(frame) = &result {
            let n = frame.data_ref().map_or(0, |d| d.len() as u64);
            self.remaining = self.remaining.saturating_sub(n);
        }
        Poll::Ready(Some(result))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
