//! Writes the man pages and shell completions of `wwz` from its clap
//! definitions (`wwz::cli::command()`), for the Debian package (tools/deb):
//!
//!     cargo run --example gen-docs -- OUT_DIR
//!
//! OUT_DIR/man/wwz.1, wwz-serve.1, wwz-pack.1, … (one page per subcommand)
//! OUT_DIR/completions/wwz.bash, _wwz (zsh), wwz.fish

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark or build tool run by hand on inputs it makes: a panic is a clear stop"
)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap_complete::Shell;

fn run(out: PathBuf) -> std::io::Result<()> {
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    clap_mangen::generate_to(wwz::cli::command(), &man)?;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut wwz::cli::command(), "wwz", &completions)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: gen-docs OUT_DIR");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-docs: {e}");
            ExitCode::FAILURE
        }
    }
}
