//! `nexquelium`: start the compositor.

use std::{io::Write, process::ExitCode};

use clap::Parser;
use nexquelium::cli::Cli;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match nexquelium::run::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "nexquelium: {err:#}");
            ExitCode::FAILURE
        }
    }
}
