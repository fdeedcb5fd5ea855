//! `edge`: one cdnlab edge server. See `edge --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Before any thread: glibc's malloc settings (docs/memory.md).
    runtime::malloc::reexec_with_defaults();
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    let args = edge::cli::Args::parse();
    match edge::cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
