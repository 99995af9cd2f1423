//! The SCIM schemas served: core User with the enterprise extension, and Group (RFC 7643 §4, §8.7).
//!
//! One table of attribute definitions drives validation, filters, PATCH paths,
//! projection and the `/Schemas` discovery document, so what is advertised is
//! exactly what is implemented.

/// Schema URN of the core User.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Schema URN of the enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Schema URN of the core Group.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// Unicode text.
    String,
    /// `true` or `false`.
    Boolean,
    /// An `xsd:dateTime`, stored as UTC with microseconds.
    DateTime,
    /// A URI or resource id.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

impl AttrType {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Who may write an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service only.
    ReadOnly,
    /// Written by clients.
    ReadWrite,
    /// Set once, on creation or when added.
    Immutable,
    /// Accepted, never returned.
    WriteOnly,
}

impl Mutability {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, whatever `attributes` says.
    Always,
    /// Unless excluded.
    Default,
    /// Never.
    Never,
}

impl Returned {
    /// The name used in schema documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Default => "default",
            Self::Never => "never",
        }
    }
}

/// One attribute definition.
#[derive(Debug, PartialEq, Eq)]
pub struct AttrDef {
    /// Canonical name, e.g. `userName`.
    pub name: &'static str,
    /// Data type.
    pub kind: AttrType,
    /// Whether it holds a list.
    pub multi_valued: bool,
    /// Whether a resource must have it.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Whether the service keeps it unique (`server`) or not (`none`).
    pub unique: bool,
    /// Suggested values, e.g. `work`, `home`.
    pub canonical_values: &'static [&'static str],
    /// For references: what they point at.
    pub reference_types: &'static [&'static str],
    /// What it means.
    pub description: &'static str,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttrDef],
}

impl AttrDef {
    const fn new(name: &'static str, kind: AttrType, description: &'static str) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            unique: false,
            canonical_values: &[],
            reference_types: &[],
            description,
            sub_attributes: &[],
        }
    }
    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }
    const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        let mut def = Self::new(name, AttrType::Reference, description);
        def.reference_types = types;
        def.case_exact = true;
        def
    }
    const fn complex(
        name: &'static str,
        subs: &'static [AttrDef],
        description: &'static str,
    ) -> Self {
        let mut def = Self::new(name, AttrType::Complex, description);
        def.sub_attributes = subs;
        def
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    const fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }
    const fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// The sub-attribute named `name`, compared case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        find(self.sub_attributes, name)
    }

    /// The sub-attribute a filter or PATCH means when it names this complex
    /// multi-valued attribute alone: its `value`.
    pub fn default_sub(&self) -> Option<&'static AttrDef> {
        (self.kind == AttrType::Complex)
            .then(|| self.sub("value"))
            .flatten()
    }
}

fn find(attrs: &'static [AttrDef], name: &str) -> Option<&'static AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

const TYPED_VALUE: &str = "A label indicating the value's function, e.g. 'work' or 'home'.";
const PRIMARY: &str = "Whether this is the primary value of the list.";

static NAME: [AttrDef; 6] = [
    AttrDef::string("formatted", "The full name, formatted for display."),
    AttrDef::string("familyName", "The family name."),
    AttrDef::string("givenName", "The given name."),
    AttrDef::string("middleName", "The middle names."),
    AttrDef::string("honorificPrefix", "Honorific prefix, e.g. 'Dr.'."),
    AttrDef::string("honorificSuffix", "Honorific suffix, e.g. 'III'."),
];

static EMAILS: [AttrDef; 4] = [
    AttrDef::string("value", "The email address."),
    AttrDef::string("display", "A label for display."),
    AttrDef::string("type", TYPED_VALUE).canonical(&["work", "home", "other"]),
    AttrDef::boolean("primary", PRIMARY),
];

static PHONES: [AttrDef; 4] = [
    AttrDef::string("value", "The phone number."),
    AttrDef::string("display", "A label for display."),
    AttrDef::string("type", TYPED_VALUE)
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    AttrDef::boolean("primary", PRIMARY),
];

static ADDRESSES: [AttrDef; 8] = [
    AttrDef::string("formatted", "The full mailing address."),
    AttrDef::string("streetAddress", "Street address."),
    AttrDef::string("locality", "City or locality."),
    AttrDef::string("region", "State or region."),
    AttrDef::string("postalCode", "Postal code."),
    AttrDef::string("country", "Country (ISO 3166-1 alpha-2)."),
    AttrDef::string("type", TYPED_VALUE).canonical(&["work", "home", "other"]),
    AttrDef::boolean("primary", PRIMARY),
];

static USER_GROUPS: [AttrDef; 4] = [
    AttrDef::string("value", "The id of the group.").mutability(Mutability::ReadOnly),
    AttrDef::reference("$ref", &["Group"], "The URI of the group.")
        .mutability(Mutability::ReadOnly),
    AttrDef::string("display", "The group's display name.").mutability(Mutability::ReadOnly),
    AttrDef::string("type", "`direct`: membership is not inherited.")
        .canonical(&["direct"])
        .mutability(Mutability::ReadOnly),
];

/// The core User attributes served.
pub static USER_ATTRIBUTES: [AttrDef; 16] = [
    AttrDef::string("userName", "Unique identifier used to sign in; unique within the tenant, compared case-insensitively.")
        .required()
        .unique(),
    AttrDef::complex("name", &NAME, "The person's name."),
    AttrDef::string("displayName", "The name shown to people."),
    AttrDef::string("nickName", "A casual name."),
    AttrDef::reference("profileUrl", &["external"], "A URI of the person's online profile."),
    AttrDef::string("title", "Job title, e.g. 'Staff Nurse'."),
    AttrDef::string("userType", "Relationship to the organisation, e.g. 'Employee', 'Contractor'."),
    AttrDef::string("preferredLanguage", "Preferred language, e.g. 'en-GB'."),
    AttrDef::string("locale", "Locale for formatting, e.g. 'en-GB'."),
    AttrDef::string("timezone", "Time zone in IANA form, e.g. 'Europe/London'."),
    AttrDef::boolean("active", "Whether the person may act at all. false disables them at once; their history is kept."),
    AttrDef::string("password", "Accepted for compatibility and discarded unread: staff sign in through their organisation's identity provider.")
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never),
    AttrDef::complex("emails", &EMAILS, "Email addresses.").multi(),
    AttrDef::complex("phoneNumbers", &PHONES, "Phone numbers.").multi(),
    AttrDef::complex("addresses", &ADDRESSES, "Physical mailing addresses.").multi(),
    AttrDef::complex("groups", &USER_GROUPS, "Groups the person belongs to; change them through the Group resource.")
        .multi()
        .mutability(Mutability::ReadOnly),
];

static MANAGER: [AttrDef; 3] = [
    AttrDef::string("value", "The id of the manager's User."),
    AttrDef::reference("$ref", &["User"], "The URI of the manager's User."),
    AttrDef::string("displayName", "The manager's display name.").mutability(Mutability::ReadOnly),
];

/// The enterprise extension attributes served.
pub static ENTERPRISE_ATTRIBUTES: [AttrDef; 6] = [
    AttrDef::string(
        "employeeNumber",
        "The employee number assigned by the organisation.",
    ),
    AttrDef::string("costCenter", "Cost centre."),
    AttrDef::string("organization", "Organisation name."),
    AttrDef::string("division", "Division."),
    AttrDef::string(
        "department",
        "Department; it becomes the staff member's department in policies, lowercased with other characters turned into `_` ('Intensive Care' is `intensive_care`).",
    ),
    AttrDef::complex("manager", &MANAGER, "The person's manager."),
];

static MEMBERS: [AttrDef; 4] = [
    AttrDef::string("value", "The id of the member User.")
        .case_exact()
        .mutability(Mutability::Immutable),
    AttrDef::reference("$ref", &["User"], "The URI of the member.")
        .mutability(Mutability::Immutable),
    AttrDef::string("display", "The member's display name.").mutability(Mutability::ReadOnly),
    AttrDef::string("type", "The kind of member; only `User` is served.")
        .canonical(&["User"])
        .mutability(Mutability::Immutable),
];

/// The Group attributes served.
pub static GROUP_ATTRIBUTES: [AttrDef; 2] = [
    AttrDef::string(
        "displayName",
        "The group's name, unique within the tenant; HMS roles are mapped to it.",
    )
    .required()
    .unique(),
    AttrDef::complex("members", &MEMBERS, "The members of the group: Users only.").multi(),
];

static META: [AttrDef; 5] = [
    AttrDef::string("resourceType", "`User` or `Group`.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
    AttrDef::new(
        "created",
        AttrType::DateTime,
        "When the resource was created.",
    )
    .mutability(Mutability::ReadOnly),
    AttrDef::new(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed.",
    )
    .mutability(Mutability::ReadOnly),
    AttrDef::reference("location", &["uri"], "The URI of the resource.")
        .mutability(Mutability::ReadOnly),
    AttrDef::string("version", "The resource's entity tag.")
        .case_exact()
        .mutability(Mutability::ReadOnly),
];

/// Attributes every resource has (RFC 7643 §3.1): `id`, `externalId`, `meta`.
pub static COMMON_ATTRIBUTES: [AttrDef; 3] = [
    AttrDef::string("id", "The service's identifier of the resource.")
        .case_exact()
        .unique()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always),
    AttrDef::string("externalId", "The client's identifier of the resource.").case_exact(),
    AttrDef::complex("meta", &META, "Resource metadata.").mutability(Mutability::ReadOnly),
];

/// A resource type served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// A staff member.
    User,
    /// A group of staff members.
    Group,
}

/// Where an attribute lives in a resource document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// At the top level (core schema or common attribute).
    Core,
    /// Under the enterprise extension's URN key.
    Enterprise,
}

impl ResourceType {
    /// The name used in paths, `meta.resourceType` and `/ResourceTypes`.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// The endpoint, e.g. `/Users`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }

    /// The core schema URN.
    pub fn schema(self) -> &'static str {
        match self {
            Self::User => USER_SCHEMA,
            Self::Group => GROUP_SCHEMA,
        }
    }

    /// The core schema's attributes.
    pub fn attributes(self) -> &'static [AttrDef] {
        match self {
            Self::User => &USER_ATTRIBUTES,
            Self::Group => &GROUP_ATTRIBUTES,
        }
    }

    /// The extension schemas this type accepts.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::User => &[ENTERPRISE_SCHEMA],
            Self::Group => &[],
        }
    }

    /// Looks up a top-level attribute by name, optionally qualified by a schema
    /// URN (compared case-insensitively, as RFC 7643 §2.1 asks).
    pub fn attribute(self, urn: Option<&str>, name: &str) -> Option<(Namespace, &'static AttrDef)> {
        match urn {
            Some(urn) if urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) && self == Self::User => {
                find(&ENTERPRISE_ATTRIBUTES, name).map(|a| (Namespace::Enterprise, a))
            }
            Some(urn) if urn.eq_ignore_ascii_case(self.schema()) => self.core_attribute(name),
            Some(_) => None,
            None => self.core_attribute(name),
        }
    }

    fn core_attribute(self, name: &str) -> Option<(Namespace, &'static AttrDef)> {
        find(self.attributes(), name)
            .or_else(|| find(&COMMON_ATTRIBUTES, name))
            .map(|a| (Namespace::Core, a))
    }
}
