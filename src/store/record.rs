//! The bytes the store keeps: commit records (the redo log) and piece snapshots, each a value in
//! the wire codec, and how a piece is rebuilt from them.
//!
//! A record is what one commit did to one piece: created (the whole piece, with its access),
//! changed (the path-level changes, and the access if it changed) or deleted. Replaying a
//! piece's records in version order from an empty state, or from a snapshot, gives exactly the
//! piece that was in memory. Every stored body carries a SHA-256 checksum beside it, so a
//! flipped byte is detected before the data is decoded, and damaged data is never served.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::api::PieceCommit;
use crate::api::access::{PieceAccess, PieceRole};
use crate::identity::{TenantId, UserId};
use crate::model::entity::{FromValue, ToValue};
use crate::model::{Change, Piece, PieceId};
use crate::tenants::DefaultAccess;
use crate::value::{Value, ValueLimits, wire};

/// The format of records this build writes (and the only one it reads).
const FORMAT: i64 = 1;

/// The first bytes of every snapshot this build writes (and the only ones it reads).
const SNAPSHOT_MAGIC: &[u8; 4] = b"OOS1";

/// Limits for decoding stored data: it was written by this server, under the request limits,
/// but a whole piece is far larger than one request.
pub fn stored_limits() -> ValueLimits {
    ValueLimits {
        max_depth: crate::value::MAX_CONFIGURABLE_DEPTH,
        max_collection_elements: 100_000_000,
        max_total_nodes: 1_000_000_000,
        max_string_bytes: 1 << 30,
        max_message_bytes: usize::MAX,
    }
}

/// The SHA-256 of `body`.
pub fn checksum(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// What one stored record says.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The piece's tenant.
    pub tenant: TenantId,
    /// The piece.
    pub piece_id: PieceId,
    /// The version after the commit (a creation's version; a deletion's last version).
    pub version: u64,
    /// Who committed it.
    pub author: UserId,
    /// What it did.
    pub kind: RecordKind,
    /// The access as of this commit, when it changed (always for a creation).
    pub access: Option<PieceAccess>,
}

/// What a record did to its piece.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordKind {
    /// Created it, as this.
    Created(Arc<Piece>),
    /// Changed it.
    Changed(Arc<[Change]>),
    /// Deleted it.
    Deleted,
}

/// Why stored data cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorruptData {
    /// The checksum does not match the body.
    #[error("the checksum does not match (a damaged {0})")]
    Checksum(&'static str),
    /// The body does not decode as this build's format.
    #[error("a {what} that does not decode: {message}")]
    Decode {
        /// Record or snapshot.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Records do not continue the piece (a gap, or one that does not apply).
    #[error("{0}")]
    Replay(String),
}

fn kw(name: &str) -> Value {
    Value::keyword(name)
}

/// A piece's access as a value: `{:owner "u" :default "private" :grants {"bob" "editor"}}`.
pub fn access_to_value(access: &PieceAccess) -> Value {
    Value::map([
        (kw("owner"), Value::string(access.owner.as_str())),
        (kw("default"), kw(access.default.name())),
        (
            kw("grants"),
            Value::map(
                access
                    .grants
                    .iter()
                    .map(|(user, role)| (Value::string(user.as_str()), kw(role.name()))),
            ),
        ),
    ])
}

/// Reads [`access_to_value`]'s form.
pub fn access_from_value(value: &Value) -> Result<PieceAccess, String> {
    let map = value.as_map().ok_or("access is not a map")?;
    let owner = map
        .get_keyword("owner")
        .and_then(Value::as_str)
        .ok_or("access has no :owner")?;
    let default = map
        .get_keyword("default")
        .and_then(keyword_name)
        .and_then(DefaultAccess::from_name)
        .ok_or("access has no valid :default")?;
    let mut access = PieceAccess::new(UserId::from(owner), default);
    if let Some(grants) = map.get_keyword("grants") {
        for (user, role) in grants.as_map().ok_or(":grants is not a map")?.iter() {
            let user = user.as_str().ok_or("a grant's user is not a string")?;
            let role = keyword_name(role)
                .and_then(PieceRole::from_name)
                .ok_or("a grant's role is not valid")?;
            access.grants.insert(UserId::from(user), role);
        }
    }
    Ok(access)
}

fn keyword_name(value: &Value) -> Option<&str> {
    match value {
        Value::Keyword(k) => Some(k.name()),
        _ => None,
    }
}

impl Record {
    /// The record of `commit`.
    pub fn of(commit: &PieceCommit) -> Record {
        let kind = if let Some(piece) = &commit.created {
            RecordKind::Created(piece.clone())
        } else if commit.deleted {
            RecordKind::Deleted
        } else {
            RecordKind::Changed(commit.changes.clone())
        };
        Record {
            tenant: commit.tenant.clone(),
            piece_id: commit.piece_id,
            version: commit.version,
            author: commit.author.clone(),
            kind,
            access: commit
                .access
                .as_deref()
                .filter(|_| commit.access_changed)
                .cloned(),
        }
    }

    /// The record as a value.
    pub fn to_value(&self) -> Value {
        let mut fields = vec![
            (kw("format"), Value::Int(FORMAT)),
            (kw("tenant"), Value::string(self.tenant.as_str())),
            (kw("piece"), Value::string(self.piece_id.to_string())),
            (kw("version"), Value::Int(self.version as i64)),
            (kw("author"), Value::string(self.author.as_str())),
        ];
        match &self.kind {
            RecordKind::Created(piece) => {
                fields.push((kw("kind"), kw("created")));
                fields.push((kw("state"), piece.to_value()));
            }
            RecordKind::Changed(changes) => {
                fields.push((kw("kind"), kw("changed")));
                fields.push((
                    kw("changes"),
                    Value::vector(changes.iter().map(Change::to_value)),
                ));
            }
            RecordKind::Deleted => fields.push((kw("kind"), kw("deleted"))),
        }
        if let Some(access) = &self.access {
            fields.push((kw("access"), access_to_value(access)));
        }
        Value::map(fields)
    }

    /// Encodes the record for the log.
    pub fn encode(&self) -> Vec<u8> {
        wire::encode(&self.to_value())
    }

    /// Decodes a logged record, checking its checksum first.
    pub fn decode(body: &[u8], sum: &[u8]) -> Result<Record, CorruptData> {
        if checksum(body).as_slice() != sum {
            return Err(CorruptData::Checksum("record"));
        }
        let bad = |message: String| CorruptData::Decode {
            what: "record",
            message,
        };
        let value = wire::decode(body, &stored_limits()).map_err(|e| bad(e.to_string()))?;
        Self::from_value(&value).map_err(bad)
    }

    /// Reads [`Record::to_value`]'s form.
    pub fn from_value(value: &Value) -> Result<Record, String> {
        let map = value.as_map().ok_or("a record is a map")?;
        let field = |name: &str| {
            map.get_keyword(name)
                .ok_or_else(|| format!("the record has no :{name}"))
        };
        let text = |name: &str| {
            field(name)?
                .as_str()
                .ok_or_else(|| format!(":{name} is not a string"))
        };
        if field("format")?.as_int() != Some(FORMAT) {
            return Err(format!("not format {FORMAT}"));
        }
        let piece_id: PieceId = text("piece")?
            .parse()
            .map_err(|_| ":piece is not a piece id".to_string())?;
        let version = field("version")?
            .as_int()
            .and_then(|v| u64::try_from(v).ok())
            .ok_or(":version is not a version")?;
        let kind = match keyword_name(field("kind")?) {
            Some("created") => RecordKind::Created(Arc::new(
                Piece::from_value(field("state")?).map_err(|e| e.to_string())?,
            )),
            Some("changed") => RecordKind::Changed(
                field("changes")?
                    .as_seq()
                    .ok_or(":changes is not a vector")?
                    .as_slice()
                    .iter()
                    .map(|c| Change::from_value(c).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?
                    .into(),
            ),
            Some("deleted") => RecordKind::Deleted,
            _ => return Err(":kind is not created, changed or deleted".into()),
        };
        let access = map
            .get_keyword("access")
            .map(access_from_value)
            .transpose()?;
        Ok(Record {
            tenant: TenantId::from(text("tenant")?),
            piece_id,
            version,
            author: UserId::from(text("author")?),
            kind,
            access,
        })
    }
}

/// A piece's full state at one version, with its access: what a snapshot holds.
#[derive(Clone, Debug, PartialEq)]
pub struct PieceState {
    /// The piece (its version is the snapshot's).
    pub piece: Piece,
    /// Who may use it.
    pub access: PieceAccess,
}

impl PieceState {
    /// Encodes the state for a snapshot: a magic, the access (wire codec, length-prefixed),
    /// then the piece in the compact form of [`super::snapshot`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = SNAPSHOT_MAGIC.to_vec();
        let access = wire::encode(&access_to_value(&self.access));
        prost::encoding::encode_varint(access.len() as u64, &mut out);
        out.extend_from_slice(&access);
        out.extend_from_slice(&super::snapshot::encode(&self.piece));
        out
    }

    /// Decodes a snapshot, checking its checksum first.
    pub fn decode(body: &[u8], sum: &[u8]) -> Result<PieceState, CorruptData> {
        if checksum(body).as_slice() != sum {
            return Err(CorruptData::Checksum("snapshot"));
        }
        let bad = |message: String| CorruptData::Decode {
            what: "snapshot",
            message,
        };
        let mut rest = body
            .strip_prefix(SNAPSHOT_MAGIC.as_slice())
            .ok_or_else(|| bad("not this build's snapshot format".into()))?;
        let len = prost::encoding::decode_varint(&mut rest).map_err(|e| bad(e.to_string()))?;
        if len > rest.len() as u64 {
            return Err(bad("a truncated access".into()));
        }
        let (access, piece) = rest.split_at(len as usize);
        let access = wire::decode(access, &stored_limits())
            .map_err(|e| bad(e.to_string()))
            .and_then(|v| access_from_value(&v).map_err(bad))?;
        let piece = super::snapshot::decode(piece, stored_limits()).map_err(bad)?;
        Ok(PieceState { piece, access })
    }

    /// Applies the next record of the piece. A record that does not continue the piece
    /// (another piece, a gap in the versions, a change that does not apply) is corrupt data.
    pub fn apply(&mut self, record: &Record) -> Result<(), CorruptData> {
        let replay = |message: String| CorruptData::Replay(message);
        if record.piece_id != self.piece.id {
            return Err(replay(format!(
                "a record of piece {} in the log of {}",
                record.piece_id, self.piece.id
            )));
        }
        match &record.kind {
            RecordKind::Changed(changes) => {
                if record.version != self.piece.version + 1 {
                    return Err(replay(format!(
                        "version {} follows version {}",
                        record.version, self.piece.version
                    )));
                }
                for change in changes.iter() {
                    change.apply(&mut self.piece).map_err(|e| {
                        replay(format!("version {} does not apply: {e}", record.version))
                    })?;
                }
                self.piece.version = record.version;
            }
            RecordKind::Created(_) | RecordKind::Deleted => {
                return Err(replay(format!(
                    "a {} record at version {} in the middle of the piece",
                    if matches!(record.kind, RecordKind::Deleted) {
                        "deletion"
                    } else {
                        "creation"
                    },
                    record.version
                )));
            }
        }
        if let Some(access) = &record.access {
            self.access = access.clone();
        }
        Ok(())
    }

    /// Rebuilds a piece: from `snapshot` if given (else from the creation record, which must
    /// then come first), applying `records` after it in order. Records at or below the
    /// snapshot's version are skipped (the log is trimmed behind snapshots lazily).
    pub fn rebuild(
        snapshot: Option<PieceState>,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<PieceState, CorruptData> {
        let mut state = snapshot;
        for record in records {
            match (&mut state, &record.kind) {
                (None, RecordKind::Created(piece)) => {
                    let access = record.access.clone().ok_or_else(|| {
                        CorruptData::Replay("a creation record without its access".into())
                    })?;
                    state = Some(PieceState {
                        piece: (**piece).clone(),
                        access,
                    });
                }
                (None, _) => {
                    return Err(CorruptData::Replay(format!(
                        "the log starts at version {} without a creation or a snapshot",
                        record.version
                    )));
                }
                (Some(s), _) if record.version <= s.piece.version => {}
                (Some(s), _) => s.apply(&record)?,
            }
        }
        state.ok_or_else(|| CorruptData::Replay("neither a snapshot nor a creation".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::vpd::Vpd;

    fn access() -> PieceAccess {
        let mut a = PieceAccess::new(UserId::from("ann"), DefaultAccess::TenantRead);
        a.grants.insert(UserId::from("bob"), PieceRole::Editor);
        a
    }

    fn record(version: u64, kind: RecordKind, access: Option<PieceAccess>) -> Record {
        Record {
            tenant: TenantId::from("school"),
            piece_id: PieceId(uuid::Uuid::from_u128(7)),
            version,
            author: UserId::from("ann"),
            kind,
            access,
        }
    }

    fn round_trip(r: &Record) -> Record {
        let body = r.encode();
        Record::decode(&body, &checksum(&body)).unwrap()
    }

    #[test]
    fn records_and_access_decode_to_what_was_encoded() {
        let piece = Piece::new(PieceId(uuid::Uuid::from_u128(7)), "Etude");
        let created = record(0, RecordKind::Created(Arc::new(piece)), Some(access()));
        assert_eq!(round_trip(&created), created);
        let title = Change {
            at: Vpd::root(),
            op: crate::model::ChangeOp::SetTitle(Arc::from("Prelude")),
        };
        let changed = record(1, RecordKind::Changed(vec![title].into()), None);
        assert_eq!(round_trip(&changed), changed);
        let deleted = record(1, RecordKind::Deleted, None);
        assert_eq!(round_trip(&deleted), deleted);
    }

    #[test]
    fn a_flipped_byte_is_detected_before_decoding() {
        let body = record(1, RecordKind::Deleted, None).encode();
        let sum = checksum(&body);
        let mut damaged = body.clone();
        damaged[3] ^= 0x10;
        assert_eq!(
            Record::decode(&damaged, &sum),
            Err(CorruptData::Checksum("record"))
        );
        let state = PieceState {
            piece: Piece::new(PieceId::mint(), "x"),
            access: access(),
        };
        let mut body = state.encode();
        let sum = checksum(&body);
        assert_eq!(PieceState::decode(&body, &sum).unwrap(), state);
        let last = body.len() - 1;
        body[last] ^= 1;
        assert!(PieceState::decode(&body, &sum).is_err());
    }

    #[test]
    fn replay_rebuilds_the_piece_and_refuses_gaps() {
        let id = PieceId(uuid::Uuid::from_u128(7));
        let created = record(
            0,
            RecordKind::Created(Arc::new(Piece::new(id, "a"))),
            Some(access()),
        );
        let retitle = |v: u64, t: &str| {
            record(
                v,
                RecordKind::Changed(
                    vec![Change {
                        at: Vpd::root(),
                        op: crate::model::ChangeOp::SetTitle(Arc::from(t)),
                    }]
                    .into(),
                ),
                None,
            )
        };
        let state =
            PieceState::rebuild(None, [created.clone(), retitle(1, "b"), retitle(2, "c")]).unwrap();
        assert_eq!(&*state.piece.title, "c");
        assert_eq!(state.piece.version, 2);
        assert_eq!(state.access, access());
        // From a snapshot at 1, records at or below it are skipped.
        let mut snap = Piece::new(id, "b");
        snap.version = 1;
        let from_snapshot = PieceState::rebuild(
            Some(PieceState {
                piece: snap,
                access: access(),
            }),
            [retitle(1, "b"), retitle(2, "c")],
        )
        .unwrap();
        assert_eq!(from_snapshot, state);
        assert!(matches!(
            PieceState::rebuild(None, [created.clone(), retitle(2, "c")]),
            Err(CorruptData::Replay(_))
        ));
        assert!(PieceState::rebuild(None, [retitle(1, "b")]).is_err());
    }
}
