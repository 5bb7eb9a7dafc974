//! The AWS adapters against the shared contract suites, on moto's server with the tables and
//! topics created from template.yaml (`python scripts/emulated/run.py contract` sets this up).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use milkrun_aws::{DynamoDbItemStore, SesMailer, SnsBus, SnsSms, sdk_config};
use milkrun_contract::events::PublishedProbe;
use milkrun_domain::events::{EventEnvelope, Topic};
use milkrun_domain::ports::{Attachment, Mail, Mailer, Sms, SmsSender};
use milkrun_domain::values::{Email, Phone};
use milkrun_store::ItemStore;

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these through `python scripts/emulated/run.py contract`")
    })
}

/// The item store over the template's tables, named by the variables the template sets
/// (`run.py contract` points them at moto).
async fn dynamodb() -> Arc<dyn ItemStore> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let tables: Vec<_> = milkrun_store::table::ALL
        .into_iter()
        .filter(|t| t.name != milkrun_store::table::DEAD_LETTERS.name)
        .collect();
    Arc::new(DynamoDbItemStore::from_env(client, &tables).expect("tables configured"))
}

milkrun_contract::store_contract!(dynamodb().await);

/// Reads what reached the topic through an SQS queue subscribed to it, as consumers will.
struct SqsProbe {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsProbe {
    async fn subscribe(topic_arn: &str) -> Self {
        let config = sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let name = format!("probe-{}", uuid_like());
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn = attributes.attributes.unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        aws_sdk_sns::Client::new(&config)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        Self { sqs, queue_url }
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

impl PublishedProbe for SqsProbe {
    fn received(&self) -> Pin<Box<dyn Future<Output = Vec<EventEnvelope>> + Send + '_>> {
        Box::pin(async move {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            output
                .messages
                .unwrap_or_default()
                .iter()
                .filter_map(|m| serde_json::from_str(m.body()?).ok())
                .collect()
        })
    }
}

/// The SNS bus on the user-events topic, and a queue subscribed to it.
async fn sns_bus_and_probe() -> (Arc<SnsBus>, Arc<SqsProbe>) {
    let topic_arn = setting("MILKRUN_TEST_USER_EVENTS_TOPIC_ARN");
    let probe = SqsProbe::subscribe(&topic_arn).await;
    let client = aws_sdk_sns::Client::new(&sdk_config().await);
    let bus = SnsBus::new(client, [(Topic::UserEvents, topic_arn)].into());
    (Arc::new(bus), Arc::new(probe))
}

#[tokio::test]
async fn sns_bus_delivers_whole_envelopes_to_subscribers() {
    let (bus, probe) = sns_bus_and_probe().await;
    milkrun_contract::events::published_events_arrive_whole(bus, probe).await;
}

#[tokio::test]
async fn sns_bus_publishes_events_together_ten_a_request() {
    let (bus, probe) = sns_bus_and_probe().await;
    milkrun_contract::events::events_published_together_arrive_whole(bus, probe).await;
}

#[tokio::test]
async fn sns_sms_texts_a_phone_in_e164_and_fails_loudly_otherwise() {
    let client = aws_sdk_sns::Client::new(&sdk_config().await);
    let sms = SnsSms::new(client);
    let text = |phone: &str| Sms {
        to: Phone::parse(phone).unwrap(),
        body: "Your delivery is on its way.".into(),
    };
    sms.send(&text("+919876543210")).await.unwrap();
    // Stored without its country code: sent as the Indian number it is.
    sms.send(&text("098765 43210")).await.unwrap();
    assert!(
        sms.send(&text("012345678901234")).await.is_err(),
        "a number that is no E.164 number must be an error, not a silent drop"
    );
}

#[tokio::test]
async fn ses_mailer_sends_from_the_verified_identity_and_fails_loudly_otherwise() {
    let client = aws_sdk_sesv2::Client::new(&sdk_config().await);
    let mail = Mail {
        to: Email::parse("asha@example.com").unwrap(),
        subject: "Hello".into(),
        body: "Fresh milk.".into(),
        attachments: Vec::new(),
    };
    SesMailer::new(client.clone(), setting("MILKRUN_TEST_MAIL_FROM"))
        .send(&mail)
        .await
        .unwrap();
    let unverified = SesMailer::new(client, "stranger@unverified.example");
    assert!(
        unverified.send(&mail).await.is_err(),
        "an unverified sender must be an error, not a silent drop"
    );
}

/// The raw messages moto's SES has taken, from its model dump.
async fn raw_mails_sent() -> Vec<String> {
    let url = format!("{}/moto-api/data.json", setting("AWS_ENDPOINT_URL"));
    let dump: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let sent = dump["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    sent.iter()
        .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
        .collect()
}

/// A mail with a file goes raw (multipart MIME): SES takes it from the verified identity with
/// the file in it, and refuses it, like a simple one, from any other sender.
#[tokio::test]
async fn ses_mailer_sends_a_raw_mail_with_an_attachment() {
    let client = aws_sdk_sesv2::Client::new(&sdk_config().await);
    let marker = uuid::Uuid::new_v4().to_string();
    let mail = Mail {
        to: Email::parse("admin@example.com").unwrap(),
        subject: format!("Daily report — 5 Dec {marker}"),
        body: format!("Orders per vendor attached ({marker})."),
        attachments: vec![Attachment {
            filename: "chart.png".into(),
            content_type: "image/png".into(),
            bytes: (0..=255u8).cycle().take(4_096).collect(),
        }],
    };
    SesMailer::new(client.clone(), setting("MILKRUN_TEST_MAIL_FROM"))
        .send(&mail)
        .await
        .unwrap();
    let sent = raw_mails_sent().await;
    // The subject is an encoded word; the marker is plain ASCII in the body, which is not.
    let ours: Vec<_> = sent.iter().filter(|raw| raw.contains(&marker)).collect();
    assert_eq!(ours.len(), 1, "one raw mail with the marker");
    assert!(
        ours[0].contains("Content-Type: multipart/mixed"),
        "{}",
        ours[0]
    );
    assert!(ours[0].contains("filename=\"chart.png\""), "{}", ours[0]);
    let unverified = SesMailer::new(client, "stranger@unverified.example");
    assert!(unverified.send(&mail).await.is_err());
}
