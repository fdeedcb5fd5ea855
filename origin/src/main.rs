//! `origin`: the cdnlab origin server. Everything is in the library; see
//! `origin::cli`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = origin::cli::Args::parse();
    match origin::cli::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("origin: {e:#}");
            origin::cli::exit_code(&e)
        }
    }
}
