//! The module map cannot rot. Two rules, checked against the source tree:
//!
//! - the domain modules (`value`, `stm`, `model`, `api`, `events`, `clients`, `identity`) import
//!   no transport, runtime or SQL crate (tonic, axum, tokio, hyper, tower, sqlx, prometheus),
//!   and no trace subscriber or exporter (`tracing` itself, the facade, is allowed);
//! - the "may use" arrows in ARCHITECTURE.md are exactly the crate modules each module's code
//!   names (`use crate::x` or a `crate::x::...` path), not one more and not one less.
//!
//! Test code (`#[cfg(test)]` modules and the files they declare) may use anything and is not
//! counted; comments are not code. The checks are functions of the files' text, so the tests
//! at the end can show that each rule fails when it is broken.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that must not see transports, runtimes or storage.
const DOMAIN: [&str; 7] = [
    "value", "stm", "model", "api", "events", "clients", "identity",
];

/// Crates the domain must not name.
/// `tracing` itself is allowed: it is the instrumentation facade, with which the domain makes its
/// own spans (`stm.transaction`); what collects, formats and exports them is not.
const FORBIDDEN: [&str; 13] = [
    "tonic",
    "axum",
    "tokio",
    "hyper",
    "hyper_util",
    "tower",
    "sqlx",
    "prometheus",
    "tracing_subscriber",
    "tracing_opentelemetry",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// A source file: its path under `src/` (with `/` separators) and its text.
type Source = (String, String);

fn read_tree(root: &Path) -> Vec<Source> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap();
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// The top-level module a file belongs to (`api/methods/mod.rs` -> `api`); `None` for the crate
/// root and the binaries.
fn module_of(path: &str) -> Option<&str> {
    if path == "lib.rs" || path.starts_with("bin/") {
        return None;
    }
    Some(path.split('/').next()?.trim_end_matches(".rs"))
}

/// Files declared by a `#[cfg(test)] mod name;` line: test code, wherever they live.
fn test_only_files(files: &[Source]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, text) in files {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            let [attribute, declaration] = pair else {
                continue;
            };
            let Some(name) = declaration
                .strip_prefix("mod ")
                .and_then(|d| d.strip_suffix(';'))
            else {
                continue;
            };
            if *attribute != "#[cfg(test)]" {
                continue;
            }
            // The directory a child of this file lives in.
            let dir = match path.rsplit_once('/') {
                Some((dir, "mod.rs")) => dir.to_string(),
                _ => path.trim_end_matches(".rs").to_string(),
            };
            out.insert(format!("{dir}/{name}.rs"));
            out.insert(format!("{dir}/{name}/"));
        }
    }
    out
}

/// The code of a file: without comment lines, and without its `#[cfg(test)] mod ... {` block
/// (by convention the last thing in a file).
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, pair) in lines.windows(2).enumerate() {
        let (attribute, declaration) = (pair[0].trim(), pair[1].trim());
        if attribute == "#[cfg(test)]"
            && declaration.starts_with("mod ")
            && declaration.ends_with('{')
        {
            end = i;
            break;
        }
    }
    lines[..end]
        .iter()
        .filter(|line| !line.trim_start().starts_with("//"))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every identifier that follows `prefix` in `code` (`crate::` -> `api`, `value`, ...).
fn names_after<'c>(code: &'c str, prefix: &str) -> impl Iterator<Item = &'c str> {
    code.match_indices(prefix).filter_map(move |(i, _)| {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        let rest = &code[i + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

/// Non-test code of each module, by module.
fn module_code(files: &[Source]) -> BTreeMap<String, Vec<(String, String)>> {
    let tests = test_only_files(files);
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (path, text) in files {
        let is_test = tests.contains(path)
            || tests
                .iter()
                .any(|t| t.ends_with('/') && path.starts_with(t.as_str()));
        let Some(module) = module_of(path) else {
            continue;
        };
        if is_test {
            continue;
        }
        out.entry(module.to_string())
            .or_default()
            .push((path.clone(), code_of(text)));
    }
    out
}

/// The crate modules each module's code names.
fn uses(files: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    module_code(files)
        .into_iter()
        .map(|(module, sources)| {
            let deps = sources
                .iter()
                .flat_map(|(_, code)| names_after(code, "crate::").map(str::to_string))
                .filter(|dep| *dep != module)
                .collect();
            (module, deps)
        })
        .collect()
}

/// Where a domain module names a forbidden crate: `path: crate`.
fn domain_violations(files: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    for (module, sources) in module_code(files) {
        if !DOMAIN.contains(&module.as_str()) {
            continue;
        }
        for (path, code) in sources {
            for krate in FORBIDDEN {
                let named = names_after(&code, "use ").any(|n| n == krate)
                    || code.match_indices(&format!("{krate}::")).any(|(i, _)| {
                        !code[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                    });
                if named {
                    out.push(format!("src/{path}: {krate}"));
                }
            }
        }
    }
    out
}

/// The arrows of the module map: the first code block after `## Modules, bottom up`, one line
/// per module, `name -> a, b, c (comment)` or `name (comment)` for a module that uses none.
fn arrows(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
    let section = architecture
        .split_once("## Modules, bottom up")
        .expect("ARCHITECTURE.md has a `## Modules, bottom up` section")
        .1;
    let block = section
        .split("```")
        .nth(1)
        .expect("the section has a code block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let line = line.split('(').next().unwrap();
            let (module, deps) = line.split_once("->").unwrap_or((line, ""));
            let deps = deps
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect();
            (module.trim().to_string(), deps)
        })
        .collect()
}

/// How the arrows and the code disagree, one line per difference.
fn arrow_mismatches(architecture: &str, files: &[Source]) -> Vec<String> {
    let drawn = arrows(architecture);
    let used = uses(files);
    let modules: BTreeSet<&String> = drawn.keys().chain(used.keys()).collect();
    let mut out = Vec::new();
    for module in modules {
        let (Some(d), Some(u)) = (drawn.get(module), used.get(module)) else {
            out.push(format!(
                "{module}: {} the map",
                if drawn.contains_key(module) {
                    "has no code but is in"
                } else {
                    "has code but is missing from"
                }
            ));
            continue;
        };
        for missing in u.difference(d) {
            out.push(format!("{module} uses {missing}, but the map has no arrow"));
        }
        for extra in d.difference(u) {
            out.push(format!(
                "{module} -> {extra} is drawn, but the code does not use it"
            ));
        }
    }
    out
}

fn project() -> (String, Vec<Source>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    (architecture, read_tree(&root.join("src")))
}

#[test]
fn the_domain_imports_no_transport_runtime_or_storage_crate() {
    let (_, files) = project();
    let violations = domain_violations(&files);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_module_map_matches_the_code() {
    let (architecture, files) = project();
    let mismatches = arrow_mismatches(&architecture, &files);
    assert!(
        mismatches.is_empty(),
        "ARCHITECTURE.md's module map and the code disagree:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn the_map_mentions_no_directory_that_does_not_exist() {
    let (architecture, _) = project();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["migrations/", "helm/", "Dockerfile"] {
        if !root.join(dir.trim_end_matches('/')).exists() {
            assert!(
                !architecture.contains(dir),
                "ARCHITECTURE.md mentions {dir}, which does not exist yet"
            );
        }
    }
}

fn tree(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

const MAP: &str = "## Modules, bottom up\n\n```\nvalue\napi -> value (no gRPC)\n```\n";

#[test]
fn a_domain_module_that_imports_tonic_is_caught() {
    let clean = tree(&[
        (
            "api/mod.rs",
            "//! Uses tonic:: only in a comment.\nuse crate::value::Value;\n",
        ),
        (
            "value/mod.rs",
            "pub struct Value;\n#[cfg(test)]\nmod tests {\n    use tokio::sync::watch;\n}\n",
        ),
        ("grpc/mod.rs", "use tonic::Status;\n"),
    ]);
    assert!(domain_violations(&clean).is_empty());
    for leak in [
        "use tonic::Status;\n",
        "use tonic;\n",
        "fn f() -> tonic::Status { todo() }\n",
        "pub use tokio::sync::watch;\n",
    ] {
        let mut files = clean.clone();
        files[0].1.push_str(leak);
        let violations = domain_violations(&files);
        assert_eq!(violations.len(), 1, "{leak:?}: {violations:?}");
        assert!(violations[0].starts_with("src/api/mod.rs"));
    }
}

#[test]
fn an_arrow_too_many_or_too_few_is_caught() {
    let files = tree(&[
        ("value/mod.rs", "pub struct Value;\n"),
        (
            "api/mod.rs",
            "// crate::grpc in a comment is not a use\nuse crate::value::Value;\n#[cfg(test)]\nmod tests;\n",
        ),
        ("api/tests.rs", "use crate::grpc::Anything;\n"),
    ]);
    assert_eq!(arrow_mismatches(MAP, &files), Vec::<String>::new());
    let mut extra_use = files.clone();
    extra_use.push(("api/call.rs".into(), "fn f(_: crate::stm::Tx) {}\n".into()));
    assert_eq!(
        arrow_mismatches(MAP, &extra_use),
        ["api uses stm, but the map has no arrow"]
    );
    let unused = MAP.replace("api -> value", "api -> value, model");
    assert_eq!(
        arrow_mismatches(&unused, &files),
        ["api -> model is drawn, but the code does not use it"]
    );
    let missing = MAP.replace("api -> value (no gRPC)\n", "");
    assert_eq!(
        arrow_mismatches(&missing, &files),
        ["api: has code but is missing from the map"]
    );
}
