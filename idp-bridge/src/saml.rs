//! The SAML 2.0 service provider: SP metadata, SP-initiated HTTP-Redirect
//! AuthnRequests and HTTP-POST responses checked with xmlsec through samael.
//!
//! samael verifies the signature and keeps only the signed element (so a
//! wrapped, unsigned copy is never read), then checks destination, recipient,
//! `InResponseTo`, issuer and validity times with bounded skew. On top of it:
//! an IdP without a signing certificate is refused (samael would skip the
//! signature check), the assertion must name us as its audience, SHA-1 is
//! refused unless the tenant opted in, and the caller keeps a replay cache of
//! assertion ids ([`crate::login::remember_assertion`]).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{Error as SamlError, ServiceProvider};
use samael::traits::ToXml;

use crate::error::IdentityError;
use crate::mapping::VerifiedIdentity;
use crate::providers::SamlConfig;
use crate::store::now;

/// Clock skew tolerated on `NotBefore` / `NotOnOrAfter`.
const MAX_CLOCK_SKEW_SECONDS: i64 = 60;
/// How long a response may take from issue to arrival.
const MAX_ISSUE_DELAY_SECONDS: i64 = 120;

const SHA1_ALGORITHMS: [&str; 2] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
];

/// Where this SP is reached, per tenant and provider.
#[derive(Debug, Clone)]
pub struct SpEndpoints {
    /// The SP's entity id (its metadata URL).
    pub entity_id: String,
    /// The assertion consumer service (HTTP-POST binding).
    pub acs_url: String,
}

/// A verified assertion: who, and what must be remembered against replay.
#[derive(Debug)]
pub struct VerifiedAssertion {
    /// The login.
    pub identity: VerifiedIdentity,
    /// The assertion's `ID`.
    pub assertion_id: String,
    /// Until when the assertion could be presented (Unix seconds).
    pub valid_until: i64,
}

/// One tenant's SP towards one IdP.
pub struct SamlServiceProvider {
    provider_id: String,
    sp: ServiceProvider,
    sso_url: String,
    allow_sha1: bool,
}

impl SamlServiceProvider {
    /// Builds the SP from the IdP's metadata; refuses metadata without a
    /// signing certificate or a single sign-on endpoint for HTTP-Redirect.
    pub fn new(
        provider_id: &str,
        config: &SamlConfig,
        endpoints: &SpEndpoints,
    ) -> Result<Self, IdentityError> {
        let xml = config.metadata_xml.as_deref().ok_or_else(|| {
            IdentityError::invalid("invalid_metadata", "give `metadata_xml` or `metadata_url`")
        })?;
        let metadata: EntityDescriptor = xml.parse().map_err(|e| {
            IdentityError::invalid("invalid_metadata", format!("IdP metadata unreadable: {e}"))
        })?;
        let allowed = (!config.allow_sha1).then(|| {
            vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ]
        });
        let sp = ServiceProvider {
            entity_id: Some(endpoints.entity_id.clone()),
            metadata_url: Some(endpoints.entity_id.clone()),
            acs_url: Some(endpoints.acs_url.clone()),
            slo_url: None,
            idp_metadata: metadata,
            allow_idp_initiated: config.allow_idp_initiated,
            max_clock_skew: chrono::Duration::seconds(MAX_CLOCK_SKEW_SECONDS),
            max_issue_delay: chrono::Duration::seconds(MAX_ISSUE_DELAY_SECONDS),
            allowed_signature_algorithms: allowed,
            ..ServiceProvider::default()
        };
        require_signing_certificate(&sp)?;
        let sso_url = sp
            .sso_binding_location(HTTP_REDIRECT_BINDING)
            .ok_or_else(|| {
                IdentityError::invalid(
                    "invalid_metadata",
                    "the IdP metadata has no SingleSignOnService for the HTTP-Redirect binding",
                )
            })?;
        Ok(Self {
            provider_id: provider_id.to_owned(),
            sp,
            sso_url,
            allow_sha1: config.allow_sha1,
        })
    }

    /// The SP metadata document: the ACS for the HTTP-POST binding, signed
    /// assertions wanted. No single logout endpoint is advertised, since none is served.
    pub fn metadata(&self) -> Result<String, IdentityError> {
        let failed = |e: String| IdentityError::invalid("metadata_unavailable", e);
        let mut sp = self.sp.clone();
        // samael insists on a logout URL, which is removed again below.
        sp.slo_url = sp.acs_url.clone();
        let mut descriptor = sp.metadata().map_err(|e| failed(e.to_string()))?;
        for sso in descriptor.sp_sso_descriptors.iter_mut().flatten() {
            sso.single_logout_services = None;
        }
        descriptor.to_string().map_err(|e| failed(e.to_string()))
    }

    /// An SP-initiated login: the IdP URL carrying the deflated AuthnRequest
    /// and `relay_state`, and the request id the response must answer.
    pub fn start(&self, relay_state: &str) -> Result<(url::Url, String), IdentityError> {
        let failed = |e: Box<dyn std::error::Error>| {
            IdentityError::invalid("authn_request_failed", e.to_string())
        };
        let request = self
            .sp
            .make_authentication_request(&self.sso_url)
            .map_err(failed)?;
        let url = request
            .redirect(relay_state)
            .map_err(failed)?
            .ok_or_else(|| {
                IdentityError::invalid("authn_request_failed", "no redirect URL for the request")
            })?;
        Ok((url, request.id))
    }

    /// Verifies a base64 `SAMLResponse` answering one of `request_ids` (none
    /// for an IdP-initiated response, when allowed).
    pub fn finish(
        &self,
        saml_response: &str,
        request_ids: &[&str],
    ) -> Result<VerifiedAssertion, IdentityError> {
        require_signing_certificate(&self.sp)?;
        let bytes = STANDARD.decode(saml_response.trim()).map_err(|_| {
            IdentityError::refused("malformed_response", "SAMLResponse is not base64")
        })?;
        let xml = std::str::from_utf8(&bytes).map_err(|_| {
            IdentityError::refused("malformed_response", "SAMLResponse is not UTF-8 XML")
        })?;
        if !self.allow_sha1 && SHA1_ALGORITHMS.iter().any(|a| xml.contains(a)) {
            return Err(IdentityError::refused(
                "weak_algorithm",
                "SHA-1 signatures or digests are not accepted for this IdP",
            ));
        }
        let ids = (!request_ids.is_empty()).then_some(request_ids);
        let assertion = self
            .sp
            .parse_xml_response(xml, ids)
            .map_err(response_refusal)?;
        self.require_audience(&assertion)?;
        self.verified(assertion)
    }

    /// samael checks the audience only when one is given; a hospital's SP requires it.
    fn require_audience(&self, assertion: &Assertion) -> Result<(), IdentityError> {
        let ours = self.sp.entity_id.as_deref().unwrap_or_default();
        let named = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.audience_restrictions.as_ref())
            .into_iter()
            .flatten()
            .any(|r| r.audience.iter().any(|a| a == ours));
        if named {
            Ok(())
        } else {
            Err(IdentityError::refused(
                "wrong_audience",
                "the assertion is not restricted to this service provider",
            ))
        }
    }

    fn verified(&self, assertion: Assertion) -> Result<VerifiedAssertion, IdentityError> {
        let subject = assertion
            .subject
            .as_ref()
            .and_then(|s| s.name_id.as_ref())
            .map(|n| n.value.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                IdentityError::refused("no_subject", "the assertion names no subject")
            })?;
        let mut claims: BTreeMap<String, Vec<String>> = BTreeMap::new();
        claims.insert("NameID".into(), vec![subject.clone()]);
        for attribute in assertion
            .attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| &s.attributes)
        {
            let Some(name) = attribute.name.clone() else {
                continue;
            };
            let values = attribute.values.iter().filter_map(|v| v.value.clone());
            claims.entry(name).or_default().extend(values);
        }
        Ok(VerifiedAssertion {
            valid_until: valid_until(&assertion),
            assertion_id: assertion.id,
            identity: VerifiedIdentity {
                provider_id: self.provider_id.clone(),
                protocol: "saml",
                subject,
                claims,
            },
        })
    }
}

/// Refuses an IdP whose metadata carries no signing certificate: samael
/// would otherwise accept its responses without checking any signature.
fn require_signing_certificate(sp: &ServiceProvider) -> Result<(), IdentityError> {
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => Ok(()),
        _ => Err(IdentityError::invalid(
            "no_signing_certificate",
            "the IdP metadata has no usable signing certificate; its responses could not be verified",
        )),
    }
}

/// The latest time the assertion could be presented, plus skew.
fn valid_until(assertion: &Assertion) -> i64 {
    let conditions = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after);
    let confirmations = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref()?.not_on_or_after);
    let latest = conditions.into_iter().chain(confirmations).max();
    let fallback = now() + MAX_ISSUE_DELAY_SECONDS;
    latest.map_or(fallback, |t| t.timestamp()) + MAX_CLOCK_SKEW_SECONDS
}

/// The refusal for a response samael rejected, with a code per cause.
fn response_refusal(error: SamlError) -> IdentityError {
    let code = match &error {
        SamlError::FailedToValidateSignature | SamlError::CryptoXmlError(_) => "invalid_signature",
        SamlError::DestinationValidationError { .. } => "wrong_destination",
        SamlError::AssertionRecipientMismatch { .. } => "wrong_recipient",
        SamlError::AssertionConditionAudienceRestrictionFailed { .. } => "wrong_audience",
        SamlError::AssertionInResponseToInvalid { .. }
        | SamlError::ResponseInResponseToInvalid { .. } => "unknown_in_response_to",
        SamlError::AssertionExpired { .. }
        | SamlError::ResponseExpired { .. }
        | SamlError::AssertionConditionExpired { .. }
        | SamlError::AssertionSubjectConfirmationExpired { .. } => "assertion_expired",
        SamlError::AssertionConditionExpiredBefore { .. }
        | SamlError::AssertionSubjectConfirmationExpiredBefore { .. } => "assertion_not_yet_valid",
        SamlError::AssertionIssuerMismatch { .. } | SamlError::ResponseIssuerMismatch { .. } => {
            "wrong_issuer"
        }
        SamlError::ResponseBadStatusCode { .. } => "idp_refused",
        _ => "invalid_response",
    };
    IdentityError::refused(code, format!("SAML response rejected: {error}"))
}
