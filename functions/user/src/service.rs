//! The user service's use cases. No HTTP here: handlers parse, call one of these, and map
//! the `DomainError` through the shared layer. Every change is saved with its audit entry
//! and events in one write; the welcome mail follows from USER_REGISTERED (the notification
//! consumer sends it).

use std::sync::Arc;

use chrono::Utc;
use milkrun_auth::{KeyRing, PasswordHasher};
use milkrun_domain::audit::{AuditContext, changed_fields};
use milkrun_domain::events::{LoginSeen, SuspiciousLogin, UserLoggedIn, UserRegistered};
use milkrun_domain::login::{Attempter, LoginWindow};
use milkrun_domain::page::{Page, PageRequest};
use milkrun_domain::ports::{Journal, LoginAttempts, UserStore, VendorReads};
use milkrun_domain::user::{
    AddressInput, AdminUserChange, ClientOrigin, DeviceSighting, NewUser, PreferencesChange, User,
};
use milkrun_domain::values::{
    AddressLabel, Email, MAX_EMAIL_CHARS, Password, PasswordHash, PersonName, Phone, Role,
};
use milkrun_domain::{DomainError, Effects, ErrorCode, FieldErrors, StoreError};
use milkrun_platform::Adapters;
use milkrun_store::retry::retry_on_conflict;
use tokio::sync::Semaphore;
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

/// What the user service is built from.
#[derive(Clone)]
pub struct UserPorts {
    pub store: Arc<dyn UserStore>,
    pub vendors: Arc<dyn VendorReads>,
    pub logins: Arc<dyn LoginAttempts>,
    pub journal: Arc<dyn Journal>,
    pub keys: Arc<KeyRing>,
}

#[derive(Clone)]
pub struct UserService {
    store: Arc<dyn UserStore>,
    vendors: Arc<dyn VendorReads>,
    logins: Arc<dyn LoginAttempts>,
    journal: Arc<dyn Journal>,
    keys: Arc<KeyRing>,
    hasher: PasswordHasher,
    /// argon2 takes ~19 MiB and tens of ms a run: at most this many run at once, so a
    /// burst of logins queues instead of exhausting memory.
    hashing: Arc<Semaphore>,
}

/// The audit entry for `action` on `after`, naming the fields that changed since `before`.
/// A guest acting (registration, login, verification) is recorded as the user it acted as.
fn audited(actor: &AuditContext, action: &str, before: Option<&User>, after: &User) -> Effects {
    let actor = match actor.user_id {
        Some(_) => actor.clone(),
        None => AuditContext {
            user_id: Some(after.user_id),
            role: Some(after.role),
            ..actor.clone()
        },
    };
    let entry = actor.entry(action, ENTITY, after.user_id);
    Effects::audited(entry.with_changes(changed_fields(before, after)))
}

/// argon2 runs at once in one process: one per core.
fn hashing_permits() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

impl UserService {
    pub fn new(ports: UserPorts) -> Self {
        Self {
            store: ports.store,
            vendors: ports.vendors,
            logins: ports.logins,
            journal: ports.journal,
            keys: ports.keys,
            hasher: PasswordHasher::new(),
            hashing: Arc::new(Semaphore::new(hashing_permits())),
        }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        Self::new(UserPorts {
            store: stores.users.clone(),
            vendors: stores.vendors.clone(),
            logins: stores.logins.clone(),
            journal: stores.audit.clone(),
            keys: adapters.keys.clone(),
        })
    }

    pub async fn register(
        &self,
        input: Registration,
        actor: &AuditContext,
    ) -> Result<Registered, DomainError> {
        let (origin, correlation_id) = (&actor.origin, actor.correlation_id.as_str());
        let mut errors = FieldErrors::new();
        let name = errors.required("name", input.name.as_deref(), PersonName::parse);
        let email = errors.required("email", input.email.as_deref(), Email::parse);
        let password = errors.required("password", input.password.as_deref(), Password::parse);
        let phone = match input.phone {
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
            .create_user(new, &password.expect("checked"), origin, |user| {
                let registered = UserRegistered {
                    user_id: user.user_id,
                    email: user.email.clone(),
                    name: user.name.to_string(),
                    role: user.role,
                    ip: origin.ip.clone(),
                    user_agent: origin.user_agent.clone(),
                    region: origin.region.clone(),
                };
                audited(actor, "USER_REGISTERED", None, user)
                    .with_event(&registered, correlation_id)
            })
            .await?;
        Ok(Registered {
            user_id: user.user_id,
            role: user.role,
            is_profile_complete: user.is_profile_complete,
        })
    }

    /// Creates the account with the effects `effects` names for it.
    async fn create_user(
        &self,
        new: NewUser,
        password: &Password,
        origin: &ClientOrigin,
        effects: impl FnOnce(&User) -> Effects,
    ) -> Result<User, DomainError> {
        let hash = self.hash(password).await?;
        let user = User::register(new, hash, origin, Utc::now());
        match self.store.create(&user, &effects(&user)).await {
            Ok(()) => Ok(user),
            Err(StoreError::AlreadyExists) => Err(DomainError::conflict(
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
        let system = AuditContext::system("bootstrap", "bootstrap");
        let new = NewUser {
            email,
            name,
            phone: None,
            role: Role::Admin,
        };
        // No USER_REGISTERED: the bootstrap account gets no welcome mail.
        let created = self
            .create_user(new, &password, &origin, |admin| {
                let entry = system.entry("ADMIN_BOOTSTRAPPED", ENTITY, admin.user_id);
                Effects::audited(entry.with_changes(changed_fields(None, admin)))
            })
            .await;
        match created {
            Ok(_) => Ok(true),
            Err(DomainError::Refused { .. }) => Ok(false),
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
        // Any text may be tried (a wrong one is a 401), within the lengths an account can have.
        let email = errors.required("email", email.as_deref(), |e| at_most(e, MAX_EMAIL_CHARS));
        let password = errors.required("password", password.as_deref(), |p| {
            at_most(p, Password::MAX_CHARS)
        });
        let (email, password) =
            errors.into_result(|| (email.expect("checked"), password.expect("checked")))?;
        let user = self.authenticate(&email, password, actor).await?;
        let user = self
            .modify(
                user.user_id,
                |user| {
                    let now = Utc::now();
                    user.last_active_at = Some(now);
                    user.see_device(origin, now);
                    Ok(())
                },
                |before, after| {
                    let seen = LoginSeen::new(after.user_id, origin);
                    let effects = audited(actor, "USER_LOGGED_IN", Some(before), after)
                        .with_event(&UserLoggedIn(seen.clone()), correlation_id);
                    match before.clone().see_device(origin, Utc::now()) {
                        DeviceSighting::New => {
                            effects.with_event(&SuspiciousLogin(seen), correlation_id)
                        }
                        DeviceSighting::Known => effects,
                    }
                },
            )
            .await?;
        let signer = self.keys.signer().map_err(internal)?;
        let token = signer
            .issue_access(user.user_id, user.role, user.vendor_id)
            .map_err(internal)?;
        Ok(LoggedIn {
            token,
            expires_in: signer.access_ttl_secs(),
            user_id: user.user_id,
            role: user.role,
            is_profile_complete: user.is_profile_complete,
        })
    }

    /// The active user these credentials belong to. Unknown email and wrong password are
    /// the same `Unauthorized`, and cost the same argon2 time, so neither reveals accounts.
    /// An account or client that failed too often lately is refused before any hashing
    /// (429); each failure is counted and audited.
    async fn authenticate(
        &self,
        email: &str,
        password: String,
        actor: &AuditContext,
    ) -> Result<User, DomainError> {
        let email = Email::parse(email)
            .map(String::from)
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let attempters = [
            Attempter::Account(email.clone()),
            Attempter::Client(actor.origin.ip.clone()),
        ];
        let now = Utc::now();
        let window = LoginWindow::at(now);
        self.refuse_if_blocked(&attempters, window, now).await?;
        let found = match Email::parse(&email) {
            Ok(email) => self.store.by_email(&email).await?,
            Err(_) => None,
        };
        let matched = match &found {
            Some(user) => {
                self.password_matches(&password, &user.password_hash)
                    .await?
            }
            None => {
                let hasher = self.hasher.clone();
                self.run_blocking(move || hasher.verify_decoy(&password))
                    .await?
            }
        };
        match found {
            Some(user) if matched => {
                self.logins.forget(&attempters[0], window).await?;
                if !user.is_active() {
                    return Err(DomainError::Forbidden("This account is disabled."));
                }
                Ok(user)
            }
            _ => {
                self.logins.failed(&attempters, window).await?;
                let (entity, entity_id) = match &found {
                    Some(user) => (ENTITY, user.user_id.to_string()),
                    None => ("EMAIL", email),
                };
                let entry = actor.entry("LOGIN_FAILED", entity, entity_id);
                self.journal.commit(&Effects::audited(entry)).await?;
                Err(DomainError::Unauthorized)
            }
        }
    }

    /// 429 while any attempter is over its limit in this window.
    async fn refuse_if_blocked(
        &self,
        attempters: &[Attempter],
        window: LoginWindow,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let failures = self.logins.failures(attempters, window).await?;
        let blocked = attempters
            .iter()
            .zip(failures)
            .any(|(attempter, failures)| failures >= attempter.limit());
        if blocked {
            tracing::warn!(ip = %attempters[1].key(), "login refused: too many failures");
            return Err(DomainError::TooManyRequests {
                retry_after_secs: window.retry_after(now),
            });
        }
        Ok(())
    }

    pub async fn email_exists(&self, email: Option<String>) -> Result<bool, DomainError> {
        let mut errors = FieldErrors::new();
        let email = errors.required("email", email.as_deref(), Email::parse);
        let email = errors.into_result(|| email.expect("checked"))?;
        Ok(self.store.by_email(&email).await?.is_some())
    }

    pub async fn verify_email(
        &self,
        token: Option<String>,
        actor: &AuditContext,
    ) -> Result<User, DomainError> {
        let token = present_token(token, usize::MAX)?;
        // A well-formed token that does not verify is a failed credential: 401.
        let bad_token = || bad_token("The verification token is invalid or has expired.");
        let tokens = self.keys.verification().map_err(internal)?;
        let (user_id, email) = tokens.verify(&token).map_err(|_| bad_token())?;
        self.modify(
            user_id,
            |user| {
                if user.email.as_str() != email {
                    return Err(bad_token());
                }
                user.email_verified = true;
                Ok(())
            },
            |before, after| audited(actor, "EMAIL_VERIFIED", Some(before), after),
        )
        .await
        .map_err(|e| {
            if matches!(e, DomainError::NotFound(_)) {
                bad_token()
            } else {
                e
            }
        })
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
        change: PreferencesChange,
    ) -> Result<User, DomainError> {
        self.modify_own(actor, "PREFERENCES_UPDATED", |user| {
            user.preferences = change.apply(&user.preferences)?;
            Ok(())
        })
        .await
    }

    /// The unsubscribe link of promotional mail, without a login: the token names the user
    /// (and can do nothing else). Opting out twice changes nothing the second time.
    pub async fn unsubscribe(
        &self,
        token: Option<String>,
        actor: &AuditContext,
    ) -> Result<User, DomainError> {
        // Whatever the schema allows (1 to 4,096 characters) is a token to verify: one that
        // is not ours, control characters and all, is a 401, never a 400.
        let token = present_token(token, 4096)?;
        let bad_token = || bad_token("The unsubscribe link is invalid or has expired.");
        let tokens = self.keys.verification().map_err(internal)?;
        let user_id = tokens.verify_unsubscribe(&token).map_err(|_| bad_token())?;
        let user = self.get(user_id).await.map_err(|_| bad_token())?;
        if !user.preferences.newsletter_opt_in {
            return Ok(user);
        }
        self.modify(
            user_id,
            |user| {
                user.preferences.newsletter_opt_in = false;
                Ok(())
            },
            |before, after| audited(actor, "NEWSLETTER_UNSUBSCRIBED", Some(before), after),
        )
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
            return self.get(user_id).await;
        }
        if actor.user_id == Some(user_id) {
            return Err(DomainError::conflict(
                "Administrators cannot change their own role or status.",
            ));
        }
        if let Some(Some(vendor_id)) = change.vendor_id {
            self.require_vendor(vendor_id).await?;
        }
        self.modify(
            user_id,
            |user| user.apply_admin_change(change.clone()),
            |before, after| audited(actor, "USER_CHANGED_BY_ADMIN", Some(before), after),
        )
        .await
    }

    /// 404 unless `vendor_id` names an active vendor.
    async fn require_vendor(&self, vendor_id: Uuid) -> Result<(), DomainError> {
        match self.vendors.get(vendor_id).await? {
            Some(vendor) if vendor.is_active => Ok(()),
            _ => Err(DomainError::NotFound("vendor")),
        }
    }

    /// A change to the caller's own account, refused once the account is disabled, and
    /// recorded in the audit trail as `action`.
    async fn modify_own(
        &self,
        actor: &AuditContext,
        action: &str,
        change: impl Fn(&mut User) -> Result<(), DomainError>,
    ) -> Result<User, DomainError> {
        let user_id = actor.user_id.ok_or(DomainError::Unauthorized)?;
        self.modify(
            user_id,
            |user| {
                if !user.is_active() {
                    return Err(DomainError::Forbidden("This account is disabled."));
                }
                change(user)
            },
            |before, after| audited(actor, action, Some(before), after),
        )
        .await
    }

    /// Read-modify-write under optimistic concurrency: the write (with the effects `effects`
    /// names for the user before and after) only lands if nobody else wrote since our read;
    /// otherwise read again and reapply the change.
    async fn modify(
        &self,
        user_id: Uuid,
        change: impl Fn(&mut User) -> Result<(), DomainError>,
        effects: impl Fn(&User, &User) -> Effects,
    ) -> Result<User, DomainError> {
        retry_on_conflict("user", || async {
            let before = self.get(user_id).await?;
            let mut after = before.clone();
            change(&mut after)?;
            after.updated_at = Utc::now();
            Ok(self
                .store
                .update(after.clone(), &effects(&before, &after))
                .await?)
        })
        .await
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

    /// argon2 takes tens of milliseconds of CPU: keep it off the async workers, and bound
    /// how many run at once.
    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DomainError> {
        let _permit = self.hashing.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(work).await.map_err(internal)
    }
}

/// A token field as sent: present, not empty, at most `max` characters (else 400). What it
/// holds is the verifier's to judge (a token that is not ours is a 401).
fn present_token(token: Option<String>, max: usize) -> Result<String, DomainError> {
    let mut errors = FieldErrors::new();
    let token = errors.required("token", token.as_deref(), |t| {
        if t.is_empty() {
            Err(milkrun_domain::values::InvalidValue("must not be empty"))
        } else {
            at_most(t, max)
        }
    });
    errors.into_result(|| token.expect("checked"))
}

/// A token that does not verify: a failed credential (401).
fn bad_token(message: &'static str) -> DomainError {
    DomainError::refused(ErrorCode::Unauthorized, message)
}

fn at_most(value: &str, max: usize) -> Result<String, milkrun_domain::values::InvalidValue> {
    if value.chars().count() > max {
        Err(milkrun_domain::values::InvalidValue("is too long"))
    } else {
        Ok(value.to_owned())
    }
}

fn invalid(field: &str, error: impl std::fmt::Display) -> DomainError {
    DomainError::Validation(FieldErrors::single(field, error.to_string()))
}

fn internal(error: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(error.to_string())
}
