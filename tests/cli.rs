//! The `ooloi` command-line client's value commands, and the `ooloi-server` start-up refusals,
//! run as a user would run them.

mod support;

use std::process::Command;
use std::time::Duration;

use support::process::{ServerProcess, logged_addr, server_command};

/// Runs `ooloi ARGS`: (success, stdout, stderr), both trimmed at the end.
fn ooloi(args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = ooloi_code(args);
    (
        code == Some(0),
        out.trim_end().to_owned(),
        err.trim_end().to_owned(),
    )
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
    assert!(
        err.contains("'frobnicate'") && err.contains("Usage:"),
        "{err}"
    );
}

/// Runs `program ARGS` to completion: (exit code, stdout, stderr).
fn run(program: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(program).args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

/// Runs `ooloi ARGS`: (exit code, stdout, stderr).
fn ooloi_code(args: &[&str]) -> (Option<i32>, String, String) {
    run(env!("CARGO_BIN_EXE_ooloi"), args)
}

#[test]
fn every_command_has_help_and_a_version() {
    for args in [
        &["--help"][..],
        &["help"],
        &["help", "call"],
        &["call", "--help"],
        &["watch", "--help"],
        &["bench", "--help"],
        &["completions", "--help"],
        &["fmt", "-h"],
    ] {
        let (code, out, err) = ooloi_code(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(out.contains("Usage: ooloi"), "{args:?}: {out}");
    }
    let (_, out, _) = ooloi_code(&["bench", "--help"]);
    for option in ["--spawn", "--server", "--duration", "--callers", "--json"] {
        assert!(out.contains(option), "bench --help lacks {option}");
    }
    let (code, out, _) = ooloi_code(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), format!("ooloi {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_bad_argument_exits_2_naming_it() {
    for (args, named) in [
        (&["call", "--nope", "m", "[]"][..], "--nope"),
        (&["watch", "--serverr", "x", "pid"], "--serverr"),
        (&["bench", "--spawn", "--server", "http://x"], "--spawn"),
        (&["bench", "--callers", "0"], "--callers"),
        (&["bench", "--duration", "0"], "--duration"),
        (&["completions", "tcsh"], "tcsh"),
        (&["call"], "<METHOD>"),
    ] {
        let (code, _, err) = ooloi_code(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn completions_are_scripts_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _ooloi"),
        ("zsh", "#compdef ooloi"),
        ("fish", "complete -c ooloi"),
    ] {
        let (code, out, err) = ooloi_code(&["completions", shell]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(200)]
        );
        assert!(out.contains("bench"), "{shell} completes the subcommands");
    }
}

fn server(args: &[&str]) -> (Option<i32>, String, String) {
    run(env!("CARGO_BIN_EXE_ooloi-server"), args)
}

#[test]
fn migrate_check_reports_pending_migrations_and_migrate_applies_them() {
    let dir = std::env::temp_dir().join(format!("ooloi-migrate-{}", std::process::id()));
    let data = dir.display().to_string();
    let (code, out, err) = server(&["--data-dir", &data, "migrate", "--check"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("pending migrations: 1_pieces"), "{out}");
    let (code, out, err) = server(&["--data-dir", &data, "migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("sqlite: migrations applied"), "{out}");
    let (code, out, _) = server(&["--data-dir", &data, "migrate", "--check"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("up to date"), "{out}");
    let (code, _, err) = server(&[
        "--store-url",
        "postgres://nobody@127.0.0.1:1/none",
        "migrate",
        "--check",
    ]);
    assert_eq!(code, Some(1), "an unreachable database fails: {err}");
    assert!(err.contains("store:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_server_reports_its_version_and_usage_and_refuses_bad_configuration() {
    let (code, out, _) = server(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("ooloi-server "), "{out}");
    let (code, out, _) = server(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Usage: ooloi-server"), "{out}");
    for needle in [
        "--grpc-listen",
        "OOLOI__GRPC__LISTEN",
        "[default: 127.0.0.1:10700]",
        "telemetry.otlp_endpoint",
        "OOLOI__TELEMETRY__OTLP_ENDPOINT",
    ] {
        assert!(out.contains(needle), "{needle} missing from\n{out}");
    }
    let (code, _, err) = server(&["--grpc-listn", "127.0.0.1:0"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("'--grpc-listn'") && err.contains("--grpc-listen"),
        "names the flag and the one meant: {err}"
    );
    let (code, _, err) = server(&["serve"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("'serve'"), "{err}");
    let (code, _, err) = server(&["--grpc-listen", "abc"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("abc") && err.contains("socket address"),
        "{err}"
    );
}

#[test]
fn the_server_refuses_to_start_when_authentication_cannot_start() {
    let start = |secret: (&str, &str)| {
        let out = Command::new(env!("CARGO_BIN_EXE_ooloi-server"))
            .env("OOLOI__STORE__URL", "memory:")
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
            .env(secret.0, secret.1)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    // A guessable secret, and a key file that is not there.
    let err = start(("OOLOI__AUTH__HS256_SECRET", "a-development-secret"));
    assert!(err.contains("at least 32 bytes"), "{err}");
    assert!(
        !err.contains("a-development-secret"),
        "the secret is never echoed: {err}"
    );
    let err = start(("OOLOI__AUTH__PUBLIC_KEY_FILES", "/nonexistent/idp.pem"));
    assert!(err.contains("/nonexistent/idp.pem"), "{err}");
}

/// A key the server does not act on yet is not silently ignored: start-up warns about it by
/// name, and about nothing when no such key is set.
#[test]
fn the_server_warns_about_settings_it_does_not_act_on() {
    let start = |setting: Option<(&str, &str)>| -> Vec<String> {
        let mut command = server_command();
        if let Some((name, value)) = setting {
            command.env(name, value);
        }
        let lines = ServerProcess::spawn(&mut command)
            .lines_until("ooloi-server ready", Duration::from_secs(20));
        assert!(
            lines.iter().any(|l| l.contains("ooloi-server ready")),
            "the server started: {lines:?}"
        );
        lines
    };
    // The issuer means nothing while authentication is off.
    let lines = start(Some(("OOLOI__AUTH__ISSUER", "https://idp.example.org")));
    let warning = lines
        .iter()
        .find(|l| l.contains("auth.issuer"))
        .unwrap_or_else(|| panic!("no warning about the issuer: {lines:?}"));
    assert!(
        warning.contains("WARN") && warning.contains("authentication is off"),
        "{warning}"
    );
    // The trace endpoint is acted on (the collector need not be up): said, not warned about.
    let lines = start(Some((
        "OOLOI__TELEMETRY__OTLP_ENDPOINT",
        "http://127.0.0.1:9",
    )));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("exporting traces over OTLP/gRPC")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("has no effect")),
        "{lines:?}"
    );
    let lines = start(None);
    assert!(
        !lines.iter().any(|l| l.contains("has no effect")),
        "{lines:?}"
    );
}

/// Without authentication the server is for a trusted machine (Redis's protected mode): it
/// refuses to listen beyond loopback unless told the network is trusted, and then warns.
#[test]
fn without_authentication_the_server_listens_on_loopback_only_unless_told_otherwise() {
    for listen in [
        ["--grpc-listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0"],
        ["--grpc-listen", "127.0.0.1:0", "--http-listen", "[::]:0"],
    ] {
        let (code, _, err) = server(&listen);
        assert_eq!(code, Some(2), "{listen:?}: {err}");
        assert!(
            err.contains("refusing to listen beyond this machine")
                && err.contains("auth.allow_insecure_network"),
            "{err}"
        );
    }
    // Told the network is trusted: it starts, and says what that means.
    let server = ServerProcess::spawn(
        server_command()
            .args(["--grpc-listen", "0.0.0.0:0"])
            .env("OOLOI__AUTH__ALLOW_INSECURE_NETWORK", "true"),
    );
    let lines = server.lines_until("ooloi-server ready", Duration::from_secs(20));
    drop(server);
    assert!(
        lines.iter().any(|l| l.contains("ooloi-server ready")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("without authentication")),
        "{lines:?}"
    );
}

/// `ooloi-server health`, the container's health check: 0 while the sidecar answers 200 (on
/// `/livez`, or `/readyz` with `--ready`), 1 when nothing answers, 2 for a URL it cannot probe.
#[test]
fn health_probes_the_sidecar() {
    let server = ServerProcess::spawn(&mut server_command());
    let lines = server.lines_until("ooloi-server ready", Duration::from_secs(20));
    let http = logged_addr(&lines, "http_listen").expect("the serving line names the HTTP address");
    let probe = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ooloi-server"))
            .env("OOLOI__HTTP__LISTEN", &http)
            .env("OOLOI__STORE__URL", "memory:")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = probe(&["health"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), format!("http://{http}/livez: 200 OK"));
    let (code, out, _) = probe(&["health", "--ready"]);
    assert_eq!(
        (code, out.trim()),
        (Some(0), &*format!("http://{http}/readyz: 200 OK"))
    );
    let (code, _, _) = probe(&["health", "--url", &format!("http://{http}/readyz")]);
    assert_eq!(code, Some(0));
    // A path that is not 200 fails.
    let (code, _, err) = probe(&["health", "--url", &format!("http://{http}/nowhere")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("404"), "{err}");
    let (code, _, err) = probe(&["health", "--url", "ftp://example.org/"]);
    assert_eq!(code, Some(2), "{err}");
    drop(server);
    // Nothing listening any more.
    let (code, _, err) = probe(&["health"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("connecting to"), "{err}");

    // A sidecar on every address (as in a container) is probed on loopback, IPv4 and IPv6.
    for every in ["0.0.0.0:0", "[::]:0"] {
        let server = ServerProcess::spawn(
            server_command()
                .args(["--http-listen", every])
                .env("OOLOI__AUTH__ALLOW_INSECURE_NETWORK", "true"),
        );
        let lines = server.lines_until("ooloi-server ready", Duration::from_secs(20));
        let listen = logged_addr(&lines, "http_listen").expect("the HTTP address");
        let out = Command::new(env!("CARGO_BIN_EXE_ooloi-server"))
            .env("OOLOI__HTTP__LISTEN", &listen)
            .env("OOLOI__STORE__URL", "memory:")
            .args(["health", "--ready"])
            .output()
            .unwrap();
        let loopback = if every.starts_with('[') {
            "[::1]"
        } else {
            "127.0.0.1"
        };
        let port = listen.rsplit(':').next().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("http://{loopback}:{port}/readyz: 200 OK"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0));
    }
}
