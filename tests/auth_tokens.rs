//! Token verification for auth mode `jwt`, attack by attack (issue 11's attack matrix at the
//! verifier; `tests/auth_grpc.rs` repeats the transport-level cases through a server). Each
//! forged, expired or malformed token is refused while a control token of the same verifier
//! succeeds, and no refusal echoes the token.

mod support;

use jsonwebtoken::{Algorithm, Header};
use ooloi_server::auth::{AuthError, KeyError, TokenVerifier, VerifierSettings};
use serde_json::json;
use support::jwt::{self, AUDIENCE, ISSUER, SECRET, b64, claims, hs256, hs256_raw, raw};

fn settings() -> VerifierSettings {
    VerifierSettings {
        hs256_secret: Some(SECRET.to_vec()),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        tenant_claim: "tenant".into(),
        roles_claim: "roles".into(),
        leeway_seconds: 30,
        ..VerifierSettings::default()
    }
}

fn hs_verifier() -> TokenVerifier {
    TokenVerifier::new(&settings()).unwrap()
}

fn rsa_verifier() -> TokenVerifier {
    TokenVerifier::new(&VerifierSettings {
        hs256_secret: None,
        public_keys_pem: vec![("rsa".into(), jwt::key_file("rsa-public.pem"))],
        ..settings()
    })
    .unwrap()
}

/// `token` is refused with `expected`, and the control token of `verifier` passes.
fn refused(verifier: &TokenVerifier, control: &str, token: &str, expected: AuthError) {
    assert_eq!(verifier.verify(token), Err(expected.clone()), "{expected}");
    let message = verifier.verify(token).unwrap_err().to_string();
    assert!(message.len() < 200, "{message}");
    assert!(token.len() < 8 || !message.contains(token), "{message}");
    verifier.verify(control).expect("the control token passes");
}

#[test]
fn a_valid_token_gives_its_principal_roles_and_expiry() {
    let v = hs_verifier();
    let c = claims("acme", "alice", &["admin"]);
    let ok = v.verify(&hs256(&c)).unwrap();
    assert_eq!(ok.principal.tenant.as_str(), "acme");
    assert_eq!(ok.principal.user.as_str(), "alice");
    assert_eq!(ok.roles, vec!["admin".to_string()]);
    assert_eq!(ok.expires_at, c["exp"].as_u64().unwrap());
}

#[test]
fn alg_none_in_every_spelling_is_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    for alg in ["none", "None", "NONE", "nOnE", "", "HS256 ", "hs256"] {
        for signature in [&b""[..], b"x"] {
            let t = raw(
                &json!({"alg": alg, "typ": "JWT"}),
                &claims("acme", "alice", &[]),
                signature,
            );
            refused(&v, &control, &t, AuthError::Malformed);
        }
    }
    // Two dots and nothing after them.
    let t = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims("a", "b", &[]).to_string().as_bytes())
    );
    refused(&v, &control, &t, AuthError::Malformed);
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let v = rsa_verifier();
    let control = jwt::sign(
        Header::new(Algorithm::RS256),
        &claims("acme", "alice", &[]),
        &jwt::private_key("rsa"),
    );
    let public = jwt::key_file("rsa-public.pem");
    let t = hs256_raw(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims("acme", "alice", &[]),
        &public,
    );
    refused(&v, &control, &t, AuthError::Malformed);
    // Also with a verifier that has a secret: the public key is still not the secret.
    let both = TokenVerifier::new(&VerifierSettings {
        public_keys_pem: vec![("rsa".into(), public)],
        ..settings()
    })
    .unwrap();
    refused(&both, &control, &t, AuthError::BadSignature);
}

#[test]
fn a_wrong_key_and_a_bad_signature_are_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let other = hs256_raw(
        &json!({"alg": "HS256"}),
        &claims("acme", "alice", &[]),
        b"another secret of 32 bytes......",
    );
    refused(&v, &control, &other, AuthError::BadSignature);
    // One character of the signature changed: its first, whose six bits are all signature
    // (the last one's low bits are padding, and changing only those is malformed base64url,
    // not a bad signature).
    let at = control.rfind('.').unwrap() + 1;
    let first = control.as_bytes()[at];
    let mut bad = control.clone();
    bad.replace_range(at..=at, if first == b'A' { "B" } else { "A" });
    refused(&v, &control, &bad, AuthError::BadSignature);
    // RS256 signed by a key that is not configured.
    let rsa = rsa_verifier();
    let rsa_control = jwt::sign(
        Header::new(Algorithm::RS256),
        &claims("acme", "alice", &[]),
        &jwt::private_key("rsa"),
    );
    let forged = raw(
        &json!({"alg": "RS256"}),
        &claims("acme", "alice", &[]),
        &[7u8; 256],
    );
    refused(&rsa, &rsa_control, &forged, AuthError::BadSignature);
}

#[test]
fn expiry_beyond_the_leeway_and_future_nbf_are_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let mut c = claims("acme", "alice", &[]);
    c["exp"] = json!(jwt::now() - 31 - 5);
    refused(&v, &control, &hs256(&c), AuthError::Expired);
    c["exp"] = json!(jwt::now() - 5); // within the 30 s leeway
    v.verify(&hs256(&c)).expect("within the leeway");
    let mut c = claims("acme", "alice", &[]);
    c["nbf"] = json!(jwt::now() + 600);
    refused(&v, &control, &hs256(&c), AuthError::Expired);
}

#[test]
fn exp_and_nbf_as_strings_or_absurd_numbers_are_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let later = jwt::now() + 3600;
    for (claim, value) in [
        ("exp", json!(later.to_string())),
        ("exp", json!(1e300)),
        ("exp", json!(-1)),
        ("exp", json!(u64::MAX)),
        ("exp", json!(later as f64 + 0.5)),
        ("exp", json!(null)),
        ("exp", json!([later])),
        ("nbf", json!("0")),
        ("nbf", json!(1e300)),
        ("nbf", json!({"at": 0})),
    ] {
        let mut c = claims("acme", "alice", &[]);
        c[claim] = value.clone();
        let t = hs256(&c);
        assert!(v.verify(&t).is_err(), "{claim} = {value} was accepted");
        v.verify(&control).unwrap();
    }
}

#[test]
fn each_required_claim_missing_is_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    for claim in ["exp", "iss", "aud", "sub", "tenant"] {
        let mut c = claims("acme", "alice", &[]);
        c.as_object_mut().unwrap().remove(claim);
        refused(&v, &control, &hs256(&c), AuthError::Claim(claim.into()));
    }
    for (claim, value) in [
        ("sub", json!("")),
        ("tenant", json!("")),
        ("sub", json!(7)),
        ("tenant", json!(["a"])),
        ("roles", json!("admin")),
        ("roles", json!([1])),
    ] {
        let mut c = claims("acme", "alice", &[]);
        c[claim] = value;
        assert!(
            matches!(v.verify(&hs256(&c)), Err(AuthError::Claim(_))),
            "{claim}"
        );
    }
}

#[test]
fn wrong_audience_issuer_or_type_is_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let mut c = claims("acme", "alice", &[]);
    c["aud"] = json!("another-service");
    refused(&v, &control, &hs256(&c), AuthError::Claim("aud".into()));
    c["aud"] = json!(["another-service", "a-third"]);
    refused(&v, &control, &hs256(&c), AuthError::Claim("aud".into()));
    let mut c = claims("acme", "alice", &[]);
    c["iss"] = json!("https://evil.test");
    refused(&v, &control, &hs256(&c), AuthError::Claim("iss".into()));
    // A token of another type: an ID token, a refresh token, an encrypted token's header.
    for typ in ["id_token+jwt", "refresh", "JWE", "secevent+jwt"] {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some(typ.into());
        let t = jwt::sign(h, &claims("acme", "alice", &[]), &jwt::secret_key());
        refused(&v, &control, &t, AuthError::Type);
    }
    for typ in ["JWT", "jwt", "at+jwt", "application/at+jwt"] {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some(typ.into());
        let t = jwt::sign(h, &claims("acme", "alice", &[]), &jwt::secret_key());
        v.verify(&t).unwrap_or_else(|e| panic!("typ {typ}: {e}"));
    }
    // An audience list that includes ours is ours.
    let mut c = claims("acme", "alice", &[]);
    c["aud"] = json!(["another-service", AUDIENCE]);
    v.verify(&hs256(&c)).unwrap();
}

#[test]
fn unknown_path_like_sql_like_and_huge_kids_are_refused() {
    let v = TokenVerifier::new(&VerifierSettings {
        hs256_secret: None,
        jwks: Some(jwt::jwks_of_rsa("key-1")),
        ..settings()
    })
    .unwrap();
    let with_kid = |kid: &str| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.into());
        jwt::sign(h, &claims("acme", "alice", &[]), &jwt::private_key("rsa"))
    };
    let control = with_kid("key-1");
    for kid in [
        "key-2",
        "../../../../etc/passwd",
        "' OR 1=1 --",
        "\u{0}",
        &"k".repeat(10 * 1024),
    ] {
        let t = with_kid(kid);
        let expected = if t.len() > 8 * 1024 {
            AuthError::TooLarge
        } else {
            AuthError::UnknownKey
        };
        refused(&v, &control, &t, expected);
    }
    // A 300-character kid fits in a token but not in the rules.
    refused(
        &v,
        &control,
        &with_kid(&"k".repeat(300)),
        AuthError::UnknownKey,
    );
}

#[test]
fn keys_named_by_the_token_are_not_trusted() {
    // A token carrying its own key (`jwk`) and key URLs, signed with that key: refused,
    // because only configured keys verify.
    let v = rsa_verifier();
    let control = jwt::sign(
        Header::new(Algorithm::RS256),
        &claims("acme", "alice", &[]),
        &jwt::private_key("rsa"),
    );
    let header = json!({
        "alg": "HS256", "jku": "http://127.0.0.1:9/jwks.json", "x5u": "http://127.0.0.1:9/cert",
        "jwk": {"kty": "oct", "k": b64(b"attacker secret of 32 bytes.....")},
    });
    let t = hs256_raw(
        &header,
        &claims("acme", "alice", &[]),
        b"attacker secret of 32 bytes.....",
    );
    refused(&v, &control, &t, AuthError::Malformed);
}

#[test]
fn an_edited_payload_with_the_old_signature_is_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let parts: Vec<&str> = control.split('.').collect();
    let edited = claims("acme", "mallory", &["admin"]);
    let t = format!(
        "{}.{}.{}",
        parts[0],
        b64(edited.to_string().as_bytes()),
        parts[2]
    );
    refused(&v, &control, &t, AuthError::BadSignature);
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let mut c = claims("acme", "alice", &[]);
    c["padding"] = json!("p".repeat(20 * 1024));
    refused(&v, &control, &hs256(&c), AuthError::TooLarge);
    refused(&v, &control, &"a".repeat(20 * 1024), AuthError::TooLarge);
    for junk in ["", ".", "..", "a.b.c", "a.b", "Bearer x"] {
        refused(&v, &control, junk, AuthError::Malformed);
    }
}

#[test]
fn too_many_or_too_long_roles_are_refused() {
    let v = hs_verifier();
    let control = jwt::token("acme", "alice", &[]);
    let many: Vec<String> = (0..33).map(|i| format!("r{i}")).collect();
    let mut c = claims("acme", "alice", &[]);
    c["roles"] = json!(many);
    refused(&v, &control, &hs256(&c), AuthError::Claim("roles".into()));
    let mut c = claims("acme", "alice", &[]);
    c["roles"] = json!(["r".repeat(257)]);
    refused(&v, &control, &hs256(&c), AuthError::Claim("roles".into()));
    let mut c = claims("acme", "alice", &[]);
    c["tenant"] = json!("t".repeat(257));
    refused(&v, &control, &hs256(&c), AuthError::Claim("tenant".into()));
}

#[test]
fn rs256_es256_and_eddsa_public_keys_verify_their_tokens_only() {
    let v = TokenVerifier::new(&VerifierSettings {
        hs256_secret: None,
        public_keys_pem: ["rsa", "ec", "ed"]
            .iter()
            .map(|k| (k.to_string(), jwt::key_file(&format!("{k}-public.pem"))))
            .collect(),
        ..settings()
    })
    .unwrap();
    assert_eq!(v.allowed_algorithms().len(), 3);
    for (kind, alg) in [
        ("rsa", Algorithm::RS256),
        ("ec", Algorithm::ES256),
        ("ed", Algorithm::EdDSA),
    ] {
        let t = jwt::sign(
            Header::new(alg),
            &claims("acme", kind, &[]),
            &jwt::private_key(kind),
        );
        assert_eq!(v.verify(&t).unwrap().principal.user.as_str(), kind);
    }
    // HS256 is not in this verifier's list at all.
    assert_eq!(
        v.verify(&jwt::token("acme", "alice", &[])),
        Err(AuthError::Malformed)
    );
    // An RS256 header over an ES256 signature does not verify.
    let es = jwt::sign(
        Header::new(Algorithm::ES256),
        &claims("acme", "x", &[]),
        &jwt::private_key("ec"),
    );
    let parts: Vec<&str> = es.split('.').collect();
    let swapped = format!("{}.{}.{}", b64(br#"{"alg":"RS256"}"#), parts[1], parts[2]);
    assert_eq!(v.verify(&swapped), Err(AuthError::BadSignature));
}

#[test]
fn a_jwks_file_verifies_by_kid_and_refuses_symmetric_keys() {
    let v = TokenVerifier::new(&VerifierSettings {
        hs256_secret: None,
        jwks: Some(jwt::jwks_of_rsa("key-1")),
        ..settings()
    })
    .unwrap();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("key-1".into());
    let t = jwt::sign(h, &claims("acme", "alice", &[]), &jwt::private_key("rsa"));
    assert_eq!(v.verify(&t).unwrap().principal.user.as_str(), "alice");
    let symmetric = json!({"keys": [{"kty": "oct", "kid": "s", "alg": "HS256", "k": b64(SECRET)}]});
    let e = TokenVerifier::new(&VerifierSettings {
        hs256_secret: None,
        jwks: Some(symmetric.to_string().into_bytes()),
        ..settings()
    })
    .unwrap_err();
    assert!(matches!(e, KeyError::Jwks(_)), "{e}");
}

#[test]
fn configurations_without_keys_issuer_audience_or_with_a_weak_secret_are_refused() {
    let none = VerifierSettings {
        hs256_secret: None,
        ..settings()
    };
    assert_eq!(TokenVerifier::new(&none).unwrap_err(), KeyError::NoKey);
    let weak = VerifierSettings {
        hs256_secret: Some(b"short".to_vec()),
        ..settings()
    };
    assert_eq!(TokenVerifier::new(&weak).unwrap_err(), KeyError::WeakSecret);
    let no_iss = VerifierSettings {
        issuer: String::new(),
        ..settings()
    };
    assert_eq!(
        TokenVerifier::new(&no_iss).unwrap_err(),
        KeyError::NoIssuerOrAudience
    );
    let bad_pem = VerifierSettings {
        public_keys_pem: vec![("x.pem".into(), b"not a key".to_vec())],
        ..settings()
    };
    assert!(
        matches!(TokenVerifier::new(&bad_pem).unwrap_err(), KeyError::Pem(name) if name == "x.pem")
    );
    TokenVerifier::self_test().unwrap();
}

#[test]
fn a_verified_token_is_cached_until_it_expires() {
    let v = hs_verifier();
    // Valid for a day: the cache keeps it at most an hour, but its expiry stays the token's.
    let mut c = claims("acme", "alice", &[]);
    let exp = jwt::now() + 86_400;
    c["exp"] = json!(exp);
    let t = hs256(&c);
    assert_eq!(v.cached(), 0);
    assert_eq!(v.verify(&t).unwrap().expires_at, exp);
    assert_eq!(
        v.verify(&t).unwrap().expires_at,
        exp,
        "a cache hit reports the real exp"
    );
    assert_eq!(v.cached_verification(&t).unwrap().expires_at, exp);
    assert_eq!(v.cached(), 1);
    // A refused token is not cached.
    let _ = v.verify("a.b.c");
    assert_eq!(v.cached(), 1);
    // An expired cached entry is verified again (and refused).
    let mut c = claims("acme", "bob", &[]);
    c["exp"] = json!(jwt::now() - 100);
    assert!(v.verify(&hs256(&c)).is_err());
    assert_eq!(v.cached(), 1);
}
