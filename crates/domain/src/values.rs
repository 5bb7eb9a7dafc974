//! Value types that cannot hold a bad value: parse once at the edge, trust afterwards.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

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

/// The rules below are stated twice: as code, and as the regular expressions the OpenAPI
/// document publishes (ECMA-262 syntax that Python's `re` and Rust's `regex` read alike).
/// The tests hold each pair to the same answers, so the document is the contract.
pub mod patterns {
    /// A line of text: no control characters (C0, DEL, C1) and at least one character
    /// that is not white space; surrounding white space is trimmed when stored.
    pub const TEXT: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$";
    /// Optional text: no control characters; blank means none.
    pub const OPTIONAL_TEXT: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";
    /// 10 to 15 digits, optionally after a `+`, with at most one space or dash between two
    /// digits.
    pub const PHONE: &str = r"^\+?[0-9]([ -]?[0-9]){9,14}$";
    /// An Indian postal code.
    pub const PINCODE: &str = r"^[1-9][0-9]{5}$";
    /// An address label.
    pub const LABEL: &str = r"^[A-Za-z0-9_-]{1,32}$";
    /// A UUID in its hyphenated form.
    pub const UUID: &str =
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    /// A dot-atom local part, then a domain of two or more labels: ASCII labels of letters,
    /// digits and inner hyphens (at most 63), or labels with non-ASCII characters, which must
    /// also be valid IDNA.
    pub const EMAIL: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?|[A-Za-z0-9-]*[\u00a0-\uffff][A-Za-z0-9\u00a0-\uffff-]*)\.)+([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?|[A-Za-z0-9-]*[\u00a0-\uffff][A-Za-z0-9\u00a0-\uffff-]*)$";
    /// An `https://` URL in printable ASCII (anything else percent-encoded), no spaces.
    pub const HTTPS_URL: &str = r"^https://[!-~]*$";
}

/// The longest email address accepted, in characters, before and after normalization.
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest phone number as typed: a `+`, 15 digits and 14 separators.
pub const MAX_PHONE_CHARS: usize = 30;

/// An email address in one canonical form, so that one mailbox is one account: the domain
/// in IDNA ASCII form (`exämple.com` → `xn--exmple-cua.com`, composed and decomposed forms
/// alike, Unicode NFC first), all lower case. The shape: a dot-atom local part, `@`, then a
/// domain of two or more labels (ASCII letters, digits and inner hyphens, or valid IDNA).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, format = "email")]
pub struct Email(String);
string_value!(Email);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const INVALID: InvalidValue = InvalidValue("must be a valid email address");
        if raw.chars().count() > MAX_EMAIL_CHARS {
            return Err(INVALID);
        }
        let (local, domain) = raw.split_once('@').ok_or(INVALID)?;
        let labels: Vec<&str> = domain.split('.').collect();
        if !is_dot_atom(local) || labels.len() < 2 || !labels.iter().all(|l| is_domain_label(l)) {
            return Err(INVALID);
        }
        let domain: String = domain.nfc().collect();
        let domain = idna::domain_to_ascii(&domain).map_err(|_| INVALID)?;
        let normalized = format!("{}@{domain}", local.to_ascii_lowercase());
        let dns_valid = domain.split('.').all(is_ascii_label);
        if !dns_valid || normalized.len() > MAX_EMAIL_CHARS {
            return Err(INVALID);
        }
        Ok(Self(normalized))
    }
}

fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// Dot-separated runs of atom characters: no leading, trailing or doubled dot.
fn is_dot_atom(local: &str) -> bool {
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(is_atom_char))
}

/// Letters and digits with inner hyphens, 1 to 63 characters: a DNS label.
fn is_ascii_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// An ASCII DNS label, or a label with at least one character from U+00A0 to U+FFFF
/// among ASCII letters, digits and hyphens (IDNA then decides).
fn is_domain_label(label: &str) -> bool {
    let unicode = |c: char| ('\u{a0}'..='\u{ffff}').contains(&c);
    if label.is_ascii() {
        return is_ascii_label(label);
    }
    label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || unicode(c))
}

/// A phone number of 10 to 15 digits, optionally with a leading `+`, as
/// [`patterns::PHONE`] says; stored without its spaces and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "+919876543210")]
pub struct Phone(String);
string_value!(Phone);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const INVALID: InvalidValue = InvalidValue(
            "must be 10 to 15 digits, optionally after a +, with single spaces or dashes \
             between digits",
        );
        let (plus, rest) = match raw.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", raw),
        };
        let mut digits = String::with_capacity(15);
        // A separator may only follow a digit and must be followed by one.
        let mut after_separator = true;
        for c in rest.chars() {
            match c {
                '0'..='9' => {
                    digits.push(c);
                    after_separator = false;
                }
                ' ' | '-' if !after_separator => after_separator = true,
                _ => return Err(INVALID),
            }
        }
        if after_separator || !(10..=15).contains(&digits.len()) {
            return Err(INVALID);
        }
        Ok(Self(format!("{plus}{digits}")))
    }

    /// The number in E.164, as SMS gateways (SNS) take it: kept as stored when it has its
    /// `+` and country code; a number without one is taken as Indian (the platform's
    /// country): ten digits get +91, a trunk `0` before ten digits is dropped for it.
    pub fn e164(&self) -> String {
        let digits: String = self.0.chars().filter(char::is_ascii_digit).collect();
        match (self.0.starts_with('+'), digits.len()) {
            (true, _) => format!("+{digits}"),
            (false, 10) => format!("+91{digits}"),
            (false, 11) if digits.starts_with('0') => format!("+91{}", &digits[1..]),
            (false, _) => format!("+{digits}"),
        }
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

/// A person's display name: see [`bounded_text`], at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct PersonName(String);
string_value!(PersonName);

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(raw, Self::MAX_CHARS).map(Self)
    }
}

/// A line of text as [`patterns::TEXT`] says, of at most `max` characters as sent; stored
/// without its surrounding white space.
pub fn bounded_text(raw: &str, max: usize) -> Result<String, InvalidValue> {
    optional_text(raw, max)?.ok_or(InvalidValue("must not be blank"))
}

/// Text as [`patterns::OPTIONAL_TEXT`] says, of at most `max` characters as sent: `None`
/// when blank, else trimmed.
pub fn optional_text(raw: &str, max: usize) -> Result<Option<String>, InvalidValue> {
    if raw.chars().count() > max {
        return Err(InvalidValue("is too long"));
    }
    if raw.chars().any(char::is_control) {
        return Err(InvalidValue("must not contain control characters"));
    }
    let trimmed = raw.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// A JSON number with no fractional part from `min` to `max`: JSON Schema's `integer`,
/// so `5`, `5.0` and `5e0` alike.
pub fn whole_number(raw: &serde_json::Value, min: u64, max: u64) -> Option<u64> {
    let value = match raw.as_u64() {
        Some(n) => n,
        None => {
            let f = raw.as_f64()?;
            if f.fract() != 0.0 || !(0.0..=u64::MAX as f64).contains(&f) {
                return None;
            }
            f as u64
        }
    };
    (min..=max).contains(&value).then_some(value)
}

/// The longest image URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// An `https://` URL as [`patterns::HTTPS_URL`] says, of at most 2,048 characters.
pub fn parse_https_url(raw: &str) -> Result<String, InvalidValue> {
    let printable = raw.bytes().all(|b| (b'!'..=b'~').contains(&b));
    if raw.starts_with("https://") && printable && raw.len() <= MAX_URL_CHARS {
        Ok(raw.to_owned())
    } else {
        Err(InvalidValue("must be an https:// URL"))
    }
}

/// A UUID in its hyphenated form only, as [`patterns::UUID`] says.
pub fn parse_uuid(raw: &str) -> Option<uuid::Uuid> {
    if raw.len() == 36 {
        uuid::Uuid::try_parse(raw).ok()
    } else {
        None
    }
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
            /// Every value, in declaration order.
            pub const ALL: [Self; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

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

/// For the closed sets of other domain modules (order, delivery and payment statuses).
pub(crate) use closed_set;

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
    fn a_phone_goes_to_sms_in_e164_an_unprefixed_one_as_indian() {
        let e164 = |raw: &str| Phone::parse(raw).unwrap().e164();
        assert_eq!(e164("+91 98765-43210"), "+919876543210");
        assert_eq!(e164("+44 20 7946 0958"), "+442079460958");
        assert_eq!(e164("98765 43210"), "+919876543210");
        assert_eq!(e164("098765-43210"), "+919876543210");
        assert_eq!(e164("919876543210"), "+919876543210");
    }

    #[test]
    fn email_is_lower_cased_and_taken_as_sent() {
        assert_eq!(
            Email::parse("Asha@Example.COM").unwrap().as_str(),
            "asha@example.com"
        );
        assert!(Email::parse(" asha@example.com").is_err(), "no silent trim");
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
        assert_eq!(
            Phone::parse("+91 80 4000 1234").unwrap().as_str(),
            "+918040001234"
        );
        assert_eq!(Phone::parse("9876543210").unwrap().as_str(), "9876543210");
    }

    #[test]
    fn phone_rejects_short_or_lettered_numbers() {
        for bad in [
            "12345",
            "98765abcde",
            "+",
            "1234567890123456",
            "98765  43210",
            " 9876543210",
            "9876543210-",
            "+-9876543210",
        ] {
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

    /// Strings from an alphabet of the characters the rules care about, deterministically.
    fn samples(alphabet: &[char], count: usize, max_len: usize) -> Vec<String> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = (next() % (max_len as u64 + 1)) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    const TRICKY: &[char] = &[
        'a', 'Z', '0', '7', ' ', '-', '+', '.', '@', '_', '!', '*', '\t', '\n', '\u{0}', '\u{7f}',
        '\u{85}', '\u{a0}', '\u{1680}', '\u{2003}', '\u{2028}', '\u{3000}', '\u{feff}', 'é', 'ä',
        '\u{308}', 'ß', '日', '😀',
    ];

    /// The published pattern (plus `maxLength`) and the parser agree on every sample.
    fn agree(pattern: &str, max: usize, accepts: impl Fn(&str) -> bool, samples: &[String]) {
        let regex = regex::Regex::new(pattern).unwrap();
        for sample in samples {
            let documented = regex.is_match(sample) && sample.chars().count() <= max;
            assert_eq!(
                documented,
                accepts(sample),
                "{pattern} vs parser on {sample:?}"
            );
        }
    }

    #[test]
    fn text_rules_match_their_published_patterns() {
        let mut cases = samples(TRICKY, 20_000, 8);
        cases.extend(
            [
                "",
                " ",
                "a",
                " a ",
                "a\n",
                "\u{a0}",
                "\u{feff}",
                "x".repeat(9).as_str(),
            ]
            .map(String::from),
        );
        agree(patterns::TEXT, 8, |s| bounded_text(s, 8).is_ok(), &cases);
        agree(
            patterns::OPTIONAL_TEXT,
            8,
            |s| optional_text(s, 8).is_ok(),
            &cases,
        );
        agree(
            patterns::PINCODE,
            6,
            |s| Pincode::parse(s).is_ok(),
            &samples(&['0', '1', '5', '9', 'a', ' ', '٥'], 5_000, 7),
        );
        agree(
            patterns::LABEL,
            32,
            |s| AddressLabel::parse(s).is_ok(),
            &cases,
        );
        let url_alphabet = [
            'h', 't', 'p', 's', ':', '/', 'x', ' ', '\u{0}', '\u{a0}', '\u{3000}', 'é',
        ];
        let mut urls: Vec<String> = samples(&url_alphabet, 5_000, 6)
            .into_iter()
            .map(|s| format!("https://{s}"))
            .collect();
        urls.extend(samples(&url_alphabet, 2_000, 10));
        agree(
            patterns::HTTPS_URL,
            2048,
            |s| parse_https_url(s).is_ok(),
            &urls,
        );
    }

    #[test]
    fn phone_rule_matches_its_published_pattern() {
        let alphabet = ['0', '1', '9', ' ', '-', '+', 'a', '\t', '٣'];
        let mut cases = samples(&alphabet, 20_000, 20);
        cases.extend(samples(&['1', '-', ' '], 5_000, 40));
        agree(
            patterns::PHONE,
            MAX_PHONE_CHARS,
            |s| Phone::parse(s).is_ok(),
            &cases,
        );
    }

    #[test]
    fn uuid_rule_matches_its_published_pattern() {
        let id = uuid::Uuid::now_v7();
        let cases = [
            id.hyphenated().to_string(),
            id.hyphenated().to_string().to_uppercase(),
            id.simple().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
            format!("g{}", &id.to_string()[1..]),
            String::new(),
        ];
        agree(patterns::UUID, 36, |s| parse_uuid(s).is_some(), &cases);
    }

    #[test]
    fn email_rule_matches_its_published_pattern_for_ascii() {
        let alphabet = ['a', 'Z', '0', '-', '.', '@', '+', '!', ' ', '*', '_'];
        let mut cases = samples(&alphabet, 40_000, 12);
        cases.extend(
            [
                "a@b.c",
                "a.b@c-d.ef",
                "a..b@c.d",
                ".a@b.c",
                "a@b",
                "a@-b.c",
                "a@b-.c",
                "a@b..c",
                "a@b.c.",
                "useratexample.com",
            ]
            .map(String::from),
        );
        cases.push(format!("a@{}.io", "b".repeat(63)));
        cases.push(format!("a@{}.io", "b".repeat(64)));
        cases.push(format!(
            "a@{}.{}.{}.{}",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
            "e".repeat(59)
        ));
        agree(
            patterns::EMAIL,
            MAX_EMAIL_CHARS,
            |s| Email::parse(s).is_ok(),
            &cases,
        );
    }

    #[test]
    fn non_ascii_emails_the_parser_takes_match_the_pattern() {
        let alphabet = [
            'a', '.', '@', '-', 'ä', '\u{308}', '日', '\u{a0}', 'ß', 'x', 'n',
        ];
        let regex = regex::Regex::new(patterns::EMAIL).unwrap();
        for sample in samples(&alphabet, 20_000, 12) {
            if Email::parse(&sample).is_ok() {
                assert!(
                    regex.is_match(&sample),
                    "{sample:?} taken but not documented"
                );
            }
        }
    }

    #[test]
    fn whole_numbers_are_json_schema_integers() {
        use serde_json::json;
        assert_eq!(whole_number(&json!(5), 0, 10), Some(5));
        assert_eq!(whole_number(&json!(5.0), 0, 10), Some(5));
        assert_eq!(whole_number(&json!(5.5), 0, 10), None);
        assert_eq!(whole_number(&json!(-1), 0, 10), None);
        assert_eq!(whole_number(&json!(11), 0, 10), None);
        assert_eq!(whole_number(&json!("5"), 0, 10), None);
        assert_eq!(whole_number(&json!(1e300), 0, u64::MAX), None);
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
