//! Mail through SES (v2 API) from a verified sender address: plain text as a simple message;
//! a mail with attachments as raw MIME (multipart/mixed: the text, then each file in base64),
//! which is the only way SES sends files. IAM authorises a raw send as `ses:SendRawEmail`, not
//! `ses:SendEmail`: a function that mails files needs it (and the other for plain mail).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, RawMessage};
use mail_builder::MessageBuilder;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{Mail, Mailer};

pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn utf8(text: &str) -> Result<Content, StoreError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| StoreError::backend("building mail", e))
}

fn simple(mail: &Mail) -> Result<EmailContent, StoreError> {
    let message = Message::builder()
        .subject(utf8(&mail.subject)?)
        .body(Body::builder().text(utf8(&mail.body)?).build())
        .build();
    Ok(EmailContent::builder().simple(message).build())
}

/// The whole message as SES sends it raw. mail-builder writes the MIME: headers that are not
/// ASCII (a subject with "—" or "₹") are RFC 2047 encoded words, the boundary is random, a
/// binary part is base64 in 76-column lines.
pub(crate) fn raw_mime(from: &str, mail: &Mail) -> Result<Vec<u8>, StoreError> {
    let mut message = MessageBuilder::new()
        .from(from)
        .to(mail.to.as_str())
        .subject(mail.subject.as_str())
        .text_body(mail.body.as_str());
    for attachment in &mail.attachments {
        message = message.attachment(
            attachment.content_type.as_str(),
            attachment.filename.as_str(),
            attachment.bytes.as_slice(),
        );
    }
    message
        .write_to_vec()
        .map_err(|e| StoreError::backend("building mail", e))
}

fn raw(from: &str, mail: &Mail) -> Result<EmailContent, StoreError> {
    let message = RawMessage::builder()
        .data(Blob::new(raw_mime(from, mail)?))
        .build()
        .map_err(|e| StoreError::backend("building mail", e))?;
    Ok(EmailContent::builder().raw(message).build())
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), StoreError> {
        let content = if mail.attachments.is_empty() {
            simple(mail)?
        } else {
            raw(&self.from, mail)?
        };
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(mail.to.as_str())
                    .build(),
            )
            .content(content)
            .send()
            .await
            .map_err(|e| StoreError::backend("sending mail", e.into_service_error()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use milkrun_domain::ports::Attachment;
    use milkrun_domain::values::Email;

    use super::*;

    fn report() -> Mail {
        Mail {
            to: Email::parse("admin@example.com").unwrap(),
            subject: "Daily report — ₹1,234.50".into(),
            body: "Orders per vendor attached.\n".into(),
            attachments: vec![Attachment {
                filename: "chart.png".into(),
                content_type: "image/png".into(),
                // Every byte value, so that the round trip covers what text encodings break.
                bytes: (0..=255u8).cycle().take(1_000).collect(),
            }],
        }
    }

    /// The value of the first header named `name` in `head` (case-insensitive), unfolded.
    fn header(head: &str, name: &str) -> Option<String> {
        let unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    #[test]
    fn raw_mail_is_multipart_mixed_with_the_text_and_a_base64_attachment() {
        let mail = report();
        let mime = String::from_utf8(raw_mime("reports@milkrun.test", &mail).unwrap()).unwrap();
        assert!(mime.is_ascii(), "raw mail is 7-bit: non-ASCII is encoded");
        let (head, body) = mime.split_once("\r\n\r\n").unwrap();
        assert_eq!(header(head, "From").unwrap(), "<reports@milkrun.test>");
        assert_eq!(header(head, "To").unwrap(), "<admin@example.com>");
        let subject = header(head, "Subject").unwrap();
        assert!(
            subject.starts_with("=?utf-8?"),
            "an encoded word: {subject}"
        );
        let content_type = header(head, "Content-Type").unwrap();
        assert!(
            content_type.starts_with("multipart/mixed;"),
            "{content_type}"
        );
        let (_, boundary) = content_type.split_once("boundary=").unwrap();
        let boundary = boundary.split(';').next().unwrap().trim_matches('"');

        let parts: Vec<&str> = body
            .split(&format!("--{boundary}"))
            .map(str::trim_start)
            .filter(|part| !part.is_empty() && *part != "--\r\n" && *part != "--")
            .collect();
        assert_eq!(parts.len(), 2, "the text and the chart: {parts:?}");
        let (text_head, text) = parts[0].split_once("\r\n\r\n").unwrap();
        assert!(
            header(text_head, "Content-Type")
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(text.trim_end(), "Orders per vendor attached.");

        let (file_head, encoded) = parts[1].split_once("\r\n\r\n").unwrap();
        assert_eq!(header(file_head, "Content-Type").unwrap(), "image/png");
        assert_eq!(
            header(file_head, "Content-Transfer-Encoding").unwrap(),
            "base64"
        );
        let disposition = header(file_head, "Content-Disposition").unwrap();
        assert_eq!(disposition, "attachment; filename=\"chart.png\"");
        let encoded: String = encoded.split_whitespace().collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, mail.attachments[0].bytes);
    }
}
