//! The tenant registry (DESIGN section 9): which institutions exist, whether they are active,
//! what each may use, and how new pieces of each are shared. Every call passes through
//! [`TenantRegistry::admit`] (the tenant must be active, and its request bucket must have a
//! token) before it touches anything; the counting quotas (clients, pieces) are checked where
//! those are made. The platform tenant (`auth.platform_tenant`) always exists and cannot be
//! suspended, so the operator can never lock themselves out.
//!
//! In `open` mode a tenant named by a valid token exists on first use, with the default quotas;
//! in `registered` mode only tenants the operator created or the seed file lists exist. Records
//! live in memory in this stage (Stage 6 persists them). Std only: no transport, no runtime.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{OnceLock, RwLock};

use dashmap::DashMap;
use std::time::Instant;

use crate::error::Error;
use crate::identity::TenantId;

/// The most tenants the registry holds (created, seeded or met in `open` mode).
pub const MAX_TENANTS: usize = 100_000;
/// The longest tenant id, in characters.
pub const MAX_TENANT_ID_CHARS: usize = 64;
/// The longest display name, in characters.
pub const MAX_TENANT_NAME_CHARS: usize = 256;

/// Whether a tenant may work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantStatus {
    /// Calls are served.
    Active,
    /// Every call is refused with `TENANT_NOT_ACTIVE`, and its streams are ended.
    Suspended,
}

impl TenantStatus {
    /// The status's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

/// Who may use a new piece of the tenant besides its creator (and the tenant's admins).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultAccess {
    /// Only those it is shared with.
    #[default]
    Private,
    /// Every member may read it.
    TenantRead,
    /// Every member may edit it.
    TenantWrite,
}

impl DefaultAccess {
    /// The name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            DefaultAccess::Private => "private",
            DefaultAccess::TenantRead => "tenant-read",
            DefaultAccess::TenantWrite => "tenant-write",
        }
    }

    /// The access named `name`.
    pub fn from_name(name: &str) -> Option<DefaultAccess> {
        [
            DefaultAccess::Private,
            DefaultAccess::TenantRead,
            DefaultAccess::TenantWrite,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

/// A tenant's own quotas; `None` takes the server's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaOverrides {
    /// Connected clients.
    pub clients: Option<u64>,
    /// Pieces.
    pub pieces: Option<u64>,
    /// Calls per second, sustained.
    pub requests_per_second: Option<u64>,
    /// Calls at once above the rate.
    pub burst: Option<u64>,
}

/// Quotas in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Connected clients.
    pub clients: u64,
    /// Pieces.
    pub pieces: u64,
    /// Calls per second, sustained.
    pub requests_per_second: u64,
    /// Calls at once above the rate.
    pub burst: u64,
}

impl Quotas {
    /// No quota at all (auth mode `none`: one local user, nobody to protect from it).
    pub const UNLIMITED: Quotas = Quotas {
        clients: u64::MAX,
        pieces: u64::MAX,
        requests_per_second: u64::MAX,
        burst: u64::MAX,
    };

    fn with(self, o: &QuotaOverrides) -> Quotas {
        Quotas {
            clients: o.clients.unwrap_or(self.clients),
            pieces: o.pieces.unwrap_or(self.pieces),
            requests_per_second: o.requests_per_second.unwrap_or(self.requests_per_second),
            burst: o.burst.unwrap_or(self.burst),
        }
    }
}

/// A tenant's own identity provider: tokens whose `iss` is `issuer` are verified with these
/// keys and may act only as this tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProvider {
    /// The provider's `iss`.
    pub issuer: String,
    /// Its key set, on disk.
    pub jwks_file: Option<PathBuf>,
    /// Its key set, by URL.
    pub jwks_url: Option<String>,
}

/// One tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    /// Its id (what tokens name).
    pub id: TenantId,
    /// Its display name.
    pub name: String,
    /// Whether it may work.
    pub status: TenantStatus,
    /// Its own quotas.
    pub quotas: QuotaOverrides,
    /// How its new pieces are shared.
    pub default_access: DefaultAccess,
    /// Its own identity provider, if it brings one.
    pub identity_provider: Option<IdentityProvider>,
    /// Created by the platform operator or the seed file (not met on first use in `open`
    /// mode): only registered tenants get their own Prometheus series.
    pub registered: bool,
}

impl TenantRecord {
    /// An active tenant with the defaults.
    pub fn new(id: TenantId, name: impl Into<String>) -> TenantRecord {
        TenantRecord {
            id,
            name: name.into(),
            status: TenantStatus::Active,
            quotas: QuotaOverrides::default(),
            default_access: DefaultAccess::Private,
            identity_provider: None,
            registered: false,
        }
    }
}

/// What one tenant's calls did, counted at admission.
#[derive(Debug, Default)]
pub struct TenantCounters {
    /// Calls admitted.
    pub admitted: std::sync::atomic::AtomicU64,
    /// Calls refused by the request quota.
    pub throttled: std::sync::atomic::AtomicU64,
}

/// One registered tenant's figures, for its Prometheus series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantFigures {
    /// The tenant.
    pub tenant: TenantId,
    /// Calls admitted so far.
    pub admitted: u64,
    /// Calls refused by the request quota so far.
    pub throttled: u64,
}

/// Which tenants exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Admission {
    /// Any tenant a valid token names exists on first use.
    #[default]
    Open,
    /// Only registered tenants exist.
    Registered,
}

/// A token bucket: `rate` tokens a second, at most `burst`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What happens to a tenant's connected clients when it stops being active (set by the
/// server: it ends their streams).
pub type OnInactive = Box<dyn Fn(&TenantId) + Send + Sync>;

/// Called after a tenant record was created or changed (`Some`) or removed (`None`): the
/// server persists it.
pub type OnChange = Box<dyn Fn(&TenantId, Option<&TenantRecord>) + Send + Sync>;

/// The tenant registry.
pub struct TenantRegistry {
    admission: Admission,
    platform: TenantId,
    defaults: Quotas,
    records: RwLock<HashMap<TenantId, TenantRecord>>,
    /// One request bucket per tenant that has called (sharded: no lock shared by every call).
    buckets: DashMap<TenantId, Bucket>,
    counters: DashMap<TenantId, TenantCounters>,
    on_inactive: OnceLock<OnInactive>,
    on_change: OnceLock<OnChange>,
}

impl std::fmt::Debug for TenantRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRegistry")
            .field("admission", &self.admission)
            .field("platform", &self.platform)
            .field("tenants", &self.read().len())
            .finish()
    }
}

/// A refused record (INVALID_ARGUMENT).
fn invalid(message: impl Into<String>) -> Error {
    Error::ValidationFailed {
        message: message.into(),
    }
}

/// Checks a tenant id: 1-64 characters of `[a-zA-Z0-9_.-]`.
pub fn check_tenant_id(id: &str) -> Result<(), Error> {
    let len = id.chars().count();
    if len == 0 || len > MAX_TENANT_ID_CHARS {
        return Err(invalid(format!(
            "a tenant id has 1 to {MAX_TENANT_ID_CHARS} characters"
        )));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            "a tenant id has only ASCII letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

impl TenantRegistry {
    /// An empty registry.
    pub fn new(admission: Admission, platform: TenantId, defaults: Quotas) -> TenantRegistry {
        TenantRegistry {
            admission,
            platform,
            defaults,
            records: RwLock::new(HashMap::new()),
            buckets: DashMap::new(),
            counters: DashMap::new(),
            on_inactive: OnceLock::new(),
            on_change: OnceLock::new(),
        }
    }

    /// Sets what is told of every change to a record (once): the server persists them.
    pub fn on_change(&self, hook: OnChange) {
        let _ = self.on_change.set(hook);
    }

    fn changed(&self, id: &TenantId, record: Option<&TenantRecord>) {
        if let Some(hook) = self.on_change.get() {
            hook(id, record);
        }
    }

    /// Puts a stored record back (start-up): as it was, without the change hook.
    pub fn restore(&self, record: TenantRecord) {
        self.write().insert(record.id.clone(), record);
    }

    /// Sets what happens to the clients of a tenant that is suspended or deleted (once).
    pub fn on_inactive(&self, hook: OnInactive) {
        let _ = self.on_inactive.set(hook);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TenantId, TenantRecord>> {
        // Nothing panics while holding the lock; a poisoned map is still consistent.
        self.records.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<TenantId, TenantRecord>> {
        self.records.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The platform tenant.
    pub fn platform(&self) -> &TenantId {
        &self.platform
    }

    /// The default quotas.
    pub fn defaults(&self) -> Quotas {
        self.defaults
    }

    /// Lets `tenant` make one call: it must exist and be active (`TENANT_NOT_ACTIVE`), and its
    /// request bucket must hold a token (`QUOTA_EXCEEDED`, with when the next one comes).
    pub fn admit(&self, tenant: &TenantId) -> Result<(), Error> {
        let quotas = self.active_quotas(tenant)?;
        // No request quota (auth mode `none`): nothing to charge, and no shared counter that
        // every call would move between cores.
        if quotas.requests_per_second == u64::MAX {
            return Ok(());
        }
        let rate = quotas.requests_per_second.max(1) as f64;
        let burst = quotas.burst.max(1) as f64;
        let now = Instant::now();
        let mut bucket = self.buckets.entry(tenant.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            drop(bucket);
            self.count(tenant, |c| &c.admitted);
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / rate * 1000.0).ceil() as u64;
        drop(bucket);
        self.count(tenant, |c| &c.throttled);
        Err(Error::QuotaExceeded {
            quota: "requests_per_second",
            max: quotas.requests_per_second,
            retry_after_ms: wait.max(1),
        })
    }

    fn count(
        &self,
        tenant: &TenantId,
        which: impl Fn(&TenantCounters) -> &std::sync::atomic::AtomicU64,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(counters) = self.counters.get(tenant) {
            which(&counters).fetch_add(1, Relaxed);
            return;
        }
        which(&self.counters.entry(tenant.clone()).or_default()).fetch_add(1, Relaxed);
    }

    /// The figures of the first `max` registered tenants, by id.
    pub fn figures(&self, max: usize) -> Vec<TenantFigures> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut registered: Vec<TenantId> = self
            .read()
            .values()
            .filter(|r| r.registered)
            .map(|r| r.id.clone())
            .collect();
        registered.sort();
        registered.truncate(max);
        registered
            .into_iter()
            .map(|tenant| {
                let (admitted, throttled) = self.counters.get(&tenant).map_or((0, 0), |c| {
                    (c.admitted.load(Relaxed), c.throttled.load(Relaxed))
                });
                TenantFigures {
                    tenant,
                    admitted,
                    throttled,
                }
            })
            .collect()
    }

    /// The quotas of an active `tenant`, creating its record on first use in `open` mode.
    pub fn active_quotas(&self, tenant: &TenantId) -> Result<Quotas, Error> {
        if let Some(record) = self.read().get(tenant) {
            return match record.status {
                TenantStatus::Active => Ok(self.defaults.with(&record.quotas)),
                TenantStatus::Suspended => Err(not_active(tenant)),
            };
        }
        if *tenant == self.platform {
            return Ok(self.defaults);
        }
        match self.admission {
            Admission::Registered => Err(not_active(tenant)),
            Admission::Open => {
                let mut records = self.write();
                if records.len() >= MAX_TENANTS {
                    return Err(Error::QuotaExceeded {
                        quota: "tenants",
                        max: MAX_TENANTS as u64,
                        retry_after_ms: 60_000,
                    });
                }
                let record = records
                    .entry(tenant.clone())
                    .or_insert_with(|| TenantRecord::new(tenant.clone(), tenant.as_str()));
                match record.status {
                    TenantStatus::Active => Ok(self.defaults.with(&record.quotas)),
                    TenantStatus::Suspended => Err(not_active(tenant)),
                }
            }
        }
    }

    /// The default access of `tenant`'s new pieces.
    pub fn default_access(&self, tenant: &TenantId) -> DefaultAccess {
        self.read()
            .get(tenant)
            .map_or(DefaultAccess::Private, |r| r.default_access)
    }

    /// The record of `id`.
    pub fn get(&self, id: &str) -> Option<TenantRecord> {
        self.read().get(id).cloned()
    }

    /// Every record, by id.
    pub fn list(&self) -> Vec<TenantRecord> {
        let mut all: Vec<TenantRecord> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The tenant whose own identity provider has `issuer`, if any.
    pub fn by_issuer(&self, issuer: &str) -> Option<TenantRecord> {
        self.read()
            .values()
            .find(|r| {
                r.identity_provider
                    .as_ref()
                    .is_some_and(|p| p.issuer == issuer)
            })
            .cloned()
    }

    /// Adds `record`; refuses an id that exists.
    pub fn create(&self, mut record: TenantRecord) -> Result<TenantRecord, Error> {
        check_tenant_id(&record.id)?;
        record.registered = true;
        check_name(&record.name)?;
        let mut records = self.write();
        if records.contains_key(&record.id) {
            return Err(invalid(format!("tenant {} exists", record.id)));
        }
        if records.len() >= MAX_TENANTS {
            return Err(invalid(format!("the registry holds {MAX_TENANTS} tenants")));
        }
        records.insert(record.id.clone(), record.clone());
        drop(records);
        self.changed(&record.id, Some(&record));
        Ok(record)
    }

    /// Replaces the record of `id` with what `edit` makes of it.
    pub fn update(
        &self,
        id: &str,
        edit: impl FnOnce(&mut TenantRecord) -> Result<(), Error>,
    ) -> Result<TenantRecord, Error> {
        let (record, ended) = {
            let mut records = self.write();
            let record = records.get_mut(id).ok_or_else(|| unknown(id))?;
            let mut edited = record.clone();
            edit(&mut edited)?;
            check_name(&edited.name)?;
            if edited.id == self.platform && edited.status == TenantStatus::Suspended {
                return Err(invalid("the platform tenant cannot be suspended"));
            }
            let ended =
                record.status == TenantStatus::Active && edited.status == TenantStatus::Suspended;
            *record = edited.clone();
            (edited, ended)
        };
        self.changed(&record.id, Some(&record));
        if ended {
            self.ended(&record.id);
        }
        Ok(record)
    }

    /// Removes the record of `id` (its pieces are the caller's to delete).
    pub fn remove(&self, id: &str) -> Result<TenantRecord, Error> {
        if id == self.platform.as_str() {
            return Err(invalid("the platform tenant cannot be deleted"));
        }
        let record = self.write().remove(id).ok_or_else(|| unknown(id))?;
        self.buckets.remove(id);
        self.counters.remove(id);
        self.changed(&record.id, None);
        self.ended(&record.id);
        Ok(record)
    }

    fn ended(&self, tenant: &TenantId) {
        if let Some(hook) = self.on_inactive.get() {
            hook(tenant);
        }
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.chars().count() > MAX_TENANT_NAME_CHARS {
        return Err(invalid(format!(
            "a tenant name has at most {MAX_TENANT_NAME_CHARS} characters"
        )));
    }
    Ok(())
}

fn unknown(id: &str) -> Error {
    Error::TenantNotFound {
        tenant: crate::error::quote(id),
    }
}

/// The refusal of a tenant that does not exist or is suspended (the same for both).
pub fn not_active(tenant: &TenantId) -> Error {
    Error::TenantNotActive {
        tenant: tenant.to_string(),
    }
}
