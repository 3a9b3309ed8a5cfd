//! The method surface of `Api::execute`: `list-methods` describes every method; a method
//! registered at run time is callable at once and behaves like a core one (transaction, events,
//! no-op detection, argument checks, batches); argument errors are INVALID_PARAMS naming the
//! argument index; writes return `{:piece-id :version}`; piece settings validate, default and
//! read back; and the piece lifecycle (`new-piece`, `list-pieces`, `clone-piece`,
//! `delete-piece`, `get-piece-structure`), including tenant isolation.

mod support;

use std::collections::BTreeSet;

use ooloi_server::api::registry::param;
use ooloi_server::api::{Category, Method, ParamKind};
use ooloi_server::error::Error;
use ooloi_server::identity::{Caller, Principal};
use ooloi_server::model::classify::EventKind;
use ooloi_server::model::settings::PIECE_SETTINGS;
use ooloi_server::model::{Change, ChangeOp, Coll, Vpd};
use ooloi_server::value::{Keyword, Value};
use support::api::*;

#[test]
fn list_methods_describes_every_method() {
    let t = TestApi::new();
    let listed = t.exec("list-methods", &edn("[]")).unwrap();
    let listed = elements(&listed);
    assert_eq!(listed.len(), t.api.methods().len());

    let names: Vec<&str> = listed.iter().map(|m| string(field(m, "name"))).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "listed once each, by name");

    let categories = ["read", "write", "lifecycle", "share", "admin"].map(Value::keyword);
    for m in listed {
        let name = string(field(m, "name"));
        assert!(categories.contains(field(m, "category")), "{name}");
        assert!(!string(field(m, "doc")).is_empty(), "{name} has a doc");
        for p in elements(field(m, "params")) {
            assert!(matches!(field(p, "name"), Value::Keyword(_)), "{name}");
            assert!(!string(field(p, "type")).is_empty(), "{name}");
            assert!(matches!(field(p, "optional"), Value::Bool(_)), "{name}");
        }
        // Categories follow the verbs.
        let expected = if ["new-piece", "clone-piece", "delete-piece"].contains(&name) {
            "lifecycle"
        } else if name.ends_with("-tenant") || name == "list-tenants" {
            "admin"
        } else if ["share-piece", "unshare-piece", "list-piece-access"].contains(&name) {
            "share"
        } else if ["get-", "list-", "create-"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            "read"
        } else {
            "write"
        };
        assert_eq!(field(m, "category"), &Value::keyword(expected), "{name}");
    }

    // Every family the design names is there.
    let mut expected: Vec<String> = Vec::new();
    for coll in Coll::ALL {
        let (one, many) = (coll.singular(), coll.plural());
        for verb in ["get", "set", "add", "remove", "move", "copy"] {
            expected.push(format!("{verb}-{one}"));
        }
        expected.push(format!("get-{many}"));
        expected.push(format!("set-{many}"));
    }
    for spec in PIECE_SETTINGS {
        expected.push(format!("get-{}", spec.name));
        expected.push(format!("set-{}", spec.name));
    }
    for change_set in ["time-signature", "key-signature", "tempo"] {
        expected.push(format!("set-{change_set}"));
        expected.push(format!("get-{change_set}s"));
    }
    expected.extend(
        [
            "new-piece",
            "list-pieces",
            "get-piece-structure",
            "clone-piece",
            "delete-piece",
            "atomic",
            "list-methods",
            "get-title",
            "set-title",
            "get-name",
            "set-name",
            "set-clef",
            "get-duration",
            "set-duration",
            "add-attachment",
            "transpose-chromatic",
            "transpose-diatonic",
            "transpose-by-interval",
            "create-pitch",
            "create-chord",
            "create-rest",
            "create-tuplet",
            "create-musician",
            "create-instrument",
            "create-staff",
            "create-measure",
            "create-layout",
        ]
        .map(String::from),
    );
    let names: BTreeSet<&str> = names.into_iter().collect();
    for name in &expected {
        assert!(names.contains(name.as_str()), "{name} is listed");
    }

    let add = listed
        .iter()
        .find(|m| field(m, "name") == &Value::string("add-musician"))
        .unwrap();
    let params: Vec<&Value> = elements(field(add, "params"))
        .iter()
        .map(|p| field(p, "name"))
        .collect();
    assert_eq!(
        params,
        ["vpd", "piece-id", "musician"]
            .map(Value::keyword)
            .each_ref()
    );
}

/// Registers `tag-staff [vpd pid tag]`, a plugin write method that stores `:tag` on a staff
/// through the public plugin surface.
fn register_tag_staff(t: &TestApi) {
    t.api.methods().register(Method::new(
        "tag-staff",
        Category::Write,
        &[
            param("vpd", ParamKind::Vpd),
            param("piece-id", ParamKind::PieceId),
            param("tag", ParamKind::String),
        ],
        "Stores a free-form :tag on a staff",
        |call, args| {
            let (vpd, pid) = (args.vpd(0)?, args.piece_id(1)?);
            let change = Change {
                at: vpd,
                op: ChangeOp::SetAttr {
                    key: Keyword::new(None, "tag").unwrap(),
                    value: Some(args.value(2)?.clone()),
                },
            };
            call.apply(pid, change)?;
            call.write_result(pid)
        },
    ));
}

#[test]
fn a_method_registered_at_run_time_behaves_like_a_core_method() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let tag = r#"[[:m 0 0 0] $pid "bowing: down"]"#;
    assert_eq!(t.fail("tag-staff", &pid, tag).reason(), "METHOD_NOT_FOUND");

    register_tag_staff(&t);

    // Listed with its category, parameters and doc.
    let listed = t.exec("list-methods", &edn("[]")).unwrap();
    let described = elements(&listed)
        .iter()
        .find(|m| field(m, "name") == &Value::string("tag-staff"))
        .expect("tag-staff is listed");
    assert_eq!(field(described, "category"), &Value::keyword("write"));
    assert_eq!(elements(field(described, "params")).len(), 3);
    assert_eq!(
        field(described, "doc"),
        &Value::string("Stores a free-form :tag on a staff")
    );

    // Callable at once: a new version, the change classified like any staff attribute.
    let version = t.version(&pid);
    let result = t.ok("tag-staff", &pid, tag);
    assert_eq!(written(&result, &pid), version + 1);
    let commits = t.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(kinds(&commits[0]), [EventKind::PieceStaffInvalidated]);
    let staff = t.ok("get-staff", &pid, "[[:m 0 0] $pid 0]");
    assert_eq!(field(&staff, "tag"), &Value::string("bowing: down"));

    // The same value again changes nothing.
    let result = t.ok("tag-staff", &pid, tag);
    assert_eq!(written(&result, &pid), version + 1);
    assert!(t.commits().is_empty());

    // Its parameters are checked like a core method's.
    let e = t.fail("tag-staff", &pid, "[[:m 0 0 0] $pid 7]");
    assert!(
        matches!(&e, Error::InvalidParams { index: Some(2), .. }),
        "{e:?}"
    );
    let e = t.fail("tag-staff", &pid, r#"[[:m 0 0 4] $pid "x"]"#);
    assert_eq!(e.reason(), "VPD_NOT_FOUND");

    // In a batch with core methods: one transaction, one commit, coalesced events.
    let ops = [
        op("tag-staff", &pid, r#"[[:m 1 0 0] $pid "pizz."]"#),
        op("set-title", &pid, r#"[[] $pid "Tagged"]"#),
    ];
    t.ok("atomic", &pid, &batch(&ops));
    let commits = t.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(
        kinds(&commits[0]),
        [
            EventKind::PieceStructureChanged,
            EventKind::PieceStaffInvalidated
        ]
    );
    assert_eq!(t.version(&pid), version + 2);
}

#[test]
fn a_run_time_method_that_fails_after_writing_leaves_nothing() {
    let t = TestApi::new();
    let pid = fixture(&t);
    t.api.methods().register(Method::new(
        "rename-then-fail",
        Category::Write,
        &[param("piece-id", ParamKind::PieceId)],
        "Renames the piece, then refuses",
        |call, args| {
            let pid = args.piece_id(0)?;
            let change = Change {
                at: Vpd::root(),
                op: ChangeOp::SetTitle("Half done".into()),
            };
            assert!(call.apply(pid, change)?);
            Err(Error::ValidationFailed {
                message: "refused after writing".into(),
            })
        },
    ));
    let before = t.snapshot(&pid);
    let e = t.fail("rename-then-fail", &pid, "[$pid]");
    assert_eq!(e.reason(), "VALIDATION_FAILED");
    let e = t.fail(
        "atomic",
        &pid,
        &batch(&[
            op("set-clef", &pid, "[[:m 0 0 0] $pid :bass]"),
            op("rename-then-fail", &pid, "[$pid]"),
        ]),
    );
    assert_eq!(e.reason(), "VALIDATION_FAILED");
    assert_eq!(t.snapshot(&pid), before);
    assert!(t.commits().is_empty());
}

#[test]
fn argument_errors_name_the_argument() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let cases = [
        ("get-musician", "[[] 5 0]", 1),
        ("get-musician", r#"[[] "not-a-uuid" 0]"#, 1),
        ("get-musician", "[[] $pid :first]", 2),
        ("get-musician", "[[] $pid -1]", 2),
        ("get-musician", "[{:m 0} $pid 0]", 0),
        ("get-instrument", "[[:x 0] $pid 0]", 0),
        ("get-instrument", "[[:m 0 :layouts 1] $pid 0]", 0),
        ("get-title", "[[:m 0] $pid]", 0),
        ("set-title", "[[] $pid 42]", 2),
        ("add-musician", "[[] $pid [:m 0]]", 2),
        (
            "add-item",
            r#"[[:m 0 0 0 0 0] $pid {:type :pitch :note "H4" :duration 1/4}]"#,
            2,
        ),
        (
            "add-item",
            r#"[[:m 0 0 0 0 0] $pid {:type :pitch :note "C4"}]"#,
            2,
        ),
        ("add-item", "[[:m 0 0 0 0 0] $pid {:type :glissando}]", 2),
        ("set-note", r#"[[:m 0 0 0 0 0 :items 0] $pid "C"]"#, 2),
        ("move-item", "[[:m 0 0 0 0 0] $pid 0 99]", 3),
        ("transpose-chromatic", "[[] $pid 1000]", 2),
        ("transpose-by-interval", r#"[[] $pid "M99x"]"#, 2),
        ("set-time-signature", "[[] $pid 0 \"3/4\"]", 3),
        ("clone-piece", "[42]", 0),
    ];
    for (method, params, index) in cases {
        let before = t.version(&pid);
        let e = t.fail(method, &pid, params);
        assert_eq!(e.reason(), "INVALID_PARAMS", "{method} {params}: {e}");
        let Error::InvalidParams { index: got, .. } = &e else {
            unreachable!()
        };
        assert_eq!(*got, Some(index), "{method} {params}: {e}");
        assert!(
            e.to_string().contains(&format!("argument {index}")),
            "{method} {params}: {e}"
        );
        assert_eq!(t.version(&pid), before);
    }

    // The wrong number of arguments names the expected ones.
    let e = t.fail("get-musician", &pid, "[[] $pid]");
    assert_eq!(e.reason(), "INVALID_PARAMS");
    assert!(e.to_string().contains("[vpd piece-id index]"), "{e}");
    let e = t.fail("get-title", &pid, "[[] $pid 1 2]");
    assert_eq!(e.reason(), "INVALID_PARAMS");
    // Params must be a vector of positional arguments.
    let e = t.exec("list-pieces", &Value::Int(1)).unwrap_err();
    assert_eq!(e.reason(), "INVALID_PARAMS");

    // Inside a batch the operation's own argument error comes through.
    let e = t.fail(
        "atomic",
        &pid,
        &batch(&[op("get-musician", &pid, "[[] $pid :first]")]),
    );
    assert_eq!(e.reason(), "INVALID_PARAMS");
    assert!(
        matches!(e.root(), Error::InvalidParams { index: Some(2), .. }),
        "{e:?}"
    );
    assert!(t.commits().is_empty());
}

#[test]
fn writes_return_the_piece_id_and_the_new_version() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let writes = [
        ("set-title", r#"[[] $pid "New title"]"#),
        ("add-musician", r#"[[] $pid {:name "Flute"}]"#),
        ("set-name", r#"[[:m 2] $pid "Flute 1"]"#),
        ("set-clef", "[[:m 1 0 0] $pid :treble]"),
        (
            "add-item",
            "[[:m 0 0 0 0 0] $pid {:type :rest :duration 1/4}]",
        ),
        ("set-duration", "[[:m 0 0 0 0 0 :items 4] $pid 1/2]"),
        ("move-item", "[[:m 0 0 0 0 0] $pid 4 0]"),
        ("remove-item", "[[:m 0 0 0 0 0] $pid 0]"),
        ("add-attachment", "[[:m 0 0 0 0 0 :items 0] $pid :staccato]"),
        (
            "set-key-signature",
            r#"[[] $pid 0 {:mode :minor :tonic "D"}]"#,
        ),
        ("set-tempo", "[[] $pid 0 {:bpm 96}]"),
        ("transpose-diatonic", "[[:m 0] $pid 1]"),
        ("set-french-ties?", "[[] $pid true]"),
        ("copy-measure", "[[:m 0 0 0] $pid 0 -1]"),
    ];
    let mut version = t.version(&pid);
    for (method, params) in writes {
        let result = t.ok(method, &pid, params);
        let map = result.as_map().expect("a map");
        assert_eq!(map.len(), 2, "{method}: {result}");
        version += 1;
        assert_eq!(written(&result, &pid), version, "{method}");
        assert_eq!(t.version(&pid), version, "{method}");
    }
    assert_eq!(t.commits().len(), writes.len());
}

#[test]
fn piece_settings_validate_default_and_read_back() {
    let t = TestApi::new();
    let pid = t.new_piece("Settings");
    for spec in PIECE_SETTINGS {
        let got = t.ok(&format!("get-{}", spec.name), &pid, "[[] $pid]");
        assert_eq!(got, spec.default_value(), "{}", spec.name);
    }

    let refused = [
        ("keyless-accidentals", ":bogus"),
        ("keyless-accidentals", "\"all\""),
        ("keyless-accidentals", ":x/all"),
        ("keyless-accidentals", "nil"),
        ("max-lookahead-measures", "0"),
        ("max-lookahead-measures", "-3"),
        ("max-lookahead-measures", "\"10\""),
        ("max-lookahead-measures", "2.5"),
        ("max-lookahead-measures", "7/2"),
        ("french-ties?", "\"true\""),
        ("french-ties?", "1"),
        ("french-ties?", "nil"),
        ("french-ties?", ":true"),
    ];
    for (name, value) in refused {
        let e = t.fail(&format!("set-{name}"), &pid, &format!("[[] $pid {value}]"));
        assert_eq!(e.reason(), "VALIDATION_FAILED", "{name} {value}: {e}");
        assert!(e.to_string().contains(name), "{name} {value}: {e}");
    }
    let e = t.fail("set-keyless-accidentals", &pid, "[[] $pid :bogus]");
    assert!(
        e.to_string()
            .contains("#{:standard :all-except-repeated :all}"),
        "the allowed values are listed: {e}"
    );
    assert_eq!(t.version(&pid), 0);
    assert!(t.commits().is_empty());

    let accepted = [
        ("keyless-accidentals", ":all-except-repeated"),
        ("keyless-accidentals", ":all"),
        ("max-lookahead-measures", "1"),
        ("max-lookahead-measures", "1000"),
        ("french-ties?", "true"),
    ];
    for (name, value) in accepted {
        t.ok(&format!("set-{name}"), &pid, &format!("[[] $pid {value}]"));
        let got = t.ok(&format!("get-{name}"), &pid, "[[] $pid]");
        assert_eq!(got, edn(value), "{name}");
    }
    assert_eq!(t.version(&pid), accepted.len() as i64);

    // Settings belong to the piece: other VPDs are an argument error.
    let e = t.fail("set-french-ties?", &pid, "[[:m 0] $pid false]");
    assert!(
        matches!(e, Error::InvalidParams { index: Some(0), .. }),
        "{e:?}"
    );
    assert_eq!(
        t.fail("set-no-such-setting", &pid, "[[] $pid 1]").reason(),
        "METHOD_NOT_FOUND"
    );
}

/// The musicians' music without structural ids, for comparing a clone with its source.
fn music_without_ids(t: &TestApi, pid: &str) -> Vec<Value> {
    let musicians = t.ok("get-musicians", pid, "[[] $pid]");
    elements(&musicians)
        .iter()
        .map(|m| {
            let instruments = elements(field(m, "instruments"));
            Value::vector(instruments.iter().map(|i| {
                Value::vector(
                    elements(field(i, "staves"))
                        .iter()
                        .map(|s| field(s, "measures").clone()),
                )
            }))
        })
        .collect()
}

#[test]
fn new_and_listed_pieces() {
    let t = TestApi::new();
    let untitled = t.exec("new-piece", &edn("[]")).unwrap();
    let untitled = string(&untitled).to_owned();
    assert!(uuid::Uuid::parse_str(&untitled).is_ok(), "{untitled}");
    let sonata = t.new_piece("Sonata");
    assert_ne!(untitled, sonata);
    assert_eq!(t.ok("get-title", &untitled, "[[] $pid]"), Value::string(""));
    assert_eq!(
        t.ok("get-title", &sonata, "[[] $pid]"),
        Value::string("Sonata")
    );
    t.ok("set-title", &sonata, r#"[[] $pid "Sonata in E"]"#);

    let listed = t.exec("list-pieces", &edn("[]")).unwrap();
    let mut expected = vec![
        (untitled.clone(), "", 0),
        (sonata.clone(), "Sonata in E", 1),
    ];
    expected.sort();
    let got: Vec<(String, &str, i64)> = elements(&listed)
        .iter()
        .map(|p| {
            (
                string(field(p, "piece-id")).to_owned(),
                string(field(p, "title")),
                int(field(p, "version")),
            )
        })
        .collect();
    assert_eq!(got, expected);

    let e = t
        .exec("new-piece", &edn("[{:title 5}]"))
        .expect_err("a title is a string");
    assert!(
        matches!(e, Error::InvalidParams { index: Some(0), .. }),
        "{e:?}"
    );
    // Creating a piece is not an edit of a piece: nothing reaches the sink.
    assert_eq!(t.commits().len(), 1, "only the set-title");
}

#[test]
fn pieces_of_other_tenants_are_invisible() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let other = Caller::of(Principal::new("elsewhere", "someone"));
    let listed = t.api.execute(&other, "list-pieces", &edn("[]")).unwrap();
    assert!(elements(&listed).is_empty());
    for (method, params) in [
        ("get-title", "[[] $pid]"),
        ("set-title", r#"[[] $pid "Mine now"]"#),
        ("clone-piece", "[$pid]"),
        ("delete-piece", "[$pid]"),
    ] {
        let params = edn(&params.replace("$pid", &format!("{pid:?}")));
        let e = t.api.execute(&other, method, &params).unwrap_err();
        assert_eq!(e.reason(), "PIECE_NOT_FOUND", "{method}");
    }
    assert_eq!(
        t.ok("get-title", &pid, "[[] $pid]"),
        Value::string("Fixture")
    );
}

#[test]
fn clone_piece_copies_everything_under_new_ids() {
    let t = TestApi::new();
    let source = fixture(&t);
    t.ok("set-key-signature", &source, r#"[[] $pid 0 {:tonic "G"}]"#);
    t.ok("set-french-ties?", &source, "[[] $pid true]");
    t.commits();
    let clone = string(&t.ok("clone-piece", &source, "[$pid]")).to_owned();
    assert_ne!(clone, source);
    assert!(t.commits().is_empty());

    let (a, b) = (
        t.ok("get-piece-structure", &source, "[[] $pid]"),
        t.ok("get-piece-structure", &clone, "[[] $pid]"),
    );
    assert_eq!(string(field(&b, "id")), clone);
    assert_eq!(int(field(&b, "version")), 0);
    assert_eq!(field(&a, "title"), field(&b, "title"));
    assert_eq!(field(&a, "settings"), field(&b, "settings"));
    let ids = |s: &Value| structural_ids(s).into_iter().collect::<BTreeSet<_>>();
    let (ids_a, ids_b) = (ids(&a), ids(&b));
    assert_eq!(ids_a.len(), ids_b.len());
    assert!(ids_a.is_disjoint(&ids_b), "every structural id is new");

    // The same music, change sets and layouts, with layouts pointing at the clone's musicians.
    assert_eq!(
        music_without_ids(&t, &source),
        music_without_ids(&t, &clone)
    );
    for method in ["get-key-signatures", "get-time-signatures", "get-tempos"] {
        assert_eq!(
            t.ok(method, &source, "[[] $pid]"),
            t.ok(method, &clone, "[[] $pid]")
        );
    }
    let layout = &elements(field(&b, "layouts"))[0];
    let musician = &elements(field(&b, "musicians"))[0];
    assert_eq!(
        elements(field(layout, "musician-ids")),
        [field(musician, "id").clone()]
    );

    // The two pieces are independent from now on.
    t.ok("set-title", &clone, r#"[[] $pid "Copy"]"#);
    t.ok("remove-musician", &clone, "[[] $pid 0]");
    assert_eq!(
        t.ok("get-title", &source, "[[] $pid]"),
        Value::string("Fixture")
    );
    assert_eq!(
        elements(&t.ok("get-musicians", &source, "[[] $pid]")).len(),
        2
    );
    let commits = t.commits();
    assert!(commits.iter().all(|c| c.piece_id.to_string() == clone));
}

#[test]
fn delete_piece_emits_piece_deleted_and_then_the_piece_is_gone() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let keep = t.new_piece("Kept");
    let version = t.version(&pid);

    // A batch that fails after deleting deletes nothing. (Its second operation already sees
    // the piece as deleted.)
    let e = t.fail(
        "atomic",
        &pid,
        &batch(&[
            op("delete-piece", &pid, "[$pid]"),
            op("set-name", &pid, r#"[[:m 0] $pid "x"]"#),
        ]),
    );
    assert_eq!(e.reason(), "PIECE_NOT_FOUND");
    assert_eq!(t.version(&pid), version);
    assert!(t.commits().is_empty());

    assert_eq!(t.ok("delete-piece", &pid, "[$pid]"), Value::Bool(true));
    let commits = t.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].piece_id.to_string(), pid);
    assert_eq!(kinds(&commits[0]), [EventKind::PieceDeleted]);
    assert!(commits[0].changes.is_empty());
    let event = commits[0].events[0].to_value();
    assert_eq!(field(&event, "type"), &Value::keyword("piece-deleted"));
    assert_eq!(string(field(&event, "piece-id")), pid);
    assert_eq!(int(field(&event, "version")), version);

    for (method, params) in [
        ("get-piece-structure", "[[] $pid]"),
        ("get-title", "[[] $pid]"),
        ("set-title", r#"[[] $pid "Gone"]"#),
        ("add-musician", "[[] $pid {}]"),
        ("clone-piece", "[$pid]"),
        ("delete-piece", "[$pid]"),
    ] {
        assert_eq!(
            t.fail(method, &pid, params).reason(),
            "PIECE_NOT_FOUND",
            "{method}"
        );
    }
    let listed = t.exec("list-pieces", &edn("[]")).unwrap();
    let ids: Vec<&str> = elements(&listed)
        .iter()
        .map(|p| string(field(p, "piece-id")))
        .collect();
    assert_eq!(ids, [keep.as_str()]);
    assert!(t.commits().is_empty());
}

#[test]
fn an_unknown_piece_is_piece_not_found() {
    let t = TestApi::new();
    let unknown = uuid::Uuid::new_v4().to_string();
    for (method, params) in [
        ("get-piece-structure", "[[] $pid]"),
        ("get-musicians", "[[] $pid]"),
        ("add-musician", "[[] $pid {}]"),
        ("set-french-ties?", "[[] $pid true]"),
    ] {
        let e = t.fail(method, &unknown, params);
        assert_eq!(
            e,
            Error::PieceNotFound {
                piece_id: unknown.clone()
            },
            "{method}"
        );
    }
    // The structure getter takes the piece VPD only.
    let pid = t.new_piece("x");
    let e = t.fail("get-piece-structure", &pid, "[[:m 0] $pid]");
    assert!(
        matches!(e, Error::InvalidParams { index: Some(0), .. }),
        "{e:?}"
    );
}

#[test]
fn an_imported_piece_takes_its_id_once_and_again_after_deletion() {
    use ooloi_server::model::{Piece, PieceId};
    let t = TestApi::new();
    let id = PieceId::mint();
    t.api
        .import_piece(&t.caller, Piece::new(id, "Imported"))
        .unwrap();
    let pid = id.to_string();
    assert_eq!(
        t.ok("get-title", &pid, "[[] $pid]"),
        Value::string("Imported")
    );
    let e = t
        .api
        .import_piece(&t.caller, Piece::new(id, "Twice"))
        .expect_err("the id is taken");
    assert!(matches!(e, Error::ValidationFailed { .. }), "{e:?}");
    t.ok("set-title", &pid, r#"[[] $pid "Edited"]"#);
    t.exec("delete-piece", &edn(&format!("[\"{pid}\"]")))
        .unwrap();
    // The deletion was delivered (this thread delivered it), so the id is free again, and the
    // new piece's events start a fresh order: its first edit reaches the sink.
    t.api
        .import_piece(&t.caller, Piece::new(id, "Again"))
        .unwrap();
    t.ok("set-title", &pid, r#"[[] $pid "Again, edited"]"#);
    let versions: Vec<u64> = t
        .commits()
        .iter()
        .filter(|c| c.piece_id == id)
        .map(|c| c.version)
        .collect();
    assert_eq!(
        versions.len(),
        3,
        "edit, deletion, edit of the new piece: {versions:?}"
    );
}
