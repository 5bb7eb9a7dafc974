//! The SQLite item store against the shared contract suites, and the embedded adapters'
//! own promises.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use milkrun_contract::events::PublishedProbe;
use milkrun_domain::Effects;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::ports::{Attachment, Journal, Mail, Mailer};
use milkrun_domain::values::Email;
use milkrun_local::{Database, InProcessBus, OutboxMailer, RetryPolicy, SqliteItemStore};
use milkrun_store::ops::{Condition, Key, Write};
use milkrun_store::table::INVENTORY;
use milkrun_store::{Item, ItemError, ItemStore, Stores};

async fn sqlite() -> Arc<dyn ItemStore> {
    Arc::new(SqliteItemStore::new(Database::in_memory().unwrap()))
}

milkrun_contract::store_contract!(sqlite().await);

/// One database file shared by every case of the second run (each case uses keys of its
/// own, as on moto's shared tables): its reads go to the reader connections and its writes
/// through group commits, which an in-memory database (one connection) never exercises.
fn shared_file() -> Database {
    static SHARED: std::sync::OnceLock<Database> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-contract");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Database::open(&dir.join("milkrun.db")).unwrap()
        })
        .clone()
}

mod on_file {
    use super::*;

    async fn sqlite_file() -> Arc<dyn ItemStore> {
        Arc::new(SqliteItemStore::new(shared_file()))
    }

    milkrun_contract::store_contract!(sqlite_file().await);
}

/// Holds the writer thread in a lone call until the returned sender is sent to (or dropped).
async fn hold_the_writer(
    db: &Database,
) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (started, has_started) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let db = db.clone();
    let held = tokio::spawn(async move {
        db.call(move |_| {
            started.send(()).unwrap();
            let _ = released.recv();
            Ok::<_, milkrun_domain::StoreError>(())
        })
        .await
        .unwrap();
    });
    tokio::task::spawn_blocking(move || has_started.recv().unwrap())
        .await
        .unwrap();
    (release, held)
}

fn stock_row(partition: &str, sort: &str) -> Item {
    Key::with_sort(partition, sort).to_item(&INVENTORY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_does_not_wait_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("milkrun.db")).unwrap();
    let store = SqliteItemStore::new(db.clone());
    let item = stock_row("reader", "a");
    store
        .write(Write::put(&INVENTORY, item.clone(), None))
        .await
        .unwrap();
    let (release, held) = hold_the_writer(&db).await;
    let read = tokio::time::timeout(
        Duration::from_secs(2),
        store.get(&INVENTORY, &Key::with_sort("reader", "a"), true),
    )
    .await
    .expect("the read is served by a reader while the writer is busy");
    assert_eq!(read.unwrap(), Some(item));
    release.send(()).unwrap();
    held.await.unwrap();
}

/// Frames in the write-ahead log since it was last truncated: at least one per commit.
async fn wal_frames(db: &Database, truncate: bool) -> i64 {
    let mode = if truncate { "TRUNCATE" } else { "PASSIVE" };
    db.call(move |conn| {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            row.get::<_, i64>(1)
        })
        .map_err(|e| milkrun_domain::StoreError::backend("checkpoint", e))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_share_one_commit_and_each_stays_atomic_and_conditional() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("milkrun.db")).unwrap();
    let store: Arc<dyn ItemStore> = Arc::new(SqliteItemStore::new(db.clone()));
    assert_eq!(wal_frames(&db, true).await, 0);
    let (release, held) = hold_the_writer(&db).await;
    let claim = |sort: &str| {
        Write::put(
            &INVENTORY,
            stock_row("group", sort),
            Some(Condition::NotExists),
        )
    };
    let mut writes = Vec::new();
    for i in 0..20 {
        let (store, write) = (store.clone(), claim(&format!("w-{i}")));
        writes.push(tokio::spawn(
            async move { store.write(write).await.map(|_| ()) },
        ));
    }
    let mut twins = Vec::new();
    for _ in 0..2 {
        let (store, write) = (store.clone(), claim("twin"));
        twins.push(tokio::spawn(
            async move { store.write(write).await.map(|_| ()) },
        ));
    }
    let undone = {
        let store = store.clone();
        let writes = vec![
            Write::put(&INVENTORY, stock_row("group", "undone"), None),
            Write::put(
                &INVENTORY,
                stock_row("group", "absent"),
                Some(Condition::Exists),
            ),
        ];
        tokio::spawn(async move { store.transact(writes).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        writes.iter().chain(&twins).all(|w| !w.is_finished()) && !undone.is_finished(),
        "no write is answered before its commit"
    );
    release.send(()).unwrap();
    held.await.unwrap();
    for write in writes {
        write.await.unwrap().unwrap();
    }
    let mut twin_results = Vec::new();
    for twin in twins {
        twin_results.push(twin.await.unwrap());
    }
    assert_eq!(
        twin_results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{twin_results:?}"
    );
    assert!(
        twin_results
            .iter()
            .any(|r| matches!(r, Err(ItemError::ConditionFailed { index: 0 })))
    );
    assert!(matches!(
        undone.await.unwrap(),
        Err(ItemError::ConditionFailed { index: 1 })
    ));
    let read = async |sort: String| {
        store
            .get(&INVENTORY, &Key::with_sort("group", sort), true)
            .await
            .unwrap()
    };
    assert_eq!(
        read("undone".into()).await,
        None,
        "a failed transaction keeps nothing"
    );
    for i in 0..20 {
        assert!(read(format!("w-{i}")).await.is_some());
    }
    let frames = wal_frames(&db, false).await;
    assert!(
        frames < 10,
        "22 writes in one commit, not one commit each: {frames} frames"
    );
}

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

/// An in-process bus over a fresh store, and the probe that reads what it published.
async fn bus_and_probe() -> (Arc<InProcessBus>, Arc<BusProbe>) {
    let stores = Stores::over(sqlite().await);
    let bus = Arc::new(InProcessBus::new(
        stores.processed.clone(),
        stores.dead_letters.clone(),
        RetryPolicy::default(),
    ));
    (bus.clone(), Arc::new(BusProbe(bus)))
}

#[tokio::test]
async fn in_process_bus_delivers_whole_envelopes() {
    let (bus, probe) = bus_and_probe().await;
    milkrun_contract::events::published_events_arrive_whole(bus, probe).await;
}

#[tokio::test]
async fn in_process_bus_delivers_events_published_together() {
    let (bus, probe) = bus_and_probe().await;
    milkrun_contract::events::events_published_together_arrive_whole(bus, probe).await;
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
