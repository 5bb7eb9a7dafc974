//! The cart service's use cases, free of HTTP. Every change is a read, an edit and a
//! compare-and-swap save with its audit entry, retried from a fresh read when another
//! request (the same customer in two tabs) saved in between.

use std::sync::Arc;

use chrono::Utc;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::cart::{Cart, CartLine, LineChange, PricedCart};
use milkrun_domain::ports::{CartStore, ProductReads};
use milkrun_domain::{DomainError, Effects};
use milkrun_platform::Adapters;
use milkrun_store::retry::retry_on_conflict;
use serde_json::json;
use uuid::Uuid;

const ENTITY: &str = "CART";

#[derive(Clone)]
pub struct CartService {
    carts: Arc<dyn CartStore>,
    products: Arc<dyn ProductReads>,
}

/// The audit entry's `changes`: each line touched, with its quantity before and after.
fn recorded(changes: &[LineChange]) -> serde_json::Value {
    let lines: Vec<_> = changes
        .iter()
        .map(|c| {
            json!({
                "productId": c.product_id,
                "variantId": c.variant_id,
                "quantity": {"before": c.before, "after": c.after},
            })
        })
        .collect();
    json!({ "lines": lines })
}

impl CartService {
    pub fn new(carts: Arc<dyn CartStore>, products: Arc<dyn ProductReads>) -> Self {
        Self { carts, products }
    }

    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        Self::new(stores.carts.clone(), stores.products.clone())
    }

    async fn current(&self, user_id: Uuid) -> Result<Cart, DomainError> {
        let stored = self.carts.get(user_id).await?;
        Ok(stored.unwrap_or_else(|| Cart::empty(user_id, Utc::now())))
    }

    /// The cart priced from the catalog, its products read in one batch.
    async fn priced(&self, cart: &Cart) -> Result<PricedCart, DomainError> {
        let ids = cart.product_ids();
        let catalog = match ids.is_empty() {
            true => Vec::new(),
            false => self.products.get_many(&ids).await?,
        };
        Ok(cart.priced(&catalog))
    }

    pub async fn view(&self, user_id: Uuid) -> Result<PricedCart, DomainError> {
        self.priced(&self.current(user_id).await?).await
    }

    /// Adds units of a variant the catalog sells now (404 for an unknown or withdrawn
    /// product, or a variant it does not have).
    pub async fn add(
        &self,
        actor: &AuditContext,
        line: CartLine,
    ) -> Result<PricedCart, DomainError> {
        let product = self.products.get(line.product_id).await?;
        let product = product
            .filter(|p| p.is_active)
            .ok_or(DomainError::NotFound("product"))?;
        if !product
            .variants
            .iter()
            .any(|v| v.variant_id == line.variant_id)
        {
            return Err(DomainError::NotFound("variant"));
        }
        let cart = self
            .change(actor, "CART_ITEM_ADDED", |cart| {
                cart.add(line.product_id, line.variant_id, line.quantity)
                    .map(|c| vec![c])
            })
            .await?;
        self.priced(&cart).await
    }

    pub async fn set_quantity(
        &self,
        actor: &AuditContext,
        line: CartLine,
    ) -> Result<PricedCart, DomainError> {
        let cart = self
            .change(actor, "CART_ITEM_UPDATED", |cart| {
                cart.set_quantity(line.product_id, line.variant_id, line.quantity)
                    .map(|c| vec![c])
            })
            .await?;
        self.priced(&cart).await
    }

    pub async fn remove(
        &self,
        actor: &AuditContext,
        product_id: Uuid,
        variant_id: Uuid,
    ) -> Result<PricedCart, DomainError> {
        let cart = self
            .change(actor, "CART_ITEM_REMOVED", |cart| {
                cart.remove(product_id, variant_id).map(|c| vec![c])
            })
            .await?;
        self.priced(&cart).await
    }

    /// Empties the cart; an empty one is left as it is (nothing changed, nothing audited).
    pub async fn clear(&self, actor: &AuditContext) -> Result<(), DomainError> {
        self.change(actor, "CART_EMPTIED", |cart| {
            let lines = cart.clear();
            Ok(lines
                .into_iter()
                .map(|l| LineChange {
                    product_id: l.product_id,
                    variant_id: l.variant_id,
                    before: l.quantity,
                    after: 0,
                })
                .collect())
        })
        .await
        .map(|_| ())
    }

    /// Reads the caller's cart, applies `edit`, and saves it with its audit entry unless the
    /// edit changed nothing.
    async fn change(
        &self,
        actor: &AuditContext,
        action: &'static str,
        edit: impl Fn(&mut Cart) -> Result<Vec<LineChange>, DomainError>,
    ) -> Result<Cart, DomainError> {
        let user_id = actor.user_id.ok_or(DomainError::Unauthorized)?;
        retry_on_conflict("cart", || async {
            let mut cart = self.current(user_id).await?;
            let changes = edit(&mut cart)?;
            if changes.is_empty() {
                return Ok(cart);
            }
            cart.updated_at = Utc::now();
            let entry = actor.entry(action, ENTITY, user_id);
            let effects = Effects::audited(entry.with_changes(recorded(&changes)));
            Ok(self.carts.save(cart, &effects).await?)
        })
        .await
    }
}
