//! Value types that cannot hold a bad value: parse once at the edge, trust afterwards.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;
use validator::ValidateEmail;

/// Why a raw value was refused; the message is safe to show a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// An email address in one canonical form, so that one mailbox is one account: the domain
/// in IDNA ASCII form (`exämple.com` → `xn--exmple-cua.com`), the local part in Unicode NFC
/// (composed and decomposed forms alike), all lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, format = "email")]
pub struct Email(String);
string_value!(Email);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const INVALID: InvalidValue = InvalidValue("must be a valid email address");
        let (local, domain) = raw.trim().rsplit_once('@').ok_or(INVALID)?;
        let local: String = local
            .nfc()
            .collect::<String>()
            .to_lowercase()
            .nfc()
            .collect();
        let domain = idna::domain_to_ascii(domain).map_err(|_| INVALID)?;
        let normalized = format!("{local}@{domain}");
        if normalized.len() > 254 || !normalized.validate_email() {
            return Err(INVALID);
        }
        Ok(Self(normalized))
    }
}

/// A phone number of 10 to 15 digits, optionally with a leading `+`; spaces and dashes dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "+919876543210")]
pub struct Phone(String);
string_value!(Phone);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if !(10..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue(
                "must be 10 to 15 digits, optionally starting with +",
            ));
        }
        Ok(Self(compact))
    }
}

/// An Indian postal code: six digits, the first not zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "560001")]
pub struct Pincode(String);
string_value!(Pincode);

impl Pincode {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let bytes = raw.as_bytes();
        if bytes.len() == 6 && bytes.iter().all(u8::is_ascii_digit) && bytes[0] != b'0' {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue("must be 6 digits not starting with 0"))
        }
    }
}

/// A person's display name: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct PersonName(String);
string_value!(PersonName);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(raw, 100).map(Self)
    }
}

/// A trimmed, non-empty line of text of at most `max` characters without control characters.
pub fn bounded_text(raw: &str, max: usize) -> Result<String, InvalidValue> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue("must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(InvalidValue("is too long"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidValue("must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// A plain-text password as typed: 8 to 128 characters. Never serialized, never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Bounds the hashing work one request can ask for.
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(InvalidValue("must be at least 8 characters"));
        }
        if chars > Self::MAX_CHARS {
            return Err(InvalidValue("must be at most 128 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A PHC-format password hash. Stored, never returned, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// A short name for a saved address ("home", "office"), unique per user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "home")]
pub struct AddressLabel(String);
string_value!(AddressLabel);

impl AddressLabel {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue("must be 1 to 32 letters, digits, - or _"))
        }
    }
}

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? } $message:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                match raw { $($text => Ok(Self::$variant),)+ _ => Err(InvalidValue($message)) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set!(
    /// Who a caller is on the platform; guests have no role.
    Role { Customer => "CUSTOMER", Vendor => "VENDOR", Manager => "MANAGER", Admin => "ADMIN" }
    "must be one of CUSTOMER, VENDOR, MANAGER, ADMIN"
);

closed_set!(
    /// What a product is.
    Category { Milk => "MILK", Curd => "CURD", Paneer => "PANEER", Butter => "BUTTER", Ghee => "GHEE", Other => "OTHER" }
    "must be one of MILK, CURD, PANEER, BUTTER, GHEE, OTHER"
);

closed_set!(
    UserStatus { Active => "ACTIVE", Disabled => "DISABLED" }
    "must be ACTIVE or DISABLED"
);

closed_set!(
    DeliverySlot { Morning => "MORNING", Evening => "EVENING" }
    "must be MORNING or EVENING"
);

closed_set!(
    PaymentMethod { Card => "CARD", Upi => "UPI", Netbanking => "NETBANKING", Wallet => "WALLET", Cod => "COD" }
    "must be one of CARD, UPI, NETBANKING, WALLET, COD"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lower_cased_and_trimmed() {
        assert_eq!(
            Email::parse("  Asha@Example.COM ").unwrap().as_str(),
            "asha@example.com"
        );
    }

    #[test]
    fn one_mailbox_has_one_form_whatever_its_spelling() {
        let ascii = Email::parse("a@xn--exmple-cua.com").unwrap();
        assert_eq!(Email::parse("a@exämple.com").unwrap(), ascii, "IDNA");
        assert_eq!(
            Email::parse("a@EXÄMPLE.com").unwrap(),
            ascii,
            "case, in Unicode too"
        );
        let decomposed = "a@exa\u{308}mple.com";
        assert_eq!(Email::parse(decomposed).unwrap(), ascii, "NFC");
        assert_eq!(
            Email::parse("A@Exämple.Com").unwrap().as_str(),
            "a@xn--exmple-cua.com"
        );
    }

    #[test]
    fn email_rejects_garbage() {
        for bad in [
            "",
            "no-at-sign",
            "a@",
            "@b.c",
            "a b@c.d",
            "a@-bad-.com",
            "a@b..c",
            &format!("{}@x.io", "a".repeat(260)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn phone_accepts_indian_and_e164_forms() {
        assert_eq!(
            Phone::parse("+91 98765-43210").unwrap().as_str(),
            "+919876543210"
        );
        assert_eq!(Phone::parse("9876543210").unwrap().as_str(), "9876543210");
    }

    #[test]
    fn phone_rejects_short_or_lettered_numbers() {
        for bad in ["12345", "98765abcde", "+", "1234567890123456"] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn pincode_is_six_digits_not_starting_with_zero() {
        assert!(Pincode::parse("560001").is_ok());
        for bad in ["060001", "56001", "5600011", "56000a", " 560001", "५६०००१"] {
            assert!(Pincode::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn password_bounds_and_hidden_debug() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let password = Password::parse("correct horse").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
        assert_eq!(
            format!("{:?}", PasswordHash::new("$argon2id$secret".into())),
            "PasswordHash(***)"
        );
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(PersonName::parse("  Asha  ").unwrap().as_str(), "Asha");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse("bad\u{0}name").is_err());
        assert!(AddressLabel::parse("home_2").is_ok());
        assert!(AddressLabel::parse("my home").is_err());
        assert!(AddressLabel::parse("").is_err());
    }

    #[test]
    fn closed_sets_round_trip() {
        assert_eq!(Role::parse("VENDOR").unwrap(), Role::Vendor);
        assert!(Role::parse("vendor").is_err());
        assert_eq!(
            serde_json::to_string(&PaymentMethod::Netbanking).unwrap(),
            "\"NETBANKING\""
        );
        assert_eq!(
            serde_json::from_str::<UserStatus>("\"DISABLED\"").unwrap(),
            UserStatus::Disabled
        );
    }
}
