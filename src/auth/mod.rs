//! Authentication and authorization (DESIGN section 9). So far: verifying bearer tokens for
//! auth mode `jwt` ([`token`]). The tenant registry, the tenancy rules and the piece ACL join
//! this module as Stage 5 proceeds; the transport will call [`token::TokenVerifier`] from its
//! caller layer, and the domain will check the resulting principal's roles.

pub mod token;

pub use token::{AuthError, KeyError, TokenVerifier, VerifiedToken, VerifierSettings};
