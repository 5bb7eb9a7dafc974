//! Events to SNS topics, one topic per `Topic`, ARNs injected by the template. A batch of
//! events goes out as PublishBatch requests, ten entries each: SNS bills a request per 64 KB
//! of payload, so ten small events cost what one does.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use milkrun_domain::StoreError;
use milkrun_domain::events::{EventEnvelope, Topic};
use milkrun_domain::ports::EventPublisher;

use crate::config::ConfigError;

/// The variable naming a topic's ARN, as the template sets it.
fn topic_variable(topic: Topic) -> &'static str {
    match topic {
        Topic::UserEvents => "USER_EVENTS_TOPIC_ARN",
        Topic::OrderEvents => "ORDER_EVENTS_TOPIC_ARN",
        Topic::PaymentEvents => "PAYMENT_EVENTS_TOPIC_ARN",
        Topic::DeliveryEvents => "DELIVERY_EVENTS_TOPIC_ARN",
        Topic::InventoryEvents => "INVENTORY_EVENTS_TOPIC_ARN",
        Topic::AdminAlerts => "ADMIN_ALERTS_TOPIC_ARN",
    }
}

pub struct SnsBus {
    client: Client,
    topic_arns: HashMap<Topic, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("no topic ARN is configured for {0}")]
struct UnconfiguredTopic(&'static str);

impl SnsBus {
    pub fn new(client: Client, topic_arns: HashMap<Topic, String>) -> Self {
        Self { client, topic_arns }
    }

    /// The environment variable that carries a topic's ARN, e.g. `USER_EVENTS_TOPIC_ARN`.
    pub fn env_name(topic: Topic) -> &'static str {
        topic_variable(topic)
    }

    /// The ARNs of `topics`, each from its variable; any unset is an error at start (an
    /// event for a topic nobody configured must fail loudly, never vanish).
    pub fn from_env(client: Client, topics: &[Topic]) -> Result<Self, ConfigError> {
        let arns = topics
            .iter()
            .map(|topic| {
                let name = Self::env_name(*topic);
                std::env::var(name)
                    .ok()
                    .filter(|arn| !arn.trim().is_empty())
                    .map(|arn| (*topic, arn))
                    .ok_or(ConfigError(topic_variable(*topic)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(client, arns))
    }
}

/// Entries a PublishBatch request takes at most.
const BATCH_ENTRIES: usize = 10;
/// Bytes of messages a PublishBatch request takes at most (SNS: 256 KiB in all), with room
/// for the attributes.
const BATCH_BYTES: usize = 240 * 1024;

/// An event as SNS carries it: the envelope's JSON, and its type as the attribute the
/// subscriptions' filter policies match.
fn message_of(event: &EventEnvelope) -> Result<(String, MessageAttributeValue), StoreError> {
    let message =
        serde_json::to_string(event).map_err(|e| StoreError::backend("encoding an event", e))?;
    let event_type = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(event.event_type.as_str())
        .build()
        .map_err(|e| StoreError::backend("building an attribute", e))?;
    Ok((message, event_type))
}

fn failed(message: impl Into<String>) -> StoreError {
    StoreError::backend_message("publishing an event", message)
}

impl SnsBus {
    fn arn(&self, topic: Topic) -> Result<&str, StoreError> {
        let arn = self.topic_arns.get(&topic).ok_or_else(|| {
            StoreError::backend("publishing an event", UnconfiguredTopic(topic.name()))
        })?;
        Ok(arn)
    }

    /// One PublishBatch request of `entries` (each `(index, message, type)`) to the topic
    /// `arn`; writes each entry's outcome at its index in `outcomes`.
    async fn publish_batch(
        &self,
        arn: &str,
        entries: Vec<(usize, String, MessageAttributeValue)>,
        outcomes: &mut [Result<(), StoreError>],
    ) {
        let indexes: Vec<usize> = entries.iter().map(|(index, ..)| *index).collect();
        let built: Result<Vec<_>, _> = entries
            .into_iter()
            .map(|(index, message, event_type)| {
                PublishBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message(message)
                    .message_attributes("eventType", event_type)
                    .build()
            })
            .collect();
        let request = match built {
            Ok(built) => self
                .client
                .publish_batch()
                .topic_arn(arn)
                .set_publish_batch_request_entries(Some(built))
                .send()
                .await
                .map_err(|e| e.into_service_error().to_string()),
            Err(error) => Err(error.to_string()),
        };
        let answer = match request {
            Ok(answer) => answer,
            Err(error) => {
                for index in indexes {
                    outcomes[index] = Err(failed(error.clone()));
                }
                return;
            }
        };
        // Each entry stays "not answered" unless SNS names it published or failed.
        let ours = |id: &str| id.parse::<usize>().ok().filter(|i| indexes.contains(i));
        for index in answer.successful().iter().filter_map(|e| ours(e.id()?)) {
            outcomes[index] = Ok(());
        }
        for entry in answer.failed() {
            if let Some(index) = ours(entry.id()) {
                let why = entry.message().unwrap_or_default();
                outcomes[index] = Err(failed(format!("{}: {why}", entry.code())));
            }
        }
    }
}

#[async_trait]
impl EventPublisher for SnsBus {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError> {
        let arn = self.arn(event.topic())?;
        let (message, event_type) = message_of(event)?;
        self.client
            .publish()
            .topic_arn(arn)
            .message(message)
            .message_attributes("eventType", event_type)
            .send()
            .await
            .map_err(|e| StoreError::backend("publishing an event", e.into_service_error()))?;
        Ok(())
    }

    async fn publish_all(&self, events: &[EventEnvelope]) -> Vec<Result<(), StoreError>> {
        let mut outcomes: Vec<Result<(), StoreError>> = (events.iter())
            .map(|_| Err(failed("SNS answered nothing for this event")))
            .collect();
        for topic in Topic::ALL {
            let mine = (events.iter().enumerate()).filter(|(_, e)| e.topic() == topic);
            let arn = match self.arn(topic) {
                Ok(arn) => arn,
                Err(_) => {
                    for (index, _) in mine {
                        outcomes[index] = self.arn(topic).map(|_| ());
                    }
                    continue;
                }
            };
            let (mut batch, mut bytes) = (Vec::new(), 0);
            for (index, event) in mine {
                let (message, event_type) = match message_of(event) {
                    Ok(encoded) => encoded,
                    Err(error) => {
                        outcomes[index] = Err(error);
                        continue;
                    }
                };
                let full = batch.len() == BATCH_ENTRIES || bytes + message.len() > BATCH_BYTES;
                if full && !batch.is_empty() {
                    self.publish_batch(arn, std::mem::take(&mut batch), &mut outcomes)
                        .await;
                    bytes = 0;
                }
                bytes += message.len();
                batch.push((index, message, event_type));
            }
            if !batch.is_empty() {
                self.publish_batch(arn, batch, &mut outcomes).await;
            }
        }
        outcomes
    }
}
