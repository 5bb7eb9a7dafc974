//! The user service's use cases. No HTTP here: handlers parse, call one of these, and map
//! the `DomainError` through the shared layer.

use std::sync::Arc;

use chrono::Utc;
use milkrun_auth::{JwtKeys, PasswordHasher};
use milkrun_domain::audit::{AuditContext, AuditTrail};
use milkrun_domain::concurrency::MAX_UPDATE_ATTEMPTS;
use milkrun_domain::events::{EventEnvelope, EventType};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{EventPublisher, Mail, Mailer, UserStore};
use milkrun_domain::user::{
    AddressInput, AdminUserChange, ClientOrigin, DeviceSighting, NewUser, Preferences, User,
};
use milkrun_domain::values::{
    AddressLabel, Email, Password, PasswordHash, PersonName, Phone, Role,
};
use milkrun_domain::{DomainError, FieldErrors, StoreError};
use serde_json::json;
use uuid::Uuid;

const ENTITY: &str = "USER";

/// Registration as a guest sends it. Anything else in the body (a `role`) is ignored.
#[derive(Debug, Default)]
pub struct Registration {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub user_id: Uuid,
    pub role: Role,
    pub is_profile_complete: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedIn {
    pub token: String,
    pub expires_in: i64,
    pub user_id: Uuid,
    pub role: Role,
    pub is_profile_complete: bool,
}

/// A user's change to their own profile; `phone: Some(None)` removes the phone.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub profile_completion_prompted: Option<bool>,
}

/// Where links in mail point, e.g. `https://milkrun.example/verify-email?token=`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub verify_email_url: String,
}

#[derive(Clone)]
pub struct UserService {
    store: Arc<dyn UserStore>,
    events: Arc<dyn EventPublisher>,
    mailer: Arc<dyn Mailer>,
    keys: Arc<JwtKeys>,
    hasher: PasswordHasher,
    mail: MailSettings,
    audit: AuditTrail,
}

impl UserService {
    pub fn new(
        store: Arc<dyn UserStore>,
        events: Arc<dyn EventPublisher>,
        mailer: Arc<dyn Mailer>,
        keys: Arc<JwtKeys>,
        mail: MailSettings,
        audit: AuditTrail,
    ) -> Self {
        Self {
            store,
            events,
            mailer,
            keys,
            hasher: PasswordHasher::new(),
            mail,
            audit,
        }
    }

    pub fn keys(&self) -> Arc<JwtKeys> {
        self.keys.clone()
    }

    pub async fn register(
        &self,
        input: Registration,
        actor: &AuditContext,
    ) -> Result<Registered, DomainError> {
        let (origin, correlation_id) = (&actor.origin, actor.correlation_id.as_str());
        let mut errors = FieldErrors::new();
        let name = errors.check(
            "name",
            required(input.name).and_then(|v| PersonName::parse(&v)),
        );
        let email = errors.check(
            "email",
            required(input.email).and_then(|v| Email::parse(&v)),
        );
        let password = errors.check(
            "password",
            required(input.password).and_then(|v| Password::parse(&v)),
        );
        let phone = match input.phone.filter(|p| !p.trim().is_empty()) {
            Some(raw) => errors.check("phone", Phone::parse(&raw)),
            None => None,
        };
        let (name, email, password) = errors.into_result(|| (name, email, password))?;
        let new = NewUser {
            email: email.expect("checked"),
            name: name.expect("checked"),
            phone,
            role: Role::Customer,
        };
        let user = self
            .create_user(new, &password.expect("checked"), origin)
            .await?;
        self.record(actor, &user, "USER_REGISTERED").await;
        self.announce(EventType::UserRegistered, correlation_id, json!({"userId": user.user_id, "email": user.email, "role": user.role, "ip": origin.ip, "userAgent": origin.user_agent, "region": origin.region})).await;
        self.send_welcome(&user).await;
        Ok(Registered {
            user_id: user.user_id,
            role: user.role,
            is_profile_complete: user.is_profile_complete,
        })
    }

    async fn create_user(
        &self,
        new: NewUser,
        password: &Password,
        origin: &ClientOrigin,
    ) -> Result<User, DomainError> {
        let hash = self.hash(password).await?;
        let user = User::register(new, hash, origin, Utc::now());
        match self.store.create(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::AlreadyExists) => Err(DomainError::Conflict(
                "An account with this email already exists.",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Creates this admin unless a user already holds the email; safe to run at every start.
    pub async fn ensure_admin(&self, email: &str, password: &str) -> Result<bool, DomainError> {
        let email = Email::parse(email).map_err(|e| invalid("adminEmail", e))?;
        let password = Password::parse(password).map_err(|e| invalid("adminPassword", e))?;
        if self.store.by_email(&email).await?.is_some() {
            return Ok(false);
        }
        let name = PersonName::parse("Administrator").expect("constant name is valid");
        let origin = ClientOrigin {
            ip: "bootstrap".into(),
            user_agent: "milkrun".into(),
            region: None,
        };
        let created = self
            .create_user(
                NewUser {
                    email,
                    name,
                    phone: None,
                    role: Role::Admin,
                },
                &password,
                &origin,
            )
            .await;
        match created {
            Ok(admin) => {
                let system = AuditContext {
                    user_id: None,
                    role: None,
                    origin,
                    correlation_id: "bootstrap".into(),
                };
                self.audit
                    .record(&system, "ADMIN_BOOTSTRAPPED", ENTITY, admin.user_id)
                    .await;
                Ok(true)
            }
            Err(DomainError::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    pub async fn login(
        &self,
        email: Option<String>,
        password: Option<String>,
        actor: &AuditContext,
    ) -> Result<LoggedIn, DomainError> {
        let (origin, correlation_id) = (&actor.origin, actor.correlation_id.as_str());
        let mut errors = FieldErrors::new();
        let email = errors.check("email", required(email));
        let password = errors.check("password", required(password));
        let (email, password) =
            errors.into_result(|| (email.expect("checked"), password.expect("checked")))?;
        let user = self.authenticate(&email, password).await?;
        let (user, sighting) = self.record_login(user.user_id, origin).await?;
        self.record(actor, &user, "USER_LOGGED_IN").await;
        let token = self
            .keys
            .issue_access(user.user_id, user.role, user.vendor_id)
            .map_err(internal)?;
        let data = json!({"userId": user.user_id, "ip": origin.ip, "userAgent": origin.user_agent, "region": origin.region});
        self.announce(EventType::UserLoggedIn, correlation_id, data.clone())
            .await;
        if sighting == DeviceSighting::New {
            tracing::warn!(user_id = %user.user_id, "login from a new device");
            self.announce(EventType::SuspiciousLogin, correlation_id, data)
                .await;
        }
        Ok(LoggedIn {
            token,
            expires_in: self.keys.access_ttl_secs(),
            user_id: user.user_id,
            role: user.role,
            is_profile_complete: user.is_profile_complete,
        })
    }

    /// The active user these credentials belong to. Unknown email and wrong password are
    /// the same `Unauthorized`, and cost the same argon2 time, so neither reveals accounts.
    async fn authenticate(&self, email: &str, password: String) -> Result<User, DomainError> {
        let found = match Email::parse(email) {
            Ok(email) => self.store.by_email(&email).await?,
            Err(_) => None,
        };
        let Some(user) = found else {
            let hasher = self.hasher.clone();
            self.run_blocking(move || hasher.verify_decoy(&password))
                .await?;
            return Err(DomainError::Unauthorized);
        };
        if !self
            .password_matches(&password, &user.password_hash)
            .await?
        {
            return Err(DomainError::Unauthorized);
        }
        if !user.is_active() {
            return Err(DomainError::Forbidden("This account is disabled."));
        }
        Ok(user)
    }

    async fn record_login(
        &self,
        user_id: Uuid,
        origin: &ClientOrigin,
    ) -> Result<(User, DeviceSighting), DomainError> {
        let mut sighting = DeviceSighting::Known;
        let user = self
            .modify(user_id, |user| {
                let now = Utc::now();
                sighting = user.see_device(origin, now);
                user.last_active_at = Some(now);
                Ok(())
            })
            .await?;
        Ok((user, sighting))
    }

    pub async fn email_exists(&self, email: Option<String>) -> Result<bool, DomainError> {
        let email = required(email)
            .and_then(|v| Email::parse(&v))
            .map_err(|e| invalid("email", e))?;
        Ok(self.store.by_email(&email).await?.is_some())
    }

    pub async fn verify_email(
        &self,
        token: Option<String>,
        actor: &AuditContext,
    ) -> Result<User, DomainError> {
        let token = required(token).map_err(|e| invalid("token", e))?;
        let bad_token =
            || DomainError::Validation(FieldErrors::single("token", "is invalid or has expired"));
        let (user_id, email) = self
            .keys
            .verify_email_verification(&token)
            .map_err(|_| bad_token())?;
        let user = self
            .modify(user_id, |user| {
                if user.email.as_str() != email {
                    return Err(bad_token());
                }
                user.email_verified = true;
                Ok(())
            })
            .await
            .map_err(|e| {
                if matches!(e, DomainError::NotFound(_)) {
                    bad_token()
                } else {
                    e
                }
            })?;
        self.record(actor, &user, "EMAIL_VERIFIED").await;
        Ok(user)
    }

    /// The caller's own profile; a disabled account keeps no access with an old token.
    pub async fn me(&self, user_id: Uuid) -> Result<User, DomainError> {
        let user = self.get(user_id).await?;
        if user.is_active() {
            Ok(user)
        } else {
            Err(DomainError::Forbidden("This account is disabled."))
        }
    }

    pub async fn update_me(
        &self,
        actor: &AuditContext,
        change: ProfileChange,
    ) -> Result<User, DomainError> {
        let mut errors = FieldErrors::new();
        let name = change
            .name
            .map(|raw| errors.check("name", PersonName::parse(&raw)));
        let phone = change
            .phone
            .map(|raw| raw.map(|p| errors.check("phone", Phone::parse(&p))));
        errors.into_result(|| ())?;
        self.modify_own(actor, "PROFILE_UPDATED", |user| {
            if let Some(Some(name)) = &name {
                user.name = name.clone();
            }
            if let Some(phone) = &phone {
                user.phone = phone.clone().flatten();
            }
            if let Some(prompted) = change.profile_completion_prompted {
                user.profile_completion_prompted = prompted;
            }
            user.refresh_profile_completeness();
            Ok(())
        })
        .await
    }

    pub async fn put_address(
        &self,
        actor: &AuditContext,
        label: &str,
        input: AddressInput,
    ) -> Result<User, DomainError> {
        let label = AddressLabel::parse(label).map_err(|e| invalid("label", e))?;
        let address = input.parse(label)?;
        self.modify_own(actor, "ADDRESS_SAVED", |user| {
            user.put_address(address.clone())
        })
        .await
    }

    pub async fn delete_address(
        &self,
        actor: &AuditContext,
        label: &str,
    ) -> Result<User, DomainError> {
        let label = AddressLabel::parse(label).map_err(|_| DomainError::NotFound("address"))?;
        self.modify_own(actor, "ADDRESS_REMOVED", |user| user.remove_address(&label))
            .await
    }

    pub async fn put_preferences(
        &self,
        actor: &AuditContext,
        preferences: Preferences,
    ) -> Result<User, DomainError> {
        self.modify_own(actor, "PREFERENCES_UPDATED", |user| {
            user.preferences = preferences.clone();
            Ok(())
        })
        .await
    }

    pub async fn list(&self, page: &PageRequest) -> Result<Page<User>, DomainError> {
        Ok(self.store.list(page).await?)
    }

    pub async fn get(&self, user_id: Uuid) -> Result<User, DomainError> {
        self.store
            .by_id(user_id)
            .await?
            .ok_or(DomainError::NotFound("user"))
    }

    /// An admin's change of someone's role, vendor or status; never their own.
    pub async fn admin_update(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        change: AdminUserChange,
    ) -> Result<User, DomainError> {
        if change.is_empty() {
            return Err(DomainError::Validation(FieldErrors::single(
                "body",
                "give at least one of role, vendorId, status",
            )));
        }
        if actor.user_id == Some(user_id) {
            return Err(DomainError::Conflict(
                "Administrators cannot change their own role or status.",
            ));
        }
        let user = self
            .modify(user_id, |user| user.apply_admin_change(change.clone()))
            .await?;
        self.record(actor, &user, "USER_CHANGED_BY_ADMIN").await;
        Ok(user)
    }

    /// A change to the caller's own account, refused once the account is disabled, and
    /// recorded in the audit trail as `action`.
    async fn modify_own(
        &self,
        actor: &AuditContext,
        action: &str,
        mut change: impl FnMut(&mut User) -> Result<(), DomainError>,
    ) -> Result<User, DomainError> {
        let user_id = actor.user_id.ok_or(DomainError::Unauthorized)?;
        let user = self
            .modify(user_id, |user| {
                if !user.is_active() {
                    return Err(DomainError::Forbidden("This account is disabled."));
                }
                change(user)
            })
            .await?;
        self.record(actor, &user, action).await;
        Ok(user)
    }

    /// Appends `action` on `user` to the audit trail; a guest acting (registration, login,
    /// verification) is recorded as the user it acted as.
    async fn record(&self, actor: &AuditContext, user: &User, action: &str) {
        let actor = match actor.user_id {
            Some(_) => actor.clone(),
            None => AuditContext {
                user_id: Some(user.user_id),
                role: Some(user.role),
                ..actor.clone()
            },
        };
        self.audit
            .record(&actor, action, ENTITY, user.user_id)
            .await;
    }

    /// Read-modify-write under optimistic concurrency: the write only lands if nobody else
    /// wrote since our read; otherwise read again and reapply the change.
    async fn modify(
        &self,
        user_id: Uuid,
        mut change: impl FnMut(&mut User) -> Result<(), DomainError>,
    ) -> Result<User, DomainError> {
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let mut user = self.get(user_id).await?;
            change(&mut user)?;
            user.updated_at = Utc::now();
            match self.store.update(user).await {
                Ok(saved) => return Ok(saved),
                Err(StoreError::VersionConflict) => continue,
                Err(StoreError::NotFound) => return Err(DomainError::NotFound("user")),
                Err(other) => return Err(other.into()),
            }
        }
        Err(DomainError::Conflict(
            "The user was changed concurrently; try again.",
        ))
    }

    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError> {
        let hasher = self.hasher.clone();
        let password = password.clone();
        self.run_blocking(move || hasher.hash(&password))
            .await?
            .map_err(internal)
    }

    async fn password_matches(
        &self,
        password: &str,
        hash: &PasswordHash,
    ) -> Result<bool, DomainError> {
        let (hasher, password, hash) = (self.hasher.clone(), password.to_owned(), hash.clone());
        self.run_blocking(move || hasher.verify(&password, &hash))
            .await
    }

    /// argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DomainError> {
        tokio::task::spawn_blocking(work).await.map_err(internal)
    }

    /// Events are facts already committed: a failed publish is logged, never undoes them.
    async fn announce(&self, event_type: EventType, correlation_id: &str, data: serde_json::Value) {
        let event = EventEnvelope::new(event_type, correlation_id, data);
        if let Err(error) = self.events.publish(&event).await {
            tracing::error!(%error, event_type = event_type.as_str(), "could not publish event");
        }
    }

    async fn send_welcome(&self, user: &User) {
        let token = match self
            .keys
            .issue_email_verification(user.user_id, user.email.as_str())
        {
            Ok(token) => token,
            Err(error) => {
                return tracing::error!(%error, "could not sign the email verification token");
            }
        };
        let mail = Mail {
            to: user.email.clone(),
            subject: "Welcome to milkrun — please verify your email".into(),
            body: format!(
                "Hello {},\n\nWelcome to milkrun! Fresh milk at your door every morning.\n\n\
                 Please verify your email address: {}{}\n\n\
                 Or send this token to POST /users/verify-email: {}\n\nThe link is valid for 48 hours.\n",
                user.name, self.mail.verify_email_url, token, token
            ),
        };
        if let Err(error) = self.mailer.send(&mail).await {
            tracing::error!(%error, user_id = %user.user_id, "could not send the welcome mail");
        }
    }
}

fn required(value: Option<String>) -> Result<String, milkrun_domain::values::InvalidValue> {
    value.ok_or(milkrun_domain::values::InvalidValue("is required"))
}

fn invalid(field: &str, error: impl std::fmt::Display) -> DomainError {
    DomainError::Validation(FieldErrors::single(field, error.to_string()))
}

fn internal(error: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(error.to_string())
}
