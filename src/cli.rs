//! The `wwz` command line. Every serve option can also come from the
//! environment (`WWZ_*`), because mod_fcgid configures its children that way.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::archive::s3::{DiskSettings, Location, Settings, Store};
use crate::archive::Cache;
use crate::front::fcgi::Limits;
use crate::front::listen;
use crate::front::server::{self, Server};
use crate::log::{self, Level};
use crate::service::Service;
use crate::service::{HtmlHandling, Options, DEFAULT_CACHE_CONTROL, IMMUTABLE_CACHE_CONTROL};

/// `wwz --version`: the crate version and the commit it was built from
/// (short hash and commit date, or "unknown"; see build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("WWZ_COMMIT"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "wwz",
    version = VERSION,
    about = "Serve static sites, CI logs and release artifacts out of zip archives (.wwz) over FastCGI",
    after_help = "Run with no arguments from a FastCGI server that passes a listening socket on fd 0 \
                  (Apache mod_fcgid, lighttpd bin-path, spawn-fcgi) to serve on it."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
// Parsed once at start: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Serve archives over FastCGI.
    Serve(ServeArgs),
    /// Pack a directory into an aligned, reproducible archive.
    Pack(crate::tool::pack::PackArgs),
    /// Re-align a zip made by any tool, without touching member data.
    Align(crate::tool::align::AlignArgs),
    /// Check that archives are servable and safe.
    Check(crate::tool::check::CheckArgs),
    /// List an archive's members: method, sizes, data offset, alignment, time, name.
    Ls(crate::tool::ls::LsArgs),
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  wwz serve --listen unix:/run/wwz.sock --docroot /srv/www     (nginx fastcgi_pass)
  wwz serve --listen 127.0.0.1:9000                            (docroot from DOCUMENT_ROOT)
  spawn-fcgi -s /run/wwz.sock -- /usr/local/bin/wwz serve      (socket on fd 0)")]
pub struct ServeArgs {
    /// Listen on `unix:/path/to.sock` or `HOST:PORT`; without it, serve on the
    /// socket inherited as fd 0 or from systemd (LISTEN_FDS). A HOST:PORT
    /// other hosts can reach needs FCGI_WEB_SERVER_ADDRS or --docroot.
    #[arg(long, env = "WWZ_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Serve plain HTTP/1.1 on HOST:PORT instead of FastCGI: a local preview
    /// (needs --docroot), not a production front.
    #[arg(
        long,
        env = "WWZ_HTTP",
        value_name = "HOST:PORT",
        conflicts_with = "listen"
    )]
    pub http: Option<String>,

    /// Resolve archives under DIR; without it, under each request's DOCUMENT_ROOT.
    /// `s3://BUCKET/PREFIX` reads them from object storage instead (endpoint,
    /// region and credentials from AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
    #[arg(long, env = "WWZ_DOCROOT", value_name = "DIR")]
    pub docroot: Option<PathBuf>,

    /// With an s3:// docroot: the longest wait to connect, for an answer's
    /// head, or between two pieces of its body, in milliseconds (one retry
    /// follows a failure that may pass; then 502, 503 or 504).
    #[arg(
        long,
        env = "WWZ_S3_TIMEOUT_MS",
        default_value_t = 3000,
        value_name = "MS"
    )]
    pub s3_timeout_ms: u64,

    /// With an s3:// docroot: trust an open archive (or a missing one) this
    /// long before asking storage again (a conditional GET of its tail).
    /// Member reads name the version they expect, so a replaced archive is
    /// seen at its next member read in any case.
    #[arg(
        long,
        env = "WWZ_S3_REVALIDATE_MS",
        default_value_t = 1000,
        value_name = "MS"
    )]
    pub s3_revalidate_ms: u64,

    /// With an s3:// docroot: keep small hot archives (asked for twice, at
    /// most --s3-fill-max bytes) in this directory and serve them from a
    /// local mapping; kept across restarts.
    #[arg(long, env = "WWZ_S3_CACHE_DIR", value_name = "DIR")]
    pub s3_cache_dir: Option<PathBuf>,

    /// The most bytes of archives in --s3-cache-dir (least recently used deleted first).
    #[arg(long, env = "WWZ_S3_CACHE_BYTES", default_value_t = 1 << 30, value_name = "BYTES")]
    pub s3_cache_bytes: u64,

    /// The largest archive --s3-cache-dir takes.
    #[arg(long, env = "WWZ_S3_FILL_MAX", default_value_t = 64 << 20, value_name = "BYTES")]
    pub s3_fill_max: u64,

    /// Maximum archives kept open, one descriptor and one mapping each (least
    /// recently used closed first). Default: 16384, or three quarters of the
    /// descriptor limit (raised to its hard limit at start) if that is less.
    #[arg(long, env = "WWZ_MAX_ARCHIVES", value_name = "N")]
    pub max_archives: Option<usize>,

    /// Check open archives against their files by time alone (every
    /// --revalidate-ms), not also when inotify reports a change on their path.
    #[arg(long, env = "WWZ_NO_WATCH", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_watch: bool,

    /// Maximum memory for the indexes of open archives, all together (least
    /// recently used closed first; one archive larger than this stays open alone).
    #[arg(long, env = "WWZ_CACHE_MEMORY", default_value_t = DEFAULT_CACHE_MEMORY, value_name = "BYTES")]
    pub cache_memory: usize,

    /// Check an open archive against its file at most this often, in milliseconds.
    #[arg(
        long,
        env = "WWZ_REVALIDATE_MS",
        default_value_t = 100,
        value_name = "MS"
    )]
    pub revalidate_ms: u64,

    /// Maximum concurrent connections (default: from the descriptor limit,
    /// which is raised to its hard limit at start, less room for the archive
    /// cache; at most 65536). At the limit, a new connection takes the place
    /// of the one idle longest between requests.
    #[arg(long, env = "WWZ_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Maximum size of one request's FastCGI params, in bytes.
    #[arg(long, env = "WWZ_MAX_PARAMS", default_value_t = 64 * 1024, value_name = "BYTES")]
    pub max_params: usize,

    /// Close a connection after this many seconds without progress.
    #[arg(
        long,
        env = "WWZ_IDLE_TIMEOUT",
        default_value_t = 60,
        value_name = "SECS"
    )]
    pub idle_timeout: u64,

    /// On SIGTERM/SIGINT, wait this many seconds for responses in flight.
    #[arg(long, env = "WWZ_GRACE", default_value_t = 5, value_name = "SECS")]
    pub grace: u64,

    /// Cache-Control sent with members and listings.
    #[arg(long, env = "WWZ_CACHE_CONTROL", value_name = "VALUE", default_value = DEFAULT_CACHE_CONTROL)]
    pub cache_control: String,

    /// Treat archives named `name-<hex>.wwz` or `name.<hex>.wwz` (8+ hex digits,
    /// a content hash) as immutable: they get --immutable-cache-control.
    #[arg(long, env = "WWZ_CONTENT_ADDRESSED", value_parser = clap::builder::BoolishValueParser::new())]
    pub content_addressed: bool,

    /// Cache-Control for content-addressed archives (with --content-addressed).
    #[arg(long, env = "WWZ_IMMUTABLE_CACHE_CONTROL", value_name = "VALUE", default_value = IMMUTABLE_CACHE_CONTROL)]
    pub immutable_cache_control: String,

    /// Answer 403 for a directory without index.html instead of listing it.
    #[arg(long, env = "WWZ_NO_LISTING", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_listing: bool,

    /// Serve the archive's nearest 404.html / 403.html with a 404 / 403.
    #[arg(
        long,
        env = "WWZ_ERROR_PAGES",
        value_name = "on|off",
        default_value = "on",
        value_parser = ["on", "off"]
    )]
    pub error_pages: String,

    /// Do not look for PATH.html when PATH is not a member.
    #[arg(long, env = "WWZ_NO_CLEAN_URLS", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_clean_urls: bool,

    /// Where pages answer and where their other URLs redirect, as Cloudflare
    /// Pages' html_handling (every archive; docs/servers.md, "URL policy").
    #[arg(
        long,
        env = "WWZ_HTML_HANDLING",
        value_enum,
        default_value = "auto-trailing-slash",
        value_name = "MODE"
    )]
    pub html_handling: HtmlHandling,

    /// Isolate archive members a browser would run scripts in (HTML, SVG,
    /// XML): `Content-Security-Policy: sandbox …`, as Jenkins sends on
    /// archived artifacts, so an untrusted job's page cannot run scripts or
    /// reach other archives under the host. wwz's own pages (listings, log
    /// view, search, reports) are never sandboxed.
    #[arg(long, env = "WWZ_SANDBOX", value_parser = clap::builder::BoolishValueParser::new())]
    pub sandbox: bool,

    /// Add this header to every response (repeatable; in WWZ_HEADERS, one
    /// per line). A site's `_headers` may set the same header for its
    /// paths, and then wins. Not for headers wwz sets itself
    /// (Content-Length, ETag, …); use --cache-control for Cache-Control.
    #[arg(long = "header", env = "WWZ_HEADERS", value_name = "'NAME: VALUE'", value_delimiter = '\n', value_parser = operator_header)]
    pub headers: Vec<Option<(String, String)>>,

    /// Answer a status page (text; `?json`; `?openmetrics`) for requests of
    /// exactly this path, e.g. `/wwz-status`. Off by default; expose it to
    /// trusted clients only.
    #[arg(long, env = "WWZ_STATUS_PATH", value_name = "PATH")]
    pub status_path: Option<String>,

    /// Memory for checkpoints into big deflated members (random access for
    /// Range requests and log-view tails), all archives together; the least
    /// recently used member's checkpoints are dropped first. 0 disables them.
    #[arg(long, env = "WWZ_INFLATE_INDEX_MEMORY", default_value_t = crate::archive::checkpoints::DEFAULT_BUDGET, value_name = "BYTES")]
    pub inflate_index_memory: usize,

    /// Send a member (or a range of one) of at least this many bytes with
    /// sendfile(2) from the archive file rather than `writev` from its
    /// mapping: the kernel then passes page references to the socket instead
    /// of copying the bytes (unix sockets: Linux 6.5 and later). 0, the
    /// default, turns it off: behind a web server on the same host, the
    /// server's reading of page fragments costs what wwz saves (see
    /// BENCHMARKS.md, figure 2). FastCGI and CGI; the preview always writes
    /// from the mapping.
    #[arg(long, env = "WWZ_SENDFILE_MIN", default_value_t = crate::front::fcgi::DEFAULT_SENDFILE_MIN, value_name = "BYTES")]
    pub sendfile_min: u64,

    /// Worker threads (default: one per core).
    #[arg(long, env = "WWZ_THREADS", value_name = "N")]
    pub threads: Option<usize>,

    /// Least severe messages to log on stderr.
    #[arg(long, env = "WWZ_LOG_LEVEL", value_enum, default_value = "warn")]
    pub log_level: Level,
}

/// The command-line definition, for generating man pages and shell
/// completions (`tools/gen_docs.rs`).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Exit status for usage errors and a missing socket, as clap uses.
const USAGE: u8 = 2;

/// `--cache-memory`: about 2.8 million members' worth of index.
const DEFAULT_CACHE_MEMORY: usize = 256 << 20;
/// `--max-archives` when the descriptor limit allows it.
const DEFAULT_MAX_ARCHIVES: usize = 16_384;

/// The archive cache of a long-running front, within the descriptor limit
/// (`descriptors`, already raised).
fn cache(args: &ServeArgs, descriptors: u64) -> Cache {
    let archives = args.max_archives.unwrap_or_else(|| {
        usize::try_from(descriptors / 4 * 3)
            .unwrap_or(DEFAULT_MAX_ARCHIVES)
            .clamp(16, DEFAULT_MAX_ARCHIVES)
    });
    Cache::with_limits(
        crate::archive::cache::CacheLimits {
            archives,
            memory: args.cache_memory,
            revalidate: Duration::from_millis(args.revalidate_ms),
        },
        !args.no_watch,
    )
}

pub fn main() -> ExitCode {
    let no_args = std::env::args_os().len() <= 1;
    // A CGI program gets its request in the environment; the server may pass
    // words of the query as arguments, so those are not parsed.
    if crate::front::cgi::is_cgi() && !listen::fd0_is_listener() {
        return cgi();
    }
    if no_args && listen::fd0_is_listener() {
        // Dropped in as a mod_fcgid wrapper or a lighttpd bin-path: serve, configured by environment.
        return match Cli::try_parse_from(["wwz", "serve"]) {
            Ok(Cli {
                command: Some(Command::Serve(args)),
            }) => serve(args),
            Ok(_) => ExitCode::from(USAGE),
            Err(e) => e.exit(),
        };
    }
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Pack(args)) => crate::tool::pack::run(&args),
        Some(Command::Align(args)) => crate::tool::align::run(&args),
        Some(Command::Check(args)) => crate::tool::check::run(&args),
        Some(Command::Ls(args)) => crate::tool::ls::run(&args),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            ExitCode::from(USAGE)
        }
    }
}

/// Serves one CGI request, configured by environment (WWZ_*).
fn cgi() -> ExitCode {
    let args = match Cli::try_parse_from(["wwz", "serve"]) {
        Ok(Cli {
            command: Some(Command::Serve(args)),
        }) => args,
        Ok(_) => return ExitCode::from(USAGE),
        Err(e) => {
            eprintln!("wwz: {e}");
            return ExitCode::from(USAGE);
        }
    };
    log::set_level(args.log_level);
    ExitCode::from(crate::front::cgi::run(
        crate::front::cgi::service(args.docroot.clone(), options(&args)),
        args.sendfile_min,
    ))
}

fn options(args: &ServeArgs) -> Options {
    // Process-wide, like the counters: every front reads members the same way.
    crate::archive::checkpoints::set_budget(args.inflate_index_memory);
    Options {
        cache_control: args.cache_control.clone(),
        immutable_cache_control: args
            .content_addressed
            .then(|| args.immutable_cache_control.clone()),
        listing: !args.no_listing,
        status_path: args.status_path.clone(),
        error_pages: args.error_pages == "on",
        clean_urls: !args.no_clean_urls,
        html_handling: args.html_handling,
        headers: args.headers.iter().flatten().cloned().collect(),
        sandbox: args.sandbox,
    }
}

/// `--header 'Name: value'`, checked as `_headers` lines are; a blank line
/// of WWZ_HEADERS is none.
fn operator_header(line: &str) -> Result<Option<(String, String)>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let (name, value) = crate::http::header::parse_line(line)?;
    if name.eq_ignore_ascii_case("Cache-Control") {
        return Err("use --cache-control for Cache-Control".into());
    }
    Ok(Some((name, value)))
}

fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        rt.worker_threads(n.max(1));
    }
    rt.enable_all().build().map_err(|e| {
        eprintln!("wwz: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// `--http`: the local preview front.
/// Bytes of ranges fetched from object storage kept in memory (a small
/// archive's tail is all of it; a member's first range holds its header).
const S3_CHUNK_BYTES: usize = 64 << 20;

/// The bucket `--docroot s3://…` names; `Ok(None)` for a directory.
fn store(args: &ServeArgs, archives: usize) -> Result<Option<Arc<Store>>, ExitCode> {
    let Some(text) = args.docroot.as_ref().and_then(|d| d.to_str()) else {
        return Ok(None);
    };
    let location = match Location::parse(text) {
        None => return Ok(None),
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            eprintln!("wwz: --docroot {e}");
            return Err(ExitCode::from(USAGE));
        }
    };
    let settings = Settings {
        timeout: Duration::from_millis(args.s3_timeout_ms.max(1)),
        revalidate: Duration::from_millis(args.s3_revalidate_ms),
        memory: args.cache_memory,
        archives,
        chunk_bytes: S3_CHUNK_BYTES,
        disk: args.s3_cache_dir.clone().map(|dir| DiskSettings {
            dir,
            bytes: args.s3_cache_bytes,
            fill_max: args.s3_fill_max,
        }),
    };
    match Store::from_env(&location, settings) {
        Ok(store) => {
            log::info!("archives from {}", store.describe());
            Ok(Some(Arc::new(store)))
        }
        Err(e) => {
            eprintln!("wwz: --docroot {text}: {e}");
            Err(ExitCode::from(USAGE))
        }
    }
}

/// The service, reading from the bucket when the docroot is one.
fn service(args: &ServeArgs, descriptors: u64) -> Result<Service, ExitCode> {
    let cache = cache(args, descriptors);
    let store = store(args, cache.limits().archives)?;
    let service = Service::with_options(args.docroot.clone(), cache, options(args));
    Ok(match store {
        Some(store) => service.with_store(store),
        None => service,
    })
}

fn is_bucket(docroot: &std::path::Path) -> bool {
    docroot.to_str().is_some_and(|d| d.starts_with("s3://"))
}

fn preview(addr: &str, args: &ServeArgs) -> ExitCode {
    log::set_level(args.log_level);
    let Some(_) = args.docroot.clone().filter(|d| d.is_dir() || is_bucket(d)) else {
        eprintln!("wwz: --http needs --docroot DIR (an existing directory)");
        return ExitCode::from(USAGE);
    };
    let listener = match std::net::TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wwz: --http {addr}: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let descriptors = listen::raise_descriptor_limit();
    let service = match service(args, descriptors) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let rt = match runtime(args.threads) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if let Ok(a) = listener.local_addr() {
        eprintln!("wwz: preview on http://{a}/ (not for production)");
    }
    match rt.block_on(crate::front::preview::run(
        listener,
        service,
        server::termination(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wwz: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Connections the descriptor limit allows, once raised to its hard limit:
/// what is left after the archive cache (one descriptor per archive) and a
/// margin for listeners, logs and the archives being swapped in.
fn default_max_connections(limit: u64, max_archives: usize) -> usize {
    const MARGIN: u64 = 64;
    const CAP: u64 = 65_536;
    let spare = limit.saturating_sub(max_archives as u64 + MARGIN);
    usize::try_from(spare.clamp(16, CAP)).unwrap_or(16)
}

fn serve(args: ServeArgs) -> ExitCode {
    log::set_level(args.log_level);
    if let Some(addr) = &args.http {
        return preview(addr, &args);
    }
    let listener = match &args.listen {
        Some(spec) => listen::bind(spec),
        None => listen::inherited().and_then(|l| {
            l.ok_or_else(|| {
                std::io::Error::other(
                    "no listening socket: pass --listen ADDR, or start wwz from a FastCGI server \
                     that passes one on fd 0 (mod_fcgid, lighttpd, spawn-fcgi) or systemd",
                )
            })
        }),
    };
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wwz: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let allowed_peers = match listen::allowed_peers() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wwz: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if let Some(root) = &args.docroot {
        if !root.is_dir() && !is_bucket(root) {
            eprintln!("wwz: --docroot {}: not a directory", root.display());
            return ExitCode::from(USAGE);
        }
    }
    // Without a docroot each request's DOCUMENT_ROOT decides what is read:
    // on an address other hosts reach, with no allow-list, any of them could
    // read any archive this process can. An address someone else bound
    // (inherited, systemd) is theirs to have chosen.
    if args.listen.is_some()
        && allowed_peers.is_none()
        && args.docroot.is_none()
        && listener.reachable_from_other_hosts()
    {
        eprintln!(
            "wwz: --listen {} is reachable from other hosts, and without --docroot any peer \
             could name any DOCUMENT_ROOT: set FCGI_WEB_SERVER_ADDRS to the web server's \
             address, pass --docroot DIR, or listen on loopback or a unix: socket",
            listener.describe()
        );
        return ExitCode::from(USAGE);
    }
    let descriptors = listen::raise_descriptor_limit();
    let service = match service(&args, descriptors) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let max_conns = match args.max_connections {
        Some(n) => n.max(1),
        None => default_max_connections(descriptors, service.cache.limits().archives),
    };
    log::info!(
        "descriptor limit {descriptors}; at most {max_conns} connections, {} archives open, {} bytes of indexes{}",
        service.cache.limits().archives,
        service.cache.limits().memory,
        if service.cache.is_watching() { ", changes seen by inotify" } else { "" }
    );
    let server = Server {
        service: Arc::new(service),
        limits: Arc::new(Limits {
            max_params: args.max_params,
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
            max_conns,
            sendfile_min: args.sendfile_min,
        }),
        allowed_peers,
        grace: Duration::from_secs(args.grace),
    };
    let rt = match runtime(args.threads) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    log::info!("serving on {}", listener.describe());
    match rt.block_on(server.run(listener, server::termination())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wwz: {e}");
            ExitCode::FAILURE
        }
    }
}
