//! API keys: configured as SHA-256 hashes with scopes, presented as `Authorization: Bearer KEY`
//! (or `X-Api-Key`), hashed and compared in constant time against every configured key.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Producers: write notifications, statuses, watermarks; read feed health.
    Ingest,
    /// Contact-centre agents and their tools: verify claims, read timelines and feed health.
    Agent,
    /// Carriers and SMS gateways: evaluate messages in transit, read the registry and its variants.
    Sms,
    /// Operators: everything, including the audit log, metrics and the brand registry.
    Admin,
    /// The institution's app backend: the customer's own checks ("did my bank send this?").
    App,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Agent => "agent",
            Scope::Sms => "sms",
            Scope::Admin => "admin",
            Scope::App => "app",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "agent" => Some(Scope::Agent),
            "sms" => Some(Scope::Sms),
            "admin" => Some(Scope::Admin),
            "app" => Some(Scope::App),
            _ => None,
        }
    }
}

/// One configured key: a name for logs and the audit trail, the hex SHA-256 of the key, scopes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub name: String,
    pub sha256: String,
    pub scopes: Vec<Scope>,
}

impl ApiKeyConfig {
    /// `name:scope+scope:sha256hex`, the compact form used in `COUNTERSIGN_API_KEYS`.
    pub fn parse_compact(s: &str) -> Result<ApiKeyConfig, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(name), Some(scopes), Some(hash)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{s:?} is not name:scopes:sha256"));
        };
        let scopes = scopes
            .split('+')
            .map(|x| {
                Scope::parse(x.trim())
                    .ok_or_else(|| format!("unknown scope {x:?} (ingest, agent, sms, admin)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ApiKeyConfig {
            name: name.trim().to_string(),
            sha256: hash.trim().to_string(),
            scopes,
        })
    }

    pub fn hash_bytes(&self) -> Result<[u8; 32], String> {
        let b = hex::decode(&self.sha256).map_err(|_| "sha256 is not hex".to_string())?;
        b.try_into()
            .map_err(|_| "sha256 must be 64 hex characters".to_string())
    }
}

/// Hex SHA-256 of a key, as written in the configuration.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh random key (`cs_` + 32 random bytes, hex) from the OS generator.
pub fn generate_key() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    getrandom_fill(&mut b)?;
    Ok(format!("cs_{}", hex::encode(b)))
}

/// Fill `buf` from the operating system's random source.
pub fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// The caller, once authenticated.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }
}

/// The configured keys, ready for lookup.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<(String, [u8; 32], Vec<Scope>)>,
}

impl KeyRing {
    pub fn new(cfg: &[ApiKeyConfig]) -> Result<KeyRing, String> {
        let keys = cfg
            .iter()
            .map(|k| Ok((k.name.clone(), k.hash_bytes()?, k.scopes.clone())))
            .collect::<Result<_, String>>()?;
        Ok(KeyRing { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Find the key; every configured hash is compared (in constant time) so timing reveals
    /// neither which key matched nor how much of it.
    pub fn authenticate(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (name, hash, scopes) in &self.keys {
            if bool::from(hash.ct_eq(&digest)) && found.is_none() {
                found = Some(Principal {
                    name: name.clone(),
                    scopes: scopes.clone(),
                });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_authenticate_by_hash() {
        let key = generate_key().unwrap();
        let cfg =
            ApiKeyConfig::parse_compact(&format!("desk:agent+ingest:{}", hash_key(&key))).unwrap();
        let ring = KeyRing::new(&[cfg]).unwrap();
        let p = ring.authenticate(&key).unwrap();
        assert_eq!(p.name, "desk");
        assert!(p.allows(Scope::Agent) && p.allows(Scope::Ingest) && !p.allows(Scope::Admin));
        assert!(ring.authenticate("cs_wrong").is_none());
        assert!(ApiKeyConfig::parse_compact("desk:root:00").is_err());
        assert!(ApiKeyConfig::parse_compact("desk").is_err());
    }
}
