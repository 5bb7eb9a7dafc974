//! The nightly run's Lambda, in two roles by the event it gets:
//!
//! - from EventBridge Scheduler (21:30 Asia/Kolkata; `{"date": "YYYY-MM-DD"}` optional):
//!   it fans out, sending one message per run shard to the run queue (ten to a request);
//! - from the run queue (SQS): each message is one page of one shard; the worker runs it
//!   and sends the shard's next page, so no invocation comes near Lambda's 15 minutes.
//!
//! A failed page is reported as a partial batch failure and retried by SQS (then its DLQ);
//! rerunning a page is harmless, as every order it places has a derived id.

use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use milkrun_subscription::{RunPage, RunReport, SubscriptionRun};
use serde_json::{Value, json};

type Error = lambda_runtime::Error;

async fn send(sqs: &Sqs, queue_url: &str, page: &RunPage) -> Result<(), Error> {
    let body = serde_json::to_string(page)?;
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await?;
    Ok(())
}

/// SQS takes at most ten messages a SendMessageBatch.
const SQS_BATCH: usize = 10;

/// `pages` in one SendMessageBatch. Any page refused fails the whole start, which Lambda's
/// asynchronous retries run again (then the start's dead-letter queue): the pages already
/// sent go again too, which is harmless (every order has a derived id), as it was when
/// each page was its own SendMessage.
async fn send_batch(sqs: &Sqs, queue_url: &str, pages: &[RunPage]) -> Result<(), Error> {
    let mut request = sqs.send_message_batch().queue_url(queue_url);
    for (index, page) in pages.iter().enumerate() {
        let entry = SendMessageBatchRequestEntry::builder()
            .id(index.to_string())
            .message_body(serde_json::to_string(page)?)
            .build()?;
        request = request.entries(entry);
    }
    let sent = request.send().await?;
    if let Some(refused) = sent.failed().first() {
        let (count, code) = (sent.failed().len(), refused.code());
        let why = refused.message().unwrap_or_default();
        return Err(format!(
            "SQS refused {count} of {} run pages: {code} {why}",
            pages.len()
        )
        .into());
    }
    Ok(())
}

/// The scheduler's start: one message per shard, ten to a request.
async fn fan_out(sqs: &Sqs, queue_url: &str, event: &Value) -> Result<Value, Error> {
    let date = match event["date"].as_str() {
        Some(raw) => raw.parse()?,
        None => milkrun_subscription::jobs::default_run_date(),
    };
    let pages = RunPage::all(date);
    for batch in pages.chunks(SQS_BATCH) {
        send_batch(sqs, queue_url, batch).await?;
    }
    tracing::info!(%date, shards = pages.len(), "subscription run fanned out");
    Ok(json!({ "date": date, "shards": pages.len() }))
}

/// A batch of pages; the ones that failed are named for SQS to retry.
async fn work(run: &SubscriptionRun, sqs: &Sqs, queue_url: &str, records: &[Value]) -> Value {
    let mut failures = Vec::new();
    let mut report = RunReport::default();
    for record in records {
        let id = record["messageId"].as_str().unwrap_or_default().to_owned();
        let outcome = async {
            let page: RunPage = serde_json::from_str(record["body"].as_str().unwrap_or_default())?;
            let (done, next) = run.run_page(&page).await.map_err(|e| e.to_string())?;
            if let Some(next) = next {
                send(sqs, queue_url, &next).await?;
            }
            if done.failed > 0 {
                // The shard goes on (its next page is sent); this page is run again.
                return Err(format!("{} customers' days failed", done.failed).into());
            }
            Ok::<RunReport, Error>(done)
        };
        match outcome.await {
            Ok(done) => report.add(done),
            Err(error) => {
                tracing::error!(message_id = %id, %error, "a run page failed; SQS retries it");
                failures.push(json!({ "itemIdentifier": id }));
            }
        }
    }
    tracing::info!(?report, "run pages done");
    json!({ "batchItemFailures": failures })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    milkrun_lambda::telemetry_init();
    let adapters = milkrun_lambda::adapters(&milkrun_subscription::RUN_NEEDS, false).await?;
    let sqs = Sqs::new(&milkrun_lambda::sdk_config().await);
    let queue_url = std::env::var("RUN_QUEUE_URL").map_err(|_| "RUN_QUEUE_URL is not set")?;
    let run = SubscriptionRun::from_adapters(&adapters);
    milkrun_lambda::run(lambda_runtime::Runtime::new(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<Value>| {
            let (run, sqs, queue_url) = (&run, &sqs, &queue_url);
            async move {
                match event.payload["Records"].as_array() {
                    Some(records) => Ok(work(run, sqs, queue_url, records).await),
                    None => fan_out(sqs, queue_url, &event.payload).await,
                }
            }
        },
    )))
    .await
}
