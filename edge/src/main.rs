//! `edge`: one cdnlab edge server. See `edge --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = edge::cli::Args::parse();
    match edge::cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
