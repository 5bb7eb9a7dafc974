//! Mail as files: one message per file in `DIR/outbox/`, written atomically.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use milkrun_domain::StoreError;
use milkrun_domain::notification::Channel;
use milkrun_domain::ports::{Mail, Mailer};
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
        let name = format!(
            "{}-{}.eml",
            Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            Uuid::new_v4()
        );
        let text = format!(
            "To: {}\nSubject: {}\nDate: {}\n\n{}",
            mail.to,
            mail.subject,
            Utc::now().to_rfc2822(),
            mail.body
        );
        let (tmp, path) = (self.dir.join(format!(".{name}.tmp")), self.dir.join(&name));
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| StoreError::backend("writing to the outbox", e))?;
        // Write then rename: a reader never sees half a message.
        tokio::fs::write(&tmp, text)
            .await
            .map_err(|e| StoreError::backend("writing to the outbox", e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| StoreError::backend("writing to the outbox", e))?;
        tracing::info!(file = %path.display(), "mail written to the outbox");
        milkrun_metrics::notification_sent(Channel::Email);
        Ok(())
    }
}
