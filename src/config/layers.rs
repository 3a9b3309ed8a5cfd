//! The layering: defaults < file (TOML) < environment (`OOLOI__SECTION__KEY`) < flags. Each
//! layer applies its values through the key table; an unknown environment variable or file key
//! is an error naming it, with the closest known name when one is close, so a typo is never
//! silently ignored. Variables without the `OOLOI__` prefix are not looked at.

use super::error::ConfigError;
use super::keys::{ENV_PREFIX, KEYS, Key, KeyKind};
use super::types::{Config, default_store_url};

/// Builds a configuration from the layers, in order: `file` (TOML text), `env` (name, value
/// pairs, later pairs win), `flags` (key and value, later ones win). `store.url` left unset
/// follows the final `store.data_dir`. Does not validate rules across keys.
pub(super) fn layered(
    file: Option<&str>,
    env: &[(String, String)],
    flags: &[(&'static Key, String)],
) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    let mut url_set = false;
    if let Some(text) = file {
        apply_file(&mut config, &mut url_set, text)?;
    }
    apply_env(&mut config, &mut url_set, env)?;
    for (key, value) in flags {
        let flag = key.flag.unwrap_or_default();
        apply(
            &mut config,
            &mut url_set,
            key,
            || flag.to_string(),
            value,
            || format!("{value:?}"),
        )?;
    }
    if url_set && config.store.url_file.is_some() {
        return Err(ConfigError::Inconsistent(
            "store.url (OOLOI__STORE__URL) and store.url_file (OOLOI__STORE__URL_FILE) are both \
             set; set one"
                .to_string(),
        ));
    }
    if !url_set {
        config.store.url = default_store_url(&config.store.data_dir);
    }
    Ok(config)
}

/// The closest candidate to `given`, if it is close (case ignored, edit distance at most 3).
pub(super) fn suggest<'a>(
    given: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let given = given.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&given, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Applies one value, recording that the key was set.
fn apply(
    config: &mut Config,
    url_set: &mut bool,
    key: &Key,
    origin: impl FnOnce() -> String,
    value: &str,
    shown: impl FnOnce() -> String,
) -> Result<(), ConfigError> {
    (key.set)(config, value).map_err(|expected| ConfigError::Invalid {
        origin: origin(),
        value: if key.secret {
            "<redacted>".to_string()
        } else {
            shown()
        },
        expected,
    })?;
    if key.section == "store" && key.name == "url" {
        *url_set = true;
    }
    Ok(())
}

fn apply_file(config: &mut Config, url_set: &mut bool, text: &str) -> Result<(), ConfigError> {
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigError::FileSyntax {
                message: e.to_string().trim_end().to_string(),
            })?;
    let dotted: Vec<String> = KEYS.iter().map(Key::dotted).collect();
    for (section, entries) in &table {
        if !KEYS.iter().any(|k| k.section == section) {
            return Err(ConfigError::UnknownFileKey {
                key: section.clone(),
                suggestion: suggest(section, KEYS.iter().map(|k| k.section)),
            });
        }
        let toml::Value::Table(entries) = entries else {
            return Err(ConfigError::Invalid {
                origin: format!("{section} (configuration file)"),
                value: entries.to_string(),
                expected: format!("a table ([{section}] with keys under it)"),
            });
        };
        for (name, value) in entries {
            let full = format!("{section}.{name}");
            let Some(key) = KEYS.iter().find(|k| k.section == section && k.name == name) else {
                return Err(ConfigError::UnknownFileKey {
                    suggestion: suggest(&full, dotted.iter().map(String::as_str)),
                    key: full,
                });
            };
            let origin = || format!("{full} (configuration file)");
            let text = match (key.kind, value) {
                (KeyKind::Text | KeyKind::List, toml::Value::String(s)) => Some(s.clone()),
                (KeyKind::Integer, toml::Value::Integer(i)) => Some(i.to_string()),
                (KeyKind::Bool, toml::Value::Boolean(b)) => Some(b.to_string()),
                (KeyKind::List, toml::Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        toml::Value::String(s) if !s.contains(',') => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
                    .map(|parts| parts.join(",")),
                _ => None,
            };
            let Some(text) = text else {
                let expected = match key.kind {
                    KeyKind::Text => "a string",
                    KeyKind::Integer => "an integer",
                    KeyKind::Bool => "a boolean",
                    KeyKind::List => "an array of strings (paths without commas)",
                };
                return Err(ConfigError::Invalid {
                    origin: origin(),
                    value: if key.secret {
                        "<redacted>".to_string()
                    } else {
                        value.to_string()
                    },
                    expected: expected.to_string(),
                });
            };
            apply(config, url_set, key, origin, &text, || value.to_string())?;
        }
    }
    Ok(())
}

fn apply_env(
    config: &mut Config,
    url_set: &mut bool,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    let names: Vec<String> = KEYS.iter().map(Key::env_name).collect();
    for (name, value) in env {
        if !name.starts_with(ENV_PREFIX) {
            continue;
        }
        let Some(i) = names.iter().position(|n| n == name) else {
            return Err(ConfigError::UnknownEnv {
                name: name.clone(),
                suggestion: suggest(name, names.iter().map(String::as_str)),
            });
        };
        apply(
            config,
            url_set,
            &KEYS[i],
            || name.clone(),
            value,
            || format!("{value:?}"),
        )?;
    }
    Ok(())
}
