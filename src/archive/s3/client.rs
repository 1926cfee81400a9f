//! GETs to object storage: signed, bounded in time, retried once, run on a
//! small runtime of their own.
//!
//! A runtime of its own lets any caller wait for a read: a tokio worker
//! inside `block_in_place` (opening an archive), the blocking pool
//! (inflating a member), or a front with no runtime at all; and a reply
//! that never comes costs a timer there, not a worker of the server.
//!
//! Requests are signed as presigned URLs (SigV4 in the query, by
//! `rusty-s3`): `Range`, `If-Match` and `If-None-Match` then need no
//! signing. Every request is a GET of one range: no HEAD, no multi-range.
//!
//! Time is bounded three ways, all by `--s3-timeout-ms`: connecting, the
//! wait for the response's head, and any stall between two pieces of its
//! body. A failure that may pass (refused, reset, timed out, 5xx, 429) is
//! retried once after a short pause, and only before any byte of the body
//! was used; a 404, 403 or 412 is an answer, not retried.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Http;
use hyper_util::rt::TokioExecutor;
use rusty_s3::S3Action;

use super::StorageError;
use crate::log;

/// How long a presigned URL stays valid: it is used at once.
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// Pause before the one retry.
const BACKOFF: Duration = Duration::from_millis(100);
/// Pieces of a streamed body in flight between the storage runtime and the
/// front: what a slow client can make us hold.
const STREAM_DEPTH: usize = 4;

/// Which bytes of the object to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// The last `n` bytes (the whole object when it is shorter).
    Suffix(u64),
    /// Bytes `first..=last`.
    Span { first: u64, last: u64 },
}

/// One GET.
#[derive(Debug, Clone)]
pub(crate) struct Get {
    pub key: Arc<str>,
    pub range: Range,
    /// The version the bytes must come from: a 412 says the object changed.
    pub if_match: Option<Arc<str>>,
    /// The version already known: a 304 says it still is.
    pub if_none_match: Option<Arc<str>>,
}

/// What the head of a response said.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// 304: the version named in `If-None-Match` is still current.
    pub not_modified: bool,
    pub etag: Option<Arc<str>>,
    /// Where the bytes sent start in the object, and the object's size.
    pub start: u64,
    pub total: Option<u64>,
    /// Bytes in the body.
    pub len: Option<u64>,
    pub last_modified: Option<SystemTime>,
}

/// The storage endpoint, the bucket and the credentials to sign with.
pub(crate) struct Client {
    /// Kept to be shut down without blocking when the client goes (a
    /// runtime dropped inside another would panic).
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    http: Http<HttpConnector, NoBody>,
    bucket: rusty_s3::Bucket,
    credentials: Option<rusty_s3::Credentials>,
    timeout: Duration,
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Client {
    pub(crate) fn new(
        bucket: rusty_s3::Bucket,
        credentials: Option<rusty_s3::Credentials>,
        timeout: Duration,
    ) -> std::io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wwz-s3")
            .enable_all()
            .build()?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let http = {
            // The pool's idle timer needs a runtime: this one.
            let _guard = runtime.enter();
            Http::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector)
        };
        Ok(Client {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            http,
            bucket,
            credentials,
            timeout,
        })
    }

    /// Runs `work` on the storage runtime and waits for it on this thread
    /// (callers are where blocking is allowed).
    pub(crate) fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StorageError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| StorageError::Bad("the storage client stopped".into()))
    }

    /// Runs `work` on the storage runtime's blocking pool (a fill writing a file).
    pub(crate) fn spawn_blocking(&self, work: impl FnOnce() + Send + 'static) {
        self.handle.spawn_blocking(work);
    }

    /// The presigned URL for a GET of `key`.
    fn url(&self, key: &str) -> Result<hyper::Uri, StorageError> {
        // `sign` unwraps this parse: checked here first.
        self.bucket
            .object_url(key)
            .map_err(|e| StorageError::Bad(format!("object key {key:?}: {e}").into()))?;
        let url = self
            .bucket
            .get_object(self.credentials.as_ref(), key)
            .sign(SIGNED_FOR);
        url.as_str()
            .parse()
            .map_err(|e| StorageError::Bad(format!("signed URL: {e}").into()))
    }

    /// One GET, retried once where a failure may pass; the head and the body.
    pub(crate) async fn get(&self, get: &Get) -> Result<(Head, Incoming), StorageError> {
        match self.get_once(get).await {
            Err(e) if e.may_pass() => {
                log::warn!("object storage: {}: {e}; retrying once", get.key);
                tokio::time::sleep(BACKOFF).await;
                self.get_once(get).await
            }
            other => other,
        }
    }

    async fn get_once(&self, get: &Get) -> Result<(Head, Incoming), StorageError> {
        let range = match get.range {
            Range::Suffix(n) => format!("bytes=-{n}"),
            Range::Span { first, last } => format!("bytes={first}-{last}"),
        };
        let mut req = hyper::Request::get(self.url(&get.key)?).header(hyper::header::RANGE, &range);
        if let Some(tag) = &get.if_match {
            req = req.header(hyper::header::IF_MATCH, tag.as_ref());
        }
        if let Some(tag) = &get.if_none_match {
            req = req.header(hyper::header::IF_NONE_MATCH, tag.as_ref());
        }
        let req = req
            .body(NoBody)
            .map_err(|e| StorageError::Bad(e.to_string().into()))?;
        let resp = match tokio::time::timeout(self.timeout, self.http.request(req)).await {
            Err(_) => return Err(StorageError::Timeout),
            Ok(Err(e)) => return Err(StorageError::Unreachable(describe(&e).into())),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status().as_u16();
        log::debug!(
            "storage: GET {} {range} (if-match {:?}, if-none-match {:?}): {status}",
            get.key,
            get.if_match,
            get.if_none_match
        );
        let headers = resp.headers();
        let text = |name: hyper::header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let len = text(hyper::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        let (start, total) = match status {
            206 => match text(hyper::header::CONTENT_RANGE).and_then(|v| content_range(&v)) {
                Some((start, total)) => (start, Some(total)),
                None => return Err(StorageError::Bad("206 without a Content-Range".into())),
            },
            // The whole object (a server that ignores Range).
            _ => (0, len),
        };
        let head = Head {
            not_modified: status == 304,
            etag: text(hyper::header::ETAG).map(Arc::from),
            start,
            total,
            len,
            last_modified: text(hyper::header::LAST_MODIFIED)
                .and_then(|v| httpdate::parse_http_date(&v).ok()),
        };
        match status {
            200 | 206 | 304 => Ok((head, resp.into_body())),
            404 => Err(StorageError::NotFound),
            412 => Err(StorageError::Changed),
            416 => Err(StorageError::InvalidRange),
            401 | 403 => Err(StorageError::Denied(status)),
            429 | 503 => Err(StorageError::Unavailable(status)),
            _ => Err(StorageError::Status(status)),
        }
    }

    /// The next piece of `body`, within the stall timeout; `None` at its end.
    pub(crate) async fn next(&self, body: &mut Incoming) -> Result<Option<Bytes>, StorageError> {
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx));
            match tokio::time::timeout(self.timeout, frame).await {
                Err(_) => return Err(StorageError::Timeout),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(StorageError::Cut(describe(&e).into())),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                    // Trailers: nothing for us.
                }
            }
        }
    }

    /// A GET whose whole body is read, refused past `cap` bytes.
    pub(crate) async fn fetch(&self, get: &Get, cap: u64) -> Result<(Head, Bytes), StorageError> {
        let (head, mut body) = self.get(get).await?;
        if head.not_modified {
            return Ok((head, Bytes::new()));
        }
        if head.len.is_some_and(|n| n > cap) {
            return Err(StorageError::Bad(
                format!("{}: an answer of more than {cap} bytes", get.key).into(),
            ));
        }
        let want = head.len.unwrap_or(0).min(cap);
        let mut out = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        while let Some(piece) = self.next(&mut body).await? {
            if (out.len() + piece.len()) as u64 > cap {
                return Err(StorageError::Bad(
                    format!("{}: an answer of more than {cap} bytes", get.key).into(),
                ));
            }
            out.extend_from_slice(&piece);
        }
        if head.len.is_some_and(|n| n != out.len() as u64) {
            return Err(StorageError::Cut("the body ended before its length".into()));
        }
        Ok((head, Bytes::from(out)))
    }

    /// Streams bytes `first..=last` of the version `etag`: the pieces
    /// arrive on the returned channel as the storage sends them (a few at
    /// most in flight), ending with the last byte, or with an error.
    pub(crate) fn stream(
        self: &Arc<Self>,
        key: Arc<str>,
        etag: Arc<str>,
        first: u64,
        last: u64,
    ) -> tokio::sync::mpsc::Receiver<Result<Bytes, StorageError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_DEPTH);
        let client = Arc::clone(self);
        self.handle.spawn(async move {
            let get = Get {
                key,
                range: Range::Span { first, last },
                if_match: Some(etag),
                if_none_match: None,
            };
            let (head, mut body) = match client.get(&get).await {
                Ok(answer) => answer,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            if head.start != first || head.not_modified {
                let _ = tx
                    .send(Err(StorageError::Bad(
                        "the answer does not start where asked".into(),
                    )))
                    .await;
                return;
            }
            let mut left = last.saturating_sub(first).saturating_add(1);
            while left > 0 {
                match client.next(&mut body).await {
                    Ok(Some(piece)) => {
                        let piece = piece
                            .slice(..piece.len().min(usize::try_from(left).unwrap_or(usize::MAX)));
                        left -= piece.len() as u64;
                        // The reader went away (the client closed): stop reading.
                        if tx.send(Ok(piece)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        let _ = tx
                            .send(Err(StorageError::Cut("the body ended early".into())))
                            .await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        rx
    }
}

/// `bytes START-END/TOTAL` → (START, TOTAL).
fn content_range(v: &str) -> Option<(u64, u64)> {
    let (range, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()?))
}

/// An error and its causes on one line (hyper's own says only "client error").
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The body of a GET: none.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoBody;

impl http_body::Body for NoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("bytes 0-99/1000"), Some((0, 1000)));
        assert_eq!(content_range("bytes 900-999/1000"), Some((900, 1000)));
        assert_eq!(content_range("bytes */1000"), None);
        assert_eq!(content_range("items 0-1/2"), None);
    }
}
