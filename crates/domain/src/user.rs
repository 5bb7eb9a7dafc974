//! The User aggregate: profile, addresses with exactly one default, preferences, devices.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{DomainError, FieldErrors};
use crate::notification::{Channel, MessageKind, NotificationPrefs};
use crate::values::{
    AddressLabel, DeliverySlot, Email, PasswordHash, PaymentMethod, PersonName, Phone, Pincode,
    Role, UserStatus, bounded_text, optional_text,
};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many saved addresses per user.
pub const MAX_ADDRESSES: usize = 20;
/// At most this many remembered devices per user; the least recently seen is forgotten first.
pub const MAX_DEVICES: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub label: AddressLabel,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub pincode: Pincode,
    pub country: String,
    pub is_default: bool,
}

/// An address as a client sends it, before any field is trusted.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressInput {
    #[schema(schema_with = crate::schema::text_200, required = true)]
    pub line1: Option<String>,
    #[schema(schema_with = crate::schema::optional_text_200_or_null)]
    pub line2: Option<String>,
    #[schema(schema_with = crate::schema::text_100, required = true)]
    pub city: Option<String>,
    #[schema(schema_with = crate::schema::text_100, required = true)]
    pub state: Option<String>,
    #[schema(schema_with = crate::schema::pincode_required, required = true)]
    pub pincode: Option<String>,
    /// Defaults to "IN".
    #[schema(schema_with = crate::schema::text_56_or_null)]
    pub country: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

impl AddressInput {
    pub fn parse(self, label: AddressLabel) -> Result<Address, DomainError> {
        let mut errors = FieldErrors::new();
        let line1 = errors.check(
            "line1",
            required(self.line1).and_then(|v| bounded_text(&v, 200)),
        );
        let line2 = match self.line2 {
            Some(raw) => errors.check("line2", optional_text(&raw, 200)).flatten(),
            None => None,
        };
        let city = errors.check(
            "city",
            required(self.city).and_then(|v| bounded_text(&v, 100)),
        );
        let state = errors.check(
            "state",
            required(self.state).and_then(|v| bounded_text(&v, 100)),
        );
        let pincode = errors.check(
            "pincode",
            required(self.pincode).and_then(|v| Pincode::parse(&v)),
        );
        let country = errors.check(
            "country",
            bounded_text(self.country.as_deref().unwrap_or("IN"), 56),
        );
        errors.into_result(|| Address {
            label,
            line1: line1.unwrap_or_default(),
            line2,
            city: city.unwrap_or_default(),
            state: state.unwrap_or_default(),
            pincode: pincode.expect("checked above"),
            country: country.unwrap_or_default(),
            is_default: self.is_default,
        })
    }
}

fn required(value: Option<String>) -> Result<String, crate::values::InvalidValue> {
    value.ok_or(crate::values::InvalidValue("is required"))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_slot: Option<DeliverySlot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    #[serde(default)]
    pub newsletter_opt_in: bool,
    /// The channels of each kind of message (defaults for accounts from before they
    /// existed).
    #[serde(default)]
    pub notifications: NotificationPrefs,
}

impl Preferences {
    /// THE check every message to a customer goes through: whether a `kind` message goes
    /// by `channel` (promotions also need the newsletter opt-in).
    pub fn allows(&self, kind: MessageKind, channel: Channel) -> bool {
        let promotion = kind == MessageKind::Promotions;
        self.notifications.allows(kind, channel) && (!promotion || self.newsletter_opt_in)
    }
}

/// A customer's new preferences as `PUT /users/me/preferences` sends them: the slot,
/// payment method and opt-in are replaced; `notifications`, when sent, sets the channels
/// of the kinds it names (the others keep theirs).
#[derive(Debug, Clone, Default)]
pub struct PreferencesChange {
    pub delivery_slot: Option<DeliverySlot>,
    pub payment_method: Option<PaymentMethod>,
    pub newsletter_opt_in: bool,
    pub notifications: Option<BTreeMap<MessageKind, BTreeSet<Channel>>>,
}

impl PreferencesChange {
    /// `current` with this change made; naming ACCOUNT with anything but EMAIL is a 400.
    pub fn apply(&self, current: &Preferences) -> Result<Preferences, DomainError> {
        let notifications = match &self.notifications {
            None => current.notifications.clone(),
            Some(change) => current.notifications.with(change.clone()).map_err(|e| {
                let mut errors = FieldErrors::new();
                let field = format!("notifications.{}", e.0.as_str());
                errors.add(&field, "is always EMAIL and cannot be changed");
                DomainError::Validation(errors)
            })?,
        };
        Ok(Preferences {
            delivery_slot: self.delivery_slot,
            payment_method: self.payment_method,
            newsletter_opt_in: self.newsletter_opt_in,
            notifications,
        })
    }
}

/// Where a request came from, as captured at the edge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOrigin {
    pub ip: String,
    pub user_agent: String,
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub user_agent: String,
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// A registered person. `version` guards every update with an optimistic check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: Uuid,
    pub email: Email,
    pub name: PersonName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    pub role: Role,
    pub status: UserStatus,
    pub email_verified: bool,
    pub password_hash: PasswordHash,
    #[serde(default)]
    pub addresses: Vec<Address>,
    #[serde(default)]
    pub preferences: Preferences,
    #[serde(default)]
    pub devices: Vec<Device>,
    pub is_profile_complete: bool,
    #[serde(default)]
    pub profile_completion_prompted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_payment_method: Option<PaymentMethod>,
    #[serde(default)]
    pub order_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// What registration needs, already parsed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: PersonName,
    pub phone: Option<Phone>,
    pub role: Role,
}

/// Whether a login came from a device this user has used before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSighting {
    Known,
    New,
}

impl User {
    /// A fresh account; registration never grants more than `role` says (CUSTOMER for guests).
    pub fn register(
        new: NewUser,
        password_hash: PasswordHash,
        origin: &ClientOrigin,
        now: DateTime<Utc>,
    ) -> Self {
        let mut user = Self {
            user_id: Uuid::now_v7(),
            email: new.email,
            name: new.name,
            phone: new.phone,
            role: new.role,
            status: UserStatus::Active,
            email_verified: false,
            password_hash,
            addresses: Vec::new(),
            preferences: Preferences::default(),
            devices: Vec::new(),
            is_profile_complete: false,
            profile_completion_prompted: false,
            last_active_at: Some(now),
            preferred_payment_method: None,
            order_count: 0,
            vendor_id: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        user.see_device(origin, now);
        user.refresh_profile_completeness();
        user
    }

    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// Complete means reachable and deliverable: a phone and at least one address.
    pub fn refresh_profile_completeness(&mut self) {
        self.is_profile_complete = self.phone.is_some() && !self.addresses.is_empty();
    }

    /// Records a sighting of a device (user agent + IP) and says whether it was new.
    pub fn see_device(&mut self, origin: &ClientOrigin, now: DateTime<Utc>) -> DeviceSighting {
        let known = self
            .devices
            .iter_mut()
            .find(|d| d.user_agent == origin.user_agent && d.ip == origin.ip);
        if let Some(device) = known {
            device.last_seen_at = now;
            if origin.region.is_some() {
                device.region.clone_from(&origin.region);
            }
            return DeviceSighting::Known;
        }
        if self.devices.len() >= MAX_DEVICES
            && let Some(oldest) = self
                .devices
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| d.last_seen_at)
                .map(|(i, _)| i)
        {
            self.devices.remove(oldest);
        }
        self.devices.push(Device {
            user_agent: origin.user_agent.clone(),
            ip: origin.ip.clone(),
            region: origin.region.clone(),
            first_seen_at: now,
            last_seen_at: now,
        });
        DeviceSighting::New
    }

    /// Adds or replaces the address with this label, keeping exactly one default.
    pub fn put_address(&mut self, address: Address) -> Result<(), DomainError> {
        let make_default = address.is_default;
        let label = address.label.clone();
        match self.addresses.iter().position(|a| a.label == label) {
            Some(index) => self.addresses[index] = address,
            None if self.addresses.len() >= MAX_ADDRESSES => {
                return Err(DomainError::conflict(format!(
                    "At most {MAX_ADDRESSES} addresses can be saved; remove one first."
                )));
            }
            None => self.addresses.push(address),
        }
        if make_default {
            for other in &mut self.addresses {
                other.is_default = other.label == label;
            }
        }
        self.ensure_one_default(&label);
        self.refresh_profile_completeness();
        Ok(())
    }

    /// Removes the address with this label; the first remaining one becomes default if needed.
    pub fn remove_address(&mut self, label: &AddressLabel) -> Result<(), DomainError> {
        let before = self.addresses.len();
        self.addresses.retain(|a| &a.label != label);
        if self.addresses.len() == before {
            return Err(DomainError::NotFound("address"));
        }
        self.ensure_one_default(label);
        self.refresh_profile_completeness();
        Ok(())
    }

    /// With no default left, prefer any address but `avoid` (the one just un-defaulted or removed).
    fn ensure_one_default(&mut self, avoid: &AddressLabel) {
        if self.addresses.is_empty() || self.addresses.iter().any(|a| a.is_default) {
            return;
        }
        let index = self
            .addresses
            .iter()
            .position(|a| &a.label != avoid)
            .unwrap_or(0);
        self.addresses[index].is_default = true;
    }

    pub fn default_address(&self) -> Option<&Address> {
        self.addresses.iter().find(|a| a.is_default)
    }

    /// Applies an admin's change of role, vendor and status, refusing inconsistent results.
    pub fn apply_admin_change(&mut self, change: AdminUserChange) -> Result<(), DomainError> {
        let role = change.role.unwrap_or(self.role);
        let vendor_id = match change.vendor_id {
            Some(v) => v,
            None if role == Role::Vendor => self.vendor_id,
            None => None,
        };
        // Both are well-formed alone; together they contradict the account's state: 409.
        match (role, vendor_id) {
            (Role::Vendor, None) => {
                return Err(DomainError::conflict("A VENDOR account needs a vendorId."));
            }
            (other, Some(_)) if other != Role::Vendor => {
                return Err(DomainError::conflict(
                    "Only a VENDOR account can have a vendorId.",
                ));
            }
            _ => {}
        }
        self.role = role;
        self.vendor_id = vendor_id;
        if let Some(status) = change.status {
            self.status = status;
        }
        Ok(())
    }
}

/// An admin's change to another user; `vendor_id: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminUserChange {
    pub role: Option<Role>,
    pub vendor_id: Option<Option<Uuid>>,
    pub status: Option<UserStatus>,
}

impl AdminUserChange {
    pub fn is_empty(&self) -> bool {
        self.role.is_none() && self.vendor_id.is_none() && self.status.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotions_need_the_opt_in_as_well_as_a_channel() {
        use crate::notification::{Channel, MessageKind};
        let mut prefs = Preferences::default();
        assert!(!prefs.allows(MessageKind::Promotions, Channel::Email));
        assert!(prefs.allows(MessageKind::OrderUpdates, Channel::Email));
        prefs.newsletter_opt_in = true;
        assert!(prefs.allows(MessageKind::Promotions, Channel::Email));
        let change = PreferencesChange {
            newsletter_opt_in: true,
            notifications: Some([(MessageKind::Promotions, [Channel::Sms].into())].into()),
            ..PreferencesChange::default()
        };
        let prefs = change.apply(&prefs).unwrap();
        assert!(!prefs.allows(MessageKind::Promotions, Channel::Email));
        assert!(prefs.allows(MessageKind::Promotions, Channel::Sms));
        let account = PreferencesChange {
            notifications: Some([(MessageKind::Account, [].into())].into()),
            ..PreferencesChange::default()
        };
        let refused = account.apply(&prefs).unwrap_err();
        assert!(
            format!("{refused:?}").contains("notifications.ACCOUNT"),
            "{refused:?}"
        );
    }

    fn origin(ip: &str) -> ClientOrigin {
        ClientOrigin {
            ip: ip.into(),
            user_agent: "test-agent".into(),
            region: None,
        }
    }

    fn user() -> User {
        let new = NewUser {
            email: Email::parse("asha@example.com").unwrap(),
            name: PersonName::parse("Asha").unwrap(),
            phone: None,
            role: Role::Customer,
        };
        User::register(
            new,
            PasswordHash::new("$argon2id$x".into()),
            &origin("10.0.0.1"),
            Utc::now(),
        )
    }

    fn address(label: &str, is_default: bool) -> Address {
        AddressInput {
            line1: Some("12 MG Road".into()),
            city: Some("Bengaluru".into()),
            state: Some("KA".into()),
            pincode: Some("560001".into()),
            is_default,
            ..AddressInput::default()
        }
        .parse(AddressLabel::parse(label).unwrap())
        .unwrap()
    }

    fn defaults(user: &User) -> Vec<&str> {
        user.addresses
            .iter()
            .filter(|a| a.is_default)
            .map(|a| a.label.as_str())
            .collect()
    }

    #[test]
    fn registration_starts_incomplete_active_and_remembers_the_device() {
        let user = user();
        assert_eq!(user.role, Role::Customer);
        assert!(user.is_active());
        assert!(!user.is_profile_complete);
        assert_eq!(user.devices.len(), 1);
    }

    #[test]
    fn profile_is_complete_with_phone_and_an_address() {
        let mut user = user();
        user.put_address(address("home", false)).unwrap();
        assert!(!user.is_profile_complete, "no phone yet");
        user.phone = Some(Phone::parse("9876543210").unwrap());
        user.refresh_profile_completeness();
        assert!(user.is_profile_complete);
        user.remove_address(&AddressLabel::parse("home").unwrap())
            .unwrap();
        assert!(!user.is_profile_complete);
    }

    #[test]
    fn first_address_becomes_default_and_a_new_default_moves_it() {
        let mut user = user();
        user.put_address(address("home", false)).unwrap();
        assert_eq!(defaults(&user), ["home"]);
        user.put_address(address("office", true)).unwrap();
        assert_eq!(defaults(&user), ["office"]);
        user.put_address(address("gym", false)).unwrap();
        assert_eq!(defaults(&user), ["office"]);
    }

    #[test]
    fn removing_or_undefaulting_the_default_hands_it_to_another() {
        let mut user = user();
        user.put_address(address("home", true)).unwrap();
        user.put_address(address("office", false)).unwrap();
        user.put_address(address("home", false)).unwrap();
        assert_eq!(defaults(&user), ["office"]);
        user.remove_address(&AddressLabel::parse("office").unwrap())
            .unwrap();
        assert_eq!(defaults(&user), ["home"]);
        assert!(matches!(
            user.remove_address(&AddressLabel::parse("nowhere").unwrap()),
            Err(DomainError::NotFound(_))
        ));
    }

    #[test]
    fn address_input_names_every_bad_field() {
        let err = AddressInput {
            pincode: Some("12".into()),
            ..AddressInput::default()
        }
        .parse(AddressLabel::parse("home").unwrap())
        .unwrap_err();
        let DomainError::Validation(fields) = err else {
            panic!("expected validation error")
        };
        let names: Vec<_> = fields.fields().keys().map(String::as_str).collect();
        assert_eq!(names, ["city", "line1", "pincode", "state"]);
    }

    #[test]
    fn devices_are_recognised_by_agent_and_ip() {
        let mut user = user();
        assert_eq!(
            user.see_device(&origin("10.0.0.1"), Utc::now()),
            DeviceSighting::Known
        );
        assert_eq!(
            user.see_device(&origin("10.0.0.2"), Utc::now()),
            DeviceSighting::New
        );
        assert_eq!(user.devices.len(), 2);
    }

    #[test]
    fn device_list_is_bounded() {
        let mut user = user();
        for i in 0..(MAX_DEVICES + 5) {
            user.see_device(&origin(&format!("10.1.0.{i}")), Utc::now());
        }
        assert_eq!(user.devices.len(), MAX_DEVICES);
    }

    #[test]
    fn vendor_role_needs_a_vendor_id_and_others_refuse_one() {
        let mut user = user();
        let to_vendor = AdminUserChange {
            role: Some(Role::Vendor),
            ..Default::default()
        };
        assert!(matches!(
            user.apply_admin_change(to_vendor),
            Err(DomainError::Refused {
                code: crate::ErrorCode::Conflict,
                ..
            })
        ));
        let vendor_id = Uuid::new_v4();
        let ok = AdminUserChange {
            role: Some(Role::Vendor),
            vendor_id: Some(Some(vendor_id)),
            ..Default::default()
        };
        user.apply_admin_change(ok).unwrap();
        assert_eq!(user.vendor_id, Some(vendor_id));
        let to_manager = AdminUserChange {
            role: Some(Role::Manager),
            ..Default::default()
        };
        user.apply_admin_change(to_manager).unwrap();
        assert_eq!(user.vendor_id, None, "leaving VENDOR drops the vendor id");
        let bad = AdminUserChange {
            vendor_id: Some(Some(vendor_id)),
            ..Default::default()
        };
        assert!(user.apply_admin_change(bad).is_err());
    }
}
