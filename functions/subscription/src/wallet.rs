//! The wallet's use cases: the balance with its newest entries, a top-up through the
//! payment gateway, and a month's statement.
//!
//! A top-up's charge is keyed by the customer's `Idempotency-Key` (the gateway charges a
//! key once), and its credit by the charge's payment id (the ledger takes a cause once), so
//! the answer and the gateway's webhook, in whichever order they come, credit it once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use milkrun_checkout::records::record_payment;
use milkrun_checkout::wallet::credit_topup;
use milkrun_domain::audit::AuditContext;
use milkrun_domain::checkout::platform_zone;
use milkrun_domain::money::Money;
use milkrun_domain::order::OrderStatus;
use milkrun_domain::page::{MAX_PAGE_SIZE, PageRequest};
use milkrun_domain::payment::{
    ChargeRequest, GatewayError, Payment, PaymentGateway, PaymentStatus,
};
use milkrun_domain::ports::{OrderReads, PaymentStore, WalletStore};
use milkrun_domain::values::PaymentMethod;
use milkrun_domain::wallet::{EntryKind, LedgerEntry, MAX_BALANCE};
use milkrun_domain::{DomainError, FieldErrors};
use milkrun_platform::Adapters;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Newest entries GET /wallet shows.
pub const RECENT_ENTRIES: u32 = 20;
/// Charge attempts of a top-up while the gateway is unavailable.
const CHARGE_ATTEMPTS: u32 = 3;

/// `{balance, updatedAt, entries}`: the balance and the newest entries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletView {
    pub balance: Money,
    pub updated_at: Option<DateTime<Utc>>,
    /// The newest first, at most 20.
    pub entries: Vec<LedgerEntry>,
}

/// A month of the ledger.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// YYYY-MM, in the platform's time zone.
    pub month: String,
    pub opening_balance: Money,
    /// Oldest first.
    pub entries: Vec<LedgerEntry>,
    pub closing_balance: Money,
    /// Delivery dates of the month's wallet-paid orders that were delivered.
    pub delivered_days: Vec<NaiveDate>,
}

/// What a top-up came to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Topup {
    pub payment_id: Uuid,
    pub balance: Money,
    pub entry: LedgerEntry,
}

#[derive(Clone)]
pub struct WalletService {
    wallets: Arc<dyn WalletStore>,
    payments: Arc<dyn PaymentStore>,
    orders: Arc<dyn OrderReads>,
    gateway: Arc<dyn PaymentGateway>,
}

/// The charge of a top-up: its id stands where an order's would, derived from the
/// customer and their key, so a retried request charges the same one.
pub fn topup_charge_id(user_id: Uuid, key: &str) -> Uuid {
    Uuid::new_v5(&user_id, format!("TOPUP#{key}").as_bytes())
}

/// The first instant of `month` (YYYY-MM) in the platform's time zone, and of the next.
pub fn month_bounds(month: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let start = |date: NaiveDate| {
        let local = date.and_hms_opt(0, 0, 0)?;
        Some(
            local
                .and_local_timezone(platform_zone())
                .single()?
                .with_timezone(&Utc),
        )
    };
    Some((start(first)?, start(next)?))
}

impl WalletService {
    pub fn from_adapters(adapters: &Adapters) -> Self {
        let stores = &adapters.stores;
        Self {
            wallets: stores.wallets.clone(),
            payments: stores.payments.clone(),
            orders: stores.orders.clone(),
            gateway: adapters.gateway.clone(),
        }
    }

    pub async fn view(&self, user_id: Uuid) -> Result<WalletView, DomainError> {
        let wallet = self.wallets.get(user_id).await?;
        let (from, until) = (DateTime::<Utc>::MIN_UTC, Utc::now() + TimeDelta::days(1));
        let page = PageRequest::first(RECENT_ENTRIES);
        let entries = self
            .wallets
            .entries(user_id, from, until, &page)
            .await?
            .items;
        Ok(WalletView {
            balance: wallet.as_ref().map_or(Money::inr(0), |w| w.balance),
            updated_at: wallet.map(|w| w.updated_at),
            entries,
        })
    }

    /// Charges `amount` (keyed by `key`) and credits it once.
    pub async fn top_up(
        &self,
        actor: &AuditContext,
        user_id: Uuid,
        key: &str,
        amount: Money,
        token: Option<String>,
    ) -> Result<Topup, DomainError> {
        self.check_room(user_id, amount).await?;
        let charge_id = topup_charge_id(user_id, key);
        let request = ChargeRequest {
            order_id: charge_id,
            user_id,
            amount,
            method: PaymentMethod::Upi,
            token,
        };
        let recorded = self.pending(actor, &request).await?;
        let payment = match recorded.status {
            // Charged already (the webhook told it, or an earlier request): credit it.
            PaymentStatus::Succeeded => recorded,
            PaymentStatus::Refunded => {
                return Err(DomainError::conflict("This top-up was refunded."));
            }
            PaymentStatus::Pending | PaymentStatus::Failed => {
                self.charged(actor, &request, recorded).await?
            }
        };
        let entry = credit_topup(self.wallets.as_ref(), &payment, actor).await?;
        Ok(Topup {
            payment_id: payment.payment_id,
            balance: entry.balance_after,
            entry,
        })
    }

    /// 1 paise at least, and room for it under the wallet's cap: a charge that could not
    /// be credited is never made.
    async fn check_room(&self, user_id: Uuid, amount: Money) -> Result<(), DomainError> {
        let balance = self
            .wallets
            .get(user_id)
            .await?
            .map_or(0, |w| w.balance.amount);
        let room = MAX_BALANCE.saturating_sub(balance);
        if amount.amount > room {
            return Err(DomainError::conflict(format!(
                "A wallet holds at most {MAX_BALANCE} paise: this one takes {room} more."
            )));
        }
        Ok(())
    }

    /// The charge's payment record: PENDING under an id of ours, written before the
    /// gateway is asked (only if absent), so a webhook that comes before the answer finds
    /// it, and both credit the same cause.
    async fn pending(
        &self,
        actor: &AuditContext,
        request: &ChargeRequest,
    ) -> Result<Payment, DomainError> {
        if let Some(stored) = self.payments.for_order(request.order_id).await? {
            return Ok(stored);
        }
        // Under the id derived from the charge (which stands where an order's id would), so
        // the answer and the webhook credit the same cause.
        let pending = request.pending_payment(Utc::now());
        record_payment(&self.payments, &pending, actor).await
    }

    /// Charges the gateway and records its answer; a decline is recorded and refused.
    async fn charged(
        &self,
        actor: &AuditContext,
        request: &ChargeRequest,
        recorded: Payment,
    ) -> Result<Payment, DomainError> {
        let answered = match self.charge(request).await {
            Ok(answered) => Payment {
                status: answered.status,
                attempts: recorded.attempts + 1,
                gateway_reference: answered
                    .gateway_reference
                    .or(Some(answered.payment_id.to_string())),
                ..recorded
            },
            Err(GatewayError::Declined(reason)) => {
                let failed = Payment {
                    status: PaymentStatus::Failed,
                    failure_reason: Some(reason.clone()),
                    attempts: recorded.attempts + 1,
                    ..recorded
                };
                record_payment(&self.payments, &failed, actor).await?;
                // A conflict with the card, not a malformed request: nothing was charged.
                let message = format!("The top-up was declined ({reason}); nothing was charged.");
                return Err(DomainError::conflict(message));
            }
            Err(other) => return Err(DomainError::Internal(other.to_string())),
        };
        record_payment(&self.payments, &answered, actor).await
    }

    /// The charge, tried again while the gateway is unavailable (with a short backoff).
    async fn charge(
        &self,
        request: &ChargeRequest,
    ) -> Result<milkrun_domain::payment::Payment, GatewayError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.gateway.charge(request).await {
                Err(GatewayError::Unavailable(_)) if attempt < CHARGE_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                answered => return answered,
            }
        }
    }

    pub async fn statement(&self, user_id: Uuid, month: &str) -> Result<Statement, DomainError> {
        let (from, until) = month_bounds(month).ok_or_else(|| {
            DomainError::Validation(FieldErrors::single("month", "must be YYYY-MM"))
        })?;
        let wallets = self.wallets.as_ref();
        let newest = PageRequest::first(1);
        let before = wallets.entries(user_id, DateTime::<Utc>::MIN_UTC, from, &newest);
        let opening = before
            .await?
            .items
            .first()
            .map_or(Money::inr(0), |e| e.balance_after);
        let mut entries = Vec::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let listed = wallets.entries(user_id, from, until, &page).await?;
            entries.extend(listed.items);
            match listed.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        entries.reverse();
        let closing = entries.last().map_or(opening, |e| e.balance_after);
        let delivered_days = self.delivered_days(&entries).await?;
        Ok(Statement {
            month: month.to_owned(),
            opening_balance: opening,
            entries,
            closing_balance: closing,
            delivered_days,
        })
    }

    /// The delivery dates of the debited orders that were delivered.
    async fn delivered_days(&self, entries: &[LedgerEntry]) -> Result<Vec<NaiveDate>, DomainError> {
        let debited = entries.iter().filter(|e| e.kind == EntryKind::Debit);
        let mut days = Vec::new();
        for order_id in debited.filter_map(|e| e.order_id) {
            if let Some(order) = self.orders.get(order_id).await?
                && order.status == OrderStatus::Delivered
            {
                days.push(order.delivery_date);
            }
        }
        days.sort();
        days.dedup();
        Ok(days)
    }
}
