//! The audit trail in DynamoDB: `ENTITY#<entityId>` / `<at>#<auditId>`, written only with
//! `attribute_not_exists` puts (the function's IAM policy grants no update or delete), read
//! newest first with one Query per page.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::SecondsFormat;
use milkrun_domain::StoreError;
use milkrun_domain::audit::AuditEntry;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::AuditLog;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

const CURSOR_KEYS: [&str; 2] = ["pk", "sk"];

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbAuditLog {
    client: Client,
    table: String,
}

fn entity_pk(entity_id: &str) -> String {
    format!("ENTITY#{entity_id}")
}

fn decode(mut item: Item) -> Result<AuditEntry, StoreError> {
    item.remove("pk");
    item.remove("sk");
    from_item(item).map_err(|e| StoreError::backend("decoding an audit entry", e))
}

impl DynamoDbAuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl AuditLog for DynamoDbAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut item: Item =
            to_item(entry).map_err(|e| StoreError::backend("encoding an audit entry", e))?;
        let at = entry.at.to_rfc3339_opts(SecondsFormat::Micros, true);
        item.insert("pk".into(), AttributeValue::S(entity_pk(&entry.entity_id)));
        item.insert(
            "sk".into(),
            AttributeValue::S(format!("{at}#{}", entry.audit_id)),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result.map_err(SdkError::into_service_error) {
            Ok(_) => Ok(()),
            Err(error) if error.is_conditional_check_failed_exception() => {
                Err(StoreError::AlreadyExists)
            }
            Err(error) => Err(StoreError::backend("appending to the audit trail", error)),
        }
    }

    async fn for_entity(
        &self,
        entity_id: &str,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let pk = entity_pk(entity_id);
        // The cursor names its entity, so it cannot page another entity's trail.
        let start = page
            .cursor
            .as_deref()
            .map(|c| crate::cursor::decode(c, &CURSOR_KEYS, |keys| keys.get("pk") == Some(&pk)))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .scan_index_forward(false)
            .limit(page.limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading the audit trail", e.into_service_error()))?;
        let mut items = output.items.unwrap_or_default();
        let next_cursor = if items.len() > page.limit as usize {
            items.truncate(page.limit as usize);
            items
                .last()
                .and_then(|item| crate::cursor::encode(item, &CURSOR_KEYS))
        } else {
            None
        };
        Ok(Page {
            items: items.into_iter().map(decode).collect::<Result<_, _>>()?,
            next_cursor,
        })
    }
}
