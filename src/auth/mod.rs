//! Authentication (DESIGN section 9): who a request is, from its credentials, before anything
//! else looks at it. [`Authenticator`] turns a request's `authorization` header into a
//! [`Caller`](crate::identity::Caller)'s principal, roles and expiry: in auth mode `none` every
//! request is the local principal with every role; in mode `jwt` a bearer token is required and
//! verified by [`token::TokenVerifier`]. The transports (gRPC's caller layer, the sidecar's
//! client statistics) call it; what an authenticated caller may do is decided by the domain.

pub mod jwks;
pub mod token;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::{AuthMode, Config};
use crate::identity::{Principal, Roles, TenantId};
use crate::tenants::{IdentityProvider, TenantRegistry};
pub use jwks::RemoteKeys;
pub use token::{AuthError, KeyError, TokenVerifier, VerifiedToken, VerifierSettings, mint_hs256};

/// Who the credentials of a request say it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The principal (tenant and user).
    pub principal: Principal,
    /// Its roles.
    pub roles: Roles,
    /// When the credentials expire (`None`: never, authentication is off).
    pub expires_at: Option<u64>,
}

/// Why a request's credentials were refused (UNAUTHENTICATED). The text never contains them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// No `authorization` header, in a mode that needs one.
    #[error("this server requires a bearer token (authorization: Bearer <token>)")]
    Missing,
    /// Two or more `authorization` headers: which one counts would be a guess.
    #[error("more than one authorization header")]
    Duplicate,
    /// Not `Bearer <token>` in visible ASCII.
    #[error("the authorization header is not \"Bearer <token>\"")]
    Malformed,
    /// The token was refused.
    #[error(transparent)]
    Token(#[from] AuthError),
}

/// Metadata headers by which a request may name its tenant. The tenant comes only from the
/// token; a request that names another one is refused rather than served as the token's tenant
/// (a client that believes it acts for tenant B must not quietly act for A).
pub const TENANT_HEADERS: [&str; 3] = ["x-ooloi-tenant", "x-tenant-id", "x-tenant"];

/// How a server authenticates requests.
#[derive(Debug)]
pub enum Authenticator {
    /// Auth mode `none`: every request is this principal, with every role.
    None(Principal),
    /// Auth mode `jwt`: a verified bearer token is required.
    Jwt {
        /// The platform's keys (the `auth.*` keys and issuer).
        platform: Box<PlatformKeys>,
        /// The tenant whose `platform-admin` principals operate the platform.
        platform_tenant: String,
        /// Tenants' own identity providers, found by issuer.
        providers: Box<Providers>,
    },
}

/// The platform's keys: configured ones (secret, PEM files, JWKS file), a key set fetched from
/// `auth.jwks_url`, or both (a token the configured keys do not know goes to the fetched set).
#[derive(Debug)]
pub struct PlatformKeys {
    configured: Option<TokenVerifier>,
    remote: Option<Arc<RemoteKeys>>,
    issuer: String,
}

impl PlatformKeys {
    fn cached_verification(&self, token: &str) -> Option<VerifiedToken> {
        self.configured
            .as_ref()
            .and_then(|v| v.cached_verification(token))
            .or_else(|| self.remote.as_ref()?.cached_verification(token))
    }

    fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        match (&self.configured, &self.remote) {
            (Some(configured), None) => configured.verify(token),
            (None, Some(remote)) => remote.verify(token),
            (Some(configured), Some(remote)) => match configured.verify(token) {
                // Not one of the configured keys (or algorithms): perhaps the fetched set's.
                Err(AuthError::UnknownKey | AuthError::Malformed) => remote.verify(token),
                other => other,
            },
            (None, None) => Err(AuthError::UnknownKey),
        }
    }

    /// The key set fetched from `auth.jwks_url`, if there is one.
    pub fn remote(&self) -> Option<&Arc<RemoteKeys>> {
        self.remote.as_ref()
    }
}

/// The keys of one tenant's own identity provider.
#[derive(Clone, Debug)]
enum ProviderKeys {
    /// From its JWKS file.
    File(Arc<TokenVerifier>),
    /// From its JWKS URL.
    Url(Arc<RemoteKeys>),
}

impl ProviderKeys {
    fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        match self {
            ProviderKeys::File(verifier) => verifier.verify(token),
            ProviderKeys::Url(remote) => remote.verify(token),
        }
    }
}

/// The verifiers of tenants' own identity providers, built from their records on first use
/// and rebuilt when a record's provider changes.
#[derive(Debug)]
pub struct Providers {
    tenants: Option<Arc<TenantRegistry>>,
    base: VerifierSettings,
    min_refresh: std::time::Duration,
    ttl: std::time::Duration,
    built: Mutex<HashMap<TenantId, (IdentityProvider, ProviderKeys)>>,
}

impl Providers {
    /// No tenant providers (tests, or a server without a tenant registry).
    pub fn none() -> Providers {
        Providers {
            tenants: None,
            base: VerifierSettings::default(),
            min_refresh: std::time::Duration::from_secs(30),
            ttl: std::time::Duration::from_secs(3600),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The keys of the tenant whose provider has `issuer`, if one has.
    fn for_issuer(&self, issuer: &str) -> Result<Option<ProviderKeys>, CredentialsError> {
        let Some(record) = self.tenants.as_ref().and_then(|t| t.by_issuer(issuer)) else {
            return Ok(None);
        };
        let Some(provider) = record.identity_provider else {
            return Ok(None);
        };
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, keys)) = built.get(&record.id)
            && *seen == provider
        {
            return Ok(Some(keys.clone()));
        }
        // A provider whose keys cannot be read refuses its tokens (it is the tenant's
        // configuration, not the caller's fault, but nothing else can verify them).
        let unusable = || CredentialsError::Token(AuthError::UnknownKey);
        let settings = VerifierSettings {
            hs256_secret: None,
            public_keys_pem: Vec::new(),
            jwks: None,
            issuer: provider.issuer.clone(),
            fixed_tenant: Some(record.id.to_string()),
            ..self.base.clone()
        };
        let keys = match (&provider.jwks_file, &provider.jwks_url) {
            (Some(path), _) => {
                let jwks = std::fs::read(path).map_err(|_| unusable())?;
                let verifier = TokenVerifier::new(&VerifierSettings {
                    jwks: Some(jwks),
                    ..settings
                })
                .map_err(|_| unusable())?;
                ProviderKeys::File(Arc::new(verifier))
            }
            // Fetched in the background on first use: the first token may be refused while
            // the set is on its way; a retry finds it.
            (None, Some(url)) => ProviderKeys::Url(Arc::new(
                RemoteKeys::new(url, settings, self.min_refresh, self.ttl)
                    .map_err(|_| unusable())?,
            )),
            (None, None) => return Err(unusable()),
        };
        built.insert(record.id.clone(), (provider, keys.clone()));
        Ok(Some(keys))
    }
}

impl Authenticator {
    /// The authenticator `config` asks for: in mode `jwt` it reads the key files, builds the
    /// verifier, and runs the crypto self-test first.
    pub fn from_config(config: &Config) -> Result<Authenticator, String> {
        Self::with_tenants(config, None)
    }

    /// Like [`Authenticator::from_config`], verifying tokens of tenants' own identity
    /// providers (records of `tenants`) too.
    pub fn with_tenants(
        config: &Config,
        tenants: Option<Arc<TenantRegistry>>,
    ) -> Result<Authenticator, String> {
        let auth = &config.auth;
        if auth.mode == AuthMode::None {
            return Ok(Authenticator::None(Principal::local()));
        }
        TokenVerifier::self_test().map_err(|e| format!("the JWT crypto self-test failed: {e}"))?;
        let settings = verifier_settings(config)?;
        let has_configured = settings.hs256_secret.is_some()
            || !settings.public_keys_pem.is_empty()
            || settings.jwks.is_some();
        let configured = has_configured
            .then(|| TokenVerifier::new(&settings).map_err(|e| e.to_string()))
            .transpose()?;
        let base = VerifierSettings {
            hs256_secret: None,
            public_keys_pem: Vec::new(),
            jwks: None,
            ..settings
        };
        let remote = auth
            .jwks_url
            .as_deref()
            .map(|url| {
                RemoteKeys::new(
                    url,
                    base.clone(),
                    std::time::Duration::from_secs(auth.jwks_min_refresh_seconds),
                    std::time::Duration::from_secs(auth.jwks_ttl_seconds),
                )
                .map(Arc::new)
            })
            .transpose()?;
        if configured.is_none() && remote.is_none() {
            return Err(KeyError::NoKey.to_string());
        }
        let platform = Box::new(PlatformKeys {
            configured,
            remote,
            issuer: base.issuer.clone(),
        });
        Ok(Authenticator::Jwt {
            platform,
            platform_tenant: auth.platform_tenant.clone(),
            providers: Box::new(Providers {
                tenants,
                base,
                min_refresh: std::time::Duration::from_secs(auth.jwks_min_refresh_seconds),
                ttl: std::time::Duration::from_secs(auth.jwks_ttl_seconds),
                built: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Fetches the key set of `auth.jwks_url`, if there is one (start-up: until it has keys the
    /// server is not ready).
    pub async fn fetch_remote_keys(&self) -> Result<(), String> {
        match self {
            Authenticator::Jwt { platform, .. } => match &platform.remote {
                Some(remote) => remote.refresh().await,
                None => Ok(()),
            },
            Authenticator::None(_) => Ok(()),
        }
    }

    /// The platform's keys (auth mode `jwt`).
    pub fn platform_keys(&self) -> Option<&PlatformKeys> {
        match self {
            Authenticator::Jwt { platform, .. } => Some(platform),
            Authenticator::None(_) => None,
        }
    }

    /// Who a request with these headers is.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, CredentialsError> {
        let identity = match self {
            Authenticator::None(principal) => Identity {
                principal: principal.clone(),
                roles: Roles::ALL,
                expires_at: None,
            },
            Authenticator::Jwt {
                platform,
                platform_tenant,
                providers,
            } => {
                let token = bearer(headers)?.ok_or(CredentialsError::Missing)?;
                if token.len() > token::MAX_TOKEN_BYTES {
                    return Err(AuthError::TooLarge.into());
                }
                let verified = match platform.cached_verification(token) {
                    Some(hit) => hit,
                    None => match issuer_of(token).filter(|iss| *iss != platform.issuer) {
                        // Another issuer: a tenant's own provider, or nobody we trust.
                        Some(iss) => match providers.for_issuer(&iss)? {
                            Some(tenant_verifier) => tenant_verifier.verify(token)?,
                            None => platform.verify(token)?,
                        },
                        None => platform.verify(token)?,
                    },
                };
                let roles = Roles::from_claim(
                    verified.roles.iter().map(String::as_str),
                    &verified.principal.tenant,
                    platform_tenant,
                );
                Identity {
                    principal: verified.principal,
                    roles,
                    expires_at: Some(verified.expires_at),
                }
            }
        };
        for name in TENANT_HEADERS {
            for value in headers.get_all(name) {
                if value.as_bytes() != identity.principal.tenant.as_bytes() {
                    return Err(CredentialsError::Token(AuthError::Claim(format!(
                        "tenant (the request's {name} names another tenant)"
                    ))));
                }
            }
        }
        Ok(identity)
    }

    /// True when requests need a bearer token.
    pub fn requires_token(&self) -> bool {
        matches!(self, Authenticator::Jwt { .. })
    }
}

/// The `iss` a token claims, read without verifying it: only to choose which keys verify it.
fn issuer_of(token: &str) -> Option<String> {
    if token.len() > token::MAX_TOKEN_BYTES {
        return None;
    }
    let claims: serde_json::Map<String, serde_json::Value> =
        jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// The verifier settings `config` gives: the `auth.*` keys, with the secret and key files read.
pub fn verifier_settings(config: &Config) -> Result<VerifierSettings, String> {
    let auth = &config.auth;
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let hs256_secret = match (&auth.hs256_secret, &auth.hs256_secret_file) {
        (Some(secret), _) => Some(secret.expose().as_bytes().to_vec()),
        // A secret file usually ends with a newline its author did not mean as secret.
        (None, Some(path)) => {
            let mut bytes = read(path)?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            Some(bytes)
        }
        (None, None) => None,
    };
    let public_keys_pem = auth
        .public_key_files
        .iter()
        .map(|path| Ok((path.display().to_string(), read(path)?)))
        .collect::<Result<_, String>>()?;
    let jwks = auth.jwks_file.as_deref().map(read).transpose()?;
    Ok(VerifierSettings {
        hs256_secret,
        public_keys_pem,
        jwks,
        issuer: auth.issuer.clone().unwrap_or_default(),
        audience: auth.audience.clone().unwrap_or_default(),
        tenant_claim: auth.tenant_claim.clone(),
        roles_claim: auth.roles_claim.clone(),
        leeway_seconds: auth.leeway_seconds,
        fixed_tenant: None,
    })
}

/// The bearer token of `headers`, if there is an `authorization` header: exactly one, of the
/// form `Bearer <token>` (the scheme in any case, RFC 7235) in visible ASCII.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, CredentialsError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => return Err(CredentialsError::Duplicate),
        (Some(value), None) => value,
    };
    let text = value.to_str().map_err(|_| CredentialsError::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(CredentialsError::Malformed)?;
    let token = token.trim_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(CredentialsError::Malformed);
    }
    Ok(Some(token))
}
