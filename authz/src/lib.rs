//! The HMS-ACH policy decision point: Cedar policy bundles, entity snapshots,
//! single and batch evaluation, searches and explanations.
//!
//! Pure: no HTTP and no SQL. A tenant's [`Pdp`] is an immutable pair of a
//! compiled [`PolicyBundle`] and an [`EntitySnapshot`]; a change builds a new
//! pair and the caller swaps it in atomically, so a decision never reads a
//! database and never sees a half-applied change.

mod bundle;
pub mod cases;
mod declared;
mod entities;
mod error;
mod index;
pub mod limits;
mod location;
mod pdp;
mod request;
mod search;
mod shapes;
mod values;

/// Hash maps keyed by entity uids and names: a fast seeded hasher. Their keys come
/// from the directory and the schema, or number a handful per request.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// The set counterpart of [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

pub use bundle::{
    BundleError, BundleOptions, BundleProblem, BundleSource, PolicyBundle, PolicyFile,
};
pub use entities::{EntityError, EntityRecord, EntityRef, EntitySnapshot};
pub use error::RequestError;
pub use location::SourceLocation;
pub use pdp::{Decision, Pdp, RequestTime};
pub use request::{AccessRequest, Action, EvaluationsSemantic, PartialRequest, Resource, Subject};
pub use search::{ActionSearch, EntitySearch, Page, SearchEntity, SearchPage};
