//! The Lambda host's metrics: the CloudWatch Embedded Metric Format recorder, installed once
//! per cold start, and a runtime layer that flushes what an invocation recorded as soon as
//! it is answered (one JSON line per dimension set, on stdout, which CloudWatch Logs turns
//! into metrics: no API call, no IAM).
//!
//! `metrics_cloudwatch_embedded` is used without its `lambda` feature: that feature would
//! pull lambda_http with its default features (ALB, WebSocket and VPC Lattice events) into
//! every HTTP bootstrap. The flush after each invocation, all that feature gives us, is
//! [`FlushLayer`] below.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaInvocation, Runtime};
use metrics_cloudwatch_embedded::{Builder, Collector};
use milkrun_aws::required_env;
use milkrun_metrics::{FUNCTION, NAMESPACE};

use crate::BoxError;

/// The recorder milkrun's metrics go to in `function`: namespace `milkrun`, dimension
/// `function` on every metric (plus the metric's own, from its label).
pub fn builder(function: &str) -> Builder {
    Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension(FUNCTION, function.to_owned())
}

/// Installs the recorder for this function (named by `AWS_LAMBDA_FUNCTION_NAME`, the name
/// the dashboard and alarms use) once; later calls answer the same collector.
pub fn install() -> Result<&'static Collector, BoxError> {
    static INSTALLED: OnceLock<&'static Collector> = OnceLock::new();
    if let Some(collector) = INSTALLED.get() {
        return Ok(collector);
    }
    let function = required_env("AWS_LAMBDA_FUNCTION_NAME")?;
    let collector = builder(&function).init()?;
    milkrun_metrics::describe();
    Ok(INSTALLED.get_or_init(|| collector))
}

/// Writes what was recorded since the last flush; a failure to write is logged, never the
/// invocation's failure.
pub fn flush(collector: &Collector, out: impl std::io::Write) {
    if let Err(error) = collector.flush(out) {
        tracing::warn!(%error, "metrics not written");
    }
}

/// Flushes the collector after each invocation (the runtime's outermost layer, so what the
/// handler and its tracing recorded is in).
#[derive(Clone, Copy)]
pub struct FlushLayer(pub &'static Collector);

impl<S> Layer<S> for FlushLayer {
    type Service = Flushing<S>;

    fn layer(&self, inner: S) -> Flushing<S> {
        Flushing {
            inner,
            collector: self.0,
        }
    }
}

pub struct Flushing<S> {
    inner: S,
    collector: &'static Collector,
}

impl<S, Request> Service<Request> for Flushing<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = FlushAfter<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: Request) -> Self::Future {
        FlushAfter {
            inner: Box::pin(self.inner.call(invocation)),
            collector: self.collector,
        }
    }
}

/// The invocation's future, then the flush.
pub struct FlushAfter<F> {
    inner: Pin<Box<F>>,
    collector: &'static Collector,
}

impl<F: Future> Future for FlushAfter<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let answered = self.inner.as_mut().poll(cx);
        if answered.is_ready() {
            flush(self.collector, std::io::stdout().lock());
        }
        answered
    }
}

/// [`Runtime::run`] with the runtime's tracing layer, as `lambda_runtime::run` has it, and
/// [`FlushLayer`] over the installed recorder.
pub async fn run_runtime<S>(runtime: Runtime<S>) -> Result<(), BoxError>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
{
    let collector = install()?;
    runtime
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(FlushLayer(collector))
        .run()
        .await
}
