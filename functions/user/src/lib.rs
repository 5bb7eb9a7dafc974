//! The user service: registration, login, email verification, profile, addresses,
//! preferences and user administration. `HTTP` describes it to every host.

pub mod routes;
pub mod service;

use futures::future::BoxFuture;
use milkrun_domain::DomainError;
use milkrun_platform::{Adapters, HttpService, Needs};
use milkrun_store::table::{AUDIT, LOGIN_ATTEMPTS, OUTBOX, USERS, VENDORS};

pub use routes::{documented, router};
pub use service::UserService;

pub static HTTP: HttpService = HttpService {
    name: "user",
    needs: Needs {
        tables: &[&USERS, &AUDIT, &OUTBOX, &VENDORS, &LOGIN_ATTEMPTS],
        mail: false,
        signing: true,
        verification: true,
        checkout: false,
    },
    api: |adapters| router().with_state(UserService::from_adapters(adapters)),
    start: Some(bootstrap_admin),
};

/// Creates the configured administrator unless the email is taken; safe at every start.
fn bootstrap_admin(adapters: Adapters) -> BoxFuture<'static, Result<(), DomainError>> {
    Box::pin(async move {
        let Some(admin) = adapters.settings.admin.clone() else {
            return Ok(());
        };
        let created = UserService::from_adapters(&adapters)
            .ensure_admin(&admin.email, &admin.password)
            .await?;
        if created {
            tracing::info!("created the administrator account");
        }
        Ok(())
    })
}
