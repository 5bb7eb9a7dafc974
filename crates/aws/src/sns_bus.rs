//! Events to SNS topics, one topic per `Topic`, ARNs injected by the template.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use milkrun_domain::StoreError;
use milkrun_domain::events::{EventEnvelope, Topic};
use milkrun_domain::ports::EventPublisher;

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
    pub fn env_name(topic: Topic) -> String {
        format!(
            "{}_TOPIC_ARN",
            topic.name().replace('-', "_").to_uppercase()
        )
    }

    /// Every topic whose ARN variable is set; a function is given only the topics it uses.
    pub fn from_env(client: Client) -> Self {
        let arns = Topic::ALL
            .into_iter()
            .filter_map(|topic| {
                std::env::var(Self::env_name(topic))
                    .ok()
                    .map(|arn| (topic, arn))
            })
            .collect();
        Self::new(client, arns)
    }
}

#[async_trait]
impl EventPublisher for SnsBus {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError> {
        let topic = event.topic();
        let arn = self.topic_arns.get(&topic).ok_or_else(|| {
            StoreError::backend("publishing an event", UnconfiguredTopic(topic.name()))
        })?;
        let message = serde_json::to_string(event)
            .map_err(|e| StoreError::backend("encoding an event", e))?;
        let event_type = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event.event_type.as_str())
            .build()
            .map_err(|e| StoreError::backend("building an attribute", e))?;
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
}
