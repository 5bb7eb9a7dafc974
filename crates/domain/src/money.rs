//! Money: an integer number of minor units (paise) and a currency. Never floating point.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::values::InvalidValue;

/// The currencies milkrun prices in. Anything else is refused at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
pub enum Currency {
    #[default]
    #[serde(rename = "INR")]
    Inr,
}

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "INR" => Ok(Self::Inr),
            _ => Err(InvalidValue("must be INR")),
        }
    }
}

/// `{"amount": 5000, "currency": "INR"}` is ₹50.00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Minor units (paise); never negative.
    #[schema(minimum = 0)]
    pub amount: u64,
    pub currency: Currency,
}

/// The largest price a client may set: ₹1 crore, in paise. Totals of many lines stay far
/// from overflow.
pub const MAX_AMOUNT: u64 = 1_000_000_000;

/// Money as a client sends it: the amount is checked to be a whole number of minor units
/// from 0 to 1,000,000,000, so `12.5`, `-1` and `"12"` are refused rather than rounded or
/// coerced.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MoneyInput {
    /// Paise.
    #[schema(schema_with = crate::schema::paise_required, required = true)]
    pub amount: serde_json::Value,
    /// INR when left out.
    #[schema(value_type = Option<Currency>)]
    pub currency: Option<String>,
}

impl MoneyInput {
    pub fn parse(&self) -> Result<Money, InvalidValue> {
        let amount = crate::values::whole_number(&self.amount, 0, MAX_AMOUNT).ok_or(
            InvalidValue("amount must be a whole number of paise from 0 to 1000000000"),
        )?;
        let currency = self
            .currency
            .as_deref()
            .map(Currency::parse)
            .transpose()?
            .unwrap_or_default();
        Ok(Money { amount, currency })
    }
}

impl Money {
    pub const fn inr(amount: u64) -> Self {
        Self {
            amount,
            currency: Currency::Inr,
        }
    }

    /// `self × quantity`, or `None` on overflow.
    pub fn times(self, quantity: u32) -> Option<Self> {
        self.amount
            .checked_mul(u64::from(quantity))
            .map(|amount| Self { amount, ..self })
    }

    /// The sum, or `None` on overflow or mixed currencies.
    pub fn plus(self, other: Self) -> Option<Self> {
        if self.currency != other.currency {
            return None;
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Self { amount, ..self })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "₹{}.{:02}", self.amount / 100, self.amount % 100)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(value: serde_json::Value) -> Result<Money, InvalidValue> {
        serde_json::from_value::<MoneyInput>(value).unwrap().parse()
    }

    #[test]
    fn whole_paise_in_inr_are_accepted_and_inr_is_the_default() {
        assert_eq!(
            input(json!({"amount": 5000, "currency": "INR"})),
            Ok(Money::inr(5000))
        );
        assert_eq!(input(json!({"amount": 0})), Ok(Money::inr(0)));
        assert_eq!(
            input(json!({"amount": 12.0})),
            Ok(Money::inr(12)),
            "an integer to JSON Schema"
        );
    }

    #[test]
    fn fractions_negatives_strings_huge_amounts_and_unknown_currencies_are_refused() {
        for bad in [
            json!({"amount": 12.5}),
            json!({"amount": MAX_AMOUNT + 1}),
            json!({"amount": -1}),
            json!({"amount": "12"}),
            json!({"amount": 100, "currency": "USD"}),
            json!({"amount": 100, "currency": "inr"}),
        ] {
            assert!(input(bad.clone()).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Money::inr(2500).times(3), Some(Money::inr(7500)));
        assert_eq!(Money::inr(u64::MAX).times(2), None);
        assert_eq!(Money::inr(1).plus(Money::inr(2)), Some(Money::inr(3)));
        assert_eq!(Money::inr(u64::MAX).plus(Money::inr(1)), None);
        assert_eq!(Money::inr(5050).to_string(), "₹50.50");
    }
}
