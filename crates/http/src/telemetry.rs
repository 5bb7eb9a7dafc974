//! JSON logs, filtered by `RUST_LOG` (default `info`): on stdout in Lambda (CloudWatch
//! reads it), on stderr for the local CLI, whose stdout is each command's own output.
//!
//! The filter is `Targets`, which reads the `RUST_LOG` we use (`info`, `warn,milkrun_http=debug`:
//! a default level and levels by target prefix) without `EnvFilter`'s span and field
//! directives, and so without the regex engine they need (≈ 3 % of a Lambda bootstrap).

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(writer)
        .finish()
        .with(filter)
        .try_init();
}

/// `RUST_LOG` as a filter; unset, blank or unreadable, `info` (a typo must not silence the logs).
fn log_filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| value.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_info_when_unset_blank_or_unreadable() {
        for rust_log in [None, Some(""), Some("  "), Some("info,milkrun=loud")] {
            let filter = log_filter(rust_log);
            assert!(
                filter.would_enable("milkrun_http", &Level::INFO),
                "{rust_log:?}"
            );
            assert!(
                !filter.would_enable("milkrun_http", &Level::DEBUG),
                "{rust_log:?}"
            );
        }
    }

    #[test]
    fn reads_a_default_level_and_levels_by_target_prefix() {
        let filter = log_filter(Some("warn,milkrun_http=debug"));
        assert!(filter.would_enable("milkrun_http::error", &Level::DEBUG));
        assert!(!filter.would_enable("milkrun_http", &Level::TRACE));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
    }
}
