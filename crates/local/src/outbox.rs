//! Mail and text messages as files: one message per file in `DIR/outbox/` (mail) and
//! `DIR/sms/` (text messages), each written atomically.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::ports::{Mail, Mailer, Sms, SmsSender};
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
        let text = format!(
            "To: {}\nSubject: {}\nDate: {}\n\n{}",
            mail.to,
            mail.subject,
            Utc::now().to_rfc2822(),
            mail.body
        );
        let path = write_file(&self.dir, "eml", text, "writing to the outbox").await?;
        tracing::info!(file = %path.display(), "mail written to the outbox");
        Ok(())
    }
}

/// Writes `text` as a new time-named file in `dir`, then renames it into place: a reader
/// never sees half a message.
async fn write_file(
    dir: &std::path::Path,
    extension: &str,
    text: String,
    doing: &'static str,
) -> Result<PathBuf, StoreError> {
    let name = format!(
        "{}-{}.{extension}",
        Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        Uuid::new_v4()
    );
    let (tmp, path) = (dir.join(format!(".{name}.tmp")), dir.join(&name));
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| StoreError::backend(doing, e))?;
    tokio::fs::write(&tmp, text)
        .await
        .map_err(|e| StoreError::backend(doing, e))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| StoreError::backend(doing, e))?;
    Ok(path)
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
        let path = write_file(&self.dir, "sms", text, "writing to the sms outbox").await?;
        tracing::info!(file = %path.display(), "text message written to the sms outbox");
        Ok(())
    }
}
