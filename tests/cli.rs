//! The `ooloi` command-line client's value commands, and the `ooloi-server` start-up refusals,
//! run as a user would run them.

use std::process::Command;

fn ooloi(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ooloi"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().trim_end().to_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[test]
fn fmt_prints_canonical_edn() {
    let (ok, out, _) = ooloi(&["fmt", "{:b 6/8 :a #{3 1 2}}"]);
    assert!(ok);
    assert_eq!(out, "{:a #{1 2 3}, :b 3/4}");
}

#[test]
fn encode_then_decode_gives_the_value_back() {
    let (ok, hex, _) = ooloi(&["encode", "[:ooloi.pitch/C4 3/4 nil]"]);
    assert!(ok);
    assert_eq!(&hex[..2], "4a", "a vector_val (field 9, length-delimited)");
    let (ok, edn, _) = ooloi(&["decode", &hex]);
    assert!(ok);
    assert_eq!(edn, "[:ooloi.pitch/C4 3/4 nil]");
}

#[test]
fn bad_input_fails_with_a_located_message() {
    let (ok, _, err) = ooloi(&["fmt", "[1 2"]);
    assert!(!ok);
    assert!(
        err.contains("line 1, column 1") && err.contains("unterminated"),
        "{err}"
    );
    let (ok, _, err) = ooloi(&["decode", "2a0408011000"]);
    assert!(!ok);
    assert!(err.contains("zero denominator"), "{err}");
    let (ok, _, err) = ooloi(&["frobnicate", "x"]);
    assert!(!ok);
    assert!(err.contains("usage"), "{err}");
}

fn server(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ooloi-server"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[test]
fn the_server_reports_its_version_and_usage_and_refuses_bad_configuration() {
    let (code, out, _) = server(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("ooloi-server "), "{out}");
    let (code, out, _) = server(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("--grpc-listen") && out.contains("OOLOI__"),
        "{out}"
    );
    let (code, _, err) = server(&["--grpc-listen", "abc"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("abc") && err.contains("socket address"),
        "{err}"
    );
}

#[test]
fn the_server_refuses_to_start_without_the_authentication_it_was_asked_for() {
    let out = Command::new(env!("CARGO_BIN_EXE_ooloi-server"))
        .args([
            "--auth",
            "jwt",
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .env("OOLOI__AUTH__ISSUER", "https://idp.example")
        .env("OOLOI__AUTH__AUDIENCE", "ooloi")
        .env("OOLOI__AUTH__HS256_SECRET", "a-development-secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("does not implement JWT"), "{err}");
}
