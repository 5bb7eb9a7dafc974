//! Request bodies as clients send them, and what they become once every field is checked:
//! a bad field is named in a 400, never half-applied.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use milkrun_domain::checkout::{calendar_days, parse_date};
use milkrun_domain::cutoff::CutoffPassed;
use milkrun_domain::subscription::{
    DayOfWeek, Due, Frequency, Subscription, SubscriptionStatus, due_on,
};
use milkrun_domain::user::User;
use milkrun_domain::values::{AddressLabel, DeliverySlot, PaymentMethod, parse_uuid, whole_number};
use milkrun_domain::{DomainError, FieldErrors};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::MAX_DAYS_AHEAD;

/// The most units one delivery of a subscription brings.
pub const MAX_QUANTITY: u64 = 100;
/// How far ahead `effectiveFrom` may be.
pub const MAX_EFFECTIVE_DAYS: i64 = 31;

/// A field sent as `null` is `Some(Null)`, apart from one left out (`None`): `null` clears
/// `endDate` and `pausedUntil`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// `{productId, variantId, quantity, frequency, daysOfWeek?, startDate, endDate?,
/// deliverySlot, addressLabel, paymentMethod?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscriptionBody {
    #[schema(schema_with = milkrun_domain::schema::uuid_required, required = true)]
    product_id: Option<String>,
    #[schema(schema_with = milkrun_domain::schema::uuid_required, required = true)]
    variant_id: Option<String>,
    /// Units a delivery: 1 to 100.
    #[schema(schema_with = milkrun_domain::schema::line_quantity_required, required = true)]
    quantity: Option<serde_json::Value>,
    #[schema(value_type = Frequency, required = true)]
    frequency: Option<String>,
    /// CUSTOM only (and required there): the weekdays it delivers.
    #[schema(value_type = Option<Vec<DayOfWeek>>)]
    days_of_week: Option<Vec<String>>,
    /// The first delivery date: an open date (409 `CUTOFF_PASSED` with `details.nextDate`
    /// after its cut-off), within 366 days.
    #[schema(value_type = String, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", required = true)]
    start_date: Option<String>,
    /// The last delivery date, on or after startDate.
    #[schema(value_type = Option<String>, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    end_date: Option<String>,
    #[schema(value_type = DeliverySlot, required = true)]
    delivery_slot: Option<String>,
    /// One of your saved addresses.
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9_-]{1,32}$", required = true)]
    address_label: Option<String>,
    /// `WALLET` (the default) or `COD`.
    #[schema(value_type = Option<String>, pattern = "^(WALLET|COD)$")]
    payment_method: Option<String>,
}

/// Any of `{status (ACTIVE | PAUSED), pausedUntil, quantity, daysOfWeek, deliverySlot,
/// addressLabel, endDate, effectiveFrom}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeBody {
    /// PAUSED pauses (from `effectiveFrom` when given), ACTIVE resumes.
    #[schema(value_type = Option<String>, pattern = "^(ACTIVE|PAUSED)$")]
    status: Option<String>,
    /// A pause ends by itself on this date (it delivers again); `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    paused_until: Option<serde_json::Value>,
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100)]
    quantity: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<DayOfWeek>>)]
    days_of_week: Option<Vec<String>>,
    #[schema(value_type = Option<DeliverySlot>)]
    delivery_slot: Option<String>,
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9_-]{1,32}$")]
    address_label: Option<String>,
    /// The last delivery date; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    end_date: Option<serde_json::Value>,
    /// The change starts on this open date (within 31 days), keeping the days before it as
    /// they were: how a change refused with CUTOFF_PASSED is asked again for `nextDate`.
    #[schema(value_type = Option<String>, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    effective_from: Option<String>,
}

/// A new subscription, every field checked.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: u32,
    pub frequency: Frequency,
    pub days_of_week: Vec<DayOfWeek>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub delivery_slot: DeliverySlot,
    pub address_label: AddressLabel,
    pub payment_method: PaymentMethod,
}

fn required<'a>(errors: &mut FieldErrors, field: &str, raw: Option<&'a str>) -> Option<&'a str> {
    if raw.is_none() {
        errors.add(field, "is required");
    }
    raw
}

fn uuid_field(errors: &mut FieldErrors, field: &str, raw: Option<&str>) -> Option<Uuid> {
    let raw = required(errors, field, raw)?;
    let parsed = parse_uuid(raw);
    if parsed.is_none() {
        errors.add(field, "must be a UUID");
    }
    parsed
}

fn quantity_field(errors: &mut FieldErrors, raw: &serde_json::Value) -> Option<u32> {
    let parsed = whole_number(raw, 1, MAX_QUANTITY).map(|q| q as u32);
    if parsed.is_none() {
        errors.add("quantity", "must be a whole number from 1 to 100");
    }
    parsed
}

fn days_field(errors: &mut FieldErrors, raw: &[String]) -> Option<Vec<DayOfWeek>> {
    let mut days = Vec::new();
    for day in raw {
        match DayOfWeek::parse(day) {
            Ok(day) if !days.contains(&day) => days.push(day),
            Ok(_) => {}
            Err(problem) => {
                errors.add("daysOfWeek", problem.0);
                return None;
            }
        }
    }
    days.sort_by_key(|d| DayOfWeek::ALL.iter().position(|x| x == d));
    Some(days)
}

pub use milkrun_domain::checkout::DATE_PATTERN;

fn date_field(errors: &mut FieldErrors, field: &str, raw: &str) -> Option<NaiveDate> {
    errors.check(field, parse_date(raw))
}

/// A `null`-able date: `Some(None)` clears.
fn nullable_date(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&serde_json::Value>,
) -> Option<Option<NaiveDate>> {
    match raw? {
        serde_json::Value::Null => Some(None),
        serde_json::Value::String(raw) => date_field(errors, field, raw).map(Some),
        _ => {
            errors.add(field, "must be a date (YYYY-MM-DD) or null");
            None
        }
    }
}

fn label_field(errors: &mut FieldErrors, raw: &str) -> Option<AddressLabel> {
    errors.check("addressLabel", AddressLabel::parse(raw))
}

impl NewSubscriptionBody {
    pub fn parse(self) -> Result<NewSubscription, DomainError> {
        calendar_days(&[self.start_date.as_deref(), self.end_date.as_deref()])?;
        let mut errors = FieldErrors::new();
        let product_id = uuid_field(&mut errors, "productId", self.product_id.as_deref());
        let variant_id = uuid_field(&mut errors, "variantId", self.variant_id.as_deref());
        let quantity = match &self.quantity {
            None => required(&mut errors, "quantity", None).map(|_| 0),
            Some(raw) => quantity_field(&mut errors, raw),
        };
        let frequency = required(&mut errors, "frequency", self.frequency.as_deref())
            .and_then(|raw| errors.check("frequency", Frequency::parse(raw)));
        let days = self
            .days_of_week
            .as_deref()
            .map(|raw| days_field(&mut errors, raw));
        let start = required(&mut errors, "startDate", self.start_date.as_deref())
            .and_then(|raw| date_field(&mut errors, "startDate", raw));
        let end = self
            .end_date
            .as_deref()
            .map(|raw| date_field(&mut errors, "endDate", raw));
        let slot = required(&mut errors, "deliverySlot", self.delivery_slot.as_deref())
            .and_then(|raw| errors.check("deliverySlot", DeliverySlot::parse(raw)));
        let label = required(&mut errors, "addressLabel", self.address_label.as_deref())
            .and_then(|raw| label_field(&mut errors, raw));
        let method = match self.payment_method.as_deref() {
            None => Some(PaymentMethod::Wallet),
            Some(raw) => subscription_method(&mut errors, raw),
        };
        let days_of_week = days.flatten().unwrap_or_default();
        errors.into_result(|| ())?;
        check_days(frequency.expect("checked"), &days_of_week)?;
        if let (Some(start), Some(Some(end))) = (start, end)
            && end < start
        {
            return Err(conflict("endDate must be on or after startDate."));
        }
        Ok(NewSubscription {
            product_id: product_id.expect("checked"),
            variant_id: variant_id.expect("checked"),
            quantity: quantity.expect("checked"),
            frequency: frequency.expect("checked"),
            days_of_week,
            start_date: start.expect("checked"),
            end_date: end.flatten(),
            delivery_slot: slot.expect("checked"),
            address_label: label.expect("checked"),
            payment_method: method.expect("checked"),
        })
    }
}

/// A rule between well-formed fields (which dates, which weekdays go together): no schema
/// says it, so it is a conflict with the calendar (409), as POST /orders' date window is.
fn conflict(message: &str) -> DomainError {
    DomainError::conflict(message.to_owned())
}

/// CUSTOM takes one or more weekdays; the other frequencies take none.
fn check_days(frequency: Frequency, days: &[DayOfWeek]) -> Result<(), DomainError> {
    match (frequency, days.is_empty()) {
        (Frequency::Custom, true) => Err(conflict(
            "A CUSTOM subscription needs daysOfWeek: one or more days.",
        )),
        (Frequency::Custom, false) | (_, true) => Ok(()),
        (_, false) => Err(conflict("daysOfWeek is for CUSTOM subscriptions only.")),
    }
}

fn subscription_method(errors: &mut FieldErrors, raw: &str) -> Option<PaymentMethod> {
    match PaymentMethod::parse(raw) {
        Ok(method @ (PaymentMethod::Wallet | PaymentMethod::Cod)) => Some(method),
        _ => {
            errors.add("paymentMethod", "must be WALLET or COD");
            None
        }
    }
}

fn has_address(user: &User, label: &AddressLabel) -> Result<(), DomainError> {
    match user.addresses.iter().any(|a| &a.label == label) {
        true => Ok(()),
        false => Err(DomainError::NotFound("address")),
    }
}

impl NewSubscription {
    pub fn check_address(&self, user: &User) -> Result<(), DomainError> {
        has_address(user, &self.address_label)
    }

    pub fn check_dates(&self, today: NaiveDate) -> Result<(), DomainError> {
        if self.start_date > today + TimeDelta::days(MAX_DAYS_AHEAD) {
            let message = format!("must be within {MAX_DAYS_AHEAD} days");
            return Err(DomainError::Validation(FieldErrors::single(
                "startDate",
                message,
            )));
        }
        Ok(())
    }

    pub fn into_subscription(self, user_id: Uuid, now: DateTime<Utc>) -> Subscription {
        Subscription {
            subscription_id: Uuid::now_v7(),
            user_id,
            product_id: self.product_id,
            variant_id: self.variant_id,
            quantity: self.quantity,
            frequency: self.frequency,
            days_of_week: self.days_of_week,
            start_date: self.start_date,
            end_date: self.end_date,
            delivery_slot: self.delivery_slot,
            address_label: self.address_label,
            payment_method: self.payment_method,
            status: SubscriptionStatus::Active,
            paused_from: None,
            paused_until: None,
            day_changes: Vec::new(),
            last_generated_for: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

/// A change to a subscription, every field checked.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub status: Option<SubscriptionStatus>,
    pub paused_until: Option<Option<NaiveDate>>,
    pub quantity: Option<u32>,
    pub days_of_week: Option<Vec<DayOfWeek>>,
    pub delivery_slot: Option<DeliverySlot>,
    pub address_label: Option<AddressLabel>,
    pub end_date: Option<Option<NaiveDate>>,
    pub effective_from: Option<NaiveDate>,
}

impl ChangeBody {
    pub fn parse(self) -> Result<Change, DomainError> {
        let text =
            |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.as_str()).map(str::to_owned);
        let (until, end) = (text(&self.paused_until), text(&self.end_date));
        calendar_days(&[
            until.as_deref(),
            end.as_deref(),
            self.effective_from.as_deref(),
        ])?;
        let mut errors = FieldErrors::new();
        let status = self.status.as_deref().and_then(|raw| match raw {
            "ACTIVE" => Some(SubscriptionStatus::Active),
            "PAUSED" => Some(SubscriptionStatus::Paused),
            _ => {
                errors.add("status", "must be ACTIVE or PAUSED (DELETE cancels)");
                None
            }
        });
        let change = Change {
            status,
            paused_until: nullable_date(&mut errors, "pausedUntil", self.paused_until.as_ref()),
            quantity: self
                .quantity
                .as_ref()
                .and_then(|raw| quantity_field(&mut errors, raw)),
            days_of_week: self
                .days_of_week
                .as_deref()
                .and_then(|raw| days_field(&mut errors, raw)),
            delivery_slot: self
                .delivery_slot
                .as_deref()
                .and_then(|raw| errors.check("deliverySlot", DeliverySlot::parse(raw))),
            address_label: self
                .address_label
                .as_deref()
                .and_then(|raw| label_field(&mut errors, raw)),
            end_date: nullable_date(&mut errors, "endDate", self.end_date.as_ref()),
            effective_from: self
                .effective_from
                .as_deref()
                .and_then(|raw| date_field(&mut errors, "effectiveFrom", raw)),
        };
        errors.into_result(|| change)
    }
}

impl Change {
    pub fn check_address(&self, user: &User) -> Result<(), DomainError> {
        match &self.address_label {
            Some(label) => has_address(user, label),
            None => Ok(()),
        }
    }

    /// `subscription` with the change made. Days before `effectiveFrom` keep what they
    /// bring: a pause starts then, a resume waits for it, a new quantity is pinned to the
    /// old one on each day before it.
    pub fn apply(
        &self,
        mut subscription: Subscription,
        next_open: NaiveDate,
        today: NaiveDate,
    ) -> Result<Subscription, DomainError> {
        if subscription.status == SubscriptionStatus::Cancelled {
            return Err(DomainError::conflict("The subscription is cancelled."));
        }
        if let Some(from) = self.effective_from {
            if from < next_open {
                return Err(CutoffPassed {
                    date: from,
                    next_date: next_open,
                }
                .into());
            }
            if from > today + TimeDelta::days(MAX_EFFECTIVE_DAYS) {
                return Err(conflict("effectiveFrom must be within 31 days."));
            }
        }
        let before = subscription.clone();
        self.apply_status(&mut subscription, today)?;
        if let Some(days) = &self.days_of_week {
            if subscription.frequency != Frequency::Custom || days.is_empty() {
                return Err(conflict(
                    "daysOfWeek is for CUSTOM subscriptions: one or more days.",
                ));
            }
            subscription.days_of_week = days.clone();
        }
        if let Some(quantity) = self.quantity {
            subscription.quantity = quantity;
        }
        if let Some(slot) = self.delivery_slot {
            subscription.delivery_slot = slot;
        }
        if let Some(label) = &self.address_label {
            subscription.address_label = label.clone();
        }
        if let Some(end) = self.end_date {
            if end.is_some_and(|end| end < subscription.start_date || end < today) {
                return Err(conflict("endDate must be on or after startDate and today."));
            }
            subscription.end_date = end;
        }
        if let Some(from) = self.effective_from
            && self.quantity.is_some()
        {
            pin_quantities(&before, &mut subscription, today, from);
        }
        Ok(subscription)
    }

    fn apply_status(
        &self,
        subscription: &mut Subscription,
        today: NaiveDate,
    ) -> Result<(), DomainError> {
        if let Some(Some(until)) = self.paused_until
            && until <= today
        {
            return Err(conflict("pausedUntil must be after today."));
        }
        let pausing = self.status == Some(SubscriptionStatus::Paused)
            || (self.status.is_none() && subscription.status == SubscriptionStatus::Paused);
        match (self.status, subscription.status) {
            (Some(SubscriptionStatus::Paused), SubscriptionStatus::Active) => {
                subscription.status = SubscriptionStatus::Paused;
                subscription.paused_from = self.effective_from;
                subscription.paused_until = None;
            }
            (Some(SubscriptionStatus::Active), SubscriptionStatus::Paused) => {
                match self.effective_from {
                    // Paused until then: it resumes by itself on that date.
                    Some(from) => subscription.paused_until = Some(from),
                    None => {
                        subscription.status = SubscriptionStatus::Active;
                        subscription.paused_from = None;
                        subscription.paused_until = None;
                    }
                }
            }
            _ => {}
        }
        if let Some(until) = self.paused_until {
            if !pausing {
                return Err(conflict("pausedUntil is for a paused subscription."));
            }
            subscription.paused_until = until;
        }
        Ok(())
    }
}

/// Keeps each day from tomorrow to the day before `from` at the quantity `before` brought.
fn pin_quantities(
    before: &Subscription,
    after: &mut Subscription,
    today: NaiveDate,
    from: NaiveDate,
) {
    let schedule = before.schedule();
    let tomorrow = today + TimeDelta::days(1);
    for date in tomorrow.iter_days().take_while(|d| *d < from) {
        if let Due::Deliver { quantity } = due_on(&schedule, None, date)
            && quantity != after.quantity
            && !after.day_changes.iter().any(|c| c.date == date)
        {
            after.change_day(date, Some(quantity));
        }
    }
}
