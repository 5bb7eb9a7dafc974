//! Mail and text messages as files: one message per file in `DIR/outbox/` (mail) and
//! `DIR/sms/` (text messages), each written atomically. A mail's attachments are files beside
//! it, named by the message's stem and their own name (`STEM-chart.png` beside `STEM.eml`),
//! and the message names them in `Attachment:` lines.

use std::path::PathBuf;

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
        // Attachments first, the message last: whoever sees a message finds its files.
        let mut files = Vec::with_capacity(mail.attachments.len() + 1);
        let mut names = Vec::with_capacity(mail.attachments.len());
        for attachment in &mail.attachments {
            let name = format!("{stem}-{}", plain_name(&attachment.filename)?);
            files.push((name.clone(), attachment.bytes.clone()));
            names.push((name, attachment));
        }
        let text = message(mail, &names);
        files.push((format!("{stem}.eml"), text.into_bytes()));
        let path = write_files(self.dir.clone(), files, "writing to the outbox").await?;
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

/// Writes each `(name, bytes)` into `dir` (made if need be), in order, each through a
/// hidden temporary file and a rename, so a reader never sees half a file and writing the
/// same name again replaces it whole; answers the last file's path.
async fn write_files(
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    context: &'static str,
) -> Result<PathBuf, StoreError> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    file_writer()
        .send(FileJob { dir, files, answer })
        .map_err(|_| StoreError::backend_message(context, "the outbox writer has stopped"))?;
    let written = answered
        .await
        .map_err(|_| StoreError::backend_message(context, "the outbox writer has stopped"))?;
    written.map_err(|e| StoreError::backend(context, e))
}

struct FileJob {
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    answer: tokio::sync::oneshot::Sender<std::io::Result<PathBuf>>,
}

/// The one thread that writes outbox files, in the order they are sent. Creating and
/// renaming files takes the folder's lock: from the blocking pool, under a checkout load
/// (three mails a checkout), the threads spun on that lock for 5 % of the host's CPU
/// (bench/README.md, "Throughput: the local profile").
fn file_writer() -> &'static std::sync::mpsc::Sender<FileJob> {
    static WRITER: std::sync::OnceLock<std::sync::mpsc::Sender<FileJob>> =
        std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        let (jobs, queue) = std::sync::mpsc::channel::<FileJob>();
        std::thread::Builder::new()
            .name("milkrun-outbox".into())
            .spawn(move || {
                for job in queue {
                    let _ = job.answer.send(write_now(&job.dir, job.files));
                }
            })
            .expect("the outbox writer thread starts");
        jobs
    })
}

fn write_now(dir: &std::path::Path, files: Vec<(String, Vec<u8>)>) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut last = dir.to_path_buf();
    for (name, bytes) in files {
        let (tmp, path) = (dir.join(format!(".{name}.tmp")), dir.join(&name));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
        last = path;
    }
    Ok(last)
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
        let files = vec![(format!("{}.sms", new_stem()), text.into_bytes())];
        let path = write_files(self.dir.clone(), files, "writing to the sms outbox").await?;
        tracing::info!(file = %path.display(), "text message written to the sms outbox");
        Ok(())
    }
}
