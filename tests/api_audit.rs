//! The audit trail: a grant change, a tenant change and a denied authorization each make one
//! entry with who, tenant, what, piece and outcome; a plain read makes none.

use std::sync::{Arc, Mutex};

use ooloi_server::api::audit::{AuditEntry, AuditLog};
use ooloi_server::api::{Api, NullSink};
use ooloi_server::identity::{Caller, Principal, Roles};
use ooloi_server::value::edn;

#[derive(Default)]
struct Recorded(Mutex<Vec<AuditEntry>>);

impl AuditLog for Recorded {
    fn record(&self, entry: AuditEntry) {
        self.0.lock().unwrap().push(entry);
    }
}

fn member(tenant: &str, user: &str) -> Caller {
    Caller::authenticated(Principal::new(tenant, user), Roles::MEMBER, u64::MAX, None)
}

#[test]
fn grant_changes_tenant_changes_and_denials_are_audited() {
    let api = Api::new(Default::default(), Arc::new(NullSink));
    let log = Arc::new(Recorded::default());
    api.set_audit(log.clone());
    let alice = member("acme", "alice");
    let bob = member("acme", "bob");
    let operator = Caller::authenticated(
        Principal::new("platform", "op"),
        Roles {
            tenant_admin: false,
            platform_admin: true,
        },
        u64::MAX,
        None,
    );
    let call = |caller: &Caller, method: &str, params: &str| {
        api.execute(caller, method, &edn::parse(params).unwrap())
    };
    let pid = call(&alice, "new-piece", "[]").unwrap();
    let pid = pid.as_str().unwrap().to_string();
    call(&alice, "get-title", &format!("[[] \"{pid}\"]")).unwrap();
    call(
        &alice,
        "share-piece",
        &format!("[\"{pid}\" \"bob\" :viewer]"),
    )
    .unwrap();
    assert!(call(&bob, "unshare-piece", &format!("[\"{pid}\" \"bob\"]")).is_err());
    call(&operator, "create-tenant", "[{:id \"globex\"}]").unwrap();
    assert!(call(&alice, "suspend-tenant", "[\"globex\"]").is_err());
    let rows: Vec<[String; 5]> = log
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            [
                e.tenant.clone(),
                e.user.clone(),
                e.what.clone(),
                e.target.clone().unwrap_or_default(),
                e.outcome.to_string(),
            ]
        })
        .collect();
    let expect = |t: &str, u: &str, w: &str, p: &str, o: &str| [t, u, w, p, o].map(str::to_string);
    assert_eq!(
        rows,
        vec![
            expect("acme", "alice", "share-piece", &pid, "ok"),
            expect("acme", "bob", "unshare-piece", &pid, "PERMISSION_DENIED"),
            expect("platform", "op", "create-tenant", "globex", "ok"),
            expect(
                "acme",
                "alice",
                "suspend-tenant",
                "globex",
                "PERMISSION_DENIED"
            ),
        ]
    );
}
