//! The master key: it seals every tenant's signing keys, client secrets and
//! second-factor seeds at rest, each bound to a context so that a sealed value
//! opens only where it was sealed for.
//!
//! Ledger storage, identity federation and the HR webhook settings all seal
//! through this crate and nothing else; none of them needs the others to do it.

mod file;
mod shown_once;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox};

pub use file::{read_file, read_or_create_file};
pub use shown_once::ShownOnce;

const NONCE: usize = 24;

/// Why a key could not be read or a value sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key text is not a master key.
    #[error("invalid master key: {0}")]
    Format(&'static str),
    /// A sealed value did not open: another master key, another context, or damage.
    #[error("a sealed secret does not open under the configured master key")]
    Unseal,
    /// Encryption failed.
    #[error("sealing failed")]
    Seal,
    /// The key file could not be read or written.
    #[error("master key file `{path}`: {source}")]
    File {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// The key that seals every tenant's secrets at rest; zeroed when dropped,
/// never printed.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl Clone for MasterKey {
    fn clone(&self) -> Self {
        Self(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Self {
        Self(SecretBox::new(Box::new(
            XChaCha20Poly1305::generate_key(&mut OsRng).into(),
        )))
    }

    /// Reads a master key written as base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::Format("not base64"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::Format("must be 32 bytes"))?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// The key as base64, for writing to a key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.expose_secret())
    }

    /// Seals a 32-byte secret, bound to `context` (e.g. the public key text a
    /// signing seed belongs to): it opens only with the same context.
    pub fn seal(&self, seed: &[u8; 32], context: &str) -> Result<Vec<u8>, KeyError> {
        self.seal_bytes(seed, context)
    }

    /// Opens what [`MasterKey::seal`] sealed for `context`.
    pub fn unseal(&self, sealed: &[u8], context: &str) -> Result<[u8; 32], KeyError> {
        let seed = self.unseal_bytes(sealed, context)?;
        seed.try_into().map_err(|_| KeyError::Unseal)
    }

    /// Seals a secret of any length (a client secret, a TOTP seed), bound to `context`.
    pub fn seal_bytes(&self, secret: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: secret,
            aad: context.as_bytes(),
        };
        let sealed = self
            .cipher()
            .encrypt(&nonce, payload)
            .map_err(|_| KeyError::Seal)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens what [`MasterKey::seal_bytes`] sealed for `context`.
    pub fn unseal_bytes(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        if sealed.len() <= NONCE {
            return Err(KeyError::Unseal);
        }
        let (nonce, body) = sealed.split_at(NONCE);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| KeyError::Unseal)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose_secret().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() -> Result<(), KeyError> {
        let key = MasterKey::generate();
        let sealed = key.seal_bytes(b"client secret", "tenant-a/client-1")?;
        assert_eq!(
            key.unseal_bytes(&sealed, "tenant-a/client-1")?,
            b"client secret"
        );
        assert!(matches!(
            key.unseal_bytes(&sealed, "tenant-b/client-1"),
            Err(KeyError::Unseal)
        ));
        assert!(matches!(
            MasterKey::generate().unseal_bytes(&sealed, "tenant-a/client-1"),
            Err(KeyError::Unseal)
        ));
        let mut damaged = sealed.clone();
        if let Some(last) = damaged.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            key.unseal_bytes(&damaged, "tenant-a/client-1"),
            Err(KeyError::Unseal)
        ));
        assert!(matches!(
            key.unseal_bytes(&sealed[..NONCE], "tenant-a/client-1"),
            Err(KeyError::Unseal)
        ));
        Ok(())
    }

    #[test]
    fn the_key_round_trips_through_base64_and_is_never_printed() -> Result<(), KeyError> {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&format!(" {}\n", key.to_base64()))?;
        let sealed = key.seal(&[7; 32], "seed")?;
        assert_eq!(again.unseal(&sealed, "seed")?, [7; 32]);
        assert_eq!(format!("{key:?}"), "MasterKey(…)");
        assert!(matches!(
            MasterKey::from_base64("not base64!"),
            Err(KeyError::Format(_))
        ));
        assert!(matches!(
            MasterKey::from_base64("AAAA"),
            Err(KeyError::Format(_))
        ));
        Ok(())
    }
}
