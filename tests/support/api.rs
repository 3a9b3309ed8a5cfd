//! Helpers for the API acceptance tests (`tests/api_*.rs`): an [`Api`] whose event sink records
//! every commit, calls written as EDN with a `$pid` placeholder for the piece id, field access
//! on maps and records, and a small piece fixture with something at every level of the tree.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use ooloi_server::api::{Api, EventSink, PieceCommit};
use ooloi_server::error::Error;
use ooloi_server::identity::Caller;
use ooloi_server::model::classify::EventKind;
use ooloi_server::stm::StmConfig;
use ooloi_server::value::{Value, edn};

/// An event sink that keeps every commit it receives, in the order received.
#[derive(Debug, Default)]
pub struct Recorder {
    commits: Mutex<Vec<PieceCommit>>,
}

impl EventSink for Recorder {
    fn piece_committed(&self, mut commit: PieceCommit) {
        commit.ack.settle(Ok(()));
        // Creations carry no events; the API tests look at what changed.
        if commit.created.is_none() {
            self.lock().push(commit);
        }
    }
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Vec<PieceCommit>> {
        self.commits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every commit received so far.
    pub fn take(&self) -> Vec<PieceCommit> {
        std::mem::take(&mut *self.lock())
    }
}

/// Parses EDN test text.
pub fn edn(text: &str) -> Value {
    edn::parse(text).unwrap_or_else(|e| panic!("test EDN {text:?} does not parse: {e}"))
}

/// An API over a fresh STM, called by the local caller, with a recording sink.
#[derive(Debug)]
pub struct TestApi {
    pub api: Api,
    pub sink: Arc<Recorder>,
    pub caller: Caller,
}

impl Default for TestApi {
    fn default() -> Self {
        Self::new()
    }
}

impl TestApi {
    pub fn new() -> Self {
        let sink = Arc::new(Recorder::default());
        TestApi {
            api: Api::new(StmConfig::default(), sink.clone()),
            sink,
            caller: Caller::local(),
        }
    }

    /// Calls `method` with a params value.
    pub fn exec(&self, method: &str, params: &Value) -> Result<Value, Error> {
        self.api.execute(&self.caller, method, params)
    }

    /// Calls `method` with params written as EDN, `$pid` standing for the quoted piece id.
    pub fn call(&self, method: &str, pid: &str, params: &str) -> Result<Value, Error> {
        let text = params.replace("$pid", &format!("{pid:?}"));
        self.exec(method, &edn(&text))
    }

    /// Like [`TestApi::call`], and the call must succeed.
    pub fn ok(&self, method: &str, pid: &str, params: &str) -> Value {
        self.call(method, pid, params)
            .unwrap_or_else(|e| panic!("{method} {params} failed: {e} ({})", e.reason()))
    }

    /// Like [`TestApi::call`], and the call must fail.
    pub fn fail(&self, method: &str, pid: &str, params: &str) -> Error {
        match self.call(method, pid, params) {
            Ok(v) => panic!("{method} {params} should fail, returned {v}"),
            Err(e) => e,
        }
    }

    /// Creates a piece and returns its id.
    pub fn new_piece(&self, title: &str) -> String {
        let id = self
            .exec(
                "new-piece",
                &Value::vector([edn(&format!("{{:title {title:?}}}"))]),
            )
            .expect("new-piece");
        id.as_str()
            .expect("new-piece returns the id string")
            .to_owned()
    }

    /// The piece's current version.
    pub fn version(&self, pid: &str) -> i64 {
        int(field(
            &self.ok("get-piece-structure", pid, "[[] $pid]"),
            "version",
        ))
    }

    /// Everything a client can read about a piece: its structure, every musician with all
    /// their music, the layouts, and the change sets.
    pub fn snapshot(&self, pid: &str) -> Value {
        Value::vector(
            [
                "get-piece-structure",
                "get-musicians",
                "get-layouts",
                "get-time-signatures",
                "get-key-signatures",
                "get-tempos",
            ]
            .map(|method| self.ok(method, pid, "[[] $pid]")),
        )
    }

    /// Takes the commits the sink received so far.
    pub fn commits(&self) -> Vec<PieceCommit> {
        self.sink.take()
    }
}

/// Field `name` of a map or record; panics naming the field when it is absent.
pub fn field<'v>(value: &'v Value, name: &str) -> &'v Value {
    let map = match value {
        Value::Map(m) => m,
        Value::Record(r) => r.fields(),
        other => panic!("expected a map or record with :{name}, got {other}"),
    };
    map.get_keyword(name)
        .unwrap_or_else(|| panic!("no :{name} in {value}"))
}

/// Whether a map or record has field `name`.
pub fn has_field(value: &Value, name: &str) -> bool {
    match value {
        Value::Map(m) => m.get_keyword(name).is_some(),
        Value::Record(r) => r.fields().get_keyword(name).is_some(),
        _ => false,
    }
}

/// The elements of a vector.
pub fn elements(value: &Value) -> &[Value] {
    match value {
        Value::Vector(v) => v.as_slice(),
        other => panic!("expected a vector, got {other}"),
    }
}

/// Every structural id in a `get-piece-structure` result (musicians, instruments, staves,
/// layouts), in order.
pub fn structural_ids(structure: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for m in elements(field(structure, "musicians")) {
        ids.push(string(field(m, "id")).to_owned());
        for i in elements(field(m, "instruments")) {
            ids.push(string(field(i, "id")).to_owned());
            for s in elements(field(i, "staves")) {
                ids.push(string(field(s, "id")).to_owned());
            }
        }
    }
    for l in elements(field(structure, "layouts")) {
        ids.push(string(field(l, "id")).to_owned());
    }
    ids
}

/// An integer value.
pub fn int(value: &Value) -> i64 {
    value
        .as_int()
        .unwrap_or_else(|| panic!("expected an integer, got {value}"))
}

/// A string value.
pub fn string(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

/// The `:version` of a write result `{:piece-id :version}`, checking the piece id.
pub fn written(result: &Value, pid: &str) -> i64 {
    assert_eq!(
        string(field(result, "piece-id")),
        pid,
        "write result {result}"
    );
    int(field(result, "version"))
}

/// The kinds of the events of one commit, in order.
pub fn kinds(commit: &PieceCommit) -> Vec<EventKind> {
    commit.events.iter().map(|e| e.kind).collect()
}

/// The data map of the one event of `kind` in a commit.
pub fn event_data(commit: &PieceCommit, kind: EventKind) -> Value {
    let matching: Vec<_> = commit.events.iter().filter(|e| e.kind == kind).collect();
    assert_eq!(matching.len(), 1, "one {kind:?} in {:?}", kinds(commit));
    matching[0].to_value()
}

/// One operation of an `atomic` batch, params as EDN with `$pid`.
pub fn op(method: &str, pid: &str, params: &str) -> String {
    format!(
        "{{:method {method:?} :params {}}}",
        params.replace("$pid", &format!("{pid:?}"))
    )
}

/// A batch of operations as the params of `atomic`.
pub fn batch(ops: &[String]) -> String {
    format!("[[{}]]", ops.join(" "))
}

/// The measure every fixture staff holds: one voice with a pitch, a chord, a rest and a
/// triplet of eighths (4/4 in all).
pub const FIXTURE_MEASURE: &str = r#"{:voices [{:items [
    {:type :pitch :note "C4" :duration 1/4}
    {:type :chord :pitches ["E4" "G4"] :duration 1/4}
    {:type :rest :duration 1/4}
    {:type :tuplet :ratio 2/3 :items [{:type :pitch :note "D4" :duration 1/8}
                                      {:type :pitch :note "E4" :duration 1/8}
                                      {:type :pitch :note "F4" :duration 1/8}]}]}]}"#;

/// A piece with something at every level: musician 0 "Violin I" with instrument 0 "Violin"
/// with staff 0 holding two [`FIXTURE_MEASURE`]s; musician 1 "Viola" (instrument, staff, one
/// measure); layout 0 "Score" listing musician 0, with page view 0 > system view 0 > staff
/// view 0 > measure view 0. The sink is emptied afterwards.
pub fn fixture(t: &TestApi) -> String {
    let pid = t.new_piece("Fixture");
    let m = FIXTURE_MEASURE;
    let ops = [
        op("add-musician", &pid, r#"[[] $pid {:name "Violin I"}]"#),
        op("add-instrument", &pid, r#"[[:m 0] $pid {:name "Violin"}]"#),
        op("add-staff", &pid, r#"[[:m 0 0] $pid {:name "Violin"}]"#),
        op("add-measure", &pid, &format!("[[:m 0 0 0] $pid {m}]")),
        op("add-measure", &pid, &format!("[[:m 0 0 0] $pid {m}]")),
        op("add-musician", &pid, r#"[[] $pid {:name "Viola"}]"#),
        op("add-instrument", &pid, r#"[[:m 1] $pid {:name "Viola"}]"#),
        op("add-staff", &pid, r#"[[:m 1 0] $pid {:clef :alto}]"#),
        op("add-measure", &pid, &format!("[[:m 1 0 0] $pid {m}]")),
        op("add-layout", &pid, r#"[[] $pid {:name "Score"}]"#),
        op("add-musician", &pid, "[[:l 0] $pid [:m 0]]"),
        op("add-page-view", &pid, "[[:l 0] $pid {}]"),
        op("add-system-view", &pid, "[[:l 0 0] $pid {}]"),
        op("add-staff-view", &pid, "[[:l 0 0 0] $pid {}]"),
        op("add-measure-view", &pid, "[[:l 0 0 0 0] $pid {}]"),
    ];
    t.ok("atomic", &pid, &batch(&ops));
    t.commits();
    pid
}

/// How long a test waits for another thread before it gives up (a failure, not a pause).
pub const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A gate inside a method registered at run time: the first attempt of the method stops there
/// until the test opens the gate, so the test can commit other writes while that transaction is
/// open. Later attempts (retries) pass straight through.
#[derive(Debug)]
pub struct Gate {
    attempts: AtomicU32,
    reached: (Mutex<mpsc::Sender<()>>, Mutex<mpsc::Receiver<()>>),
    open: (Mutex<mpsc::Sender<()>>, Mutex<mpsc::Receiver<()>>),
}

fn channel() -> (Mutex<mpsc::Sender<()>>, Mutex<mpsc::Receiver<()>>) {
    let (tx, rx) = mpsc::channel();
    (Mutex::new(tx), Mutex::new(rx))
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate {
            attempts: Default::default(),
            reached: channel(),
            open: channel(),
        })
    }

    /// Called by the method body: counts the attempt and, on the first, waits for the test.
    pub fn pass(&self) {
        if self.attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            self.reached.0.lock().unwrap().send(()).unwrap();
            self.open
                .1
                .lock()
                .unwrap()
                .recv_timeout(WAIT_LIMIT)
                .expect("the test opens the gate");
        }
    }

    /// Waits until the first attempt has reached the gate.
    pub fn wait_until_reached(&self) {
        self.reached
            .1
            .lock()
            .unwrap()
            .recv_timeout(WAIT_LIMIT)
            .expect("the gated method reaches the gate");
    }

    /// Lets the waiting attempt go on.
    pub fn open(&self) {
        self.open.0.lock().unwrap().send(()).unwrap();
    }

    /// How many attempts the method body has made.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::SeqCst)
    }
}

/// Registers `name [voice-vpd pid item]`, a plugin write method that reads the voice, passes
/// `gate`, then appends `item` where the voice ended when it was read. It is written only with
/// the public plugin surface (`Call::piece`, `Call::apply`, `Call::write_result`).
pub fn register_gated_append(t: &TestApi, name: &str, gate: Arc<Gate>) {
    use ooloi_server::api::registry::param;
    use ooloi_server::api::{Category, Method, ParamKind};
    use ooloi_server::model::entity::Item;
    use ooloi_server::model::tree::NodeRef;
    use ooloi_server::model::{Change, ChangeOp, Coll, FromValue, ToValue};

    t.api.methods().register(Method::new(
        name,
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("item", ParamKind::Any),
        ],
        "Appends an item to a voice, pausing at a test gate on its first attempt",
        move |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let item = Item::from_value(args.value(2)?)?.to_value();
            let piece = call.piece(pid)?;
            let NodeRef::Voice(voice) = piece.node(&vpd)? else {
                return Err(Error::params(args.method(), Some(0), "not a voice"));
            };
            let index = voice.items.len();
            gate.pass();
            call.apply(
                pid,
                Change {
                    at: vpd,
                    op: ChangeOp::Insert {
                        coll: Coll::Items,
                        index,
                        value: item,
                    },
                },
            )?;
            call.write_result(pid)
        },
    ));
}
