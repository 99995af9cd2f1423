//! The credential and governance core of HMS-ACH: the tenant catalog and, per
//! tenant, staff with roles and professional credentials, patients with care
//! teams and encounters, API clients, policy versions and access reviews.
//!
//! Each tenant has a database of its own: a SQLite file by default, a
//! PostgreSQL database in production. The same SQL runs on both through
//! `sqlx::Any`; migrations are embedded (one set for both). A tenant database
//! is migrated once, with every crate's migrations, by [`migrate_tenant`].

mod backend;
mod catalog;
pub mod changes;
mod clients;
mod clock;
pub mod entities;
mod error;
mod holds;
mod ids;
mod patients;
mod policy_versions;
pub mod precondition;
mod recording;
mod reviews;
mod schema;
mod sources;
mod staff;
mod store;

pub use backend::{Backend, CONNECTIONS_PER_DATABASE};
pub use catalog::{Catalog, TenantRecord, Wakeup};
pub use changes::{Change, FeedEntry};
pub use clients::ApiClient;
pub use clock::{normalise_instant, now_rfc3339};
pub use entities::{EntityWrite, EntityWritten, StoredEntityRow};
pub use error::StoreError;
pub use holds::{Hold, place_holds};
pub use ids::TenantId;
pub use ids::check_record_id;
pub use patients::{Encounter, Patient};
pub use policy_versions::PolicyVersion;
pub use precondition::Precondition;
pub use recording::{DecisionRecording, RecordingSettings};
pub use reviews::{
    ApplyMode, Campaign, CampaignScope, CampaignStatus, Entitlement, EntitlementKind, Outcome,
    OverdueRule, ReviewItem, ReviewSettings, ScopePreset, progress_by_reviewer,
};
pub use schema::{MigrationSet, migrate_catalog, migrate_tenant};
pub use sources::ChangeSource;
pub use staff::{
    Credential, CredentialStatus, Shift, StaffChange, StaffMember, StaffRecord, roles_granting,
    valid_role,
};
pub use store::TenantStore;
