//! Bearer-token verification for auth mode `jwt`: a compact JWS in, a [`VerifiedToken`] (the
//! principal, its roles, its expiry) out, or an [`AuthError`] that never contains the token.
//!
//! The rules, each one a known way JWT validation goes wrong elsewhere:
//! - **Algorithms are an allow-list**, and the key is chosen by the algorithm's family: an
//!   HS256 token is checked only against the shared secret, never against an RSA public key
//!   used as a secret; `alg: none` does not parse.
//! - **`exp`, `iss`, `aud`, `sub` and the tenant claim are required**: `jsonwebtoken` checks `aud`
//!   and `iss` only when present unless told, so it is told. `nbf` is checked when present.
//!   Leeway is configurable.
//! - **Keys come only from configuration** (a secret, PEM files, a JWKS file). Keys a token
//!   names (`jku`, `x5u`, `jwk`) are never fetched or trusted; the header's `kid` only selects
//!   among configured keys that have that id (a JWKS key's `kid`), so a token naming any other
//!   key is refused, and an oversized one is refused before any lookup.
//! - **Only access tokens**: a header `typ` other than `JWT` or `at+jwt` (an ID token, a
//!   refresh token, a security event) is refused.
//! - **Bounded input**: an `exp` more than [`MAX_TOKEN_LIFETIME_SECONDS`] ahead, a token longer than [`MAX_TOKEN_BYTES`], a claim string longer than
//!   [`MAX_CLAIM_CHARS`], or more than [`MAX_ROLES`] roles is refused.
//! - **A verified token is cached** by its SHA-256 until it expires (at most
//!   [`MAX_CACHE_SECONDS`]), so a stream of calls with one token verifies it once. The cache holds
//!   at most [`CACHE_CAPACITY`] tokens.
//!
//! The crypto backend is chosen explicitly ([`install_crypto`]: RustCrypto, pure Rust), and
//! [`TokenVerifier::self_test`] signs and verifies once at start-up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use sha2::{Digest, Sha256};

use crate::identity::Principal;

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The longest `kid`, tenant, subject or role accepted, in characters.
pub const MAX_CLAIM_CHARS: usize = 256;
/// The most roles a token may carry.
pub const MAX_ROLES: usize = 32;
/// The longest a verified token stays cached, whatever its `exp` says.
pub const MAX_CACHE_SECONDS: u64 = 3600;
/// The furthest in the future an `exp` may be: a year. Anything later is an absurd number
/// (or a token nobody should be able to revoke only by rotating keys).
pub const MAX_TOKEN_LIFETIME_SECONDS: u64 = 366 * 24 * 3600;
/// The most verified tokens kept.
pub const CACHE_CAPACITY: usize = 10_000;

/// The header `typ` values of a JWT access token (RFC 7519 and RFC 9068); none at all is one too.
const ACCESS_TOKEN_TYPES: [&str; 3] = ["JWT", "at+jwt", "application/at+jwt"];

/// Why a token was refused. The text names the rule, never the token or a claim's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Larger than [`MAX_TOKEN_BYTES`].
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// Not a JWS this server accepts (malformed, or its algorithm is not allowed).
    #[error("the token is malformed or uses an algorithm that is not allowed")]
    Malformed,
    /// No configured key matches its algorithm and `kid`.
    #[error("no configured key matches the token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// Its header's `typ` says it is not an access token (an ID token, a refresh token, ...).
    #[error("the token's type (typ) is not a JWT access token")]
    Type,
    /// Expired (beyond the leeway) or not yet valid.
    #[error("the token is expired or not yet valid")]
    Expired,
    /// A required claim is missing or has the wrong form; names the claim.
    #[error("the token's {0} claim is missing or invalid")]
    Claim(String),
}

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Its tenant (the tenant claim) and user (`sub`).
    pub principal: Principal,
    /// Its roles (the roles claim; empty when absent).
    pub roles: Vec<String>,
    /// Its `exp`, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Where keys and rules come from (the `auth.*` settings).
#[derive(Clone, Debug, Default)]
pub struct VerifierSettings {
    /// The HS256 shared secret.
    pub hs256_secret: Option<Vec<u8>>,
    /// PEM public keys (RSA, EC P-256 or Ed25519), with a name for error messages.
    pub public_keys_pem: Vec<(String, Vec<u8>)>,
    /// A JWKS document.
    pub jwks: Option<Vec<u8>>,
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud`.
    pub audience: String,
    /// The claim naming the tenant.
    pub tenant_claim: String,
    /// The claim listing the roles.
    pub roles_claim: String,
    /// Clock leeway for `exp` and `nbf`, seconds.
    pub leeway_seconds: u64,
    /// The tenant every token of these keys acts as (a tenant's own identity provider): the
    /// tenant claim may be left out, and if present must name this tenant.
    pub fixed_tenant: Option<String>,
}

/// A configuration the verifier cannot start with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A PEM file holds no public key this server can use.
    #[error("{0} is not an RSA, EC P-256 or Ed25519 public key in PEM form")]
    Pem(String),
    /// The JWKS document does not parse, or a key in it is unusable.
    #[error("the JWKS document is invalid: {0}")]
    Jwks(String),
    /// No key at all.
    #[error("auth mode jwt needs a key: an HS256 secret, PEM public keys or a JWKS")]
    NoKey,
    /// The shared secret is too short to resist guessing.
    #[error("the HS256 secret must be at least 32 bytes")]
    WeakSecret,
    /// Issuer or audience not set.
    #[error("auth mode jwt needs auth.issuer and auth.audience")]
    NoIssuerOrAudience,
}

/// A configured key: its algorithm, its `kid` if it has one.
struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Installs the crypto backend `jsonwebtoken` uses, once per process: RustCrypto. Later calls
/// (tests build many verifiers) find it installed.
pub fn install_crypto() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// Verifies bearer tokens against the configured keys and rules.
pub struct TokenVerifier {
    keys: Vec<Key>,
    allowed: Vec<Algorithm>,
    issuer: String,
    audience: String,
    tenant_claim: String,
    roles_claim: String,
    leeway: u64,
    fixed_tenant: Option<String>,
    /// Verified tokens by SHA-256, with when the entry stops being used.
    cache: Mutex<HashMap<[u8; 32], (VerifiedToken, u64)>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("keys", &self.keys.len())
            .field("allowed", &self.allowed)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The algorithm a PEM public key is for: RSA keys verify RS256, EC keys ES256, Ed keys EdDSA.
fn pem_key(name: &str, pem: &[u8]) -> Result<Key, KeyError> {
    type Parse = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;
    let candidates: [(Algorithm, Parse); 3] = [
        (Algorithm::RS256, DecodingKey::from_rsa_pem),
        (Algorithm::ES256, DecodingKey::from_ec_pem),
        (Algorithm::EdDSA, DecodingKey::from_ed_pem),
    ];
    candidates
        .into_iter()
        .find_map(|(algorithm, parse)| {
            parse(pem).ok().map(|key| Key {
                kid: None,
                algorithm,
                key,
            })
        })
        .ok_or_else(|| KeyError::Pem(name.to_owned()))
}

/// The keys of a JWKS document; a key without `alg` gets its family's algorithm.
fn jwks_keys(document: &[u8]) -> Result<Vec<Key>, KeyError> {
    let set: JwkSet =
        serde_json::from_slice(document).map_err(|e| KeyError::Jwks(e.to_string()))?;
    let mut keys = Vec::with_capacity(set.keys.len());
    for jwk in &set.keys {
        let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::Jwks(e.to_string()))?;
        let default = match key.family() {
            AlgorithmFamily::Rsa => Algorithm::RS256,
            AlgorithmFamily::Ec => Algorithm::ES256,
            AlgorithmFamily::Ed => Algorithm::EdDSA,
            // A symmetric key in a key set would be a shared secret published to every reader.
            AlgorithmFamily::Hmac => {
                return Err(KeyError::Jwks(
                    "symmetric keys are not accepted from a JWKS".into(),
                ));
            }
        };
        let algorithm = match jwk.common.key_algorithm {
            Some(alg) => Algorithm::try_from(alg)
                .map_err(|_| KeyError::Jwks(format!("unsupported algorithm {alg}")))?,
            None => default,
        };
        if algorithm.family() != key.family() {
            return Err(KeyError::Jwks(format!(
                "a key's alg {algorithm:?} does not fit its type"
            )));
        }
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            algorithm,
            key,
        });
    }
    Ok(keys)
}

/// A claim that must be a non-empty string of at most [`MAX_CLAIM_CHARS`] characters.
fn string_claim(
    claims: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<String, AuthError> {
    match claims.get(name) {
        Some(serde_json::Value::String(s))
            if !s.is_empty() && s.chars().count() <= MAX_CLAIM_CHARS =>
        {
            Ok(s.clone())
        }
        _ => Err(AuthError::Claim(name.to_owned())),
    }
}

impl TokenVerifier {
    /// A verifier for `settings`; refuses a configuration without keys, issuer or audience.
    pub fn new(settings: &VerifierSettings) -> Result<TokenVerifier, KeyError> {
        install_crypto();
        if settings.issuer.is_empty() || settings.audience.is_empty() {
            return Err(KeyError::NoIssuerOrAudience);
        }
        let mut keys = Vec::new();
        if let Some(secret) = &settings.hs256_secret {
            if secret.len() < 32 {
                return Err(KeyError::WeakSecret);
            }
            keys.push(Key {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret).map_err(|_| KeyError::WeakSecret)?,
            });
        }
        for (name, pem) in &settings.public_keys_pem {
            keys.push(pem_key(name, pem)?);
        }
        if let Some(document) = &settings.jwks {
            keys.extend(jwks_keys(document)?);
        }
        if keys.is_empty() {
            return Err(KeyError::NoKey);
        }
        let mut allowed: Vec<Algorithm> = keys.iter().map(|k| k.algorithm).collect();
        allowed.sort_by_key(|a| format!("{a:?}"));
        allowed.dedup();
        Ok(TokenVerifier {
            keys,
            allowed,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            tenant_claim: settings.tenant_claim.clone(),
            roles_claim: settings.roles_claim.clone(),
            leeway: settings.leeway_seconds,
            fixed_tenant: settings.fixed_tenant.clone(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The algorithms tokens may use: exactly those of the configured keys.
    pub fn allowed_algorithms(&self) -> &[Algorithm] {
        &self.allowed
    }

    /// Verifies `token` (the part after `Bearer `).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now();
        if let Some((hit, until)) = self.lock().get(&digest)
            && *until > now
            && hit.expires_at > now
        {
            return Ok(hit.clone());
        }
        let verified = self.verify_uncached(token)?;
        let mut cache = self.lock();
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, (v, until)| *until > now && v.expires_at > now);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        // Kept until its exp, at most an hour; the token's own exp is what callers see.
        let until = verified.expires_at.min(now + MAX_CACHE_SECONDS);
        cache.insert(digest, (verified.clone(), until));
        Ok(verified)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (VerifiedToken, u64)>> {
        // Nothing panics while holding the lock; a poisoned cache is still a consistent map.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Verifies `token` without the cache: the full cost of a first sight (benchmarks use it).
    pub fn verify_uncached(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !self.allowed.contains(&header.alg) {
            return Err(AuthError::Malformed);
        }
        // A `typ` other than a JWT access token's is a token minted for something else.
        if let Some(typ) = &header.typ
            && !ACCESS_TOKEN_TYPES
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t))
        {
            return Err(AuthError::Type);
        }
        if header
            .kid
            .as_ref()
            .is_some_and(|kid| kid.chars().count() > MAX_CLAIM_CHARS)
        {
            return Err(AuthError::UnknownKey);
        }
        // Only keys of the token's algorithm; with a `kid`, only the key of that id. A key
        // without an id (the secret, a PEM file) never answers to a `kid`: a token naming a key
        // this server does not have is refused, not tried against whatever fits.
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| k.algorithm == header.alg)
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(wanted), Some(id)) => wanted == id,
                (Some(_), None) => false,
                (None, _) => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::UnknownKey);
        }
        let mut validation = Validation::new(header.alg);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut last = AuthError::BadSignature;
        for key in candidates {
            match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                token,
                &key.key,
                &validation,
            ) {
                Ok(data) => return self.claims(&data.claims),
                Err(e) => {
                    last = Self::refusal(e.kind());
                    if last != AuthError::BadSignature {
                        // A claim failure is the token's, whichever key verified it.
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    fn refusal(kind: &jsonwebtoken::errors::ErrorKind) -> AuthError {
        use jsonwebtoken::errors::ErrorKind as K;
        match kind {
            K::InvalidSignature => AuthError::BadSignature,
            K::ExpiredSignature | K::ImmatureSignature => AuthError::Expired,
            K::MissingRequiredClaim(name) => AuthError::Claim(name.clone()),
            K::InvalidClaimFormat(name) => AuthError::Claim(name.clone()),
            K::InvalidIssuer => AuthError::Claim("iss".into()),
            K::InvalidAudience => AuthError::Claim("aud".into()),
            K::InvalidSubject => AuthError::Claim("sub".into()),
            _ => AuthError::Malformed,
        }
    }

    fn claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<VerifiedToken, AuthError> {
        let user = string_claim(claims, "sub")?;
        let tenant = match &self.fixed_tenant {
            None => string_claim(claims, &self.tenant_claim)?,
            Some(fixed) => {
                if claims.contains_key(&self.tenant_claim)
                    && string_claim(claims, &self.tenant_claim)? != *fixed
                {
                    // A tenant's own provider speaks only for that tenant.
                    return Err(AuthError::Claim(self.tenant_claim.clone()));
                }
                fixed.clone()
            }
        };
        let expires_at = claims
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .filter(|exp| *exp <= now().saturating_add(MAX_TOKEN_LIFETIME_SECONDS))
            .ok_or_else(|| AuthError::Claim("exp".into()))?;
        let roles = match claims.get(&self.roles_claim) {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) if items.len() <= MAX_ROLES => items
                .iter()
                .map(|item| match item {
                    serde_json::Value::String(s) if s.chars().count() <= MAX_CLAIM_CHARS => {
                        Ok(s.clone())
                    }
                    _ => Err(AuthError::Claim(self.roles_claim.clone())),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(AuthError::Claim(self.roles_claim.clone())),
        };
        Ok(VerifiedToken {
            principal: Principal::new(&tenant, &user),
            roles,
            expires_at,
        })
    }

    /// The token's cached verification, if it is cached and not expired (no parsing).
    pub fn cached_verification(&self, token: &str) -> Option<VerifiedToken> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now();
        self.lock()
            .get(&digest)
            .filter(|(hit, until)| *until > now && hit.expires_at > now)
            .map(|(hit, _)| hit.clone())
    }

    /// The issuer these keys verify.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Tokens verified and cached now.
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    /// Signs a token with the crypto backend and verifies it, so that a broken backend stops
    /// the server at start-up rather than refusing every caller.
    pub fn self_test() -> Result<(), String> {
        let secret = [7u8; 32];
        let settings = VerifierSettings {
            hs256_secret: Some(secret.to_vec()),
            issuer: "self-test".into(),
            audience: "self-test".into(),
            tenant_claim: "tenant".into(),
            roles_claim: "roles".into(),
            ..VerifierSettings::default()
        };
        let token = mint_hs256(&settings, "self-test", "self-test", &[], 60)
            .map_err(|e| format!("signing failed: {e}"))?;
        let verifier = TokenVerifier::new(&settings).map_err(|e| e.to_string())?;
        verifier
            .verify_uncached(&token)
            .map(|_| ())
            .map_err(|e| format!("verifying failed: {e}"))
    }
}

/// Mints an HS256 token with the secret, issuer, audience and claim names of `settings`: `user`
/// of `tenant` with `roles`, valid for `ttl_seconds` (at most [`MAX_TOKEN_LIFETIME_SECONDS`]).
/// For development and tests (`ooloi token`); production tokens come from an identity
/// provider.
pub fn mint_hs256(
    settings: &VerifierSettings,
    tenant: &str,
    user: &str,
    roles: &[String],
    ttl_seconds: u64,
) -> Result<String, String> {
    install_crypto();
    let secret = settings
        .hs256_secret
        .as_deref()
        .ok_or("no HS256 secret is configured (auth.hs256_secret or auth.hs256_secret_file)")?;
    if secret.len() < 32 {
        return Err(KeyError::WeakSecret.to_string());
    }
    if ttl_seconds == 0 || ttl_seconds > MAX_TOKEN_LIFETIME_SECONDS {
        return Err(format!(
            "the lifetime must be between 1 s and {MAX_TOKEN_LIFETIME_SECONDS} s (a year)"
        ));
    }
    let issued = now();
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), settings.issuer.clone().into());
    claims.insert("aud".into(), settings.audience.clone().into());
    claims.insert("sub".into(), user.into());
    claims.insert(settings.tenant_claim.clone(), tenant.into());
    claims.insert(settings.roles_claim.clone(), roles.to_vec().into());
    claims.insert("iat".into(), issued.into());
    claims.insert("exp".into(), (issued + ttl_seconds).into());
    let key = jsonwebtoken::EncodingKey::from_secret(secret).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| e.to_string())
}
