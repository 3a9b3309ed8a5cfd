//! What the `EventSink` receives for representative writes, as a table: each row runs one write
//! on a fresh fixture piece and names exactly the events of its one commit (at least one row per
//! event kind, with the data the event carries), and no-op writes receive nothing at all (no
//! commit, no new version). Also: a batch coalesces to at most one event of each kind, and every
//! event names its piece and the version it describes.

mod support;

use ooloi_server::model::classify::EventKind::{self, *};
use support::api::*;

/// One write and what the sink must receive for it.
struct Row {
    /// Writes made first (their commits are not checked).
    setup: &'static [(&'static str, &'static str)],
    method: &'static str,
    params: &'static str,
    /// The event kinds of the one commit, in order; empty for a no-op.
    events: &'static [EventKind],
    /// Expected data entries (kind, key, EDN value).
    data: &'static [(EventKind, &'static str, &'static str)],
}

const fn row(
    method: &'static str,
    params: &'static str,
    events: &'static [EventKind],
    data: &'static [(EventKind, &'static str, &'static str)],
) -> Row {
    Row {
        setup: &[],
        method,
        params,
        events,
        data,
    }
}

const fn no_op(method: &'static str, params: &'static str) -> Row {
    row(method, params, &[], &[])
}

const STRUCTURE: &[EventKind] = &[PieceStructureChanged];
const MEASURES: &[EventKind] = &[PieceMeasuresInvalidated];

/// Writes that change the piece, one row per event kind at least.
const CHANGING: &[Row] = &[
    // piece-structure-changed
    row(
        "add-musician",
        r#"[[] $pid {:name "Cello"}]"#,
        STRUCTURE,
        &[],
    ),
    row("remove-instrument", "[[:m 1] $pid 0]", STRUCTURE, &[]),
    row("move-musician", "[[] $pid 0 1]", STRUCTURE, &[]),
    row("copy-staff", "[[:m 0 0] $pid 0 -1]", STRUCTURE, &[]),
    row("add-layout", r#"[[] $pid {:name "Parts"}]"#, STRUCTURE, &[]),
    row(
        "set-name",
        r#"[[:m 0 0] $pid "Violin solo"]"#,
        STRUCTURE,
        &[],
    ),
    row(
        "set-short-name",
        r#"[[:m 0 0 0] $pid "Vn."]"#,
        STRUCTURE,
        &[],
    ),
    row("set-number", "[[:m 1] $pid 2]", STRUCTURE, &[]),
    row("set-name", r#"[[:l 0] $pid "Full score"]"#, STRUCTURE, &[]),
    row("set-title", r#"[[] $pid "Renamed"]"#, STRUCTURE, &[]),
    row("set-keyless-accidentals", "[[] $pid :all]", STRUCTURE, &[]),
    row("add-musician", "[[:l 0] $pid [:m 1]]", STRUCTURE, &[]),
    row("remove-musician", "[[:l 0] $pid 0]", STRUCTURE, &[]),
    // piece-measures-invalidated: one staff's measures...
    row(
        "add-item",
        "[[:m 0 0 0 1 0] $pid {:type :rest :duration 1/4}]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 1 :last 1}]",
        )],
    ),
    row(
        "set-duration",
        "[[:m 0 0 0 0 0 :items 0] $pid 1/2]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 0 :last 0}]",
        )],
    ),
    row(
        "set-note",
        r#"[[:m 1 0 0 0 0 :items 3 :items 0] $pid "D#4"]"#,
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 1 0 0] :first 0 :last 0}]",
        )],
    ),
    row(
        "add-attachment",
        "[[:m 0 0 0 1 0 :items 0] $pid :accent]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 1 :last 1}]",
        )],
    ),
    // A span numbers its end item with the instrument's endpoint counter: still only measures.
    row(
        "add-attachment",
        "[[:m 0 0 0 0 0 :items 0] $pid :slur [:m 0 0 0 1 0 :items 0]]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 0 :last 1}]",
        )],
    ),
    row(
        "add-voice",
        "[[:m 0 0 0 1] $pid {}]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 1 :last 1}]",
        )],
    ),
    row(
        "transpose-chromatic",
        "[[:m 0 0 0 1] $pid 2]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 1 :last 1}]",
        )],
    ),
    // ...measures from an index to the end when measures are inserted or removed...
    row(
        "add-measure",
        "[[:m 1 0 0] $pid {}]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 1 0 0] :first 1 :last nil}]",
        )],
    ),
    row(
        "remove-measure",
        "[[:m 0 0 0] $pid 0]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 0 :last nil}]",
        )],
    ),
    row(
        "move-measure",
        "[[:m 0 0 0] $pid 1 0]",
        MEASURES,
        &[(
            PieceMeasuresInvalidated,
            "ranges",
            "[{:staff [:m 0 0 0] :first 0 :last 1}]",
        )],
    ),
    // ...and every staff from a measure on for change sets.
    row(
        "set-time-signature",
        "[[] $pid 4 {:beats 3 :unit 4}]",
        MEASURES,
        &[
            (PieceMeasuresInvalidated, "all-staves-from", "4"),
            (PieceMeasuresInvalidated, "ranges", "[]"),
        ],
    ),
    row(
        "set-key-signature",
        r#"[[] $pid 2 {:tonic "D"}]"#,
        MEASURES,
        &[(PieceMeasuresInvalidated, "all-staves-from", "2")],
    ),
    row(
        "set-tempo",
        "[[] $pid 0 {:bpm 60}]",
        MEASURES,
        &[(PieceMeasuresInvalidated, "all-staves-from", "0")],
    ),
    // piece-staff-invalidated
    row(
        "set-clef",
        "[[:m 0 0 0] $pid :bass]",
        &[PieceStaffInvalidated],
        &[(PieceStaffInvalidated, "staves", "[[:m 0 0 0]]")],
    ),
    row(
        "set-lines",
        "[[:m 1 0 0] $pid 1]",
        &[PieceStaffInvalidated],
        &[(PieceStaffInvalidated, "staves", "[[:m 1 0 0]]")],
    ),
    row(
        "set-family",
        "[[:m 0 0] $pid :strings]",
        &[PieceStaffInvalidated],
        &[(PieceStaffInvalidated, "staves", "[[:m 0 0 0]]")],
    ),
    // piece-layout-invalidated
    row(
        "add-page-view",
        "[[:l 0] $pid {}]",
        &[PieceLayoutInvalidated],
        &[(PieceLayoutInvalidated, "layouts", "[[:l 0]]")],
    ),
    // piece-page-invalidated
    row(
        "add-system-view",
        "[[:l 0 0] $pid {}]",
        &[PiecePageInvalidated],
        &[(PiecePageInvalidated, "pages", "[[:l 0 0]]")],
    ),
    // piece-system-invalidated
    row(
        "add-staff-view",
        "[[:l 0 0 0] $pid {}]",
        &[PieceSystemInvalidated],
        &[(PieceSystemInvalidated, "systems", "[[:l 0 0 0]]")],
    ),
    row(
        "add-measure-view",
        "[[:l 0 0 0 0] $pid {}]",
        &[PieceSystemInvalidated],
        &[(PieceSystemInvalidated, "systems", "[[:l 0 0 0]]")],
    ),
];

/// Writes given what is already there: no commit, no version, no event.
const NO_OPS: &[Row] = &[
    no_op("set-name", r#"[[:m 0] $pid "Violin I"]"#),
    no_op("set-name", r#"[[:l 0] $pid "Score"]"#),
    no_op("set-clef", "[[:m 1 0 0] $pid :alto]"),
    // The default of an attribute never set is what it already has.
    no_op("set-clef", "[[:m 0 0 0] $pid :treble]"),
    no_op("set-lines", "[[:m 0 0 0] $pid 5]"),
    no_op("set-family", "[[:m 0 0] $pid :other]"),
    no_op("set-title", r#"[[] $pid "Fixture"]"#),
    no_op("set-french-ties?", "[[] $pid false]"),
    no_op("set-keyless-accidentals", "[[] $pid :standard]"),
    no_op("add-musician", "[[:l 0] $pid [:m 0]]"),
    no_op("set-musicians", "[[:l 0] $pid [[:m 0]]]"),
    no_op("move-item", "[[:m 0 0 0 0 0] $pid 2 2]"),
    no_op(
        "set-item",
        r#"[[:m 0 0 0 0 0] $pid 1 {:type :chord :pitches ["E4" "G4"] :duration 1/4}]"#,
    ),
    no_op("set-duration", "[[:m 0 0 0 0 0 :items 2] $pid 1/4]"),
    no_op("set-note", r#"[[:m 0 0 0 0 0 :items 0] $pid "C4"]"#),
    no_op("transpose-chromatic", "[[] $pid 0]"),
    no_op("transpose-diatonic", "[[:m 0] $pid 0]"),
    no_op("transpose-by-interval", r#"[[:m 1] $pid "P1"]"#),
    no_op("set-time-signature", "[[] $pid 3 nil]"),
    Row {
        setup: &[(
            "set-key-signature",
            r#"[[] $pid 0 {:mode :major :tonic "E"}]"#,
        )],
        ..no_op(
            "set-key-signature",
            r#"[[] $pid 0 {:mode :ionian :tonic "E"}]"#,
        )
    },
    Row {
        setup: &[("set-max-lookahead-measures", "[[] $pid 12]")],
        ..no_op("set-max-lookahead-measures", "[[] $pid 12]")
    },
];

fn run(row: &Row) {
    let t = TestApi::new();
    let pid = fixture(&t);
    let what = format!("{} {}", row.method, row.params);
    for (method, params) in row.setup {
        t.ok(method, &pid, params);
    }
    t.commits();
    let version = t.version(&pid);

    let result = t.ok(row.method, &pid, row.params);
    let commits = t.commits();
    if row.events.is_empty() {
        assert_eq!(written(&result, &pid), version, "{what}: no new version");
        assert!(commits.is_empty(), "{what}: nothing emitted");
        assert_eq!(t.version(&pid), version, "{what}");
        return;
    }
    assert_eq!(written(&result, &pid), version + 1, "{what}");
    assert_eq!(commits.len(), 1, "{what}: one commit");
    let commit = &commits[0];
    assert_eq!(commit.piece_id.to_string(), pid, "{what}");
    assert_eq!(commit.version, version as u64 + 1, "{what}");
    assert!(!commit.changes.is_empty(), "{what}: the redo record");
    assert_eq!(kinds(commit), row.events, "{what}");
    for event in &commit.events {
        assert_eq!(
            (event.piece_id, event.version),
            (commit.piece_id, commit.version)
        );
    }
    for (kind, key, expected) in row.data {
        let data = event_data(commit, *kind);
        assert_eq!(field(&data, key), &edn(expected), "{what}: :{key}");
    }
}

#[test]
fn each_kind_of_write_emits_exactly_its_events() {
    for row in CHANGING {
        run(row);
    }
    let covered: Vec<EventKind> = CHANGING.iter().flat_map(|r| r.events.to_vec()).collect();
    for kind in [
        PieceStructureChanged,
        PieceMeasuresInvalidated,
        PieceStaffInvalidated,
        PieceLayoutInvalidated,
        PiecePageInvalidated,
        PieceSystemInvalidated,
    ] {
        assert!(covered.contains(&kind), "a row for {kind:?}");
    }
}

#[test]
fn no_op_writes_emit_nothing() {
    for row in NO_OPS {
        run(row);
    }
}

#[test]
fn deleting_a_piece_emits_piece_deleted_only() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let version = t.version(&pid);
    t.ok("delete-piece", &pid, "[$pid]");
    let commits = t.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(kinds(&commits[0]), [PieceDeleted]);
    assert_eq!(commits[0].version, version as u64);
}

#[test]
fn a_batch_emits_at_most_one_event_of_each_kind_with_merged_data() {
    let t = TestApi::new();
    let pid = fixture(&t);
    let rest = "{:type :rest :duration 1/4}";
    let ops = [
        op("add-musician", &pid, r#"[[] $pid {:name "Horn"}]"#),
        op("set-title", &pid, r#"[[] $pid "Coalesced"]"#),
        op("add-item", &pid, &format!("[[:m 0 0 0 0 0] $pid {rest}]")),
        op("add-item", &pid, &format!("[[:m 0 0 0 1 0] $pid {rest}]")),
        op("add-item", &pid, &format!("[[:m 1 0 0 0 0] $pid {rest}]")),
        op("set-clef", &pid, "[[:m 0 0 0] $pid :bass]"),
        op("set-clef", &pid, "[[:m 1 0 0] $pid :tenor]"),
        op("add-system-view", &pid, "[[:l 0 0] $pid {}]"),
        op("set-time-signature", &pid, "[[] $pid 8 {:beats 6 :unit 8}]"),
        op("set-tempo", &pid, "[[] $pid 3 {:bpm 80}]"),
    ];
    let version = t.version(&pid);
    t.ok("atomic", &pid, &batch(&ops));
    let commits = t.commits();
    assert_eq!(commits.len(), 1);
    let commit = &commits[0];
    assert_eq!(commit.version, version as u64 + 1);
    assert_eq!(commit.changes.len(), ops.len());
    assert_eq!(
        kinds(commit),
        [
            PieceStructureChanged,
            PieceMeasuresInvalidated,
            PieceStaffInvalidated,
            PiecePageInvalidated
        ]
    );
    let measures = event_data(commit, PieceMeasuresInvalidated);
    assert_eq!(
        field(&measures, "ranges"),
        &edn("[{:staff [:m 0 0 0] :first 0 :last 1} {:staff [:m 1 0 0] :first 0 :last 0}]")
    );
    assert_eq!(field(&measures, "all-staves-from"), &edn("3"));
    let staves = event_data(commit, PieceStaffInvalidated);
    assert_eq!(field(&staves, "staves"), &edn("[[:m 0 0 0] [:m 1 0 0]]"));
}

#[test]
fn events_name_their_type_piece_and_version() {
    let t = TestApi::new();
    let pid = fixture(&t);
    t.ok("add-musician", &pid, "[[] $pid {}]");
    t.ok("set-clef", &pid, "[[:m 0 0 0] $pid :bass]");
    t.ok("add-page-view", &pid, "[[:l 0] $pid {}]");
    let commits = t.commits();
    assert_eq!(commits.len(), 3);
    for (i, commit) in commits.iter().enumerate() {
        assert_eq!(commit.version, commits[0].version + i as u64);
        for event in &commit.events {
            let value = event.to_value();
            assert_eq!(
                field(&value, "type"),
                &ooloi_server::value::Value::keyword(event.kind.name())
            );
            assert_eq!(string(field(&value, "piece-id")), pid);
            assert_eq!(int(field(&value, "version")), commit.version as i64);
        }
    }
}

#[test]
fn a_batch_over_two_pieces_commits_each_piece_once() {
    let t = TestApi::new();
    let (first, second) = (fixture(&t), fixture(&t));
    let (v1, v2) = (t.version(&first), t.version(&second));
    let ops = [
        op("set-title", &first, r#"[[] $pid "One"]"#),
        op("set-clef", &second, "[[:m 0 0 0] $pid :bass]"),
        op("add-musician", &first, "[[] $pid {}]"),
        // A no-op adds nothing to the second piece's commit.
        op("set-title", &second, r#"[[] $pid "Fixture"]"#),
    ];
    t.ok("atomic", &first, &batch(&ops));
    let mut commits = t.commits();
    commits.sort_by_key(|c| c.piece_id.to_string() != first);
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].piece_id.to_string(), first);
    assert_eq!(commits[0].version, v1 as u64 + 1);
    assert_eq!(commits[0].changes.len(), 2);
    assert_eq!(kinds(&commits[0]), [PieceStructureChanged]);
    assert_eq!(commits[1].piece_id.to_string(), second);
    assert_eq!(commits[1].version, v2 as u64 + 1);
    assert_eq!(commits[1].changes.len(), 1);
    assert_eq!(kinds(&commits[1]), [PieceStaffInvalidated]);
}

/// Replaying each commit's changes on the piece before it gives the piece after it, ids and
/// version included, over a sequence of calls that mint ids, copy, prune layouts and transpose.
#[test]
fn applying_a_commits_changes_replays_it_exactly() {
    use ooloi_server::api::registry::param;
    use ooloi_server::api::{Category, Method, ParamKind};
    use ooloi_server::model::{FromValue, Piece, ToValue};

    let t = TestApi::new();
    t.api.methods().register(Method::new(
        "test-dump-piece",
        Category::Read,
        &[param("piece-id", ParamKind::PieceId)],
        "The whole piece",
        |call, args| Ok(call.piece(args.piece_id(0)?)?.to_value()),
    ));
    let piece = |pid: &str| Piece::from_value(&t.ok("test-dump-piece", pid, "[$pid]")).unwrap();
    let pid = fixture(&t);
    let slur = "[[:m 0 0 0 0 0 :items 0] $pid \"slur\" [:m 0 0 0 0 0 :items 2]]";
    let calls = [
        ("copy-musician", "[[] $pid 0 -1]"),
        ("copy-staff", "[[:m 0 0] $pid 0 -1]"),
        ("copy-layout", "[[] $pid 0 -1]"),
        ("add-musician", "[[:l 1] $pid [:m 2]]"),
        ("add-attachment", slur),
        ("transpose-chromatic", "[[] $pid 3]"),
        (
            "transpose-diatonic",
            "[[:m 0 0 0 0 0 :items 3 :items 1] $pid 2]",
        ),
        ("move-measure", "[[:m 0 0 0] $pid 0 -1]"),
        ("set-musician", "[[] $pid 0 {:name \"Flute\"}]"),
        (
            "add-instrument",
            "[[:m 0] $pid {:name \"z\" :staves [{:name \"s\"}]}]",
        ),
        ("set-time-signature", "[[] $pid 1 {:beats 3 :unit 4}]"),
        ("remove-musician", "[[] $pid 1]"),
        ("set-musicians", "[[] $pid [{:name \"x\"}]]"),
    ];
    for (method, params) in calls {
        let before = piece(&pid);
        t.commits();
        t.ok(method, &pid, params);
        let commits = t.commits();
        assert_eq!(commits.len(), 1, "{method}");
        let mut replayed = before;
        for change in commits[0].changes.iter() {
            change.apply(&mut replayed).unwrap();
        }
        replayed.version += 1;
        assert_eq!(replayed.to_value(), piece(&pid).to_value(), "{method}");
    }
}
