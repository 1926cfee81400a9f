//! The status page (`--status-path`): what a running responder has done, as
//! php-fpm's `pm.status_path` shows it: plain text by default, `?json`, and
//! `?openmetrics` for Prometheus. One table of figures feeds all three.

use std::borrow::Cow;
use std::fmt::Write;
use std::time::SystemTime;

use crate::archive::Cache;
use crate::http::request::Format;
use crate::http::{Body, Query, Response, Status};
use crate::stats::{self, STATS};

#[derive(Clone, Copy, PartialEq, Eq)]
enum MetricKind {
    Counter,
    Gauge,
}

/// One figure: its name in each format, its meaning and its value.
struct Figure {
    /// The text format's label.
    text: &'static str,
    /// The JSON key, and the OpenMetrics family name after `wwz_`.
    key: &'static str,
    /// OpenMetrics: the family shared by several labelled figures, and the label.
    family: Option<(&'static str, &'static str)>,
    help: &'static str,
    kind: MetricKind,
    value: u64,
}

fn figures(cache: &Cache, uptime: u64) -> Vec<Figure> {
    use MetricKind::{Counter, Gauge};
    let c = cache.stats();
    let (checkpoints, checkpoint_bytes) = crate::archive::checkpoints::usage();
    let connections = STATS.connections.get();
    let idle = STATS.idle.get().min(connections);
    let f = |text, key, help, kind, value| Figure {
        text,
        key,
        family: None,
        help,
        kind,
        value,
    };
    let mut out = vec![
        f(
            "uptime seconds",
            "uptime_seconds",
            "Seconds since the responder started.",
            Gauge,
            uptime,
        ),
        f(
            "accepted connections",
            "connections_accepted",
            "Connections accepted.",
            Counter,
            STATS.accepted.get(),
        ),
        f(
            "active connections",
            "connections_active",
            "Connections in the middle of a request or a response.",
            Gauge,
            connections - idle,
        ),
        f(
            "idle connections",
            "connections_idle",
            "Connections waiting between requests.",
            Gauge,
            idle,
        ),
        f(
            "idle closed at limit",
            "connections_idle_closed",
            "Idle connections closed to make room for a new one at --max-connections.",
            Counter,
            STATS.idle_closed_at_limit.get(),
        ),
    ];
    for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx"].into_iter().enumerate() {
        let (text, key) = match class {
            "1xx" => ("requests 1xx", "requests_1xx"),
            "2xx" => ("requests 2xx", "requests_2xx"),
            "3xx" => ("requests 3xx", "requests_3xx"),
            "4xx" => ("requests 4xx", "requests_4xx"),
            _ => ("requests 5xx", "requests_5xx"),
        };
        out.push(Figure {
            text,
            key,
            family: Some(("requests", class)),
            help: "Requests answered, by status class.",
            kind: Counter,
            value: STATS.responses.get(i).map_or(0, |c| c.get()),
        });
    }
    out.extend([
        f(
            "bytes sent mapped",
            "bytes_sent_mapped",
            "Body bytes the kernel sent straight from archive mappings.",
            Counter,
            STATS.bytes_mapped.get(),
        ),
        f(
            "bytes sent with sendfile",
            "bytes_sent_sendfile",
            "Of the mapped bytes, those sent with sendfile(2) from the archive file.",
            Counter,
            STATS.bytes_sendfile.get(),
        ),
        f(
            "bytes sent copied",
            "bytes_sent_copied",
            "Body bytes sent from buffers of the responder (pages, inflated output).",
            Counter,
            STATS.bytes_copied.get(),
        ),
        f(
            "bytes inflated",
            "bytes_inflated",
            "Bytes produced by inflating deflated members.",
            Counter,
            STATS.bytes_inflated.get(),
        ),
        f(
            "archives open",
            "archives_open",
            "Archives open in the cache.",
            Gauge,
            cache.len() as u64,
        ),
        f(
            "archive index memory",
            "archive_index_bytes",
            "Bytes the indexes of the open archives count against --cache-memory.",
            Gauge,
            cache.memory() as u64,
        ),
        f(
            "cache hits",
            "cache_hits",
            "Archive lookups answered by an open archive.",
            Counter,
            c.hits.get(),
        ),
        f(
            "cache misses",
            "cache_misses",
            "Archive lookups that had to open a file.",
            Counter,
            c.misses.get(),
        ),
        f(
            "cache opens",
            "cache_opens",
            "Archives opened and indexed.",
            Counter,
            c.opens.get(),
        ),
        f(
            "cache evictions",
            "cache_evictions",
            "Archives closed to stay within --max-archives and --cache-memory.",
            Counter,
            c.evictions.get(),
        ),
        f(
            "cache revalidations",
            "cache_revalidations",
            "Checks of an open archive against its file.",
            Counter,
            c.revalidations.get(),
        ),
        f(
            "broken archives",
            "archives_broken",
            "Archive versions found broken.",
            Counter,
            c.broken.get(),
        ),
        f(
            "inflate checkpoints",
            "inflate_checkpoints",
            "Checkpoints kept into big deflated members.",
            Gauge,
            checkpoints as u64,
        ),
        f(
            "checkpoint bytes",
            "inflate_checkpoint_bytes",
            "Memory those checkpoints hold (--inflate-index-memory bounds it).",
            Gauge,
            checkpoint_bytes as u64,
        ),
    ]);
    out
}

/// The status page in the format the query asks for.
pub fn page(cache: &Cache, format: Format, query: &Query) -> Response {
    let started = stats::started();
    let start_secs = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let uptime = SystemTime::now()
        .duration_since(started)
        .map_or(0, |d| d.as_secs());
    let figures = figures(cache, uptime);
    let (body, content_type) = if format == Format::Json {
        (
            json(&figures, start_secs),
            "application/json; charset=utf-8",
        )
    } else if query.openmetrics {
        (
            openmetrics(&figures, start_secs),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (text(&figures, started), "text/plain; charset=utf-8")
    };
    Response {
        content_type: Some(Cow::Borrowed(content_type)),
        content_length: Some(body.len() as u64),
        cache_control: Some("no-store"),
        body: Body::Owned(body.into_bytes()),
        ..Response::new(Status::Ok)
    }
}

fn text(figures: &[Figure], started: SystemTime) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{:<22}{value}", format!("{label}:"));
    };
    line("version", &stats::version());
    line("commit", &stats::commit().unwrap_or("unknown"));
    let start = crate::util::time::iso8601(crate::util::time::unix_seconds(started));
    line("start time", &start);
    for f in figures {
        line(f.text, &f.value);
    }
    out
}

fn json(figures: &[Figure], start_secs: u64) -> String {
    let mut out = String::from("{");
    let _ = write!(
        out,
        "\"version\":\"{}\",\"commit\":\"{}\",\"start_time\":{start_secs}",
        stats::version(),
        stats::commit().unwrap_or("unknown")
    );
    for f in figures {
        let _ = write!(out, ",\"{}\":{}", f.key, f.value);
    }
    out.push_str("}\n");
    out
}

/// OpenMetrics 1.0 text: each family once (`# TYPE`, `# HELP`), counters
/// sampled as `_total`, and `# EOF` last.
fn openmetrics(figures: &[Figure], start_secs: u64) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "# TYPE wwz_build info\n# HELP wwz_build The version and commit of this responder.\n\
         wwz_build_info{{version=\"{}\",commit=\"{}\"}} 1\n\
         # TYPE wwz_start_time_seconds gauge\n# UNIT wwz_start_time_seconds seconds\n\
         # HELP wwz_start_time_seconds When the responder started, in seconds since the Unix epoch.\n\
         wwz_start_time_seconds {start_secs}\n",
        stats::version(),
        stats::commit().unwrap_or("unknown")
    );
    let mut last_family = "";
    for f in figures {
        let (family, label) = match f.family {
            Some((family, label)) => (family, Some(label)),
            None => (f.key, None),
        };
        if family != last_family {
            let kind = match f.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# TYPE wwz_{family} {kind}");
            if family.ends_with("_seconds") {
                let _ = writeln!(out, "# UNIT wwz_{family} seconds");
            }
            let _ = writeln!(out, "# HELP wwz_{family} {}", f.help);
            last_family = family;
        }
        let suffix = if f.kind == MetricKind::Counter {
            "_total"
        } else {
            ""
        };
        match label {
            Some(class) => {
                let _ = writeln!(out, "wwz_{family}{suffix}{{class=\"{class}\"}} {}", f.value);
            }
            None => {
                let _ = writeln!(out, "wwz_{family}{suffix} {}", f.value);
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    fn ask(cache: &Cache, query: &[u8]) -> Response {
        let query = Query::parse(query);
        let format = if query.json {
            Format::Json
        } else {
            Format::Html
        };
        page(cache, format, &query)
    }
    use std::time::Duration;

    fn body(r: &Response) -> String {
        match &r.body {
            Body::Owned(b) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn three_formats() {
        let cache = Cache::new(4, Duration::ZERO);
        let text = body(&ask(&cache, b""));
        assert!(text.contains("accepted connections: "), "{text}");
        assert!(text.contains("requests 2xx:"), "{text}");
        assert_eq!(body(&ask(&cache, b"full")), text, "unknown query: text");
        let json = body(&ask(&cache, b"json"));
        assert!(
            json.starts_with("{\"version\":") && json.contains("\"cache_hits\":0"),
            "{json}"
        );
        let om = ask(&cache, b"openmetrics");
        assert!(om
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let om = body(&om);
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE wwz_requests counter\n"), "{om}");
        assert!(om.contains("wwz_requests_total{class=\"4xx\"} "), "{om}");
        assert_eq!(om.matches("# TYPE wwz_requests ").count(), 1, "{om}");
        assert!(om.contains("wwz_archives_open 0\n"), "{om}");
    }
}
