//! The outbox publisher: the audit and outbox tables' DynamoDB streams invoke it with
//! committed items, in order (an audit entry carries its change's events, an outbox item
//! one event); it publishes their events to their SNS topics, ten to a request. On a failure
//! it reports the first record not published (`ReportBatchItemFailures`), so Lambda retries
//! from there, and after the retries the stream's on-failure destination (an SQS queue,
//! alarmed) keeps the record.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use milkrun_aws::{SnsBus, sdk_config};
use milkrun_domain::events::Topic;
use milkrun_domain::ports::EventPublisher;
use milkrun_store::effects::stream_events;

/// Publishes the inserted events of `event`, all in one `publish_all` (SNS batches them
/// ten a request); reports the first record whose event was not published, or could not be
/// read, so that Lambda retries from there (what follows it goes again: at least once).
pub async fn publish_records(
    publisher: &dyn EventPublisher,
    event: Event,
) -> DynamoDbEventResponse {
    let (mut envelopes, mut sequences, mut unreadable) = (Vec::new(), Vec::new(), None);
    for record in event.records {
        // TTL removals and any other change are not new events.
        if record.event_name != "INSERT" {
            continue;
        }
        let sequence = record.change.sequence_number.clone();
        match stream_events(record.change.new_image) {
            Ok(carried) => {
                sequences.extend(carried.iter().map(|_| sequence.clone()));
                envelopes.extend(carried);
            }
            Err(error) => {
                tracing::error!(%error, sequence = ?sequence, "stream record unreadable; retried from here");
                unreadable = Some(sequence);
                break;
            }
        }
    }
    let mut outcomes = publisher.publish_all(&envelopes).await.into_iter();
    // An event without an outcome counts as not published.
    let failed = envelopes.iter().zip(sequences).find_map(|(envelope, sequence)| {
        let error = match outcomes.next() {
            Some(Ok(())) => return None,
            Some(Err(error)) => error.to_string(),
            None => "no outcome".to_owned(),
        };
        tracing::error!(%error, event_id = %envelope.event_id, sequence = ?sequence, "event not published; retried from here");
        Some(sequence)
    });
    tracing::info!(events = envelopes.len(), "events published");
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence) = failed.or(unreadable) {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence;
        response.batch_item_failures.push(failure);
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
