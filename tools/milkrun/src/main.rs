//! `milkrun`: the whole API on one machine, with embedded adapters and no AWS.

mod job;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "milkrun", version, about = "milkrun's local server and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole API on the embedded store, bus and outbox.
    Serve(serve::ServeArgs),
    /// Run a scheduled job by hand, over the same data folder.
    #[command(subcommand)]
    Job(job::Job),
    /// The local dead-letter list: deliveries that failed every retry.
    #[command(subcommand)]
    Dlq(job::Dlq),
}

/// mimalloc instead of glibc's malloc, whose arenas were a fifth of a checkout load's CPU
/// (bench/README.md, "Throughput: the local profile"). Lambda bootstraps keep the default.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    milkrun_http::telemetry::init_stderr();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::run(args).await,
        Command::Job(job) => job::run(job).await,
        Command::Dlq(command) => job::dlq(command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "milkrun stopped");
            eprintln!("milkrun: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
