//! The prepaid wallet: a balance that changes only with an entry of its ledger, written in
//! the same transaction, so the entries always sum to the balance.
//!
//! Every entry's id is derived from what caused it (the charge of a top-up, the order of a
//! debit or a refund), so a repeated cause (a webhook after the answer, a retried step, a
//! rerun) finds its entry already written instead of moving the balance twice. The store
//! writes the entry only if absent and the balance only if it is still what was read.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::{MAX_AMOUNT, Money};
use crate::values::{InvalidValue, closed_set};

closed_set!(
    /// What moved a wallet's balance. An ADJUSTMENT credits (an operator's correction in the
    /// customer's favour); money taken back is a DEBIT with its reason.
    EntryKind { Topup => "TOPUP", Debit => "DEBIT", Refund => "REFUND", Adjustment => "ADJUSTMENT" }
    "must be one of TOPUP, DEBIT, REFUND, ADJUSTMENT"
);

/// The most a wallet may hold: a top-up that would pass it is refused.
pub const MAX_BALANCE: u64 = MAX_AMOUNT;

/// A customer's wallet as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    pub user_id: Uuid,
    pub balance: Money,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every entry: the compare-and-swap that keeps two writers from both
    /// spending the same paise.
    #[serde(default)]
    #[schema(ignore)]
    pub version: u64,
}

/// One line of the ledger. `amount` is what moved; its sign is the kind's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub entry_id: Uuid,
    pub kind: EntryKind,
    pub amount: Money,
    pub balance_after: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl LedgerEntry {
    /// What the entry did to the balance, in paise (a debit is negative).
    pub fn signed_amount(&self) -> i128 {
        let amount = i128::from(self.amount.amount);
        match self.kind {
            EntryKind::Debit => -amount,
            EntryKind::Topup | EntryKind::Refund | EntryKind::Adjustment => amount,
        }
    }
}

/// What causes an entry, and so its id: one entry per cause, however often it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A top-up, by the gateway's charge (its payment id).
    Topup { payment_id: Uuid },
    /// An order paid from the wallet.
    Debit { order_id: Uuid },
    /// What was debited for an order, given back (cancelled, refunded, failed delivery).
    Refund { order_id: Uuid },
}

impl Cause {
    pub fn kind(self) -> EntryKind {
        match self {
            Self::Topup { .. } => EntryKind::Topup,
            Self::Debit { .. } => EntryKind::Debit,
            Self::Refund { .. } => EntryKind::Refund,
        }
    }

    /// The entry's id: UUIDv5 of the wallet's owner, the kind and what caused it.
    pub fn entry_id(self, user_id: Uuid) -> Uuid {
        let (kind, of) = match self {
            Self::Topup { payment_id } => ("TOPUP", payment_id),
            Self::Debit { order_id } => ("DEBIT", order_id),
            Self::Refund { order_id } => ("REFUND", order_id),
        };
        Uuid::new_v5(&user_id, format!("{kind}#{of}").as_bytes())
    }
}

/// Why a wallet cannot move as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletRefusal {
    /// The balance does not cover the debit; `short` is what a top-up must add at least.
    InsufficientBalance { balance: Money, short: Money },
    /// A top-up would take the balance past [`MAX_BALANCE`].
    TooLarge,
}

impl fmt::Display for WalletRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InsufficientBalance { balance, short } => write!(
                f,
                "The wallet holds {} paise; top up at least {} paise more.",
                balance.amount, short.amount
            ),
            Self::TooLarge => write!(f, "A wallet holds at most {MAX_BALANCE} paise."),
        }
    }
}

impl From<WalletRefusal> for crate::DomainError {
    fn from(refusal: WalletRefusal) -> Self {
        match refusal {
            WalletRefusal::InsufficientBalance { balance, short } => Self::RefusedWith {
                code: crate::ErrorCode::InsufficientBalance,
                message: refusal.to_string().into(),
                details: serde_json::json!({ "balance": balance, "short": short }),
            },
            WalletRefusal::TooLarge => crate::DomainError::conflict(refusal.to_string()),
        }
    }
}

impl Wallet {
    /// A new customer's wallet: empty.
    pub fn empty(user_id: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            balance: Money::inr(0),
            updated_at: now,
            version: 0,
        }
    }

    /// The wallet after `cause` moves `amount`, with the entry that says so; the store
    /// writes both in one transaction, the entry only if absent.
    pub fn apply(
        &self,
        cause: Cause,
        amount: Money,
        reason: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<(Wallet, LedgerEntry), WalletRefusal> {
        let balance = self.balance.amount;
        let after = match cause.kind() {
            EntryKind::Debit => balance.checked_sub(amount.amount).ok_or_else(|| {
                WalletRefusal::InsufficientBalance {
                    balance: self.balance,
                    short: Money::inr(amount.amount - balance),
                }
            })?,
            // Only a top-up is capped: money owed back (a refund) is always written.
            EntryKind::Topup => balance
                .checked_add(amount.amount)
                .filter(|after| *after <= MAX_BALANCE)
                .ok_or(WalletRefusal::TooLarge)?,
            EntryKind::Refund | EntryKind::Adjustment => balance
                .checked_add(amount.amount)
                .ok_or(WalletRefusal::TooLarge)?,
        };
        let (order_id, payment_id) = match cause {
            Cause::Topup { payment_id } => (None, Some(payment_id)),
            Cause::Debit { order_id } | Cause::Refund { order_id } => (Some(order_id), None),
        };
        let balance_after = Money {
            amount: after,
            ..self.balance
        };
        let entry = LedgerEntry {
            entry_id: cause.entry_id(self.user_id),
            kind: cause.kind(),
            amount,
            balance_after,
            order_id,
            payment_id,
            reason: reason.into(),
            at: now,
        };
        let wallet = Wallet {
            balance: balance_after,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        };
        Ok((wallet, entry))
    }
}

/// What an entry brings with it: a `WALLET_<KIND>` audit entry on the wallet and its
/// WALLET_* event, committed with the entry.
pub fn entry_effects(
    user_id: Uuid,
    entry: &LedgerEntry,
    actor: &crate::audit::AuditContext,
) -> crate::Effects {
    use crate::events::{WalletDebited, WalletNews, WalletRefunded, WalletToppedUp};
    let changes = serde_json::json!({
        "entryId": entry.entry_id,
        "amount": entry.amount,
        "balanceAfter": entry.balance_after,
    });
    let audit = actor
        .entry(&format!("WALLET_{}", entry.kind), "WALLET", user_id)
        .with_changes(changes);
    let news = WalletNews {
        user_id,
        entry: entry.clone(),
    };
    let effects = crate::Effects::audited(audit);
    let correlation_id = &actor.correlation_id;
    match entry.kind {
        EntryKind::Topup => effects.with_event(&WalletToppedUp(news), correlation_id),
        EntryKind::Debit => effects.with_event(&WalletDebited(news), correlation_id),
        EntryKind::Refund | EntryKind::Adjustment => {
            effects.with_event(&WalletRefunded(news), correlation_id)
        }
    }
}

/// The ledger's invariant: the entries, oldest first, sum to `balance`, each one's
/// `balanceAfter` is the running sum, and the running sum never goes below zero.
pub fn check_ledger(entries: &[LedgerEntry], balance: Money) -> Result<(), InvalidValue> {
    let mut running: i128 = 0;
    for entry in entries {
        running += entry.signed_amount();
        if running < 0 {
            return Err(InvalidValue("the ledger goes below zero"));
        }
        if running != i128::from(entry.balance_after.amount) {
            return Err(InvalidValue(
                "an entry's balanceAfter is not the running sum",
            ));
        }
    }
    if running != i128::from(balance.amount) {
        return Err(InvalidValue("the entries do not sum to the balance"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn wallet() -> Wallet {
        Wallet::empty(Uuid::from_u128(7), now())
    }

    #[test]
    fn a_topup_then_a_debit_move_the_balance_with_an_entry_each() {
        let (topped, topup) = wallet()
            .apply(
                Cause::Topup {
                    payment_id: Uuid::from_u128(1),
                },
                Money::inr(50_000),
                "top-up",
                now(),
            )
            .unwrap();
        let (spent, debit) = topped
            .apply(
                Cause::Debit {
                    order_id: Uuid::from_u128(2),
                },
                Money::inr(5_400),
                "order",
                now(),
            )
            .unwrap();
        assert_eq!(spent.balance, Money::inr(44_600));
        assert_eq!((topped.version, spent.version), (1, 2));
        assert_eq!(debit.balance_after, Money::inr(44_600));
        assert_eq!(debit.order_id, Some(Uuid::from_u128(2)));
        assert_eq!(check_ledger(&[topup, debit], spent.balance), Ok(()));
    }

    #[test]
    fn a_debit_beyond_the_balance_is_refused_with_what_to_top_up() {
        let (topped, _) = wallet()
            .apply(
                Cause::Topup {
                    payment_id: Uuid::from_u128(1),
                },
                Money::inr(3_000),
                "top-up",
                now(),
            )
            .unwrap();
        let refused = topped.apply(
            Cause::Debit {
                order_id: Uuid::from_u128(2),
            },
            Money::inr(5_400),
            "order",
            now(),
        );
        assert_eq!(
            refused,
            Err(WalletRefusal::InsufficientBalance {
                balance: Money::inr(3_000),
                short: Money::inr(2_400),
            })
        );
        let exact = topped.apply(
            Cause::Debit {
                order_id: Uuid::from_u128(2),
            },
            Money::inr(3_000),
            "order",
            now(),
        );
        assert_eq!(
            exact.unwrap().0.balance,
            Money::inr(0),
            "down to zero is fine"
        );
    }

    #[test]
    fn a_topup_past_the_most_a_wallet_holds_is_refused_but_a_refund_is_not() {
        let full = Wallet {
            balance: Money::inr(MAX_BALANCE),
            ..wallet()
        };
        let topup = full.apply(
            Cause::Topup {
                payment_id: Uuid::from_u128(3),
            },
            Money::inr(1),
            "top-up",
            now(),
        );
        assert_eq!(topup, Err(WalletRefusal::TooLarge));
        let refund = full.apply(
            Cause::Refund {
                order_id: Uuid::from_u128(3),
            },
            Money::inr(1),
            "refund",
            now(),
        );
        assert_eq!(refund.unwrap().0.balance, Money::inr(MAX_BALANCE + 1));
    }

    #[test]
    fn one_cause_is_one_entry_id_and_different_causes_differ() {
        let user = Uuid::from_u128(7);
        let order = Uuid::from_u128(2);
        let debit = Cause::Debit { order_id: order };
        assert_eq!(debit.entry_id(user), debit.entry_id(user));
        assert_ne!(
            debit.entry_id(user),
            Cause::Refund { order_id: order }.entry_id(user)
        );
        assert_ne!(debit.entry_id(user), debit.entry_id(Uuid::from_u128(8)));
    }

    #[test]
    fn the_ledger_check_catches_a_wrong_sum_a_wrong_running_balance_and_a_negative_one() {
        let entry = |kind, amount, after| LedgerEntry {
            entry_id: Uuid::new_v4(),
            kind,
            amount: Money::inr(amount),
            balance_after: Money::inr(after),
            order_id: None,
            payment_id: None,
            reason: String::new(),
            at: now(),
        };
        let good = [
            entry(EntryKind::Topup, 100, 100),
            entry(EntryKind::Debit, 60, 40),
        ];
        assert_eq!(check_ledger(&good, Money::inr(40)), Ok(()));
        assert!(check_ledger(&good, Money::inr(41)).is_err());
        let wrong_running = [
            entry(EntryKind::Topup, 100, 100),
            entry(EntryKind::Debit, 60, 50),
        ];
        assert!(check_ledger(&wrong_running, Money::inr(40)).is_err());
        let negative = [entry(EntryKind::Debit, 1, 0)];
        assert!(check_ledger(&negative, Money::inr(0)).is_err());
    }
}
