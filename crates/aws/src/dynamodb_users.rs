//! Users in DynamoDB, one table, two kinds of item:
//! `USER#<id>` holds the user; `EMAIL#<email>` claims the address. Registration writes both
//! in one transaction, each conditional on not existing, so two registrations of one email
//! can never both succeed. Updates are conditional on the version read.
//! The sparse index `ByCreatedAt` (only user items carry `listKey`) lists users newest first.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use milkrun_domain::StoreError;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{UserDirectory, UserLookup, UserRegistry, UserUpdates};
use milkrun_domain::user::User;
use milkrun_domain::values::Email;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use uuid::Uuid;

use crate::attributes::{backend, s};
use crate::sparse_index;
use crate::transaction::{self, Cancelled};

const LIST_KEY: &str = "USER";
/// Registrations that collide with a concurrent transaction are tried this often.
const MAX_CONFLICT_RETRIES: u32 = 4;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoDbUsers {
    client: Client,
    table: String,
}

fn user_pk(user_id: Uuid) -> String {
    format!("USER#{user_id}")
}

fn email_pk(email: &Email) -> String {
    format!("EMAIL#{email}")
}

fn user_item(user: &User) -> Result<Item, StoreError> {
    let mut item: Item = to_item(user).map_err(backend("encoding a user"))?;
    item.insert("pk".into(), s(user_pk(user.user_id)));
    sparse_index::add_list_keys(&mut item, LIST_KEY, user.created_at, user.user_id);
    Ok(item)
}

fn decode_user(mut item: Item) -> Result<User, StoreError> {
    for key in ["pk", "listKey", "createdKey"] {
        item.remove(key);
    }
    from_item(item).map_err(backend("decoding a user"))
}

const CURSOR_KEYS: [&str; 3] = ["pk", "listKey", "createdKey"];

impl DynamoDbUsers {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: String) -> Result<Option<Item>, StoreError> {
        sparse_index::get(
            &self.client,
            &self.table,
            Item::from([("pk".into(), s(pk))]),
        )
        .await
    }

    fn conditional_put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(backend("building a put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl UserRegistry for DynamoDbUsers {
    async fn create(&self, user: &User) -> Result<(), StoreError> {
        let claim = Item::from([
            ("pk".into(), s(email_pk(&user.email))),
            ("userId".into(), s(user.user_id.to_string())),
        ]);
        let items = vec![
            self.conditional_put(user_item(user)?)?,
            self.conditional_put(claim)?,
        ];
        // A transaction that collided with another on the same email is tried again: the
        // other one may yet fail, and only a failed condition proves the email is taken.
        for attempt in 0..MAX_CONFLICT_RETRIES {
            match transaction::write(&self.client, items.clone(), "creating a user").await? {
                None => return Ok(()),
                Some(Cancelled::Condition) => return Err(StoreError::AlreadyExists),
                Some(Cancelled::Conflict) => {
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
            }
        }
        Err(StoreError::AlreadyExists)
    }
}

#[async_trait]
impl UserLookup for DynamoDbUsers {
    async fn by_id(&self, user_id: Uuid) -> Result<Option<User>, StoreError> {
        self.get(user_pk(user_id))
            .await?
            .map(decode_user)
            .transpose()
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let Some(claim) = self.get(email_pk(email)).await? else {
            return Ok(None);
        };
        let user_id = claim
            .get("userId")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| StoreError::backend("reading an email claim", std::fmt::Error))?;
        self.by_id(user_id).await
    }
}

#[async_trait]
impl UserUpdates for DynamoDbUsers {
    async fn update(&self, mut user: User) -> Result<User, StoreError> {
        let expected = user.version;
        user.version += 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(user_item(&user)?))
            .condition_expression("attribute_exists(pk) AND version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match result.map_err(SdkError::into_service_error) {
            Ok(_) => Ok(user),
            Err(error) if error.is_conditional_check_failed_exception() => {
                let exists = self.get(user_pk(user.user_id)).await?.is_some();
                Err(if exists {
                    StoreError::VersionConflict
                } else {
                    StoreError::NotFound
                })
            }
            Err(error) => Err(StoreError::backend("updating a user", error)),
        }
    }
}

#[async_trait]
impl UserDirectory for DynamoDbUsers {
    async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let (items, next_cursor) = sparse_index::page(
            &self.client,
            &self.table,
            LIST_KEY,
            page,
            &CURSOR_KEYS,
            |keys| {
                keys.get("listKey").map(String::as_str) == Some(LIST_KEY)
                    && keys.get("pk").is_some_and(|pk| pk.starts_with("USER#"))
            },
        )
        .await?;
        let items = items
            .into_iter()
            .map(decode_user)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
