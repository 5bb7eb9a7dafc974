//! OpenAPI schemas of the value rules in [`crate::values`], for `#[schema(schema_with = …)]`
//! and `#[param(schema_with = …)]`: each states exactly what the parser takes, so clients that
//! generate SDKs from the document send what the code accepts. The `_or_null` forms are for
//! optional fields where `null` means the same as leaving the field out.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{
    Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Required};

use crate::inventory::MAX_QUANTITY;
use crate::page::MAX_PAGE_SIZE;
use crate::values::{MAX_EMAIL_CHARS, MAX_PHONE_CHARS, MAX_URL_CHARS, patterns};

fn typed(ty: Type, nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable {
        SchemaType::from_iter([ty, Type::Null])
    } else {
        SchemaType::new(ty)
    };
    ObjectBuilder::new().schema_type(schema_type)
}

fn string(pattern: &str, min: usize, max: usize, nullable: bool) -> ObjectBuilder {
    typed(Type::String, nullable)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
}

/// A line of text of 1 to `max` characters with something besides white space, no control
/// characters.
pub fn text(max: usize, nullable: bool) -> Object {
    string(patterns::TEXT, 1, max, nullable)
        .description(Some(
            "Text without control characters and not only white space; stored trimmed.",
        ))
        .build()
}

/// Text of at most `max` characters without control characters, where blank means none.
pub fn optional_text(max: usize, nullable: bool) -> Object {
    string(patterns::OPTIONAL_TEXT, 0, max, nullable)
        .description(Some("Text without control characters; blank means none."))
        .build()
}

macro_rules! text_schemas {
    ($($max:literal => $required:ident, $nullable:ident;)*) => {$(
        #[doc = concat!("Text of at most ", $max, " characters (see [`text`]).")]
        pub fn $required() -> Object { text($max, false) }
        #[doc = concat!("Text of at most ", $max, " characters, or `null` (see [`text`]).")]
        pub fn $nullable() -> Object { text($max, true) }
    )*};
}

text_schemas! {
    20 => text_20, text_20_or_null;
    40 => text_40, text_40_or_null;
    56 => text_56, text_56_or_null;
    100 => text_100, text_100_or_null;
    120 => text_120, text_120_or_null;
    128 => text_128, text_128_or_null;
    200 => text_200, text_200_or_null;
    300 => text_300, text_300_or_null;
}

pub fn optional_text_200_or_null() -> Object {
    optional_text(200, true)
}

pub fn optional_text_2000_or_null() -> Object {
    optional_text(2000, true)
}

fn email(nullable: bool) -> Object {
    string(patterns::EMAIL, 3, MAX_EMAIL_CHARS, nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::IdnEmail)))
        .description(Some(
            "An email address; a domain with non-ASCII characters must be valid IDNA and at \
             most 254 characters once in its ASCII form. Compared without case.",
        ))
        .build()
}

pub fn email_required() -> Object {
    email(false)
}

pub fn email_or_null() -> Object {
    email(true)
}

fn phone(nullable: bool) -> Object {
    string(patterns::PHONE, 10, MAX_PHONE_CHARS, nullable)
        .description(Some(
            "10 to 15 digits, optionally after a +, with single spaces or dashes between digits (dropped when stored).",
        ))
        .build()
}

pub fn phone_required() -> Object {
    phone(false)
}

pub fn phone_or_null() -> Object {
    phone(true)
}

fn pincode(nullable: bool) -> Object {
    string(patterns::PINCODE, 6, 6, nullable).build()
}

fn cutoff_time(nullable: bool) -> Object {
    string(crate::cutoff::CutoffTime::PATTERN, 5, 5, nullable)
        .description(Some(
            "HH:MM in the platform's time zone, 12:00 to 22:00: orders and subscription changes for a date D close at D-1 at this time.",
        ))
        .build()
}

pub fn cutoff_time_required() -> Object {
    cutoff_time(false)
}

pub fn cutoff_time_or_null() -> Object {
    cutoff_time(true)
}

pub fn pincode_required() -> Object {
    pincode(false)
}

pub fn pincode_or_null() -> Object {
    pincode(true)
}

fn uuid(nullable: bool) -> Object {
    string(patterns::UUID, 36, 36, nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .build()
}

pub fn uuid_required() -> Object {
    uuid(false)
}

pub fn uuid_or_null() -> Object {
    uuid(true)
}

pub fn https_url_or_null() -> Object {
    string(patterns::HTTPS_URL, 8, MAX_URL_CHARS, true)
        .description(Some("An https:// URL; other characters percent-encoded."))
        .build()
}

/// An array of the service areas a vendor serves.
fn pincodes(nullable: bool) -> Array {
    let items = pincode(false);
    let builder = ArrayBuilder::new()
        .items(items)
        .min_items(Some(1))
        .max_items(Some(crate::vendor::MAX_SERVICE_AREAS));
    let builder = if nullable {
        builder.schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
    } else {
        builder
    };
    builder
        .description(Some("6-digit pincodes; repeats count once."))
        .build()
}

pub fn pincodes_required() -> Array {
    pincodes(false)
}

pub fn pincodes_or_null() -> Array {
    pincodes(true)
}

/// Ids of vendors that exist (a product's sellers).
pub fn vendor_ids_or_null() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(uuid(false))
        .max_items(Some(crate::product::MAX_VENDORS_PER_PRODUCT))
        .description(Some(
            "Vendor ids; each must name an existing vendor (404 otherwise); repeats count once.",
        ))
        .build()
}

/// A whole number from `min` to `max`.
pub fn integer(min: u64, max: u64, nullable: bool) -> Object {
    typed(Type::Integer, nullable)
        .minimum(Some(min))
        .maximum(Some(max))
        .build()
}

pub fn page_limit() -> Object {
    integer(1, u64::from(MAX_PAGE_SIZE), false)
}

pub fn quantity_required() -> Object {
    integer(0, u64::from(MAX_QUANTITY), false)
}

pub fn quantity_or_null() -> Object {
    integer(0, u64::from(MAX_QUANTITY), true)
}

/// Units on one cart or order line: 1 to 100.
pub fn line_quantity_required() -> Object {
    integer(1, u64::from(crate::cart::MAX_LINE_QUANTITY), false)
}

pub fn paise_required() -> Object {
    integer(0, crate::money::MAX_AMOUNT, false)
}

/// One query parameter, for query types that implement `IntoParams` by hand: the derive
/// drops `required` and the description of a parameter whose schema comes from a function.
pub fn query_param(
    name: &str,
    required: bool,
    description: &str,
    schema: impl Into<RefOr<Schema>>,
) -> Parameter {
    let required = if required {
        Required::True
    } else {
        Required::False
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(required)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// `limit` and `cursor`, as every listing takes them.
pub fn paging_params() -> [Parameter; 2] {
    [
        query_param("limit", false, "1 to 100, default 20.", page_limit()),
        query_param(
            "cursor",
            false,
            "`nextCursor` of the previous page of this same listing; any other value is a \
             404 naming `cursor`.",
            typed(Type::String, false).build(),
        ),
    ]
}

/// The channels of each kind of message, as `PUT /users/me/preferences` takes them: an
/// object with one optional property per kind, each an array of channels (repeats count
/// once), ACCOUNT only `["EMAIL"]`; no other property.
pub fn notification_prefs_or_null() -> Object {
    use crate::notification::{Channel, MessageKind};
    // No maxItems or uniqueItems: repeats are taken (they count once), so the document
    // refuses nothing the code takes. ACCOUNT needs its one channel named.
    let channels = |allowed: Vec<&'static str>, min: usize| {
        let item = typed(Type::String, false).enum_values(Some(allowed));
        ArrayBuilder::new().items(item).min_items(Some(min)).build()
    };
    let every: Vec<&'static str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    let mut object = typed(Type::Object, true).additional_properties(Some(
        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
    ));
    for kind in MessageKind::ALL {
        let (allowed, min) = match kind.switchable() {
            true => (every.clone(), 0),
            false => (vec![Channel::Email.as_str()], 1),
        };
        object = object.property(kind.as_str(), channels(allowed, min));
    }
    object
        .description(Some(
            "The channels of each kind of message: the kinds named get exactly these channels \
             (an empty list: none), the others keep theirs; absent or null: all unchanged. \
             ACCOUNT (welcome, verification) is always EMAIL, named only as [\"EMAIL\"]. PROMOTIONS also needs \
             newsletterOptIn. A message that goes by no channel is still kept, as an IN_APP \
             notification with status SKIPPED; a promotion that goes by none is neither sent \
             nor kept.",
        ))
        .build()
}
