//! The outbox publisher: the outbox table's DynamoDB stream invokes it with committed
//! events, in order; it publishes each to its SNS topic. On a failure it reports that
//! record (`ReportBatchItemFailures`), so Lambda retries from there, and after the retries
//! the stream's on-failure destination (an SQS queue, alarmed) keeps the record.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use milkrun_aws::{SnsBus, sdk_config};
use milkrun_domain::events::Topic;
use milkrun_domain::ports::EventPublisher;
use milkrun_store::decode_outbox_item;

/// Publishes the inserted events of `event`; stops at the first failure and reports it.
pub async fn publish_records(
    publisher: &dyn EventPublisher,
    event: Event,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        // TTL removals and any other change are not new events.
        if record.event_name != "INSERT" {
            continue;
        }
        let sequence = record.change.sequence_number.clone();
        let outcome = match decode_outbox_item(record.change.new_image) {
            Ok(envelope) => publisher
                .publish(&envelope)
                .await
                .map(|()| envelope.event_id),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(event_id) => tracing::info!(%event_id, "event published"),
            Err(error) => {
                tracing::error!(%error, sequence = ?sequence, "event not published; retried from here");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
                break;
            }
        }
    }
    response
}

/// Runs the publisher as this Lambda function's stream handler.
pub async fn run_publisher() -> Result<(), lambda_runtime::Error> {
    milkrun_http::telemetry::init();
    let sns = aws_sdk_sns::Client::new(&sdk_config().await);
    let bus = SnsBus::from_env(sns, &Topic::ALL)?;
    crate::run(Runtime::new(service_fn(|event: LambdaEvent<Event>| {
        let bus = &bus;
        async move { Ok::<_, lambda_runtime::Error>(publish_records(bus, event.payload).await) }
    })))
    .await
}
