//! The signer's certificate: the chain checked to the configured STI-CA trust list (rustls-webpki,
//! the path builder rustls itself trusts), the SHAKEN extensions read with an X.509 crate
//! (`x509-cert`: the TNAuthList of RFC 8226, key usage, policies, CRL distribution points), and
//! the ES256 key kept for verifying PASSporTs. Done once per certificate, not per call.

use std::time::Duration;

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use x509_cert::der::asn1::{Ia5StringRef, ObjectIdentifier};
use x509_cert::der::{Any, Decode, Tag, Tagged};
use x509_cert::ext::pkix::{
    BasicConstraints, CertificatePolicies, CrlDistributionPoints, KeyUsage, KeyUsages,
};
use x509_cert::Certificate;

use super::{Failure, FailureKind};

/// RFC 8226's TNAuthList extension.
pub const OID_TN_AUTH_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.26");
/// The SHAKEN certificate policy (ATIS-1000080).
pub const OID_SHAKEN_POLICY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.114569.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_CERT_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
const OID_CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");

/// Largest certificate bundle taken (the fetcher's cap too).
pub const CERT_BYTES_MAX: usize = 64 * 1024;

/// A certificate-profile deviation: reported beside the verdict, never a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// A stable name: `key_usage_missing`, `key_usage_not_critical`, `no_shaken_policy`,
    /// `no_crl_distribution_point`, `subject_cn_not_shaken`, `tn_auth_list_without_spc`,
    /// `tn_auth_list_critical`, `basic_constraints_missing`.
    pub code: String,
    pub detail: String,
}

pub(super) fn finding(code: &str, detail: &str) -> Finding {
    Finding {
        code: code.into(),
        detail: detail.into(),
    }
}

/// The STI-CA certificates calls may chain to (the STI-PA's list, given to authorised providers),
/// and the certificate revocation lists checked along the chain.
pub struct TrustList {
    anchors: Vec<TrustAnchor<'static>>,
    crls: Vec<webpki::CertRevocationList<'static>>,
}

impl TrustList {
    /// Every `CERTIFICATE` in a PEM file; an empty or unreadable list is an error (a verifier
    /// that trusts no one would fail every call).
    pub fn from_pem(pem: &[u8]) -> Result<TrustList, String> {
        let mut anchors = Vec::new();
        for (i, c) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = c.map_err(|e| format!("certificate {}: not PEM: {e}", i + 1))?;
            let a = webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| format!("certificate {}: not a usable trust anchor: {e}", i + 1))?;
            anchors.push(a.to_owned());
        }
        if anchors.is_empty() {
            return Err("no CERTIFICATE in the trust list".into());
        }
        Ok(TrustList {
            anchors,
            crls: Vec::new(),
        })
    }

    /// Add the CRLs in a file (PEM `X509 CRL` blocks, or one DER CRL): a certificate of the
    /// chain listed in one of them fails as revoked. An unreadable or empty file is an error.
    pub fn with_crls(mut self, bytes: &[u8]) -> Result<TrustList, String> {
        let ders: Vec<CertificateRevocationListDer<'static>> = if bytes.first() == Some(&0x30) {
            vec![CertificateRevocationListDer::from(bytes.to_vec())]
        } else {
            CertificateRevocationListDer::pem_slice_iter(bytes)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("not PEM: {e}"))?
        };
        if ders.is_empty() {
            return Err("no X509 CRL in the file".into());
        }
        for (i, d) in ders.iter().enumerate() {
            let crl = webpki::OwnedCertRevocationList::from_der(d)
                .map_err(|e| format!("CRL {}: {e}", i + 1))?;
            self.crls.push(crl.into());
        }
        Ok(self)
    }

    /// CRLs loaded.
    pub fn crls(&self) -> usize {
        self.crls.len()
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// A signing certificate whose chain reached the trust list: what a PASSporT is verified with.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The P-256 public key, an uncompressed point.
    point: Vec<u8>,
    /// The Service Provider Code from the TNAuthList.
    pub spc: Option<String>,
    pub subject: String,
    pub issuer: String,
    /// The window every certificate of the chain is valid in (seconds since the epoch).
    pub not_before_s: i64,
    pub not_after_s: i64,
    pub findings: Vec<Finding>,
}

/// The EKU check: SHAKEN certificates carry none; one that does is not refused for it.
struct AnyEku;

impl webpki::ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, _: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// The certificates of a bundle: PEM (the signing certificate first, then intermediates, as
/// ATIS-1000080 has `x5u` serve them) or one DER certificate.
pub fn split_bundle(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let invalid = |d: String| Failure::new(FailureKind::CertInvalid, d);
    if bytes.len() > CERT_BYTES_MAX {
        return Err(invalid(format!("larger than {CERT_BYTES_MAX} bytes")));
    }
    if bytes.first() == Some(&0x30) {
        return Ok(vec![CertificateDer::from(bytes.to_vec())]);
    }
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE in it".into()));
    }
    Ok(certs)
}

fn unix_s(t: &x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

impl Signer {
    /// Check a fetched bundle at `now_s` against the trust list and read the signer from it.
    pub fn from_bundle(bytes: &[u8], trust: &TrustList, now_s: i64) -> Result<Signer, Failure> {
        let certs = split_bundle(bytes)?;
        let invalid = |d: String| Failure::new(FailureKind::CertInvalid, d);
        let ee = webpki::EndEntityCert::try_from(&certs[0])
            .map_err(|e| invalid(format!("not an X.509 v3 certificate: {e}")))?;
        let algs = [
            webpki::ring::ECDSA_P256_SHA256,
            webpki::ring::ECDSA_P256_SHA384,
            webpki::ring::ECDSA_P384_SHA256,
            webpki::ring::ECDSA_P384_SHA384,
        ];
        let at = UnixTime::since_unix_epoch(Duration::from_secs(now_s.max(0).unsigned_abs()));
        let crls: Vec<&webpki::CertRevocationList<'static>> = trust.crls.iter().collect();
        // Every certificate of the chain a CRL speaks for; one no CRL covers is not refused
        // (the STI-CAs publish CRLs for what they issue), and an expired CRL still counts.
        let revocation = webpki::RevocationOptionsBuilder::new(&crls).ok().map(|b| {
            b.with_depth(webpki::RevocationCheckDepth::Chain)
                .with_status_policy(webpki::UnknownStatusPolicy::Allow)
                .with_expiration_policy(webpki::ExpirationPolicy::Ignore)
                .build()
        });
        ee.verify_for_usage(
            &algs,
            &trust.anchors,
            &certs[1..],
            at,
            AnyEku,
            revocation,
            None,
        )
        .map_err(|e| match e {
            webpki::Error::CertRevoked => Failure::new(
                FailureKind::CertRevoked,
                "a certificate of the chain is listed in a CRL",
            ),
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                Failure::new(FailureKind::CertExpired, format!("the chain: {e}"))
            }
            webpki::Error::UnknownIssuer => Failure::new(
                FailureKind::UntrustedSigner,
                "the chain does not reach a certificate of the trust list",
            ),
            // An issuer named like a trusted one whose signature is not its: a CA posing
            // as one of the list.
            webpki::Error::InvalidSignatureForPublicKey => Failure::new(
                FailureKind::UntrustedSigner,
                format!("the chain does not verify to the trust list: {e}"),
            ),
            e => invalid(format!("the chain does not verify: {e}")),
        })?;
        let parsed = certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("not a certificate: {e}")))?;
        let leaf = &parsed[0].tbs_certificate;
        let spki = &leaf.subject_public_key_info;
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY || curve != Some(OID_P256) {
            return Err(invalid(
                "the key is not an EC P-256 key (ES256 needs one)".into(),
            ));
        }
        let (spc, mut findings) = read_extensions(leaf)?;
        let not_before_s = parsed
            .iter()
            .map(|c| unix_s(&c.tbs_certificate.validity.not_before))
            .max()
            .unwrap_or(0);
        let not_after_s = parsed
            .iter()
            .map(|c| unix_s(&c.tbs_certificate.validity.not_after))
            .min()
            .unwrap_or(0);
        let subject = leaf.subject.to_string();
        if !subject.contains("SHAKEN") {
            findings.push(finding(
                "subject_cn_not_shaken",
                "the subject's common name does not read \"SHAKEN <SPC>\"",
            ));
        }
        Ok(Signer {
            point: spki.subject_public_key.raw_bytes().to_vec(),
            spc,
            subject,
            issuer: leaf.issuer.to_string(),
            not_before_s,
            not_after_s,
            findings,
        })
    }

    /// Whether the chain is still valid at `now_s` (it was checked when it was read).
    pub fn valid_at(&self, now_s: i64) -> Result<(), String> {
        if now_s < self.not_before_s {
            return Err(format!("not valid until {}", self.not_before_s));
        }
        if now_s > self.not_after_s {
            return Err(format!("expired at {}", self.not_after_s));
        }
        Ok(())
    }

    /// An ES256 signature (`r || s`, JWS form) over `msg`.
    pub fn verify_es256(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(msg, sig)
            .is_ok()
    }
}

/// The SHAKEN extensions of the signing certificate: the SPC, and the profile findings.
fn read_extensions(
    leaf: &x509_cert::TbsCertificate,
) -> Result<(Option<String>, Vec<Finding>), Failure> {
    let invalid = |d: String| Failure::new(FailureKind::CertInvalid, d);
    let exts = leaf.extensions.as_deref().unwrap_or_default();
    let get = |oid| exts.iter().find(|e| e.extn_id == oid);
    let mut findings = Vec::new();
    match get(OID_KEY_USAGE) {
        None => findings.push(finding(
            "key_usage_missing",
            "no key usage extension (ATIS-1000080: critical, digitalSignature)",
        )),
        Some(e) => {
            let ku = KeyUsage::from_der(e.extn_value.as_bytes())
                .map_err(|x| invalid(format!("key usage: {x}")))?;
            if !ku.0.contains(KeyUsages::DigitalSignature) {
                return Err(invalid(
                    "key usage does not allow digital signatures".into(),
                ));
            }
            if !e.critical {
                findings.push(finding(
                    "key_usage_not_critical",
                    "the key usage extension is not marked critical",
                ));
            }
        }
    }
    if let Some(e) = get(OID_BASIC_CONSTRAINTS) {
        let bc = BasicConstraints::from_der(e.extn_value.as_bytes())
            .map_err(|x| invalid(format!("basic constraints: {x}")))?;
        if bc.ca {
            return Err(invalid("the signing certificate is a CA".into()));
        }
    } else {
        findings.push(finding(
            "basic_constraints_missing",
            "no basic constraints extension",
        ));
    }
    let shaken_policy = get(OID_CERT_POLICIES)
        .and_then(|e| CertificatePolicies::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|p| p.0.iter().any(|i| i.policy_identifier == OID_SHAKEN_POLICY));
    if !shaken_policy {
        findings.push(finding(
            "no_shaken_policy",
            "no certificate policy 2.16.840.1.114569.1.1.1 (SHAKEN)",
        ));
    }
    let crl_dp = get(OID_CRL_DP)
        .and_then(|e| CrlDistributionPoints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|d| !d.0.is_empty());
    if !crl_dp {
        findings.push(finding(
            "no_crl_distribution_point",
            "no CRL distribution point",
        ));
    }
    let Some(tn) = get(OID_TN_AUTH_LIST) else {
        return Err(invalid(
            "no TNAuthList extension (1.3.6.1.5.5.7.1.26): not a SHAKEN certificate".into(),
        ));
    };
    if tn.critical {
        findings.push(finding(
            "tn_auth_list_critical",
            "the TNAuthList extension is marked critical",
        ));
    }
    // An extension that is not a TNAuthList (older test CAs put a URL there) is a profile
    // deviation: the chain still decides trust, the SPC is then unknown.
    let spc = match tn_auth_list_spc(tn.extn_value.as_bytes()) {
        Ok(spc) => spc,
        Err(e) => {
            findings.push(finding(
                "tn_auth_list_unreadable",
                &format!("the TNAuthList extension does not decode as RFC 8226's: {e}"),
            ));
            return Ok((None, findings));
        }
    };
    if spc.is_none() {
        findings.push(finding(
            "tn_auth_list_without_spc",
            "the TNAuthList holds numbers but no Service Provider Code",
        ));
    }
    Ok((spc, findings))
}

/// RFC 8226: `TNAuthorizationList ::= SEQUENCE OF TNEntry`, `TNEntry ::= CHOICE { spc [0]
/// ServiceProviderCode, range [1] …, one [2] … }` (explicit tags; implicit ones accepted too).
/// Returns the first SPC.
pub fn tn_auth_list_spc(der: &[u8]) -> Result<Option<String>, String> {
    let entries = Vec::<Any>::from_der(der).map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Err("empty".into());
    }
    for e in entries {
        let Tag::ContextSpecific {
            constructed,
            number,
        } = e.tag()
        else {
            return Err(format!("an entry tagged {}, not [0], [1] or [2]", e.tag()));
        };
        if number.value() != 0 {
            continue;
        }
        let text = if constructed {
            Ia5StringRef::from_der(e.value())
                .map_err(|x| format!("spc: {x}"))?
                .as_str()
                .to_string()
        } else {
            Ia5StringRef::new(e.value())
                .map_err(|x| format!("spc: {x}"))?
                .as_str()
                .to_string()
        };
        return Ok(Some(text));
    }
    Ok(None)
}
