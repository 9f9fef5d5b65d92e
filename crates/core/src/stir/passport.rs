//! PASSporTs as they arrive: `Identity` header values (RFC 8224) or bare tokens, split into the
//! compact JWS's parts (RFC 7515), and the header and claims RFC 8225, RFC 8588 (SHAKEN) and
//! RFC 8946 (`div`) define — parsed, not yet checked against anything.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::{Failure, FailureKind};

/// Longest `Identity` value or token taken (a PASSporT is a few hundred bytes; RFC 8224 puts no
/// bound on it, SIP stacks cap headers at a few KiB).
pub const TOKEN_BYTES_MAX: usize = 8 * 1024;

/// One PASSporT: the bytes that were signed, the signature, and what the header and the claims
/// say.
#[derive(Debug, Clone)]
pub struct Passport {
    /// `base64url(header) "." base64url(claims)` exactly as received: what the signature covers.
    pub signing_input: String,
    /// The raw signature (for ES256, `r || s`, 64 bytes).
    pub signature: Vec<u8>,
    pub header: Header,
    pub claims: Claims,
    /// The `info` parameter of the `Identity` header, when the token came in one.
    pub info: Option<String>,
}

/// The JOSE header of a PASSporT.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: Option<String>,
    pub typ: Option<String>,
    pub ppt: Option<String>,
    pub x5u: Option<String>,
}

/// The claims SHAKEN and `div` PASSporTs carry.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub attest: Option<String>,
    pub dest: Option<Value>,
    pub iat: Option<Value>,
    pub orig: Option<Value>,
    pub origid: Option<String>,
    pub div: Option<Value>,
}

impl Passport {
    /// The PASSporT's type: `ppt` from its header (`shaken`, `div`), else none (a base PASSporT).
    pub fn ppt(&self) -> Option<&str> {
        self.header.ppt.as_deref()
    }

    /// Where the signer's certificate is: the header's `x5u`, else the `Identity` `info`.
    pub fn cert_url(&self) -> Option<&str> {
        self.header.x5u.as_deref().or(self.info.as_deref())
    }

    /// `iat` in seconds since the epoch, when it is an integer.
    pub fn iat(&self) -> Option<i64> {
        self.claims.iat.as_ref().and_then(Value::as_i64)
    }

    /// The originating number (`orig.tn`), as digits.
    pub fn orig_tn(&self) -> Option<String> {
        self.claims
            .orig
            .as_ref()
            .and_then(|o| o.get("tn"))
            .and_then(Value::as_str)
            .map(tn_digits)
    }

    /// The destination numbers (`dest.tn`, an array), as digits.
    pub fn dest_tns(&self) -> Vec<String> {
        tn_list(self.claims.dest.as_ref())
    }

    /// Lenient reading: `orig` or `dest` sent as a JSON object encoded in a string (older
    /// libstirshaken signs `"dest":"{\"tn\":…}"`) decoded in place. Returns whether one was.
    pub fn decode_string_claims(&mut self) -> bool {
        let mut decoded = false;
        for claim in [&mut self.claims.orig, &mut self.claims.dest] {
            if let Some(Value::String(s)) = claim {
                if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                    *claim = Some(inner);
                    decoded = true;
                }
            }
        }
        decoded
    }

    /// The number a `div` PASSporT says the call was first sent to (`div.tn`), as digits.
    pub fn div_tn(&self) -> Option<String> {
        let div = self.claims.div.as_ref()?;
        match div.get("tn") {
            Some(Value::String(s)) => Some(tn_digits(s)),
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(tn_digits),
            _ => None,
        }
    }
}

fn tn_list(v: Option<&Value>) -> Vec<String> {
    match v.and_then(|d| d.get("tn")) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(tn_digits).collect(),
        Some(Value::String(s)) => vec![tn_digits(s)],
        _ => Vec::new(),
    }
}

/// A telephone number as PASSporTs compare it: its digits (and `*`, `#`), without `+`,
/// separators or a `tel:` prefix — `+1 (215) 555-1212` and `12155551212` are one number.
pub fn tn_digits(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("tel:").unwrap_or(s);
    let s = s.split(';').next().unwrap_or(s);
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
        .collect()
}

/// The values one input may hold: a header line (`Identity: …`), a header value (`token;info=
/// <url>;alg=ES256;ppt=shaken`), or a bare token. Returns the token and the `info` URL.
pub fn split_identity(value: &str) -> (&str, Option<String>) {
    let v = value.trim();
    let v = match v.split_once(':') {
        Some((name, rest))
            if name.trim().eq_ignore_ascii_case("identity") || name.trim() == "y" =>
        {
            rest.trim()
        }
        _ => v,
    };
    let mut parts = v.split(';');
    let token = parts.next().unwrap_or("").trim();
    let mut info = None;
    for p in parts {
        if let Some((k, val)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("info") {
                let val = val.trim();
                let val = val
                    .strip_prefix('<')
                    .and_then(|x| x.strip_suffix('>'))
                    .unwrap_or(val);
                info = Some(val.to_string());
            }
        }
    }
    (token, info)
}

/// Decode one input into a PASSporT, or say exactly what is wrong with it (438: an invalid
/// `Identity` header).
pub fn parse(value: &str) -> Result<Passport, Failure> {
    if value.len() > TOKEN_BYTES_MAX {
        return Err(Failure::new(
            FailureKind::Malformed,
            format!("longer than {TOKEN_BYTES_MAX} bytes"),
        ));
    }
    let (token, info) = split_identity(value);
    let malformed = |d: String| Failure::new(FailureKind::Malformed, d);
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(malformed(
            "not a compact JWS (three base64url parts joined by dots)".into(),
        ));
    };
    let decode = |what: &str, part: &str| {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|e| malformed(format!("{what} is not base64url: {e}")))
    };
    let header: Header = serde_json::from_slice(&decode("the header", h)?)
        .map_err(|e| malformed(format!("the header is not a JSON object: {e}")))?;
    let claims: Claims = serde_json::from_slice(&decode("the claims", c)?)
        .map_err(|e| malformed(format!("the claims are not a JSON object: {e}")))?;
    let signature = decode("the signature", s)?;
    Ok(Passport {
        signing_input: format!("{h}.{c}"),
        signature,
        header,
        claims,
        info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_values_and_bare_tokens() {
        let (t, info) = split_identity(
            "Identity: aaa.bbb.ccc;info=<https://cert.example.org/passport.cer>;alg=ES256;ppt=shaken",
        );
        assert_eq!(t, "aaa.bbb.ccc");
        assert_eq!(
            info.as_deref(),
            Some("https://cert.example.org/passport.cer")
        );
        assert_eq!(split_identity("  aaa.bbb.ccc  ").0, "aaa.bbb.ccc");
        assert_eq!(split_identity("aaa.bbb.ccc").1, None);
    }

    #[test]
    fn numbers_compare_by_digits() {
        assert_eq!(tn_digits("+1 (215) 555-1212"), "12155551212");
        assert_eq!(tn_digits("tel:+12155551212;phone-context=x"), "12155551212");
    }

    #[test]
    fn malformed_tokens_say_why() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.AA",
            "e30.!!.AA",
            "W10.e30.AA",
            "e30.e30.!!",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.kind, FailureKind::Malformed, "{bad}");
            assert_eq!(e.kind.code(), 438);
        }
        let p = parse("e30.e30.AAAA").unwrap();
        assert_eq!(p.signing_input, "e30.e30");
        assert_eq!(p.signature, vec![0, 0, 0]);
    }
}
