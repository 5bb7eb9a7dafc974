//! The outbox publisher's handling of a stream batch: every inserted event handed on in one
//! `publish_all`, other changes skipped, and the first record not published (or unreadable)
//! reported, so that Lambda retries from there.

use std::sync::Mutex;

use async_trait::async_trait;
use aws_lambda_events::dynamodb::Event;
use milkrun_domain::Effects;
use milkrun_domain::StoreError;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::events::Topic;
use milkrun_domain::events::{EventEnvelope, LoginSeen, UserLoggedIn};
use milkrun_domain::ports::EventPublisher;
use milkrun_lambda::publish_records;
use milkrun_store::effects::{effect_writes, outbox_write};
use milkrun_store::ops::Write;
use serde_json::{Value, json};
use uuid::Uuid;

/// Publishes in batches as SNS does, failing the events it was told to.
#[derive(Default)]
struct Batches {
    batches: Mutex<Vec<Vec<Uuid>>>,
    refuse: Vec<Uuid>,
}

#[async_trait]
impl EventPublisher for Batches {
    async fn publish(&self, _: &EventEnvelope) -> Result<(), StoreError> {
        unreachable!("the publisher hands a stream batch on whole")
    }

    async fn publish_all(&self, events: &[EventEnvelope]) -> Vec<Result<(), StoreError>> {
        let ids = events.iter().map(|e| e.event_id).collect();
        self.batches.lock().unwrap().push(ids);
        let outcome = |e: &EventEnvelope| match self.refuse.contains(&e.event_id) {
            true => Err(StoreError::backend_message(
                "publishing an event",
                "throttled",
            )),
            false => Ok(()),
        };
        events.iter().map(outcome).collect()
    }
}

fn envelope() -> EventEnvelope {
    let seen = LoginSeen {
        user_id: Uuid::new_v4(),
        ip: "10.0.0.1".into(),
        user_agent: "test".into(),
        region: None,
    };
    EventEnvelope::new(&UserLoggedIn(seen), "corr")
}

/// The outbox item of `event` as its stream record's new image (DynamoDB JSON).
fn new_image(event: &EventEnvelope) -> Value {
    let Write::Put { item, .. } = outbox_write(event).unwrap() else {
        unreachable!("an outbox write is a put")
    };
    serde_json::to_value(item).unwrap()
}

/// The audit entry of a change with `events`, as the audit table's stream hands it over
/// (its packed events base64-encoded, as DynamoDB's JSON carries binary).
fn audit_image(events: &[EventEnvelope]) -> Value {
    let entry = AuditContext::system("corr", "test").entry("ALERTED", "INVENTORY", Uuid::new_v4());
    let effects = (events.iter().cloned()).fold(Effects::audited(entry), Effects::with_envelope);
    let writes = effect_writes(&effects).unwrap();
    assert_eq!(writes.len(), 1, "the events ride in the entry");
    let Write::Put { item, .. } = writes.into_iter().next().unwrap() else {
        unreachable!("an audit write is a put")
    };
    serde_json::to_value(item).unwrap()
}

fn record(name: &str, sequence: usize, image: Value) -> Value {
    json!({
        "eventID": sequence.to_string(),
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-south-1",
        "dynamodb": {
            "SequenceNumber": sequence.to_string(),
            "SizeBytes": 100,
            "NewImage": image,
            "StreamViewType": "NEW_IMAGE"
        }
    })
}

fn stream_batch(records: Vec<Value>) -> Event {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn reported(response: &aws_lambda_events::streams::DynamoDbEventResponse) -> Vec<String> {
    let ids = response.batch_item_failures.iter();
    ids.filter_map(|f| f.item_identifier.clone()).collect()
}

#[tokio::test]
async fn a_stream_batch_goes_out_in_one_publish_all_and_only_its_inserts() {
    let events = [envelope(), envelope(), envelope()];
    let mut records: Vec<Value> = (events.iter().enumerate())
        .map(|(i, e)| record("INSERT", i + 1, new_image(e)))
        .collect();
    records.insert(1, record("REMOVE", 9, json!({})));
    let publisher = Batches::default();
    let response = publish_records(&publisher, stream_batch(records)).await;
    assert!(reported(&response).is_empty());
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(*publisher.batches.lock().unwrap(), vec![ids]);
}

#[tokio::test]
async fn the_first_record_not_published_is_reported() {
    let events = [envelope(), envelope(), envelope()];
    let records = (events.iter().enumerate())
        .map(|(i, e)| record("INSERT", i + 1, new_image(e)))
        .collect();
    let publisher = Batches {
        refuse: vec![events[2].event_id, events[1].event_id],
        ..Batches::default()
    };
    let response = publish_records(&publisher, stream_batch(records)).await;
    assert_eq!(reported(&response), vec!["2".to_owned()]);
}

#[tokio::test]
async fn an_unreadable_record_stops_the_batch_there() {
    let events = [envelope(), envelope()];
    let records = vec![
        record("INSERT", 1, new_image(&events[0])),
        record("INSERT", 2, json!({ "pk": { "S": "EVENT#broken" } })),
        record("INSERT", 3, new_image(&events[1])),
    ];
    let publisher = Batches::default();
    let response = publish_records(&publisher, stream_batch(records)).await;
    assert_eq!(reported(&response), vec!["2".to_owned()]);
    let published = publisher.batches.lock().unwrap().clone();
    assert_eq!(published, vec![vec![events[0].event_id]]);
}

#[tokio::test]
async fn an_audit_entry_hands_on_the_events_it_carries_and_one_without_none() {
    let carried = [envelope(), envelope().on(Topic::AdminAlerts)];
    let alone = envelope();
    let image = audit_image(&carried);
    assert!(
        image["events"]["B"].is_string(),
        "binary travels base64-encoded: {image}"
    );
    let records = vec![
        record("INSERT", 1, image),
        record("INSERT", 2, audit_image(&[])),
        record("INSERT", 3, new_image(&alone)),
    ];
    let publisher = Batches::default();
    let response = publish_records(&publisher, stream_batch(records)).await;
    assert!(reported(&response).is_empty());
    let published = publisher.batches.lock().unwrap().clone();
    let ids = vec![carried[0].event_id, carried[1].event_id, alone.event_id];
    assert_eq!(published, vec![ids]);
}
