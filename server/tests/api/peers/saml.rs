//! A SAML 2.0 identity provider for tests: its own RSA key and X.509
//! certificate, metadata, and responses signed with xmlsec (enveloped,
//! exclusive c14n, RSA-SHA256), built to order, including the broken ones a
//! service provider must refuse.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use samael::crypto::{Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};

pub const ENTITY_ID: &str = "https://idp.example.org/saml";
pub const SSO_URL: &str = "https://idp.example.org/sso";

const SHA256_DIGEST: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

struct Signer {
    key_der: Vec<u8>,
    cert_der: Vec<u8>,
}

impl Signer {
    fn generate(name: &str) -> Self {
        let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).unwrap();
        let params = CertificateParams {
            common_name: name,
            issuer_name: name,
            days_until_expiration: 30,
        };
        let cert = idp.create_certificate(&params).unwrap();
        Self {
            key_der: idp.export_private_key_der().unwrap(),
            cert_der: cert.der_data().to_vec(),
        }
    }
}

/// How the response is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Honest,
    Unsigned,
    /// Signed by a key the SP does not trust.
    ForeignKey,
    /// Honest, with a SHA-1 digest.
    Sha1Digest,
    /// Only the assertion is signed, as some IdPs do.
    AssertionOnly,
}

/// One response, described.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub name_id: String,
    pub in_response_to: Option<String>,
    pub destination: String,
    pub recipient: String,
    /// Empty: no audience restriction at all.
    pub audience: String,
    pub not_before: DateTime<Utc>,
    pub not_on_or_after: DateTime<Utc>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub signing: Signing,
}

impl ResponseSpec {
    /// A response an honest IdP sends for `name_id` to the SP at `acs`/`entity`.
    pub fn honest(name_id: &str, in_response_to: Option<&str>, acs: &str, entity: &str) -> Self {
        let now = Utc::now();
        Self {
            name_id: name_id.into(),
            in_response_to: in_response_to.map(str::to_owned),
            destination: acs.into(),
            recipient: acs.into(),
            audience: entity.into(),
            not_before: now - Duration::seconds(5),
            not_on_or_after: now + Duration::minutes(5),
            attributes: Vec::new(),
            signing: Signing::Honest,
        }
    }
}

pub struct SamlIdp {
    trusted: Signer,
    foreign: Signer,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl SamlIdp {
    pub fn new() -> Self {
        Self {
            trusted: Signer::generate("test-idp"),
            foreign: Signer::generate("attacker"),
        }
    }

    /// The IdP's metadata, with its signing certificate unless told otherwise.
    pub fn metadata(&self, with_certificate: bool) -> String {
        let key = if with_certificate {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                STANDARD.encode(&self.trusted.cert_der)
            )
        } else {
            String::new()
        };
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    /// The signed response XML (not yet base64).
    pub fn response_xml(&self, spec: &ResponseSpec) -> String {
        let response_id = format!("_r{}", uuid::Uuid::new_v4().simple());
        let now = time(Utc::now());
        let in_response_to = spec
            .in_response_to
            .as_ref()
            .map(|id| format!(r#" InResponseTo="{id}""#))
            .unwrap_or_default();
        let (signer, digest) = match spec.signing {
            Signing::ForeignKey => (&self.foreign, SHA256_DIGEST),
            Signing::Sha1Digest => (&self.trusted, SHA1_DIGEST),
            _ => (&self.trusted, SHA256_DIGEST),
        };
        let assertion_id = format!("_a{}", uuid::Uuid::new_v4().simple());
        let (response_signature, assertion_signature) = match spec.signing {
            Signing::Unsigned => (String::new(), String::new()),
            Signing::AssertionOnly => (
                String::new(),
                signature_template(&assertion_id, digest, &signer.cert_der),
            ),
            _ => (
                signature_template(&response_id, digest, &signer.cert_der),
                String::new(),
            ),
        };
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{response_id}" Version="2.0" IssueInstant="{now}" Destination="{}"{in_response_to}><saml:Issuer>{ENTITY_ID}</saml:Issuer>{response_signature}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{}</samlp:Response>"#,
            spec.destination,
            assertion(
                spec,
                &assertion_id,
                &assertion_signature,
                &in_response_to,
                &now
            ),
        );
        if spec.signing == Signing::Unsigned {
            return xml;
        }
        Crypto::sign_xml(xml.as_bytes(), &signer.key_der).unwrap()
    }

    /// The response as the HTTP-POST binding carries it.
    pub fn response(&self, spec: &ResponseSpec) -> String {
        STANDARD.encode(self.response_xml(spec))
    }
}

fn assertion(
    spec: &ResponseSpec,
    assertion_id: &str,
    signature: &str,
    in_response_to: &str,
    now: &str,
) -> String {
    let attributes: String = spec
        .attributes
        .iter()
        .map(|(name, values)| {
            let values: String = values
                .iter()
                .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
                .collect();
            format!(r#"<saml:Attribute Name="{name}">{values}</saml:Attribute>"#)
        })
        .collect();
    let audience = if spec.audience.is_empty() {
        String::new()
    } else {
        format!(
            "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
            spec.audience
        )
    };
    format!(
        r#"<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{ENTITY_ID}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{}" Recipient="{}"{in_response_to}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{}" NotOnOrAfter="{}">{audience}</saml:Conditions><saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#,
        spec.name_id,
        time(spec.not_on_or_after),
        spec.recipient,
        time(spec.not_before),
        time(spec.not_on_or_after),
    )
}

fn signature_template(reference: &str, digest: &str, cert_der: &[u8]) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{reference}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
        STANDARD.encode(cert_der)
    )
}
