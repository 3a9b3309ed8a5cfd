//! The platform operator's methods (category `admin`): `create-tenant [record]`,
//! `get-tenant [id]`, `list-tenants []`, `update-tenant [id changes]`, `suspend-tenant [id]`,
//! `resume-tenant [id]` and `delete-tenant [id id]`, which deletes every piece of the tenant
//! and needs the id twice as confirmation. A record is a map:
//! `{:id "acme" :name "Acme University" :status :active :default-access :tenant-read
//!   :quotas {:clients 100 :pieces 1000 :requests-per-second 50 :burst 100}
//!   :identity-provider {:issuer "https://idp.acme.edu" :jwks-file "/keys/acme.json"}}`.

use std::path::PathBuf;

use super::access::word;
use super::kw;
use crate::api::registry::{Category, Method, MethodRegistry, ParamKind, param};
use crate::error::Error;
use crate::identity::TenantId;
use crate::tenants::{
    DefaultAccess, IdentityProvider, QuotaOverrides, TenantRecord, TenantStatus, check_tenant_id,
};
use crate::value::{Value, ValueMap};

fn invalid(message: impl Into<String>) -> Error {
    Error::ValidationFailed {
        message: message.into(),
    }
}

fn text(map: &ValueMap, key: &str) -> Result<Option<String>, Error> {
    match map.get_keyword(key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.to_string())),
        Some(other) => Err(invalid(format!(
            ":{key} must be a string, got {}",
            other.kind()
        ))),
    }
}

fn count(map: &ValueMap, key: &str) -> Result<Option<u64>, Error> {
    match map.get_keyword(key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Int(n)) if (1..=i64::from(u32::MAX)).contains(n) => Ok(Some(*n as u64)),
        Some(other) => Err(invalid(format!(
            ":{key} must be an integer from 1 to {}, got {other}",
            u32::MAX
        ))),
    }
}

/// Applies the keys of `changes` to `record` (all but `:id`).
fn apply(record: &mut TenantRecord, changes: &ValueMap) -> Result<(), Error> {
    for (key, _) in changes.iter() {
        let name = word(key).unwrap_or_default();
        if ![
            "id",
            "name",
            "status",
            "default-access",
            "quotas",
            "identity-provider",
        ]
        .contains(&name)
        {
            return Err(invalid(format!("unknown tenant field {key}")));
        }
    }
    if let Some(name) = text(changes, "name")? {
        record.name = name;
    }
    if let Some(status) = changes.get_keyword("status") {
        record.status = match word(status) {
            Some("active") => TenantStatus::Active,
            Some("suspended") => TenantStatus::Suspended,
            _ => return Err(invalid(":status is :active or :suspended")),
        };
    }
    if let Some(access) = changes.get_keyword("default-access") {
        record.default_access = word(access)
            .and_then(DefaultAccess::from_name)
            .ok_or_else(|| invalid(":default-access is :private, :tenant-read or :tenant-write"))?;
    }
    match changes.get_keyword("quotas") {
        None | Some(Value::Nil) => {}
        Some(Value::Map(q)) => {
            record.quotas = QuotaOverrides {
                clients: count(q, "clients")?.or(record.quotas.clients),
                pieces: count(q, "pieces")?.or(record.quotas.pieces),
                requests_per_second: count(q, "requests-per-second")?
                    .or(record.quotas.requests_per_second),
                burst: count(q, "burst")?.or(record.quotas.burst),
            }
        }
        Some(_) => return Err(invalid(":quotas must be a map")),
    }
    match changes.get_keyword("identity-provider") {
        None => {}
        Some(Value::Nil) => record.identity_provider = None,
        Some(Value::Map(p)) => {
            let issuer = text(p, "issuer")?
                .filter(|i| !i.is_empty())
                .ok_or_else(|| invalid(":identity-provider needs an :issuer"))?;
            let jwks_file = text(p, "jwks-file")?.map(PathBuf::from);
            let jwks_url = text(p, "jwks-url")?;
            if let Some(url) = &jwks_url
                && !url.starts_with("http://")
            {
                return Err(invalid(
                    ":jwks-url must be an http:// URL (this build has no TLS client): an \
                     in-cluster proxy, or give the key set as :jwks-file",
                ));
            }
            if jwks_file.is_none() == jwks_url.is_none() {
                return Err(invalid(
                    ":identity-provider needs one of :jwks-file and :jwks-url",
                ));
            }
            record.identity_provider = Some(IdentityProvider {
                issuer,
                jwks_file,
                jwks_url,
            });
        }
        Some(_) => return Err(invalid(":identity-provider must be a map or nil")),
    }
    Ok(())
}

/// A record as the methods return it.
pub(crate) fn describe(record: &TenantRecord) -> Value {
    let quota = |q: Option<u64>| q.map_or(Value::Nil, |n| Value::Int(n as i64));
    Value::map([
        (kw("id"), Value::string(record.id.as_str())),
        (kw("name"), Value::string(&record.name)),
        (kw("status"), Value::keyword(record.status.name())),
        (
            kw("default-access"),
            Value::keyword(record.default_access.name()),
        ),
        (
            kw("quotas"),
            Value::map([
                (kw("clients"), quota(record.quotas.clients)),
                (kw("pieces"), quota(record.quotas.pieces)),
                (
                    kw("requests-per-second"),
                    quota(record.quotas.requests_per_second),
                ),
                (kw("burst"), quota(record.quotas.burst)),
            ]),
        ),
        (
            kw("identity-provider"),
            record.identity_provider.as_ref().map_or(Value::Nil, |p| {
                Value::map([
                    (kw("issuer"), Value::string(&p.issuer)),
                    (
                        kw("jwks-file"),
                        p.jwks_file
                            .as_ref()
                            .map_or(Value::Nil, |f| Value::string(f.display().to_string())),
                    ),
                    (
                        kw("jwks-url"),
                        p.jwks_url.as_ref().map_or(Value::Nil, Value::string),
                    ),
                ])
            }),
        ),
    ])
}

/// A record built from a `create-tenant` map.
pub(crate) fn record_of(map: &ValueMap) -> Result<TenantRecord, Error> {
    let id = text(map, "id")?.ok_or_else(|| invalid("a tenant needs an :id"))?;
    check_tenant_id(&id)?;
    let mut record = TenantRecord::new(TenantId::from(id.as_str()), id.clone());
    apply(&mut record, map)?;
    Ok(record)
}

fn id_arg(args: &crate::api::Args<'_>, i: usize) -> Result<String, Error> {
    match args.value(i)? {
        Value::String(s) => Ok(s.to_string()),
        other => Err(Error::params(
            args.method(),
            Some(i),
            format!("expected a tenant id string, got {}", other.kind()),
        )),
    }
}

pub(super) fn register(r: &MethodRegistry) {
    r.register(Method::new(
        "create-tenant",
        Category::Admin,
        &[param("tenant", ParamKind::Map)],
        "Subscribes an institution: {:id :name :status :default-access :quotas :identity-provider}",
        |call, args| {
            let record = record_of(&args.map(0)?)?;
            Ok(describe(&call.core.tenants.create(record)?))
        },
    ));
    r.register(Method::new(
        "get-tenant",
        Category::Admin,
        &[param("tenant-id", ParamKind::String)],
        "A tenant's record",
        |call, args| {
            let id = id_arg(args, 0)?;
            call.core
                .tenants
                .get(&id)
                .map(|r| describe(&r))
                .ok_or_else(|| Error::TenantNotFound {
                    tenant: crate::error::quote(&id),
                })
        },
    ));
    r.register(Method::new(
        "list-tenants",
        Category::Admin,
        &[],
        "Every tenant's record, by id",
        |call, _| Ok(Value::vector(call.core.tenants.list().iter().map(describe))),
    ));
    r.register(Method::new(
        "update-tenant",
        Category::Admin,
        &[
            param("tenant-id", ParamKind::String),
            param("changes", ParamKind::Map),
        ],
        "Changes a tenant's name, status, default access, quotas or identity provider",
        |call, args| {
            let id = id_arg(args, 0)?;
            let changes = args.map(1)?;
            if let Some(other) = text(&changes, "id")?
                && other != id
            {
                return Err(invalid("a tenant's :id cannot change"));
            }
            let record = call.core.tenants.update(&id, |r| apply(r, &changes))?;
            Ok(describe(&record))
        },
    ));
    for (name, status, doc) in [
        (
            "suspend-tenant",
            TenantStatus::Suspended,
            "Suspends a tenant: every call of it is refused and its streams end",
        ),
        (
            "resume-tenant",
            TenantStatus::Active,
            "Resumes a suspended tenant",
        ),
    ] {
        r.register(Method::new(
            name,
            Category::Admin,
            &[param("tenant-id", ParamKind::String)],
            doc,
            move |call, args| {
                let id = id_arg(args, 0)?;
                let record = call.core.tenants.update(&id, |r| {
                    r.status = status;
                    Ok(())
                })?;
                Ok(describe(&record))
            },
        ));
    }
    r.register(Method::new(
        "delete-tenant",
        Category::Admin,
        &[
            param("tenant-id", ParamKind::String),
            param("confirm-tenant-id", ParamKind::String),
        ],
        "Deletes a tenant and every piece of it; the id is given twice as confirmation",
        |call, args| {
            let id = id_arg(args, 0)?;
            if id_arg(args, 1)? != id {
                return Err(Error::params(
                    args.method(),
                    Some(1),
                    "repeat the tenant id to confirm the deletion",
                ));
            }
            // The registry is not transactional: refuse before touching it if the store is
            // down, so a refused call changes nothing.
            crate::api::Call::check_writable(call.tx, call.core)?;
            let tenant = TenantId::from(id.as_str());
            let deleted = call.delete_pieces_of(&tenant)?;
            // The record goes before the commit (the registry is not transactional): a retried
            // attempt finds it gone and still deletes the pieces, which only the commit removes.
            match call.core.tenants.remove(&id) {
                Ok(_) => {}
                Err(Error::TenantNotFound { .. }) if deleted > 0 => {}
                Err(e) => return Err(e),
            }
            Ok(Value::map([
                (kw("tenant-id"), Value::string(&id)),
                (kw("pieces-deleted"), Value::Int(deleted as i64)),
            ]))
        },
    ));
}
