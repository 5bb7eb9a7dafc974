//! The SQLite item store against the shared contract suites, and the embedded adapters'
//! own promises.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use milkrun_contract::events::PublishedProbe;
use milkrun_domain::Effects;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::{Attachment, Journal, Mail, Mailer};
use milkrun_domain::values::Email;
use milkrun_local::{Database, InProcessBus, OutboxMailer, RetryPolicy, SqliteItemStore};
use milkrun_store::{ItemStore, Stores};

async fn sqlite() -> Arc<dyn ItemStore> {
    Arc::new(SqliteItemStore::new(Database::in_memory().unwrap()))
}

milkrun_contract::store_contract!(sqlite().await);

#[tokio::test]
async fn dead_letters_list_oldest_first_and_leave_when_removed() {
    milkrun_contract::outbox::dead_letters_list_oldest_first_and_leave_when_removed(Stores::over(
        sqlite().await,
    ))
    .await;
}

struct BusProbe(Arc<InProcessBus>);

impl PublishedProbe for BusProbe {
    fn received(&self) -> Pin<Box<dyn Future<Output = Vec<EventEnvelope>> + Send + '_>> {
        Box::pin(async move { self.0.published() })
    }
}

#[tokio::test]
async fn in_process_bus_delivers_whole_envelopes() {
    let stores = Stores::over(sqlite().await);
    let bus = Arc::new(InProcessBus::new(
        stores.processed.clone(),
        stores.dead_letters.clone(),
        RetryPolicy::default(),
    ));
    milkrun_contract::events::published_events_arrive_whole(bus.clone(), Arc::new(BusProbe(bus)))
        .await;
}

#[tokio::test]
async fn items_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("milkrun.db");
    let user = milkrun_contract::users::sample_user("persist");
    let stores = Stores::over(Arc::new(SqliteItemStore::new(
        Database::open(&path).unwrap(),
    )));
    use milkrun_domain::ports::{UserLookup, UserRegistry};
    stores.users.create(&user, &Effects::none()).await.unwrap();
    drop(stores);
    let reopened = Stores::over(Arc::new(SqliteItemStore::new(
        Database::open(&path).unwrap(),
    )));
    assert_eq!(
        reopened.users.by_id(user.user_id).await.unwrap(),
        Some(user)
    );
}

#[tokio::test]
async fn outbox_writes_one_file_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path().join("outbox")).unwrap();
    let mail = Mail {
        to: Email::parse("asha@example.com").unwrap(),
        subject: "Hello".into(),
        body: "Fresh milk.\n".into(),
        attachments: Vec::new(),
    };
    mailer.send(&mail).await.unwrap();
    mailer.send(&mail).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(mailer.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.starts_with("To: asha@example.com\nSubject: Hello\n"),
        "{text}"
    );
    assert!(text.ends_with("\n\nFresh milk.\n"));
}

fn report_mail(filename: &str) -> Mail {
    Mail {
        to: Email::parse("admin@example.com").unwrap(),
        subject: "Daily report".into(),
        body: "Orders per vendor attached.\n".into(),
        attachments: vec![Attachment {
            filename: filename.into(),
            content_type: "image/png".into(),
            bytes: b"\x89PNG\r\n\x1a\n not really a chart".to_vec(),
        }],
    }
}

#[tokio::test]
async fn outbox_keeps_attachments_beside_the_message_that_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path().join("outbox")).unwrap();
    let mail = report_mail("chart.png");
    mailer.send(&mail).await.unwrap();
    let mut names: Vec<String> = std::fs::read_dir(mailer.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        2,
        "the message and its chart, no temporary file: {names:?}"
    );
    let stem = names[1].strip_suffix(".eml").expect("a message file");
    assert_eq!(names[0], format!("{stem}-chart.png"));
    let png = std::fs::read(mailer.dir().join(&names[0])).unwrap();
    assert_eq!(png, mail.attachments[0].bytes);
    let text = std::fs::read_to_string(mailer.dir().join(&names[1])).unwrap();
    let line = format!(
        "\nAttachment: {stem}-chart.png (image/png, {} bytes)\n",
        png.len()
    );
    assert!(text.contains(&line), "{text}");
    assert!(
        text.ends_with("\n\nOrders per vendor attached.\n"),
        "{text}"
    );
}

#[tokio::test]
async fn outbox_refuses_an_attachment_name_that_leaves_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path().join("outbox")).unwrap();
    for name in ["../escape.png", "sub/chart.png", ".hidden.png", ""] {
        assert!(mailer.send(&report_mail(name)).await.is_err(), "{name:?}");
    }
    assert_eq!(std::fs::read_dir(mailer.dir()).unwrap().count(), 0);
    assert!(!dir.path().join("escape.png").exists());
}

#[tokio::test]
async fn the_audit_table_refuses_updates_and_deletes_even_by_hand() {
    let db = Database::in_memory().unwrap();
    let stores = Stores::over(Arc::new(SqliteItemStore::new(db.clone())));
    let context = milkrun_domain::audit::AuditContext::system("c", "contract");
    stores
        .audit
        .commit(&Effects::audited(context.entry(
            "USER_REGISTERED",
            "USER",
            "u-1",
        )))
        .await
        .unwrap();
    let refused = db
        .call(|conn| {
            Ok::<_, milkrun_domain::StoreError>((
                conn.execute("UPDATE items_audit SET item = '{}'", [])
                    .is_err(),
                conn.execute("DELETE FROM items_audit", []).is_err(),
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        refused,
        (true, true),
        "append-only, even for a direct statement"
    );
}
