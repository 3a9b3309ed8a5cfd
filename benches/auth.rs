//! Token verification cost per algorithm (issue 11): a first sight of a token (signature and
//! claims: `verify_uncached`) for HS256, RS256 (2048-bit), ES256 and EdDSA, and a cached
//! verification (what every later call with the same token costs: a SHA-256 and a map lookup).
//! Baseline in the same run: SHA-256 of the token alone.
//!
//! Run: `cargo bench --bench auth` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ooloi_server::auth::{TokenVerifier, VerifierSettings};
use sha2::Digest;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn settings() -> VerifierSettings {
    VerifierSettings {
        hs256_secret: Some(SECRET.to_vec()),
        public_keys_pem: ["rsa", "ec", "ed"]
            .iter()
            .map(|k| (k.to_string(), key_file(&format!("{k}-public.pem"))))
            .collect(),
        issuer: "https://idp.bench".into(),
        audience: "ooloi".into(),
        tenant_claim: "tenant".into(),
        roles_claim: "roles".into(),
        leeway_seconds: 30,
        ..VerifierSettings::default()
    }
}

fn token(alg: Algorithm, key: &EncodingKey) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": "https://idp.bench", "aud": "ooloi", "sub": "alice", "tenant": "acme",
        "roles": ["admin"], "iat": now, "exp": now + 3600,
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

fn verification(c: &mut Criterion) {
    let verifier = TokenVerifier::new(&settings()).unwrap();
    let pem = |k: &str| key_file(&format!("{k}-private.pem"));
    let tokens = [
        (
            "HS256",
            token(Algorithm::HS256, &EncodingKey::from_secret(SECRET).unwrap()),
        ),
        (
            "RS256",
            token(
                Algorithm::RS256,
                &EncodingKey::from_rsa_pem(&pem("rsa")).unwrap(),
            ),
        ),
        (
            "ES256",
            token(
                Algorithm::ES256,
                &EncodingKey::from_ec_pem(&pem("ec")).unwrap(),
            ),
        ),
        (
            "EdDSA",
            token(
                Algorithm::EdDSA,
                &EncodingKey::from_ed_pem(&pem("ed")).unwrap(),
            ),
        ),
    ];
    let mut group = c.benchmark_group("verify");
    for (name, t) in &tokens {
        verifier.verify_uncached(t).expect("a valid token");
        group.bench_function(format!("{name} first sight"), |b| {
            b.iter(|| verifier.verify_uncached(black_box(t)).unwrap())
        });
    }
    let (_, hs) = &tokens[0];
    verifier.verify(hs).unwrap();
    group.bench_function("cached", |b| {
        b.iter(|| verifier.verify(black_box(hs)).unwrap())
    });
    group.bench_function("baseline: SHA-256 of the token", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(hs.as_bytes())))
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
