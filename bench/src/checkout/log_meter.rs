//! Log volume: what the functions would write to CloudWatch Logs, as their JSON lines.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use crate::item_meter::label;

pub(super) static LOG_METER: AtomicBool = AtomicBool::new(false);
pub(super) static LOG_BYTES: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

pub(super) struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        *LOG_BYTES.lock().unwrap().entry(label()).or_default() += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The functions' own log format (`milkrun_http::telemetry`: JSON, info), written to a sink
/// that counts bytes by label, and only while the capacity pass runs.
pub(super) fn install_log_meter() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{Layer as _, filter};
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(|| LogSink)
        .with_filter(filter::dynamic_filter_fn(|meta, _| {
            LOG_METER.load(Ordering::Relaxed) && *meta.level() <= tracing::Level::INFO
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
