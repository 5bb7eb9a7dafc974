//! The audit trail's contract: append-only, listed per entity newest first.

use std::sync::Arc;

use milkrun_domain::Effects;
use milkrun_domain::StoreError;
use milkrun_domain::audit::{AuditContext, AuditEntry};
use milkrun_domain::page::PageRequest;
use milkrun_domain::ports::{AuditLog, Journal};
use milkrun_domain::user::ClientOrigin;
use milkrun_domain::values::Role;
use milkrun_store::AuditTrail;
use uuid::Uuid;

fn context() -> AuditContext {
    AuditContext {
        user_id: Some(Uuid::new_v4()),
        role: Some(Role::Admin),
        origin: ClientOrigin {
            ip: "10.1.2.3".into(),
            user_agent: "contract".into(),
            region: Some("IN".into()),
        },
        correlation_id: "contract-corr".into(),
    }
}

async fn all_pages(log: &Arc<AuditTrail>, entity_id: &str, limit: u32) -> Vec<AuditEntry> {
    let (mut entries, mut page) = (Vec::new(), PageRequest::first(limit));
    loop {
        let result = log.for_entity(entity_id, &page).await.unwrap();
        assert!(result.items.len() <= limit as usize);
        entries.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return entries,
        }
    }
}

pub async fn entries_list_per_entity_newest_first(log: Arc<AuditTrail>) {
    let (entity, other) = (Uuid::new_v4(), Uuid::new_v4());
    let context = context();
    let mut appended = Vec::new();
    for action in [
        "VENDOR_CREATED",
        "VENDOR_UPDATED",
        "VENDOR_UPDATED",
        "VENDOR_DEACTIVATED",
        "VENDOR_UPDATED",
    ] {
        let entry = context.entry(action, "VENDOR", entity);
        log.commit(&Effects::audited(entry.clone())).await.unwrap();
        appended.push(entry);
    }
    log.commit(&Effects::audited(context.entry(
        "VENDOR_CREATED",
        "VENDOR",
        other,
    )))
    .await
    .unwrap();
    appended.reverse();
    assert_eq!(
        all_pages(&log, &entity.to_string(), 2).await,
        appended,
        "whole entries, newest first, no repeats"
    );
    assert_eq!(all_pages(&log, &other.to_string(), 10).await.len(), 1);
    assert!(
        all_pages(&log, &Uuid::new_v4().to_string(), 10)
            .await
            .is_empty()
    );
}

pub async fn entries_cannot_be_overwritten(log: Arc<AuditTrail>) {
    let entity = Uuid::new_v4();
    let original = context().entry("USER_UPDATED", "USER", entity);
    log.commit(&Effects::audited(original.clone()))
        .await
        .unwrap();
    let mut forged = original.clone();
    forged.action = "NOTHING_HAPPENED".into();
    assert!(matches!(
        log.commit(&Effects::audited(forged.clone())).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(all_pages(&log, &entity.to_string(), 5).await, [original]);
}

pub async fn cursors_are_checked(log: Arc<AuditTrail>) {
    let (entity, other) = (Uuid::new_v4(), Uuid::new_v4());
    for id in [entity, entity, other, other] {
        log.commit(&Effects::audited(context().entry(
            "USER_UPDATED",
            "USER",
            id,
        )))
        .await
        .unwrap();
    }
    let page = log
        .for_entity(&entity.to_string(), &PageRequest::first(1))
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("a second entry exists");
    let borrowed = PageRequest {
        limit: 1,
        cursor: Some(cursor),
    };
    let across = log.for_entity(&other.to_string(), &borrowed).await;
    assert!(
        matches!(across, Err(StoreError::InvalidCursor)),
        "a cursor of one entity does not page another"
    );
    let garbage = PageRequest {
        limit: 1,
        cursor: Some("garbage".into()),
    };
    assert!(matches!(
        log.for_entity(&entity.to_string(), &garbage).await,
        Err(StoreError::InvalidCursor)
    ));
}

#[macro_export]
macro_rules! audit_log_contract {
    ($make:expr) => {
        $crate::audit_log_contract!(@cases $make;
            entries_list_per_entity_newest_first,
            entries_cannot_be_overwritten,
            cursors_are_checked,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::audit::$case(milkrun_store::Stores::over($make).audit).await;
            }
        )+
    };
}
