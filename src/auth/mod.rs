//! Authentication (DESIGN section 9): who a request is, from its credentials, before anything
//! else looks at it. [`Authenticator`] turns a request's `authorization` header into a
//! [`Caller`](crate::identity::Caller)'s principal, roles and expiry: in auth mode `none` every
//! request is the local principal with every role; in mode `jwt` a bearer token is required and
//! verified by [`token::TokenVerifier`]. The transports (gRPC's caller layer, the sidecar's
//! client statistics) call it; what an authenticated caller may do is decided by the domain.

pub mod token;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::config::{AuthMode, Config};
use crate::identity::{Principal, Roles};
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
        /// The token verifier.
        verifier: TokenVerifier,
        /// The tenant whose `platform-admin` principals operate the platform.
        platform_tenant: String,
    },
}

impl Authenticator {
    /// The authenticator `config` asks for: in mode `jwt` it reads the key files, builds the
    /// verifier, and runs the crypto self-test first.
    pub fn from_config(config: &Config) -> Result<Authenticator, String> {
        let auth = &config.auth;
        if auth.mode == AuthMode::None {
            return Ok(Authenticator::None(Principal::local()));
        }
        TokenVerifier::self_test().map_err(|e| format!("the JWT crypto self-test failed: {e}"))?;
        if auth.jwks_url.is_some() {
            return Err(
                "auth.jwks_url is not supported by this version yet: download the key \
                        set and use auth.jwks_file, or auth.public_key_files"
                    .into(),
            );
        }
        let verifier =
            TokenVerifier::new(&verifier_settings(config)?).map_err(|e| e.to_string())?;
        Ok(Authenticator::Jwt {
            verifier,
            platform_tenant: auth.platform_tenant.clone(),
        })
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
                verifier,
                platform_tenant,
            } => {
                let token = bearer(headers)?.ok_or(CredentialsError::Missing)?;
                let verified = verifier.verify(token)?;
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
