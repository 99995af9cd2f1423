//! Which signing keys a verifier trusts: the keys it is given, and each key
//! that an already trusted key endorsed when the ledger rotated to it.
//!
//! When the service rotates its signing key, the outgoing key signs an
//! endorsement of the incoming one: a C2SP signed note whose text is
//!
//! ```text
//! hms-ach/key-endorsement/v1
//! <vkey of the new key>
//! ```
//!
//! signed under the ledger origin. An auditor who pinned the tenant's first
//! key thereby trusts every later key, and a key someone merely wrote into
//! the key table, endorsed by nobody, is trusted by no one.

use crate::checkpoint::{self, CheckpointError, LedgerKey, VerifierKey};

/// The first line of an endorsement note.
pub const ENDORSEMENT_HEADER: &str = "hms-ach/key-endorsement/v1";

/// The endorsement note by which `current` vouches for `next`.
pub fn endorse(current: &LedgerKey, next: &VerifierKey) -> String {
    current.sign_text(&format!("{ENDORSEMENT_HEADER}\n{next}\n"))
}

/// The key an endorsement note vouches for, if one of `trusted` signed it.
pub fn endorsed_key(note: &str, trusted: &[VerifierKey]) -> Result<VerifierKey, CheckpointError> {
    let malformed = CheckpointError::MalformedNote("not a key endorsement");
    let (text, _) = checkpoint::open_text(note, trusted)?;
    let vkey = text
        .strip_prefix(ENDORSEMENT_HEADER)
        .and_then(|rest| rest.strip_prefix('\n'))
        .and_then(|rest| rest.strip_suffix('\n'))
        .filter(|vkey| !vkey.contains('\n'))
        .ok_or(malformed)?;
    VerifierKey::parse(vkey)
}

/// A key as a ledger publishes it: its vkey text and, for every key but the
/// first, the endorsement note by the key before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedVkey {
    /// The C2SP vkey text.
    pub vkey: String,
    /// The endorsement note, if the key has one.
    pub endorsement: Option<String>,
}

/// The keys to trust and what was wrong with the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keyring {
    /// The given keys and every published key endorsed, through a chain of
    /// endorsements, by one of them.
    pub trusted: Vec<VerifierKey>,
    /// For each published key left untrusted: its vkey text and why.
    pub untrusted: Vec<(String, String)>,
}

/// Starts from `given` and adds each published key endorsed by a key
/// already trusted, until no more can be added; the published keys left are
/// listed as untrusted.
pub fn resolve(given: Vec<VerifierKey>, published: &[PublishedVkey]) -> Keyring {
    let mut trusted = given;
    let mut left: Vec<&PublishedVkey> = published
        .iter()
        .filter(|key| !trusted.iter().any(|t| t.to_string() == key.vkey))
        .collect();
    loop {
        let before = left.len();
        left.retain(|key| match endorsed_by(key, &trusted) {
            Some(endorsed) => {
                trusted.push(endorsed);
                false
            }
            None => true,
        });
        if left.len() == before {
            break;
        }
    }
    let untrusted = left
        .into_iter()
        .map(|key| (key.vkey.clone(), why_untrusted(key, &trusted)))
        .collect();
    Keyring { trusted, untrusted }
}

/// The key `published` names, if its endorsement opens under `trusted` and
/// vouches for exactly that key.
fn endorsed_by(published: &PublishedVkey, trusted: &[VerifierKey]) -> Option<VerifierKey> {
    let note = published.endorsement.as_deref()?;
    endorsed_key(note, trusted)
        .ok()
        .filter(|key| key.to_string() == published.vkey)
}

fn why_untrusted(published: &PublishedVkey, trusted: &[VerifierKey]) -> String {
    let Some(note) = published.endorsement.as_deref() else {
        return "it is neither given nor endorsed by a trusted key".into();
    };
    match endorsed_key(note, trusted) {
        Ok(other) => format!("its endorsement vouches for another key ({other})"),
        Err(error) => format!("its endorsement does not verify: {error}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const ORIGIN: &str = "hms-ach/keyring-test";

    fn key(seed: u8) -> LedgerKey {
        LedgerKey::from_seed(ORIGIN, [seed; 32])
    }

    fn published(key: &LedgerKey, endorsed_by: Option<&LedgerKey>) -> PublishedVkey {
        PublishedVkey {
            vkey: key.verifier().to_string(),
            endorsement: endorsed_by.map(|before| endorse(before, &key.verifier())),
        }
    }

    #[test]
    fn a_chain_of_rotations_is_trusted_from_the_first_key() {
        let (first, second, third) = (key(1), key(2), key(3));
        // Listed out of order: the chain is followed whatever the order.
        let keys = [
            published(&third, Some(&second)),
            published(&first, None),
            published(&second, Some(&first)),
        ];
        let ring = resolve(vec![first.verifier()], &keys);
        assert!(ring.untrusted.is_empty(), "{:?}", ring.untrusted);
        assert_eq!(
            ring.trusted,
            [first.verifier(), second.verifier(), third.verifier()]
        );
    }

    #[test]
    fn a_key_nobody_endorsed_is_not_trusted() {
        let (first, attacker) = (key(1), key(9));
        let keys = [published(&first, None), published(&attacker, None)];
        let ring = resolve(vec![first.verifier()], &keys);
        assert_eq!(ring.trusted, [first.verifier()]);
        assert_eq!(ring.untrusted.len(), 1);
        assert_eq!(ring.untrusted[0].0, attacker.verifier().to_string());
        assert!(ring.untrusted[0].1.contains("neither given nor endorsed"));
    }

    #[test]
    fn an_endorsement_by_an_untrusted_key_or_for_another_key_counts_for_nothing() {
        let (first, attacker, other) = (key(1), key(9), key(8));
        let self_endorsed = published(&attacker, Some(&attacker));
        let mut swapped = published(&other, Some(&first));
        swapped.vkey = attacker.verifier().to_string();
        let ring = resolve(vec![first.verifier()], &[self_endorsed, swapped]);
        assert_eq!(ring.trusted, [first.verifier()]);
        let reasons: Vec<&str> = ring.untrusted.iter().map(|(_, why)| why.as_str()).collect();
        assert!(reasons[0].contains("does not verify"), "{reasons:?}");
        assert!(
            reasons[1].contains("vouches for another key"),
            "{reasons:?}"
        );
    }

    #[test]
    fn an_endorsement_note_has_its_documented_form() {
        let note = endorse(&key(1), &key(2).verifier());
        let text = format!("{ENDORSEMENT_HEADER}\n{}\n\n", key(2).verifier());
        assert!(note.starts_with(&text), "{note}");
        assert_eq!(
            endorsed_key(&note, &[key(1).verifier()]).unwrap(),
            key(2).verifier()
        );
        assert!(endorsed_key(&key(1).sign_text("other\n"), &[key(1).verifier()]).is_err());
    }
}
