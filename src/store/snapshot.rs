//! The snapshot codec: a whole piece in a compact binary form, written and read directly from
//! the entity tree without building a value for every node.
//!
//! A piece is mostly items: Ooloi's benchmark piece is 160,000 pitches, and as values (a record
//! named `ooloi.shared.models.musical.pitch.Pitch` per item, with keyword keys) it took 130
//! bytes per item and about 300 ms each way. Here a pitch is a tag, its note's name, its
//! duration as two varints and its attributes (one zero byte when there are none). Everything
//! that is rare or open-ended keeps the wire codec, length-prefixed: the piece's own fields and
//! layouts (the piece with its musicians left out), attributes, attachments, and any item but a
//! pitch or a rest. The bytes are checksummed by the caller; this module checks shapes, never
//! trusts lengths, and never panics on bad input.

use bytes::Buf;
use prost::encoding::{decode_varint, encode_varint};

use crate::model::cowvec::CowVec;
use crate::model::entity::{
    FromValue, Instrument, Item, Measure, Musician, Pitch, Rest, Staff, ToValue, Voice,
};
use crate::model::{EntityId, Piece};
use crate::value::{Value, ValueLimits, ValueMap, wire};

const ITEM_VALUE: u8 = 0;
const ITEM_PITCH: u8 = 1;
const ITEM_REST: u8 = 2;

fn put_len(out: &mut Vec<u8>, n: usize) {
    encode_varint(n as u64, out);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_value(out: &mut Vec<u8>, value: &Value) {
    put_bytes(out, &wire::encode(value));
}

fn put_map(out: &mut Vec<u8>, map: &ValueMap) {
    if map.is_empty() {
        put_len(out, 0);
    } else {
        put_value(out, &Value::Map(map.clone()));
    }
}

fn put_id(out: &mut Vec<u8>, id: EntityId) {
    out.extend_from_slice(id.0.as_bytes());
}

fn put_i64(out: &mut Vec<u8>, n: i64) {
    // Zigzag: small negative numbers stay small.
    encode_varint(((n << 1) ^ (n >> 63)) as u64, out);
}

fn put_attachments(out: &mut Vec<u8>, attachments: &CowVec<Value>) {
    put_len(out, attachments.len());
    for a in attachments.iter() {
        put_value(out, a);
    }
}

fn put_item(out: &mut Vec<u8>, item: &Item) {
    match item {
        Item::Pitch(p) => {
            out.push(ITEM_PITCH);
            put_bytes(out, p.note.to_string().as_bytes());
            put_i64(out, p.duration.numerator());
            put_i64(out, p.duration.denominator());
            put_attachments(out, &p.attachments);
            put_map(out, &p.attrs);
        }
        Item::Rest(r) => {
            out.push(ITEM_REST);
            put_i64(out, r.duration.numerator());
            put_i64(out, r.duration.denominator());
            put_attachments(out, &r.attachments);
            put_map(out, &r.attrs);
        }
        other => {
            out.push(ITEM_VALUE);
            put_value(out, &other.to_value());
        }
    }
}

/// A piece in the compact form.
pub fn encode(piece: &Piece) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    let shell = Piece {
        musicians: CowVec::new(),
        ..piece.clone()
    };
    put_value(&mut out, &shell.to_value());
    put_len(&mut out, piece.musicians.len());
    for m in piece.musicians.iter() {
        put_id(&mut out, m.id);
        put_map(&mut out, &m.attrs);
        put_len(&mut out, m.instruments.len());
        for i in m.instruments.iter() {
            put_id(&mut out, i.id);
            put_map(&mut out, &i.attrs);
            put_len(&mut out, i.staves.len());
            for s in i.staves.iter() {
                put_id(&mut out, s.id);
                put_map(&mut out, &s.attrs);
                put_len(&mut out, s.measures.len());
                for measure in s.measures.iter() {
                    put_map(&mut out, &measure.attrs);
                    put_len(&mut out, measure.voices.len());
                    for v in measure.voices.iter() {
                        put_map(&mut out, &v.attrs);
                        put_len(&mut out, v.items.len());
                        for item in v.items.iter() {
                            put_item(&mut out, item);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Reads the compact form back.
struct Reader<'a> {
    bytes: &'a [u8],
    limits: ValueLimits,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        decode_varint(&mut self.bytes).map_err(|e| e.to_string())
    }

    /// A count of elements that each take at least one byte: never more than what is left.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        if n > self.bytes.len() as u64 {
            return Err(format!(
                "a count of {n} with {} bytes left",
                self.bytes.len()
            ));
        }
        Ok(n as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.count()?;
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn value(&mut self) -> Result<Value, String> {
        let bytes = self.bytes()?;
        wire::decode(bytes, &self.limits).map_err(|e| e.to_string())
    }

    fn map(&mut self) -> Result<ValueMap, String> {
        let bytes = self.bytes()?;
        if bytes.is_empty() {
            return Ok(ValueMap::new());
        }
        match wire::decode(bytes, &self.limits).map_err(|e| e.to_string())? {
            Value::Map(m) => Ok(m),
            other => Err(format!("attributes that are a {}", other.kind())),
        }
    }

    fn id(&mut self) -> Result<EntityId, String> {
        if self.bytes.len() < 16 {
            return Err("a truncated id".into());
        }
        let mut raw = [0u8; 16];
        self.bytes.copy_to_slice(&mut raw);
        Ok(EntityId(uuid::Uuid::from_bytes(raw)))
    }

    fn i64(&mut self) -> Result<i64, String> {
        let z = self.varint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn ratio(&mut self) -> Result<crate::value::Ratio, String> {
        let (n, d) = (self.i64()?, self.i64()?);
        if d <= 0 {
            return Err(format!("a duration {n}/{d}"));
        }
        Ok(crate::value::ratio(n, d))
    }

    fn attachments(&mut self) -> Result<CowVec<Value>, String> {
        let n = self.count()?;
        (0..n).map(|_| self.value()).collect()
    }

    fn item(&mut self) -> Result<Item, String> {
        if !self.bytes.has_remaining() {
            return Err("a truncated item".into());
        }
        match self.bytes.get_u8() {
            ITEM_PITCH => {
                let name = std::str::from_utf8(self.bytes()?).map_err(|e| e.to_string())?;
                let note = name.parse().map_err(|e| format!("note {name:?}: {e}"))?;
                Ok(Item::Pitch(Pitch {
                    note,
                    duration: self.ratio()?,
                    attachments: self.attachments()?,
                    attrs: self.map()?,
                }))
            }
            ITEM_REST => Ok(Item::Rest(Rest {
                duration: self.ratio()?,
                attachments: self.attachments()?,
                attrs: self.map()?,
            })),
            ITEM_VALUE => Item::from_value(&self.value()?).map_err(|e| e.to_string()),
            tag => Err(format!("an item tagged {tag}")),
        }
    }
}

/// Decodes [`encode`]'s form; `limits` bound the values inside it.
pub fn decode(bytes: &[u8], limits: ValueLimits) -> Result<Piece, String> {
    let mut r = Reader { bytes, limits };
    let mut piece = Piece::from_value(&r.value()?).map_err(|e| e.to_string())?;
    let musicians = r.count()?;
    let mut ms = Vec::with_capacity(musicians);
    for _ in 0..musicians {
        let (id, attrs) = (r.id()?, r.map()?);
        let instruments = (0..r.count()?)
            .map(|_| {
                let (id, attrs) = (r.id()?, r.map()?);
                let staves = (0..r.count()?)
                    .map(|_| {
                        let (id, attrs) = (r.id()?, r.map()?);
                        let measures = (0..r.count()?)
                            .map(|_| {
                                let attrs = r.map()?;
                                let voices = (0..r.count()?)
                                    .map(|_| {
                                        let attrs = r.map()?;
                                        let items = (0..r.count()?)
                                            .map(|_| r.item())
                                            .collect::<Result<CowVec<Item>, String>>()?;
                                        Ok(Voice { attrs, items })
                                    })
                                    .collect::<Result<CowVec<Voice>, String>>()?;
                                Ok(Measure { attrs, voices })
                            })
                            .collect::<Result<_, String>>()?;
                        Ok(Staff {
                            id,
                            attrs,
                            measures,
                        })
                    })
                    .collect::<Result<CowVec<Staff>, String>>()?;
                Ok(Instrument { id, attrs, staves })
            })
            .collect::<Result<CowVec<Instrument>, String>>()?;
        ms.push(Musician {
            id,
            attrs,
            instruments,
        });
    }
    if r.bytes.has_remaining() {
        return Err(format!("{} bytes after the piece", r.bytes.len()));
    }
    piece.musicians = ms.into_iter().collect();
    Ok(piece)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PieceId;

    fn limits() -> ValueLimits {
        crate::store::record::stored_limits()
    }

    fn piece() -> Piece {
        let item = |i: i64| -> Item {
            match i % 4 {
                0 => Item::Pitch(Pitch {
                    note: "F#4".parse().unwrap(),
                    duration: crate::value::ratio(1, 8),
                    attachments: CowVec::new(),
                    attrs: ValueMap::new(),
                }),
                1 => Item::Pitch(Pitch {
                    note: "Bbb2".parse().unwrap(),
                    duration: crate::value::ratio(3, 16),
                    attachments: [Value::keyword("staccato")].into_iter().collect(),
                    attrs: [(Value::keyword("velocity"), Value::Int(-64))]
                        .into_iter()
                        .collect(),
                }),
                2 => Item::Rest(Rest {
                    duration: crate::value::ratio(1, 4),
                    attachments: CowVec::new(),
                    attrs: ValueMap::new(),
                }),
                _ => Item::Tuplet(crate::model::entity::Tuplet {
                    ratio: crate::value::ratio(2, 3),
                    items: [Item::Chord(crate::model::entity::Chord {
                        notes: ["C4", "E4", "G4"]
                            .iter()
                            .map(|n| n.parse().unwrap())
                            .collect(),
                        duration: crate::value::ratio(1, 2),
                        attachments: CowVec::new(),
                        attrs: ValueMap::new(),
                    })]
                    .into_iter()
                    .collect(),
                    attrs: ValueMap::new(),
                }),
            }
        };
        let mut piece = Piece::new(PieceId::mint(), "Codec");
        piece.version = 42;
        piece.attrs = [(Value::keyword("composer"), Value::string("Anon"))]
            .into_iter()
            .collect();
        piece.musicians = (0..2)
            .map(|_| Musician {
                id: EntityId::mint(),
                attrs: ValueMap::new(),
                instruments: CowVec::unit(Instrument {
                    id: EntityId::mint(),
                    attrs: ValueMap::new(),
                    staves: CowVec::unit(Staff {
                        id: EntityId::mint(),
                        attrs: ValueMap::new(),
                        measures: (0..3)
                            .map(|m| Measure {
                                attrs: ValueMap::new(),
                                voices: CowVec::unit(Voice {
                                    attrs: ValueMap::new(),
                                    items: (0..4).map(|i| item(i + m)).collect(),
                                }),
                            })
                            .collect(),
                    }),
                }),
            })
            .collect();
        piece
    }

    #[test]
    fn a_piece_decodes_to_what_was_encoded() {
        let p = piece();
        let bytes = encode(&p);
        assert_eq!(decode(&bytes, limits()).unwrap(), p);
    }

    #[test]
    fn truncated_or_extended_bytes_are_refused_without_panicking() {
        let bytes = encode(&piece());
        for cut in [0, 1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], limits()).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, limits()).is_err());
        // Every single flipped byte either fails or decodes to some piece: never a panic.
        for i in (0..bytes.len()).step_by(7) {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x55;
            let _ = decode(&flipped, limits());
        }
    }
}
