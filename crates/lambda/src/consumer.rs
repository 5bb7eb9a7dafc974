//! The one host for SQS-fed consumers: each message of a batch is delivered on its own
//! (skipping events the consumer processed already), and only the failed ones are reported
//! back (`ReportBatchItemFailures`), so SQS retries just those and, after `maxReceiveCount`,
//! moves them to the dead-letter queue.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::{EventHandler, ProcessedEvents};
use milkrun_platform::ConsumerService;
use milkrun_platform::delivery::deliver;
use serde::Deserialize;

use crate::adapters;

/// SNS's envelope around a message, when the subscription is not raw delivery.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsNotification {
    message: String,
}

/// The event a message carries, raw or wrapped by SNS.
fn envelope_of(message: &SqsMessage) -> Result<EventEnvelope, String> {
    let body = message.body.as_deref().ok_or("a message without a body")?;
    serde_json::from_str::<EventEnvelope>(body).or_else(|raw| {
        match serde_json::from_str::<SnsNotification>(body) {
            Ok(wrapped) => serde_json::from_str(&wrapped.message).map_err(|e| e.to_string()),
            Err(_) => Err(raw.to_string()),
        }
    })
}

/// Delivers each message of `batch`; answers the ids of those that failed.
pub async fn handle_batch(
    handler: &dyn EventHandler,
    processed: &dyn ProcessedEvents,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        let id = message.message_id.clone().unwrap_or_default();
        let outcome = match envelope_of(&message) {
            Ok(event) => deliver(handler, processed, &event)
                .await
                .map_err(|e| e.to_string()),
            Err(unreadable) => Err(format!("not an event envelope: {unreadable}")),
        };
        match outcome {
            Ok(delivered) => tracing::info!(message_id = id, ?delivered, "message handled"),
            Err(error) => {
                tracing::error!(message_id = id, consumer = handler.name(), %error, "message failed");
                response.add_failure(id);
            }
        }
    }
    response
}

/// Runs `service` as this Lambda function's SQS handler.
pub async fn run_consumer(service: &'static ConsumerService) -> Result<(), lambda_runtime::Error> {
    milkrun_http::telemetry::init();
    let adapters = adapters(&service.needs, false).await?;
    let handler = (service.handler)(&adapters);
    let processed = adapters.stores.processed.clone();
    crate::run(Runtime::new(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (handler, processed) = (handler.clone(), processed.clone());
        async move {
            Ok::<_, lambda_runtime::Error>(
                handle_batch(handler.as_ref(), processed.as_ref(), event.payload).await,
            )
        }
    })))
    .await
}
