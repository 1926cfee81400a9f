//! A plain HTTP/1.1 front for local preview (`wwz serve --http ADDR`): browse
//! CI artifacts or try a site without a web server. Same core, same headers,
//! same body stream ([`body::send`]); mapped pieces become `Bytes` that own a
//! reference to the mapping, so they are still not copied by us. It is a preview: no TLS, no HTTP/2, no access log, and it
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
use tokio::sync::mpsc;

use crate::archive::Archive;
use crate::http::body::{self, Sink};
use crate::http::{Body, OwnedParams, Response};
use crate::log;
use crate::service::Service;

/// Serves HTTP on `listener` until `shutdown` completes.
pub async fn run(
    listener: std::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    crate::stats::mark_start();
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    log::error!("accept: {e}");
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
            // Vectored writes: hyper queues body frames (mapped pieces among
            // them) and writes them with writev instead of copying them into
            // its own buffer.
            if let Err(e) = http1::Builder::new()
                .writev(true)
                .serve_connection(TokioIo::new(stream), handler)
                .await
            {
                log::debug!("http connection: {e}");
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
    let mut out = hyper::Response::new(PreviewBody::new(Body::Empty));
    *out.status_mut() = http::StatusCode::from_u16(resp.status.code())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    let mut bad = false;
    let mut add = |name: &str, value: &[u8]| match (
        http::HeaderName::from_bytes(name.as_bytes()),
        http::HeaderValue::from_bytes(value),
    ) {
        (Ok(name), Ok(value)) => {
            headers.append(name, value);
        }
        _ => bad = true,
    };
    let mut value = Vec::with_capacity(64);
    if let Some(location) = resp.location_header() {
        location.push(&mut value);
        add("Location", &value);
    }
    resp.each_header(|name, v| {
        value.clear();
        v.push(&mut value);
        add(name, &value);
    });
    if bad {
        log::error!("a response header is not valid HTTP; answering 500");
        let mut r = hyper::Response::new(PreviewBody::new(Body::Empty));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        return r;
    }
    *out.body_mut() = PreviewBody::new(resp.body);
    out
}

/// A response body: frames produced by [`body::send`] in a task of its own,
/// handed over through a small channel, so hyper pulls while the task pushes
/// (and inflating waits for hyper to take the last chunk).
pub struct PreviewBody {
    frames: Option<mpsc::Receiver<io::Result<Bytes>>>,
    remaining: u64,
}

impl PreviewBody {
    fn new(body: Body) -> PreviewBody {
        // A streamed page's length is unknown: hyper sends it chunked.
        let remaining = body.len().unwrap_or(u64::MAX);
        if remaining == 0 {
            return PreviewBody {
                frames: None,
                remaining,
            };
        }
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let mut frames = Frames {
                tx,
                queued: VecDeque::new(),
                error: None,
            };
            let sent = match body::send(&body, &mut frames).await {
                Ok(()) => frames.flush().await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = sent {
                // hyper ends the connection on a body error: the client sees a
                // truncated response, never a short one passed off as whole.
                let _ = frames.tx.send(Err(e)).await;
            }
        });
        PreviewBody {
            frames: Some(rx),
            remaining,
        }
    }
}

/// The preview's way to write a body: `Bytes` frames; mapped pieces own a
/// reference to the mapping rather than a copy.
struct Frames {
    tx: mpsc::Sender<io::Result<Bytes>>,
    queued: VecDeque<Bytes>,
    error: Option<io::Error>,
}

impl Sink for Frames {
    const MAY_BLOCK: bool = false;

    fn bytes(&mut self, bytes: &[u8]) {
        self.queued.push_back(Bytes::copy_from_slice(bytes));
    }

    fn mapped(&mut self, archive: &Arc<Archive>, offset: u64, len: u64) {
        match archive.mapped_bytes(offset, len) {
            Some(b) => self.queued.push_back(b),
            None => self.error = Some(io::Error::other("member outside the archive")),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        while let Some(frame) = self.queued.pop_front() {
            self.tx
                .send(Ok(frame))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        }
        Ok(())
    }
}

impl http_body::Body for PreviewBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let Some(frames) = &mut self.frames else {
            return Poll::Ready(None);
        };
        match frames.poll_recv(cx) {
            Poll::Ready(Some(Ok(data))) => {
                if self.remaining != u64::MAX {
                    self.remaining = self.remaining.saturating_sub(data.len() as u64);
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => {
                self.remaining = 0;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        if self.remaining == u64::MAX {
            return SizeHint::default();
        }
        SizeHint::with_exact(self.remaining)
    }
}
