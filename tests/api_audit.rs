//! The audit trail: a grant change, a tenant change and a denied authorization each write one
//! structured line (target `audit`) with who, tenant, what, piece and outcome; a plain read
//! writes none.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ooloi_server::api::{Api, NullSink};
use ooloi_server::identity::{Caller, Principal, Roles};
use ooloi_server::value::edn;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn member(tenant: &str, user: &str) -> Caller {
    Caller::authenticated(Principal::new(tenant, user), Roles::MEMBER, u64::MAX, None)
}

#[test]
fn grant_changes_tenant_changes_and_denials_are_audited() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let api = Api::new(Default::default(), Arc::new(NullSink));
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
    let pid = tracing::subscriber::with_default(subscriber, || {
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
        pid
    });
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let audit: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["target"] == "audit")
        .collect();
    let row = |l: &serde_json::Value| {
        let f = &l["fields"];
        [
            &f["tenant"],
            &f["user"],
            &f["what"],
            &f["piece"],
            &f["outcome"],
        ]
        .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    let rows: Vec<[String; 5]> = audit.iter().map(row).collect();
    let expect = |t: &str, u: &str, w: &str, p: &str, o: &str| [t, u, w, p, o].map(str::to_string);
    assert_eq!(
        rows,
        vec![
            expect("acme", "alice", "share-piece", &pid, "ok"),
            expect("acme", "bob", "unshare-piece", &pid, "PERMISSION_DENIED"),
            expect("platform", "op", "create-tenant", "", "ok"),
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
