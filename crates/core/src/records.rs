//! A body of many records — one JSON object, a JSON array, or NDJSON — split into raw records
//! with their position, and one raw record parsed; every failure has a stable code. Pure: the
//! content type arrives as a string, so the server and the CLI's direct ingest share it.

use serde_json::value::RawValue;

/// One record of a body, before parsing.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// Zero-based position among the body's records.
    pub index: usize,
    /// One-based line number, for NDJSON bodies.
    pub line: Option<usize>,
    /// The record's JSON text, or why it could not be read.
    pub text: Result<&'a str, &'static str>,
}

/// How a body holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// A JSON array: the whole body must parse to find the records.
    Array,
    /// One record per line (NDJSON), or a single object (a one-line body).
    Lines,
}

/// Why a whole body could not be split (one bad record never fails a body of lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// The content type is neither JSON nor NDJSON.
    UnsupportedMediaType(String),
    /// A JSON array body is not UTF-8.
    InvalidUtf8,
    /// A JSON array body cannot be read, so no record boundary can be found.
    MalformedArray(String),
    /// More records than allowed in one body.
    TooMany { count: usize, max: usize },
}

/// The shape of a body by its content type (lower-cased or not) and its first character.
pub fn body_shape(content_type: &str, body: &[u8]) -> Result<BodyShape, SplitError> {
    let ctype = content_type.to_ascii_lowercase();
    let ndjson_type =
        ctype.contains("ndjson") || ctype.contains("jsonl") || ctype.contains("json-seq");
    if !ctype.is_empty() && !ctype.contains("json") && !ctype.starts_with("text/plain") {
        return Err(SplitError::UnsupportedMediaType(ctype));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    Ok(if !ndjson_type && first == Some(b'[') {
        BodyShape::Array
    } else {
        BodyShape::Lines
    })
}

/// Split a body into at most `max_records` raw records.
pub fn split<'a>(
    content_type: &str,
    body: &'a [u8],
    max_records: usize,
) -> Result<Vec<RawRecord<'a>>, SplitError> {
    let too_many = |count: usize| SplitError::TooMany {
        count,
        max: max_records,
    };
    match body_shape(content_type, body)? {
        BodyShape::Array => {
            let text = std::str::from_utf8(body).map_err(|_| SplitError::InvalidUtf8)?;
            let items: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|e| SplitError::MalformedArray(e.to_string()))?;
            if items.len() > max_records {
                return Err(too_many(items.len()));
            }
            Ok(items
                .into_iter()
                .enumerate()
                .map(|(index, v)| RawRecord {
                    index,
                    line: None,
                    text: Ok(v.get()),
                })
                .collect())
        }
        BodyShape::Lines => {
            let blank = |l: &[u8]| l.iter().all(|b| b.is_ascii_whitespace());
            let mut out = Vec::new();
            for (i, line) in body.split(|b| *b == b'\n').enumerate() {
                if blank(line) {
                    continue;
                }
                if out.len() == max_records {
                    let rest = body
                        .split(|b| *b == b'\n')
                        .skip(i)
                        .filter(|l| !blank(l))
                        .count();
                    return Err(too_many(out.len() + rest));
                }
                out.push(RawRecord {
                    index: out.len(),
                    line: Some(i + 1),
                    text: std::str::from_utf8(line).map_err(|_| "the line is not UTF-8"),
                });
            }
            Ok(out)
        }
    }
}

/// Parse one raw record as `T`: `invalid_utf8`, `record_too_large`, `malformed_json` or
/// `invalid_record` (wrong type, unknown field) otherwise.
pub fn parse<T: serde::de::DeserializeOwned>(
    raw: &RawRecord<'_>,
    max_bytes: usize,
) -> Result<T, (&'static str, String)> {
    let text = raw.text.map_err(|e| ("invalid_utf8", e.to_string()))?;
    if text.len() > max_bytes {
        return Err((
            "record_too_large",
            format!(
                "the record is {} bytes; the limit is {max_bytes}",
                text.len()
            ),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ("invalid_record", e.to_string())
        } else {
            ("malformed_json", e.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_splits() {
        let lines = |r: &[RawRecord<'_>]| r.iter().map(|x| x.line).collect::<Vec<_>>();
        // (content type, body, max) → records (lines) or the error.
        let ok = split("application/x-ndjson", b"{\"a\":1}\n\n{\"a\":2}\n", 10).unwrap();
        assert_eq!(lines(&ok), [Some(1), Some(3)]);
        let ok = split("application/json", b" [ {\"a\":1}, {\"a\":2} ]", 10).unwrap();
        assert_eq!((ok.len(), ok[1].text), (2, Ok("{\"a\":2}")));
        let ok = split("", b"{\"a\":1}", 10).unwrap();
        assert_eq!(ok.len(), 1);
        // An NDJSON content type reads `[` lines as lines.
        assert_eq!(
            split("application/x-ndjson", b"[1]\n[2]", 10)
                .unwrap()
                .len(),
            2
        );
        for (ctype, body, max, want) in [
            (
                "text/csv",
                &b"a,b"[..],
                10,
                SplitError::UnsupportedMediaType("text/csv".into()),
            ),
            (
                "application/json",
                b"[1, 2, 3]",
                2,
                SplitError::TooMany { count: 3, max: 2 },
            ),
            (
                "application/x-ndjson",
                b"1\n2\n3\n",
                2,
                SplitError::TooMany { count: 3, max: 2 },
            ),
            ("application/json", b"[\xff]", 2, SplitError::InvalidUtf8),
        ] {
            assert_eq!(split(ctype, body, max).unwrap_err(), want, "{ctype}");
        }
        assert!(matches!(
            split("application/json", b"[{", 2),
            Err(SplitError::MalformedArray(_))
        ));
        // A bad line is its own record's problem, not the body's.
        let r = split("application/x-ndjson", b"{}\n\xff\n", 5).unwrap();
        assert!(r[1].text.is_err());
    }

    #[test]
    fn one_record_parsed() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct R {
            #[allow(dead_code)]
            a: u32,
        }
        let raw = |t: &'static str| RawRecord {
            index: 0,
            line: None,
            text: Ok(t),
        };
        assert!(parse::<R>(&raw("{\"a\":1}"), 100).is_ok());
        for (text, max, code) in [
            ("{\"a\":1}", 3, "record_too_large"),
            ("{\"a\":", 100, "malformed_json"),
            ("{\"b\":1}", 100, "invalid_record"),
        ] {
            assert_eq!(parse::<R>(&raw(text), max).unwrap_err().0, code, "{text}");
        }
    }
}
