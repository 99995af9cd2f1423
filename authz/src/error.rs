//! Why a request cannot be evaluated at all (as opposed to being denied).

/// A request the PDP cannot evaluate; the caller must fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The entity type is not declared by the tenant's schema.
    #[error("unknown entity type `{0}`")]
    UnknownEntityType(String),
    /// The action is not declared by the tenant's schema.
    #[error("{0}")]
    UnknownAction(String),
    /// An entity built from request properties does not conform to the schema.
    #[error("invalid entity `{uid}`: {message}")]
    InvalidEntity {
        /// The entity concerned.
        uid: String,
        /// What is wrong.
        message: String,
    },
    /// The context does not conform to the schema for this action.
    #[error("invalid context: {0}")]
    InvalidContext(String),
    /// The principal, action and resource do not go together in the schema.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A malformed identifier or name.
    #[error("{0}")]
    Malformed(String),
}
