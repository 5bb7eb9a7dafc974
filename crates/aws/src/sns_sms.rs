//! Text messages through SNS `Publish` straight to a phone number (no topic), sent as
//! transactional so that SNS prefers delivery over cost.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{Sms, SmsSender};

pub struct SnsSms {
    client: Client,
}

impl SnsSms {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, StoreError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| StoreError::backend("building a text message", e))
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send(&self, sms: &Sms) -> Result<(), StoreError> {
        self.client
            .publish()
            .phone_number(sms.to.e164())
            .message(&sms.body)
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?)
            .send()
            .await
            .map_err(|e| StoreError::backend("sending a text message", e.into_service_error()))?;
        Ok(())
    }
}
