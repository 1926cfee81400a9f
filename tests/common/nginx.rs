//! nginx in front of wwz on loopback, as the tests start it: a config of
//! their own around the recipes users are given, checked with `nginx -t`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A running nginx on a free loopback port.
pub struct Nginx {
    pub proc: Proc,
    pub port: u16,
    pub error_log: PathBuf,
}

/// Prints nginx's error log and wwz's stderr when a test fails.
pub struct Diagnostics(pub Vec<(&'static str, PathBuf)>);

impl Drop for Diagnostics {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (what, path) in &self.0 {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                eprintln!("--- {what} ---\n{text}");
            }
        }
    }
}

/// Starts nginx in front of the wwz socket `wwz_sock`, with `server` (e.g.
/// `include` lines of the recipes in `tools/servers/`) in its server block,
/// after checking the config with `nginx -t`.
pub fn start(site: &Site, wwz_sock: &Path, keep_conn: bool, server: &str) -> Nginx {
    let (keepalive, keep_conn_directive) = if keep_conn {
        ("keepalive 8;", "fastcgi_keep_conn on;")
    } else {
        ("", "")
    };
    let upstream = format!(
        "upstream wwz {{\n        server unix:{};\n        {keepalive}\n    }}",
        wwz_sock.display()
    );
    start_with_upstream(
        site,
        &upstream,
        &format!("{keep_conn_directive}\n        {server}"),
    )
}

/// nginx with `upstream` (an `upstream wwz { … }` block, or an `include` of
/// one) in its http block and `server` in its server block.
pub fn start_with_upstream(site: &Site, upstream: &str, server: &str) -> Nginx {
    let nginx = require_tool("nginx", "nginx");
    let stock_params = Path::new("/etc/nginx/fastcgi_params");
    assert!(
        stock_params.is_file(),
        "/etc/nginx/fastcgi_params missing: install the Debian package `nginx` (nginx-common)"
    );
    let dir = site.path("nginx");
    std::fs::create_dir_all(&dir).unwrap();
    // `include fastcgi_params` resolves next to the main config file.
    std::fs::copy(stock_params, dir.join("fastcgi_params")).unwrap();
    let port = free_port();
    let error_log = dir.join("error.log");
    let d = dir.display();
    let conf = format!(
        r#"
daemon off;
master_process off;
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    fastcgi_temp_path {d}/fastcgi_temp;
    proxy_temp_path {d}/proxy_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    {upstream}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        {server}
    }}
}}
"#,
        root = site.docroot.display(),
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();

    let test = Command::new(&nginx)
        .arg("-t")
        .arg("-e")
        .arg(&error_log)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .output()
        .expect("run nginx -t");
    assert!(
        test.status.success(),
        "nginx -t rejected the config:\n{}",
        String::from_utf8_lossy(&test.stderr)
    );

    let mut cmd = Command::new(&nginx);
    cmd.arg("-e")
        .arg(&error_log)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path);
    let mut proc = spawn(cmd, "nginx", dir.join("stderr"));
    let addr = Addr::Tcp(([127, 0, 0, 1], port).into());
    wait_for(&addr, &mut proc);
    Nginx {
        proc,
        port,
        error_log,
    }
}
