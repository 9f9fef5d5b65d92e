//! STIR/SHAKEN verification of a caller's PASSporT, pure: no IO and no clock — the certificates
//! (already fetched and chain-checked into [`Signer`]s) and the time come in as arguments.
//!
//! Strict where forgery lives — the compact JWS, `alg` ES256 only, the signature over the bytes
//! as received, the chain to the configured STI-CA trust list, `iat` freshness, `orig` and
//! `dest` against the call — and lenient on certificate *profile* (ATIS-1000080): deviations
//! real signing certificates commonly have come back as findings, never as failures.
//!
//! Outcomes follow ATIS-1000074: `TN-Validation-Passed`; `TN-Validation-Failed` with the RFC
//! 8224 code of the first check that failed (403 stale date, 437 unsupported credential, 438
//! invalid identity header); `No-TN-Validation` when nothing could be checked — no PASSporT
//! (428) or no certificate to check it with (436).

pub mod cert;
pub mod passport;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use cert::{Finding, Signer, TrustList};
use passport::{tn_digits, Passport};

/// The verification status, in ATIS-1000074's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Verstat {
    #[serde(rename = "TN-Validation-Passed")]
    Passed,
    #[serde(rename = "TN-Validation-Failed")]
    Failed,
    #[serde(rename = "No-TN-Validation")]
    NoValidation,
}

/// What failed, one stable name per check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No PASSporT at all, or none of type `shaken` (428).
    NoIdentity,
    /// Not a compact JWS, not base64url, not JSON objects (438).
    Malformed,
    /// `alg` other than ES256 (438).
    UnsupportedAlg,
    /// `typ` other than `passport` (438).
    WrongType,
    /// `ppt` neither `shaken` nor `div` (438).
    UnsupportedPpt,
    /// A claim SHAKEN requires is missing or of the wrong type (438).
    MissingClaim,
    /// The signature does not verify with the certificate's key (438).
    BadSignature,
    /// `orig.tn` is not the calling number (438).
    OrigMismatch,
    /// `dest.tn` does not hold the called number, and no `div` PASSporT explains it (438).
    DestMismatch,
    /// A `div` PASSporT that does not chain to the SHAKEN one (438).
    DivMismatch,
    /// `iat` outside the allowed window around now (403).
    StaleDate,
    /// No `x5u` (nor `info`) saying where the certificate is, or not an HTTPS URL (436).
    NoCertUrl,
    /// The certificate could not be obtained (436).
    CertUnavailable,
    /// The certificate is not an X.509 certificate with a P-256 key (437).
    CertInvalid,
    /// The certificate (or one in its chain) is expired or not yet valid (437).
    CertExpired,
    /// The chain does not reach a configured STI-CA (437).
    UntrustedSigner,
    /// A certificate of the chain is revoked by a configured CRL (437).
    CertRevoked,
}

impl FailureKind {
    /// The SIP response code RFC 8224 gives the failure.
    pub fn code(self) -> u16 {
        use FailureKind::*;
        match self {
            NoIdentity => 428,
            StaleDate => 403,
            NoCertUrl | CertUnavailable => 436,
            CertInvalid | CertExpired | UntrustedSigner | CertRevoked => 437,
            Malformed | UnsupportedAlg | WrongType | UnsupportedPpt | MissingClaim
            | BadSignature | OrigMismatch | DestMismatch | DivMismatch => 438,
        }
    }

    /// What the failure makes of the call's verification status.
    pub fn verstat(self) -> Verstat {
        match self {
            FailureKind::NoIdentity | FailureKind::NoCertUrl | FailureKind::CertUnavailable => {
                Verstat::NoValidation
            }
            _ => Verstat::Failed,
        }
    }

    /// One plain sentence for an agent or an analyst.
    pub fn describe(self) -> &'static str {
        use FailureKind::*;
        match self {
            NoIdentity => "the call carried no SHAKEN PASSporT",
            Malformed => "the PASSporT is malformed",
            UnsupportedAlg => "the PASSporT is not signed with ES256",
            WrongType => "the token is not a PASSporT",
            UnsupportedPpt => "the PASSporT is of a type SHAKEN does not use",
            MissingClaim => "the PASSporT lacks a claim SHAKEN requires",
            BadSignature => "the PASSporT's signature does not verify: it was forged or altered",
            OrigMismatch => "the PASSporT was signed for a different calling number",
            DestMismatch => "the PASSporT was signed for a different called number",
            DivMismatch => "the call's forwarding PASSporT does not match the original one",
            StaleDate => {
                "the PASSporT was signed too long ago (or in the future): it may be replayed"
            }
            NoCertUrl => "the PASSporT does not say where its certificate is",
            CertUnavailable => "the signer's certificate could not be fetched",
            CertInvalid => "the signer's certificate is not a valid SHAKEN certificate",
            CertExpired => "the signer's certificate has expired or is not yet valid",
            UntrustedSigner => "the signer's certificate is not from a trusted STI-CA",
            CertRevoked => "the signer's certificate has been revoked",
        }
    }
}

/// A failed check: its RFC 8224 code, its kind and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Failure {
    pub code: u16,
    pub kind: FailureKind,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Failure {
        Failure {
            code: kind.code(),
            kind,
            detail: detail.into(),
        }
    }
}

/// The call a PASSporT is checked against, and the time.
#[derive(Debug, Clone, Copy)]
pub struct CallNumbers<'a> {
    /// The calling number (the ANI), in any form (`+12155551212`, `12155551212`).
    pub calling: &'a str,
    /// The number that was called, when the platform gives it.
    pub called: Option<&'a str>,
    /// Now, in seconds since the epoch.
    pub now_s: i64,
}

/// Tunables of the checks.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// How far `iat` may be from now, either way, in seconds (ATIS-1000074: 60).
    pub iat_window_s: i64,
    /// Interoperability with signers that bend the token format: an `http://` `x5u`, and
    /// `orig`/`dest` sent as JSON inside a string, accepted and reported as findings. The chain,
    /// the signature, `iat` and the numbers are checked as strictly as ever.
    pub lenient: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            iat_window_s: 60,
            lenient: false,
        }
    }
}

/// What the verifier found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StirResult {
    pub verstat: Verstat,
    /// The first check that failed; absent when verification passed.
    pub failure: Option<Failure>,
    /// The attestation level signed (`A`, `B`, `C`), once the signature verified.
    pub attest: Option<String>,
    /// The originating identifier (a UUID the signer chose).
    pub origid: Option<String>,
    /// The calling number signed, as digits.
    pub orig: Option<String>,
    /// The called numbers signed, as digits.
    pub dest: Vec<String>,
    /// When it was signed (seconds since the epoch).
    pub iat: Option<i64>,
    /// Where the signer's certificate is.
    pub x5u: Option<String>,
    /// The signer's Service Provider Code, from the certificate's TNAuthList.
    pub signer_spc: Option<String>,
    /// The signing certificate's subject and issuer (RFC 4514).
    pub signer: Option<String>,
    pub issuer: Option<String>,
    /// The number the call was forwarded from, when a `div` PASSporT verified it.
    pub diverted_from: Option<String>,
    /// Certificate-profile deviations (ATIS-1000080): reported, not failed.
    pub findings: Vec<Finding>,
}

impl StirResult {
    fn empty(verstat: Verstat) -> StirResult {
        StirResult {
            verstat,
            failure: None,
            attest: None,
            origid: None,
            orig: None,
            dest: Vec::new(),
            iat: None,
            x5u: None,
            signer_spc: None,
            signer: None,
            issuer: None,
            diverted_from: None,
            findings: Vec::new(),
        }
    }

    /// What the result says of the signer: its SPC, subject, issuer and profile findings.
    fn signed_by(&mut self, s: &Signer) {
        self.signer_spc.clone_from(&s.spc);
        self.signer = Some(s.subject.clone());
        self.issuer = Some(s.issuer.clone());
        self.findings.clone_from(&s.findings);
    }

    fn failed(mut self, f: Failure) -> StirResult {
        self.verstat = f.kind.verstat();
        self.failure = Some(f);
        self
    }
}

/// The certificate behind a URL, as the caller has it: chain-checked, failed, or not at hand.
pub type SignerLookup<'a> = &'a dyn Fn(&str) -> Option<Result<Arc<Signer>, Failure>>;

/// The `Identity` headers among raw SIP headers (one per line; a folded continuation line is
/// joined to its header), each as a header line [`verify`] takes.
pub fn identity_headers(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_identity = false;
    for line in raw.lines() {
        if line.starts_with([' ', '\t']) {
            if in_identity {
                if let Some(last) = out.last_mut() {
                    last.push_str(line.trim());
                }
            }
            continue;
        }
        in_identity = line
            .split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("identity"));
        if in_identity {
            out.push(line.trim().to_string());
        }
    }
    out
}

/// A call's inputs parsed once: the PASSporTs that decoded, and the first that did not. The
/// server reads the certificate URLs from it before fetching, then verifies the same parse.
#[derive(Debug, Clone)]
pub struct Passports {
    parsed: Vec<Passport>,
    first_error: Option<Failure>,
}

impl Passports {
    pub fn parse(inputs: &[String]) -> Passports {
        let mut parsed = Vec::new();
        let mut first_error = None;
        for i in inputs.iter().filter(|i| !i.trim().is_empty()) {
            match passport::parse(i) {
                Ok(p) => parsed.push(p),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Passports {
            parsed,
            first_error,
        }
    }

    /// The certificate URLs named (what to fetch before verifying), in order, once each.
    pub fn cert_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = Vec::new();
        for u in self.parsed.iter().filter_map(Passport::cert_url) {
            if !urls.iter().any(|x| x == u) {
                urls.push(u.to_string());
            }
        }
        urls
    }

    /// The SHAKEN PASSporT, if one decoded.
    pub fn shaken(&self) -> Option<&Passport> {
        self.parsed.iter().find(|p| p.ppt() == Some("shaken"))
    }
}

/// Verify the call's PASSporTs (parsed here; [`verify_parsed`] when they already are).
pub fn verify(
    inputs: &[String],
    call: &CallNumbers<'_>,
    signers: SignerLookup<'_>,
    rules: &Rules,
) -> StirResult {
    verify_parsed(&Passports::parse(inputs), call, signers, rules)
}

/// Verify the call's PASSporTs: the SHAKEN one, and the `div` ones that explain a forwarded call.
pub fn verify_parsed(
    passports: &Passports,
    call: &CallNumbers<'_>,
    signers: SignerLookup<'_>,
    rules: &Rules,
) -> StirResult {
    let first_error = passports.first_error.as_ref();
    if !rules.lenient {
        return check_passports(&passports.parsed, first_error, call, signers, rules);
    }
    let mut parsed = passports.parsed.clone();
    let mut findings = Vec::new();
    let mut decoded = false;
    for p in &mut parsed {
        decoded |= p.decode_string_claims();
    }
    if decoded {
        findings.push(cert::finding(
            "claims_string_encoded",
            "orig or dest is a JSON object inside a string (RFC 8225 has an object)",
        ));
    }
    if parsed
        .iter()
        .filter_map(Passport::cert_url)
        .any(|u| u.starts_with("http://"))
    {
        findings.push(cert::finding(
            "x5u_not_https",
            "the certificate URL is http:// (RFC 8224 and ATIS-1000080 require HTTPS)",
        ));
    }
    let mut r = check_passports(&parsed, first_error, call, signers, rules);
    r.findings.extend(findings);
    r
}

fn check_passports(
    parsed: &[Passport],
    first_error: Option<&Failure>,
    call: &CallNumbers<'_>,
    signers: SignerLookup<'_>,
    rules: &Rules,
) -> StirResult {
    let Some(shaken) = parsed.iter().position(|p| p.ppt() == Some("shaken")) else {
        let r = StirResult::empty(Verstat::NoValidation);
        return r.failed(first_error.cloned().unwrap_or_else(|| {
            let detail = if parsed.is_empty() {
                "no PASSporT was given".to_string()
            } else {
                format!(
                    "{} PASSporT(s), none with ppt \"shaken\" (ppt: {})",
                    parsed.len(),
                    parsed
                        .iter()
                        .map(|p| p.ppt().unwrap_or("none"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            if parsed.iter().any(|p| p.ppt().is_none_or(|t| t != "div")) {
                Failure::new(FailureKind::UnsupportedPpt, detail)
            } else {
                Failure::new(FailureKind::NoIdentity, detail)
            }
        }));
    };
    let main = &parsed[shaken];
    let mut r = describe(main);
    match check_token(main, signers, call, rules) {
        Ok(s) => r.signed_by(&s),
        Err((f, s)) => {
            if let Some(s) = s {
                r.signed_by(&s);
            }
            return r.failed(f);
        }
    }
    if let Err(f) = check_attest(main) {
        return r.failed(f);
    }
    let orig = main.orig_tn().unwrap_or_default();
    if orig != tn_digits(call.calling) {
        return r.failed(Failure::new(
            FailureKind::OrigMismatch,
            format!(
                "signed for {orig}, the call is from {}",
                tn_digits(call.calling)
            ),
        ));
    }
    if let Some(called) = call.called.map(tn_digits) {
        if !r.dest.contains(&called) {
            match diverted(parsed, main, &called, signers, call, rules) {
                Ok(from) => r.diverted_from = Some(from),
                Err(f) => return r.failed(f),
            }
        }
    }
    r.verstat = Verstat::Passed;
    r
}

/// What a SHAKEN PASSporT claims, before any of it is trusted.
fn describe(p: &Passport) -> StirResult {
    let mut r = StirResult::empty(Verstat::Failed);
    r.attest.clone_from(&p.claims.attest);
    r.origid.clone_from(&p.claims.origid);
    r.orig = p.orig_tn();
    r.dest = p.dest_tns();
    r.iat = p.iat();
    r.x5u = p.cert_url().map(str::to_string);
    r
}

type TokenError = (Failure, Option<Arc<Signer>>);

/// The checks every PASSporT passes, SHAKEN or `div`: header, claims present, the certificate,
/// the signature, `iat`. Returns the signer.
fn check_token(
    p: &Passport,
    signers: SignerLookup<'_>,
    call: &CallNumbers<'_>,
    rules: &Rules,
) -> Result<Arc<Signer>, TokenError> {
    let fail = |k, d: String| (Failure::new(k, d), None);
    match p.header.alg.as_deref() {
        Some("ES256") => {}
        other => {
            return Err(fail(
                FailureKind::UnsupportedAlg,
                format!("alg {other:?}; SHAKEN allows ES256 only"),
            ))
        }
    }
    if p.header.typ.as_deref() != Some("passport") {
        return Err(fail(
            FailureKind::WrongType,
            format!("typ {:?}, not \"passport\"", p.header.typ),
        ));
    }
    let Some(iat) = p.iat() else {
        return Err(fail(
            FailureKind::MissingClaim,
            "no integer iat claim".into(),
        ));
    };
    if p.orig_tn().is_none_or(|o| o.is_empty()) {
        return Err(fail(FailureKind::MissingClaim, "no orig.tn claim".into()));
    }
    if p.dest_tns().is_empty() {
        return Err(fail(FailureKind::MissingClaim, "no dest.tn claim".into()));
    }
    let Some(url) = p.cert_url() else {
        return Err(fail(
            FailureKind::NoCertUrl,
            "neither x5u nor the Identity info parameter".into(),
        ));
    };
    let allowed = url.starts_with("https://") || (rules.lenient && url.starts_with("http://"));
    if !allowed {
        return Err(fail(
            FailureKind::NoCertUrl,
            format!("x5u {url:?} is not an HTTPS URL"),
        ));
    }
    let signer = match signers(url) {
        None => {
            return Err(fail(
                FailureKind::CertUnavailable,
                format!("no certificate at hand for {url}"),
            ))
        }
        Some(Err(f)) => return Err((f, None)),
        Some(Ok(s)) => s,
    };
    let with = |k, d: String| (Failure::new(k, d), Some(signer.clone()));
    if let Err(d) = signer.valid_at(call.now_s) {
        return Err(with(FailureKind::CertExpired, d));
    }
    if !signer.verify_es256(p.signing_input.as_bytes(), &p.signature) {
        return Err(with(
            FailureKind::BadSignature,
            "the ES256 signature does not verify with the certificate's key".into(),
        ));
    }
    if (iat - call.now_s).abs() > rules.iat_window_s {
        return Err(with(
            FailureKind::StaleDate,
            format!(
                "iat is {} s from now; at most {} s is allowed",
                iat - call.now_s,
                rules.iat_window_s
            ),
        ));
    }
    Ok(signer)
}

fn check_attest(p: &Passport) -> Result<(), Failure> {
    match p.claims.attest.as_deref() {
        Some("A" | "B" | "C") => {}
        other => {
            return Err(Failure::new(
                FailureKind::MissingClaim,
                format!("attest {other:?}; SHAKEN requires A, B or C"),
            ))
        }
    }
    if p.claims.origid.as_deref().is_none_or(str::is_empty) {
        return Err(Failure::new(FailureKind::MissingClaim, "no origid claim"));
    }
    Ok(())
}

/// RFC 8946: a call forwarded from the number the SHAKEN PASSporT was signed for carries a
/// `div` PASSporT from the forwarding provider — `div.tn` the first destination, `dest.tn` the
/// new one, the same `orig`. Returns the number it was forwarded from.
fn diverted(
    parsed: &[Passport],
    main: &Passport,
    called: &str,
    signers: SignerLookup<'_>,
    call: &CallNumbers<'_>,
    rules: &Rules,
) -> Result<String, Failure> {
    let divs: Vec<&Passport> = parsed.iter().filter(|p| p.ppt() == Some("div")).collect();
    let signed_for = main.dest_tns();
    if divs.is_empty() {
        return Err(Failure::new(
            FailureKind::DestMismatch,
            format!(
                "signed for {}, the call is to {called}, and no div PASSporT says it was forwarded",
                signed_for.join(", ")
            ),
        ));
    }
    let mut last = None;
    for d in divs {
        let from = d.div_tn().unwrap_or_default();
        let problem = if !d.dest_tns().iter().any(|t| t == called) {
            Some(format!(
                "the div PASSporT forwards to {}, not {called}",
                d.dest_tns().join(", ")
            ))
        } else if !signed_for.contains(&from) {
            Some(format!(
                "the div PASSporT forwards from {from}, the SHAKEN one was signed for {}",
                signed_for.join(", ")
            ))
        } else if d.orig_tn() != main.orig_tn() {
            Some("the div PASSporT's orig differs from the SHAKEN one's".to_string())
        } else {
            None
        };
        if let Some(p) = problem {
            last = Some(Failure::new(FailureKind::DivMismatch, p));
            continue;
        }
        return match check_token(d, signers, call, rules) {
            Ok(_) => Ok(from),
            Err((f, _)) => Err(Failure::new(
                f.kind,
                format!("the div PASSporT: {}", f.detail),
            )),
        };
    }
    Err(last.unwrap_or_else(|| Failure::new(FailureKind::DivMismatch, "no div PASSporT matched")))
}

#[cfg(any(test, feature = "test-pki"))]
pub mod testpki;
#[cfg(test)]
mod tests;
