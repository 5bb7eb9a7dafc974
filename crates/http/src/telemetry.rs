//! JSON logs, filtered by `RUST_LOG` (default `info`): on stdout in Lambda (CloudWatch
//! reads it), on stderr for the local CLI, whose stdout is each command's own output.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_to(std::io::stdout);
}

/// Logs to stderr, keeping stdout for a command's output.
pub fn init_stderr() {
    init_to(std::io::stderr);
}

fn init_to<W>(writer: fn() -> W)
where
    W: std::io::Write + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(writer)
        .try_init();
}
