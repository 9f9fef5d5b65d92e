//! A STIR/SHAKEN PKI made on the spot for tests (rcgen): an STI-CA, an intermediate, signing
//! certificates with TNAuthList and the SHAKEN policy — or with one common profile deviation —
//! and PASSporTs signed with their keys. Behind the `test-pki` feature (and in this crate's tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DnType, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::Value;
use x509_cert::der::asn1::{ContextSpecific, Ia5String};
use x509_cert::der::{Encode, TagMode, TagNumber};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::CertificatePolicies;

use super::cert;

/// A signer's private key, for signing PASSporTs in tests.
pub use ring::signature::EcdsaKeyPair as SigningKey;

fn tn_auth_list(spc: Option<&str>) -> Vec<u8> {
    let entry = |n, v: &str| ContextSpecific {
        tag_number: TagNumber::new(n),
        tag_mode: TagMode::Explicit,
        value: Ia5String::new(v).unwrap(),
    };
    let list = match spc {
        Some(s) => vec![entry(0, s)],
        None => vec![entry(2, "12155551212")],
    };
    list.to_der().unwrap()
}

fn shaken_policy() -> Vec<u8> {
    CertificatePolicies(vec![PolicyInformation {
        policy_identifier: cert::OID_SHAKEN_POLICY,
        policy_qualifiers: None,
    }])
    .to_der()
    .unwrap()
}

/// The ways a real signing certificate departs from ATIS-1000080, one at a time.
/// One deviation per certificate (or none).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Deviation {
    None,
    NoPolicy,
    NoCrlDp,
    NoKeyUsage,
    NoSpc,
    NoTnAuthList,
    NotShakenCn,
}

pub struct Pki {
    root: rcgen::Certificate,

    inter: rcgen::Certificate,
    inter_key: KeyPair,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(2026, 1, 1);
    p.not_after = rcgen::date_time_ymd(2030, 1, 1);
    p
}

pub fn pki() -> Pki {
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let root = ca_params("Test STI-CA").self_signed(&root_key).unwrap();
    let inter_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let inter = ca_params("Test STI-CA Intermediate")
        .signed_by(&inter_key, &root, &root_key)
        .unwrap();
    Pki {
        root,

        inter,
        inter_key,
    }
}

impl Pki {
    pub fn trust_pem(&self) -> String {
        self.root.pem()
    }

    /// A CRL from the intermediate (PEM) revoking these serial numbers.
    pub fn crl_revoking(&self, serials: &[u64]) -> String {
        rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2026, 6, 1),
            next_update: rcgen::date_time_ymd(2026, 7, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(*s),
                    revocation_time: rcgen::date_time_ymd(2026, 6, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&self.inter, &self.inter_key)
        .unwrap()
        .pem()
        .unwrap()
    }

    pub fn trust(&self) -> super::TrustList {
        super::TrustList::from_pem(self.root.pem().as_bytes()).unwrap()
    }

    /// A signing certificate valid from 2026-01-01 to `not_after` (PEM bundle with the intermediate) and its key, for PASSporTs.
    pub fn signer(&self, d: Deviation, not_after: (i32, u8, u8)) -> (String, EcdsaKeyPair) {
        self.signer_with_serial(d, not_after, None)
    }

    /// [`Pki::signer`] with a chosen serial number (for a CRL to name it).
    pub fn signer_with_serial(
        &self,
        d: Deviation,
        not_after: (i32, u8, u8),
        serial: Option<u64>,
    ) -> (String, EcdsaKeyPair) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.serial_number = serial.map(rcgen::SerialNumber::from);
        let cn = if d == Deviation::NotShakenCn {
            "Acme Telecom"
        } else {
            "SHAKEN 1234"
        };
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::ExplicitNoCa;
        p.not_before = rcgen::date_time_ymd(2026, 1, 1);
        p.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        if d != Deviation::NoKeyUsage {
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        if d != Deviation::NoCrlDp {
            p.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec!["https://crl.example.net/ca.crl".into()],
            }];
        }
        if d != Deviation::NoPolicy {
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[2, 5, 29, 32],
                shaken_policy(),
            ));
        }
        if d != Deviation::NoTnAuthList {
            let spc = (d != Deviation::NoSpc).then_some("1234");
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 26],
                tn_auth_list(spc),
            ));
        }
        let cert = p.signed_by(&key, &self.inter, &self.inter_key).unwrap();
        let signing = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        (format!("{}{}", cert.pem(), self.inter.pem()), signing)
    }
}

pub fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// A PASSporT over exactly these header and claims bytes.
pub fn sign_raw(key: &EcdsaKeyPair, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", b64(sig.as_ref()))
}

pub fn sign(key: &EcdsaKeyPair, header: &Value, claims: &Value) -> String {
    sign_raw(key, &header.to_string(), &claims.to_string())
}
