//! Why an identity operation was refused, with a machine-readable code.

/// A refusal or failure; nothing was changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A configuration or request that cannot be used.
    #[error("{message}")]
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A login, second factor or token that does not prove who the caller is.
    #[error("{message}")]
    Refused {
        /// Machine-readable code, e.g. `invalid_signature`, `replayed_assertion`.
        code: &'static str,
        /// What failed, without secrets.
        message: String,
    },
    /// Too many failed second-factor attempts.
    #[error("second factor locked after too many failures; try again after {until} (Unix time)")]
    Locked {
        /// When the lock ends, Unix seconds.
        until: i64,
        /// This attempt is the one that locked it.
        just_locked: bool,
    },
    /// No such identity provider.
    #[error("no identity provider `{0}`")]
    UnknownProvider(String),
    /// The identity provider could not be reached or answered nonsense.
    #[error("identity provider: {0}")]
    Upstream(String),
    /// A sealed secret did not open under the master key.
    #[error("a sealed secret does not open under the configured master key")]
    Unseal,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl IdentityError {
    /// An unusable request or configuration.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// A refused login or credential.
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code the refusal is answered and recorded with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } | Self::Refused { code, .. } => code,
            Self::Locked { .. } => "mfa_locked",
            Self::UnknownProvider(_) => "not_found",
            Self::Upstream(_) => "idp_unavailable",
            Self::Unseal => "internal",
            Self::Store(_) => "unavailable",
        }
    }
}
