//! The item store on DynamoDB: each write one conditional request (or one
//! TransactWriteItems), expressions built from typed conditions with values always bound.
//! Tables are found by the environment variable their spec names (set by template.yaml).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
    Update as SdkUpdate,
};
use milkrun_store::ops::{ItemPage, Key, Query, Write, check_transaction, check_write};
use milkrun_store::port::is_expired;
use milkrun_store::{Item, ItemError, ItemStore, TableSpec, Value};
use rand::Rng;

use crate::config::{ConfigError, required_env};
use crate::expressions::Expressions;

type SdkItem = HashMap<String, AttributeValue>;

/// BatchGetItem's limit on keys per call.
const BATCH_GET_LIMIT: usize = 100;
/// Transactions cancelled by a concurrent one on the same items are retried this often.
const MAX_CONFLICT_RETRIES: u32 = 8;

pub struct DynamoDbItemStore {
    client: Client,
    tables: HashMap<&'static str, String>,
}

fn sdk(item: Item) -> SdkItem {
    item.into_inner()
        .into_iter()
        .map(|(name, value)| (name, sdk_value(value)))
        .collect()
}

fn ours(item: SdkItem) -> Item {
    let item: HashMap<String, Value> = item
        .into_iter()
        .map(|(name, value)| (name, our_value(value)))
        .collect();
    item.into()
}

/// One attribute value in the SDK's type. By hand rather than by serde_dynamo's
/// `aws-sdk-dynamodb+1` feature: with that feature on, every build of the workspace that
/// resolves features together (`cargo run --bin milkrun` among them) compiled the DynamoDB
/// SDK into the item store's serde_dynamo, and with it into `milkrun serve`.
pub(crate) fn sdk_value(value: Value) -> AttributeValue {
    match value {
        Value::N(n) => AttributeValue::N(n),
        Value::S(s) => AttributeValue::S(s),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::B(b) => AttributeValue::B(Blob::new(b)),
        Value::Null(null) => AttributeValue::Null(null),
        Value::M(m) => AttributeValue::M(m.into_iter().map(|(k, v)| (k, sdk_value(v))).collect()),
        Value::L(l) => AttributeValue::L(l.into_iter().map(sdk_value).collect()),
        Value::Ss(ss) => AttributeValue::Ss(ss),
        Value::Ns(ns) => AttributeValue::Ns(ns),
        Value::Bs(bs) => AttributeValue::Bs(bs.into_iter().map(Blob::new).collect()),
    }
}

/// [`sdk_value`] back.
fn our_value(value: AttributeValue) -> Value {
    match value {
        AttributeValue::N(n) => Value::N(n),
        AttributeValue::S(s) => Value::S(s),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::B(b) => Value::B(b.into_inner()),
        AttributeValue::Null(null) => Value::Null(null),
        AttributeValue::M(m) => Value::M(m.into_iter().map(|(k, v)| (k, our_value(v))).collect()),
        AttributeValue::L(l) => Value::L(l.into_iter().map(our_value).collect()),
        AttributeValue::Ss(ss) => Value::Ss(ss),
        AttributeValue::Ns(ns) => Value::Ns(ns),
        AttributeValue::Bs(bs) => Value::Bs(bs.into_iter().map(Blob::into_inner).collect()),
        other => panic!("an attribute type this SDK does not know: {other:?}"),
    }
}

fn backend<E: std::error::Error + Send + Sync + 'static>(
    context: &'static str,
) -> impl Fn(E) -> ItemError {
    move |error| ItemError::backend(context, error)
}

async fn pause(attempt: u32) {
    let ceiling = 5u64 << attempt.min(6);
    let millis = rand::rng().random_range(ceiling / 2..=ceiling);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

impl DynamoDbItemStore {
    /// The store over `tables`, each named by its environment variable; any unset is an
    /// error at start.
    pub fn from_env(client: Client, tables: &[&'static TableSpec]) -> Result<Self, ConfigError> {
        let tables = tables
            .iter()
            .map(|spec| Ok((spec.name, required_env(spec.env)?)))
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self { client, tables })
    }

    /// BatchGetItem over `keys`, 100 a request, retrying the keys left unprocessed.
    async fn batch_read(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
        consistent: bool,
    ) -> Result<Vec<Item>, ItemError> {
        let name = self.physical(table)?.to_owned();
        let mut items = Vec::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|k| sdk(k.to_item(table))).collect()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(backend("building a batch read"))?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&name, request)
                    .send()
                    .await
                    .map_err(|e| ItemError::backend("reading items", e.into_service_error()))?;
                let found = output
                    .responses
                    .unwrap_or_default()
                    .remove(&name)
                    .unwrap_or_default();
                items.extend(
                    found
                        .into_iter()
                        .map(ours)
                        .filter(|i| !is_expired(table, i)),
                );
                pending = output
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&name))
                    .filter(|left| !left.keys.is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > MAX_CONFLICT_RETRIES {
                        return Err(ItemError::backend(
                            "reading items",
                            std::io::Error::other("keys left unprocessed"),
                        ));
                    }
                    pause(attempt).await;
                }
            }
        }
        Ok(items)
    }

    fn physical(&self, table: &TableSpec) -> Result<&str, ItemError> {
        self.tables
            .get(table.name)
            .map(String::as_str)
            .ok_or_else(|| {
                ItemError::Invalid(format!(
                    "table {} is not configured for this function",
                    table.name
                ))
            })
    }

    /// One write as a transaction item.
    fn transact_item(&self, write: Write) -> Result<TransactWriteItem, ItemError> {
        let table = write.table();
        let name = self.physical(table)?.to_owned();
        let mut e = Expressions::default();
        let condition = write.condition().map(|c| e.condition(c, table));
        let item = TransactWriteItem::builder();
        let built = match write {
            Write::Put { item: put, .. } => {
                let request = Put::builder().table_name(name).set_item(Some(sdk(put)));
                item.put(
                    bound!(request, e, condition)
                        .build()
                        .map_err(backend("building a put"))?,
                )
            }
            Write::Update { key, updates, .. } => {
                let update = e.update(&updates);
                let request = SdkUpdate::builder()
                    .table_name(name)
                    .set_key(Some(sdk(key.to_item(table))));
                let request = bound!(request.update_expression(update), e, condition);
                item.update(request.build().map_err(backend("building an update"))?)
            }
            Write::Delete { key, .. } => {
                let request = Delete::builder()
                    .table_name(name)
                    .set_key(Some(sdk(key.to_item(table))));
                item.delete(
                    bound!(request, e, condition)
                        .build()
                        .map_err(backend("building a delete"))?,
                )
            }
            Write::Check { key, .. } => {
                let request = ConditionCheck::builder()
                    .table_name(name)
                    .set_key(Some(sdk(key.to_item(table))));
                let request = bound!(request, e, condition).build();
                item.condition_check(request.map_err(backend("building a condition check"))?)
            }
        };
        Ok(built.build())
    }

    /// One write as its own conditional request (an update answers the whole new item).
    async fn write_one(&self, write: Write) -> Result<Option<Item>, ItemError> {
        let table = write.table();
        let name = self.physical(table)?.to_owned();
        let mut e = Expressions::default();
        let condition = write.condition().map(|c| e.condition(c, table));
        match write {
            Write::Put { item, .. } => {
                let request = self
                    .client
                    .put_item()
                    .table_name(name)
                    .set_item(Some(sdk(item.clone())));
                settle(
                    bound!(request, e, condition)
                        .send()
                        .await
                        .map_err(SdkError::into_service_error),
                    "putting an item",
                )
                .map(|_| Some(item))
            }
            Write::Update { key, updates, .. } => {
                let update = e.update(&updates);
                let request = self
                    .client
                    .update_item()
                    .table_name(name)
                    .set_key(Some(sdk(key.to_item(table))));
                let request = bound!(
                    request
                        .update_expression(update)
                        .return_values(ReturnValue::AllNew),
                    e,
                    condition
                );
                let output = settle(
                    request.send().await.map_err(SdkError::into_service_error),
                    "updating an item",
                )?;
                Ok(Some(ours(output.attributes.unwrap_or_default())))
            }
            Write::Delete { key, .. } => {
                let request = self
                    .client
                    .delete_item()
                    .table_name(name)
                    .set_key(Some(sdk(key.to_item(table))));
                settle(
                    bound!(request, e, condition)
                        .send()
                        .await
                        .map_err(SdkError::into_service_error),
                    "deleting an item",
                )
                .map(|_| None)
            }
            Write::Check { .. } => Err(ItemError::Invalid(
                "a condition check is only for transactions".into(),
            )),
        }
    }
}

/// Gives a request its condition and the placeholders its expressions bound (the same three
/// setters on every kind of write request).
macro_rules! bound {
    ($request:expr, $e:expr, $condition:expr) => {
        $request
            .set_condition_expression($condition)
            .set_expression_attribute_names($e.names())
            .set_expression_attribute_values($e.values())
    };
}
use bound;

/// A single write's answer: a failed condition is `ConditionFailed`, anything else a
/// backend error saying what was being done.
fn settle<T, E>(sent: Result<T, E>, context: &'static str) -> Result<T, ItemError>
where
    E: ConditionalFailure + std::error::Error + Send + Sync + 'static,
{
    match sent {
        Ok(output) => Ok(output),
        Err(error) if error.condition_failed() => Err(ItemError::ConditionFailed { index: 0 }),
        Err(error) => Err(ItemError::backend(context, error)),
    }
}

/// Service errors that can say a condition failed.
trait ConditionalFailure {
    fn condition_failed(&self) -> bool;
}

macro_rules! conditional_failure {
    ($($error:ty),+) => {$(
        impl ConditionalFailure for $error {
            fn condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )+};
}

conditional_failure!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

/// Why a transaction was cancelled: the first write whose condition failed, or a conflict.
enum Cancelled {
    Condition(usize),
    Conflict,
}

fn cancelled(error: &TransactWriteItemsError) -> Option<Cancelled> {
    let TransactWriteItemsError::TransactionCanceledException(cancel) = error else {
        return None;
    };
    let codes: Vec<Option<&str>> = cancel
        .cancellation_reasons()
        .iter()
        .map(|r| r.code())
        .collect();
    if let Some(index) = codes
        .iter()
        .position(|c| *c == Some("ConditionalCheckFailed"))
    {
        return Some(Cancelled::Condition(index));
    }
    if codes.contains(&Some("TransactionConflict")) {
        return Some(Cancelled::Conflict);
    }
    None
}

#[async_trait]
impl ItemStore for DynamoDbItemStore {
    async fn get(
        &self,
        table: &'static TableSpec,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<Item>, ItemError> {
        let output = self
            .client
            .get_item()
            .table_name(self.physical(table)?)
            .set_key(Some(sdk(key.to_item(table))))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| ItemError::backend("reading an item", e.into_service_error()))?;
        Ok(output
            .item
            .map(ours)
            .filter(|item| !is_expired(table, item)))
    }

    async fn batch_get(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        self.batch_read(table, keys, true).await
    }

    async fn batch_get_eventual(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        self.batch_read(table, keys, false).await
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, ItemError> {
        check_write(&write).map_err(ItemError::Invalid)?;
        self.write_one(write).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), ItemError> {
        check_transaction(&writes).map_err(ItemError::Invalid)?;
        for attempt in 0..=MAX_CONFLICT_RETRIES {
            let items = writes
                .iter()
                .cloned()
                .map(|w| self.transact_item(w))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
                .map_err(SdkError::into_service_error);
            match result {
                Ok(_) => return Ok(()),
                Err(error) => match cancelled(&error) {
                    Some(Cancelled::Condition(index)) => {
                        return Err(ItemError::ConditionFailed { index });
                    }
                    Some(Cancelled::Conflict) if attempt < MAX_CONFLICT_RETRIES => {
                        pause(attempt).await
                    }
                    Some(Cancelled::Conflict) => return Err(ItemError::Conflict),
                    None => return Err(ItemError::backend("writing a transaction", error)),
                },
            }
        }
        Err(ItemError::Conflict)
    }

    async fn query(&self, query: &Query) -> Result<ItemPage, ItemError> {
        let table = query.table;
        let mut e = Expressions::default();
        let sort = query.sort_attribute().zip(query.sort.as_ref());
        let key_condition = e.key_condition(query.partition_attribute(), &query.partition, sort);
        let output = self
            .client
            .query()
            .table_name(self.physical(table)?)
            .set_index_name(query.index.map(|i| i.name.to_owned()))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(!query.descending)
            .limit(query.limit as i32)
            .set_exclusive_start_key(query.start_after.clone().map(sdk))
            .set_consistent_read(query.index.is_none().then_some(query.consistent))
            .send()
            .await
            .map_err(|e| ItemError::backend("querying items", e.into_service_error()))?;
        let items = output.items.unwrap_or_default().into_iter().map(ours);
        Ok(ItemPage::live(
            table,
            items.collect(),
            output.last_evaluated_key.map(ours),
        ))
    }

    async fn scan(
        &self,
        table: &'static TableSpec,
        limit: u32,
        start_after: Option<Item>,
    ) -> Result<ItemPage, ItemError> {
        let output = self
            .client
            .scan()
            .table_name(self.physical(table)?)
            .limit(limit as i32)
            .set_exclusive_start_key(start_after.map(sdk))
            .send()
            .await
            .map_err(|e| ItemError::backend("scanning items", e.into_service_error()))?;
        let items = output.items.unwrap_or_default().into_iter().map(ours);
        Ok(ItemPage::live(
            table,
            items.collect(),
            output.last_evaluated_key.map(ours),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_type_goes_to_the_sdk_and_back_unchanged() {
        let nested = Value::M(HashMap::from([
            ("n".to_owned(), Value::N("1.5".into())),
            (
                "l".to_owned(),
                Value::L(vec![Value::Bool(true), Value::Null(true)]),
            ),
        ]));
        let item: HashMap<String, Value> = HashMap::from([
            ("s".to_owned(), Value::S("text".into())),
            ("n".to_owned(), Value::N("-42".into())),
            ("b".to_owned(), Value::B(vec![0, 1, 255])),
            ("bool".to_owned(), Value::Bool(false)),
            ("null".to_owned(), Value::Null(true)),
            ("m".to_owned(), nested),
            ("ss".to_owned(), Value::Ss(vec!["a".into(), "b".into()])),
            ("ns".to_owned(), Value::Ns(vec!["1".into(), "2".into()])),
            ("bs".to_owned(), Value::Bs(vec![vec![1], vec![2, 3]])),
        ]);
        let sdk_item = sdk(Item::from(item.clone()));
        assert_eq!(sdk_item["b"], AttributeValue::B(Blob::new(vec![0, 1, 255])));
        assert_eq!(
            sdk_item["ss"],
            AttributeValue::Ss(vec!["a".into(), "b".into()])
        );
        assert_eq!(ours(sdk_item), Item::from(item));
    }
}
