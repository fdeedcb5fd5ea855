//! `geodns`: see [`geodns::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = geodns::cli::Args::parse();
    match geodns::cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("geodns: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
