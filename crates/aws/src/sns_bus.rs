//! Events to SNS topics, one topic per `Topic`, ARNs injected by the template.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
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
