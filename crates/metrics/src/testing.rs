//! A recorder for tests: counts what the code under test records on this thread, so a test
//! can say "checkout counted one PAYMENT_FAILED" without a global recorder shared by every
//! test in the binary. A `#[tokio::test]` runs on one thread, so its tasks are seen. A
//! bench that counts a whole process's metrics installs it globally instead
//! ([`capture_everywhere`]).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, LocalRecorderGuard, Metadata, Recorder, SharedString,
    Unit,
};

/// A metric's name and its labels, sorted.
type Series = (String, Vec<(String, String)>);

/// The counters recorded so far, by name and labels.
#[derive(Debug, Default)]
pub struct Counts {
    counters: Mutex<BTreeMap<Series, Arc<AtomicU64>>>,
}

impl Counts {
    /// The count of `name` with exactly `labels` (0 if never recorded).
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        let counters = self.counters.lock().expect("counts poisoned");
        counters
            .get(&(name.to_owned(), labels))
            .map_or(0, |value| value.load(Ordering::Relaxed))
    }

    /// Every counter's count, summed: how many increments were recorded.
    pub fn increments(&self) -> u64 {
        let counters = self.counters.lock().expect("counts poisoned");
        counters
            .values()
            .map(|value| value.load(Ordering::Relaxed))
            .sum()
    }

    /// The count of `name` over every label value.
    pub fn total(&self, name: &str) -> u64 {
        let counters = self.counters.lock().expect("counts poisoned");
        counters
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, value)| value.load(Ordering::Relaxed))
            .sum()
    }
}

impl Recorder for Counts {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        let mut counters = self.counters.lock().expect("counts poisoned");
        let value = counters
            .entry((key.name().to_owned(), labels))
            .or_default()
            .clone();
        Counter::from_arc(value)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// Counts recorded on this thread while it is held.
pub struct Capture {
    counts: &'static Counts,
    _guard: LocalRecorderGuard<'static>,
}

impl Deref for Capture {
    type Target = Counts;

    fn deref(&self) -> &Counts {
        self.counts
    }
}

/// Starts counting what this thread records (a test's few bytes are leaked for the
/// `'static` the guard needs).
pub fn capture() -> Capture {
    let counts: &'static Counts = Box::leak(Box::default());
    Capture {
        counts,
        _guard: metrics::set_default_local_recorder(counts),
    }
}

/// Counts what every thread records from now on, for the rest of the process (a bench's
/// run): the process's global recorder. `None` if one is installed already.
pub fn capture_everywhere() -> Option<&'static Counts> {
    let counts: &'static Counts = Box::leak(Box::default());
    metrics::set_global_recorder(counts).ok().map(|()| counts)
}
