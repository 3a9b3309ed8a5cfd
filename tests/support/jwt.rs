//! Tokens for the authentication tests: well-formed ones signed with the test keys in
//! `tests/fixtures/keys`, and hand-made ones (any header, any payload, any signature bytes) for
//! the attacks no signing library would produce.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value as Json, json};

/// The test issuer.
pub const ISSUER: &str = "https://idp.test";
/// The test audience.
pub const AUDIENCE: &str = "ooloi";
/// The test HS256 secret (32 bytes).
pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// A fixture file's bytes (`tests/fixtures/keys/<name>`).
pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Valid claims of `user` in `tenant`, expiring in an hour.
pub fn claims(tenant: &str, user: &str, roles: &[&str]) -> Json {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": user, "tenant": tenant,
        "roles": roles, "exp": now() + 3600, "iat": now(),
    })
}

/// `claims` signed HS256 with [`SECRET`].
pub fn hs256(claims: &Json) -> String {
    sign(Header::new(Algorithm::HS256), claims, &secret_key())
}

/// [`SECRET`] as a signing key.
pub fn secret_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET).expect("the test secret")
}

/// A token of `user` in `tenant` with `roles`, HS256, valid for an hour.
pub fn token(tenant: &str, user: &str, roles: &[&str]) -> String {
    hs256(&claims(tenant, user, roles))
}

/// `claims` signed with `key` under `header`.
pub fn sign(header: Header, claims: &Json, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("signing a test token")
}

/// The private key of a fixture pair: `rsa`, `ec` or `ed`.
pub fn private_key(kind: &str) -> EncodingKey {
    let pem = key_file(&format!("{kind}-private.pem"));
    match kind {
        "rsa" => EncodingKey::from_rsa_pem(&pem),
        "ec" => EncodingKey::from_ec_pem(&pem),
        "ed" => EncodingKey::from_ed_pem(&pem),
        other => panic!("no key kind {other}"),
    }
    .expect("fixture private key")
}

/// base64url without padding, as JWS uses it.
pub fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// A compact JWS from raw parts: `header` and `payload` as JSON, then `signature` bytes.
pub fn raw(header: &Json, payload: &Json, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(signature)
    )
}

/// An HS256 JWS over arbitrary `header` and `payload`, signed with `secret`: how an attacker
/// who knows a secret (or thinks a public key is one) signs.
pub fn hs256_raw(header: &Json, payload: &Json, secret: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

/// A JWKS document holding the fixture RSA public key under `kid`.
pub fn jwks_of_rsa(kid: &str) -> Vec<u8> {
    // The fixture's public key as a JWK: modulus and exponent from the PEM through the crate.
    let pem = key_file("rsa-public.pem");
    let (n, e) = rsa_components(&pem);
    serde_json::json!({"keys": [{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": e}]})
        .to_string()
        .into_bytes()
}

/// base64url modulus and exponent of an RSA public key PEM (SubjectPublicKeyInfo), read from
/// the DER by hand: the fixture is a fixed 2048-bit key.
fn rsa_components(pem: &[u8]) -> (String, String) {
    let text = String::from_utf8(pem.to_vec()).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64_decode(&body);
    // SPKI: SEQ { SEQ { oid, null }, BIT STRING { 0x00, SEQ { INTEGER n, INTEGER e } } }
    let mut i = 0;
    let read_header = |der: &[u8], i: &mut usize| -> (u8, usize) {
        let tag = der[*i];
        let mut len = der[*i + 1] as usize;
        *i += 2;
        if len & 0x80 != 0 {
            let bytes = len & 0x7f;
            len = 0;
            for _ in 0..bytes {
                len = (len << 8) | der[*i] as usize;
                *i += 1;
            }
        }
        (tag, len)
    };
    read_header(&der, &mut i); // outer SEQ
    let (_, alg_len) = read_header(&der, &mut i);
    i += alg_len;
    read_header(&der, &mut i); // BIT STRING
    i += 1; // unused bits
    read_header(&der, &mut i); // SEQ
    let (_, n_len) = read_header(&der, &mut i);
    let mut n = &der[i..i + n_len];
    i += n_len;
    while n[0] == 0 {
        n = &n[1..];
    }
    let (_, e_len) = read_header(&der, &mut i);
    let e = &der[i..i + e_len];
    (b64(n), b64(e))
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (u32::from(value(*c)) << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// `request` carrying `token` as its bearer token.
pub fn bearer<T>(mut request: tonic::Request<T>, token: &str) -> tonic::Request<T> {
    request.metadata_mut().insert(
        "authorization",
        tonic::metadata::AsciiMetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}
