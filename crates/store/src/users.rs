//! Users over the item store, two kinds of item: `USER#<id>` holds the user (listed newest
//! first), `EMAIL#<email>` claims the address. Registration writes both, each conditional on
//! not existing, so two registrations of one email can never both win.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{
    Access, AccessLookup, NewsletterAudience, UserDirectory, UserLookup, UserRegistry, UserUpdates,
};
use milkrun_domain::user::User;
use milkrun_domain::values::{Email, Role};
use milkrun_domain::{Effects, StoreError};
use uuid::Uuid;

use crate::effects::{Refused, commit};
use crate::item::{Item, s, text};
use crate::ops::{Condition, Key, Query, Write};
use crate::packed::{Versioned, packed_item, unpack};
use crate::paging::{list_as, list_by_key};
use crate::port::ItemStore;
use crate::table::{USERS, USERS_BY_CREATED_AT, USERS_BY_NEWSLETTER};
use crate::versioned::{list_under, update_versioned};

const LIST_KEY: &str = "USER";
const NEWSLETTER_KEY: &str = "NEWSLETTER";

pub struct Users {
    store: Arc<dyn ItemStore>,
}

fn user_key(user_id: Uuid) -> Key {
    Key::partition(format!("USER#{user_id}"))
}

fn email_key(email: &Email) -> Key {
    Key::partition(format!("EMAIL#{email}"))
}

/// The user packed (see [`crate::packed`]: a customer with two addresses and a device came to
/// 1.1 KB as attributes, so each write billed 2 units and its listing's copy 2 more).
fn user_item(user: &User) -> Result<Item, StoreError> {
    let mut item = packed_item(user, user.version)?;
    user_key(user.user_id).add_to(&USERS, &mut item);
    list_under(&mut item, LIST_KEY, user.created_at, user.user_id);
    // Written with every put of the user, so opting out (or being disabled) takes the
    // user out of the audience in the same write.
    if in_newsletter(user) {
        item.insert(USERS_BY_NEWSLETTER.partition_key.into(), s(NEWSLETTER_KEY));
    }
    Ok(item)
}

/// Promotions go to active customers who opted in, nobody else.
fn in_newsletter(user: &User) -> bool {
    user.preferences.newsletter_opt_in && user.is_active() && user.role == Role::Customer
}

impl Versioned for User {
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl Users {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    async fn read(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Ok(self.store.get(&USERS, key, true).await?)
    }
}

#[async_trait]
impl UserRegistry for Users {
    async fn create(&self, user: &User, effects: &Effects) -> Result<(), StoreError> {
        let mut claim = email_key(&user.email).to_item(&USERS);
        claim.insert("userId".into(), s(user.user_id.to_string()));
        let writes = vec![
            Write::put(&USERS, user_item(user)?, Some(Condition::NotExists)),
            Write::put(&USERS, claim, Some(Condition::NotExists)),
        ];
        match commit(self.store.as_ref(), writes, effects).await? {
            Ok(()) => Ok(()),
            Err(Refused::Change(_) | Refused::Effect) => Err(StoreError::AlreadyExists),
        }
    }
}

#[async_trait]
impl UserLookup for Users {
    async fn by_id(&self, user_id: Uuid) -> Result<Option<User>, StoreError> {
        self.read(&user_key(user_id)).await?.map(unpack).transpose()
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let Some(claim) = self.read(&email_key(email)).await? else {
            return Ok(None);
        };
        let user_id = text(&claim, "userId")
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| {
                StoreError::backend_message("reading a user", "an email claim without a user")
            })?;
        self.by_id(user_id).await
    }
}

#[async_trait]
impl AccessLookup for Users {
    /// An eventually consistent read: a change reaches it within a second or so, well
    /// inside the 30 s authorization may lag.
    async fn access(&self, user_id: Uuid) -> Result<Option<Access>, StoreError> {
        let item = self.store.get(&USERS, &user_key(user_id), false).await?;
        Ok(item
            .map(unpack::<User>)
            .transpose()?
            .as_ref()
            .map(Access::of))
    }
}

#[async_trait]
impl UserUpdates for Users {
    async fn update(&self, mut user: User, effects: &Effects) -> Result<User, StoreError> {
        let (key, item, read_at) = (user_key(user.user_id), user_item(&user)?, user.version);
        let store = self.store.as_ref();
        user.version = update_versioned(store, &USERS, &key, item, read_at, effects).await?;
        Ok(user)
    }
}

#[async_trait]
impl UserDirectory for Users {
    async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let query = Query::index(&USERS, &USERS_BY_CREATED_AT, LIST_KEY).descending();
        list_by_key(self.store.as_ref(), &USERS, query, page, unpack).await
    }
}

#[async_trait]
impl NewsletterAudience for Users {
    async fn opted_in(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let query = Query::index(&USERS, &USERS_BY_NEWSLETTER, NEWSLETTER_KEY);
        list_as(self.store.as_ref(), query, page, unpack).await
    }
}
