//! Mail and text messages as files: one message per file in `DIR/outbox/` (mail) and
//! `DIR/sms/` (text messages), each written atomically. A mail's attachments are files beside
//! it, named by the message's stem and their own name (`STEM-chart.png` beside `STEM.eml`),
//! and the message names them in `Attachment:` lines.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{Attachment, Mail, Mailer, Sms, SmsSender};
use uuid::Uuid;

pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// Mail into `dir`. A folder that cannot be made now is not an error yet: sending is
    /// what fails (and is retried, then dead-lettered), as a mail server being down would.
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        if let Err(error) = std::fs::create_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), %error, "the mail outbox folder cannot be made; mail will fail until it can");
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<(), StoreError> {
        let stem = new_stem();
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| StoreError::backend("writing to the outbox", e))?;
        let mut names = Vec::with_capacity(mail.attachments.len());
        // Attachments first, the message last: whoever sees a message finds its files.
        for attachment in &mail.attachments {
            let name = format!("{stem}-{}", plain_name(&attachment.filename)?);
            write_atomically(&self.dir, &name, &attachment.bytes).await?;
            names.push((name, attachment));
        }
        let path = write_atomically(
            &self.dir,
            &format!("{stem}.eml"),
            message(mail, &names).as_bytes(),
        )
        .await?;
        tracing::info!(file = %path.display(), attachments = names.len(), "mail written to the outbox");
        Ok(())
    }
}

/// The message file: headers, one `Attachment:` line per file beside it, then the body.
fn message(mail: &Mail, attachments: &[(String, &Attachment)]) -> String {
    let mut text = format!(
        "To: {}\nSubject: {}\nDate: {}\n",
        mail.to,
        mail.subject,
        Utc::now().to_rfc2822()
    );
    for (file, attachment) in attachments {
        let size = attachment.bytes.len();
        text.push_str(&format!(
            "Attachment: {file} ({}, {size} bytes)\n",
            attachment.content_type
        ));
    }
    text.push('\n');
    text.push_str(&mail.body);
    text
}

/// An attachment's name as a file name of its own: anything that could leave the outbox
/// folder or hide from a listing (a separator, `..`, a leading dot) is refused.
fn plain_name(filename: &str) -> Result<&str, StoreError> {
    let bad = filename.is_empty()
        || filename.starts_with('.')
        || filename.contains(['/', '\\', '\0'])
        || filename.chars().any(char::is_control);
    if bad {
        return Err(StoreError::backend_message(
            "writing to the outbox",
            format!("the attachment name {filename:?} is not a plain file name"),
        ));
    }
    Ok(filename)
}

/// Writes `DIR/name` through a hidden temporary file and a rename: a reader never sees half
/// a file, and writing the same name again replaces it whole.
async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let (tmp, path) = (dir.join(format!(".{name}.tmp")), dir.join(name));
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| StoreError::backend("writing to the outbox", e))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| StoreError::backend("writing to the outbox", e))?;
    Ok(path)
}

/// A new message's file stem: its time, then a random id (messages list in time order).
fn new_stem() -> String {
    format!(
        "{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        Uuid::new_v4()
    )
}
/// Text messages as files in `DIR/sms/`: `To:` the phone as stored, a blank line, the text.
pub struct SmsOutbox {
    dir: PathBuf,
}

impl SmsOutbox {
    /// Messages into `dir`, made when the first is written.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl SmsSender for SmsOutbox {
    async fn send(&self, sms: &Sms) -> Result<(), StoreError> {
        let text = format!(
            "To: {}\nDate: {}\n\n{}",
            sms.to,
            Utc::now().to_rfc2822(),
            sms.body
        );
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| StoreError::backend("writing to the sms outbox", e))?;
        let name = format!("{}.sms", new_stem());
        let path = write_atomically(&self.dir, &name, text.as_bytes()).await?;
        tracing::info!(file = %path.display(), "text message written to the sms outbox");
        Ok(())
    }
}
