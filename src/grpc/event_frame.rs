//! [`EventFrame`]: the `EventMessage` the server sends. Its fields 1-3 (type, timestamp, data)
//! are the event's shared bytes, encoded once when the event was created and referenced by every
//! recipient's frame; only field 4, the recipient's sequence number, is written per delivery.
//! On the wire it is exactly an `EventMessage`, so any client decodes it with its own generated
//! type.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::encoding::{DecodeContext, WireType};

use crate::events::Event;

/// The field number of `EventMessage.sequence`.
const SEQUENCE_FIELD: u32 = 4;

/// One `EventMessage` as sent: the shared envelope of an [`Event`] plus a sequence number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFrame {
    envelope: Bytes,
    sequence: u64,
}

impl EventFrame {
    /// The frame delivering `event` as the recipient's `sequence`-th message. Shares the event's
    /// bytes; copies nothing.
    pub fn new(event: &Event, sequence: u64) -> Self {
        EventFrame {
            envelope: event.envelope.clone(),
            sequence,
        }
    }

    /// The recipient's sequence number.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The shared bytes of fields 1-3.
    pub fn envelope(&self) -> &Bytes {
        &self.envelope
    }
}

impl prost::Message for EventFrame {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.envelope);
        if self.sequence != 0 {
            prost::encoding::uint64::encode(SEQUENCE_FIELD, &self.sequence, buf);
        }
    }

    /// Decoding exists so the type is a complete message (the server never decodes one): fields
    /// 1-3 are re-encoded into the envelope in the order they arrive, the sequence is read, and
    /// unknown fields are skipped, as for any proto3 message.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        let mut envelope = BytesMut::new();
        match tag {
            1 | 3 => {
                let mut value = Vec::new();
                prost::encoding::bytes::merge(wire_type, &mut value, buf, ctx)?;
                prost::encoding::bytes::encode(tag, &value, &mut envelope);
            }
            2 => {
                let mut timestamp = 0i64;
                prost::encoding::int64::merge(wire_type, &mut timestamp, buf, ctx)?;
                prost::encoding::int64::encode(tag, &timestamp, &mut envelope);
            }
            SEQUENCE_FIELD => {
                return prost::encoding::uint64::merge(wire_type, &mut self.sequence, buf, ctx);
            }
            _ => return prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
        let mut joined = BytesMut::with_capacity(self.envelope.len() + envelope.len());
        joined.extend_from_slice(&self.envelope);
        joined.extend_from_slice(&envelope);
        self.envelope = joined.freeze();
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.envelope.len()
            + if self.sequence != 0 {
                prost::encoding::uint64::encoded_len(SEQUENCE_FIELD, &self.sequence)
            } else {
                0
            }
    }

    fn clear(&mut self) {
        *self = EventFrame::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::EventMessage;
    use crate::value::Value;
    use prost::Message;

    fn event() -> Event {
        let data = Value::map([
            (Value::keyword("type"), Value::keyword("piece-deleted")),
            (Value::keyword("piece-id"), Value::string("p-1")),
        ]);
        Event::new("piece-deleted", None, 1_795_753_029_123_456, &data)
    }

    #[test]
    fn a_frame_is_byte_for_byte_the_event_message_prost_writes() {
        let event = event();
        for sequence in [1, 127, 128, 1 << 40, u64::MAX] {
            let frame = EventFrame::new(&event, sequence);
            let expected = EventMessage {
                event_type: "piece-deleted".into(),
                timestamp: event.timestamp,
                event_data: Some(prost::Message::decode(event.data.as_ref()).unwrap()),
                sequence,
            };
            assert_eq!(frame.encode_to_vec(), expected.encode_to_vec());
            assert_eq!(frame.encoded_len(), expected.encoded_len());
            assert_eq!(
                EventMessage::decode(frame.encode_to_vec().as_slice()).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn frames_share_the_event_bytes_instead_of_copying_them() {
        let event = event();
        let a = EventFrame::new(&event, 1);
        let b = EventFrame::new(&event, 2);
        assert_eq!(a.envelope().as_ptr(), event.envelope.as_ptr());
        assert_eq!(b.envelope().as_ptr(), event.envelope.as_ptr());
    }

    #[test]
    fn decoding_reads_back_what_was_encoded_and_skips_unknown_fields() {
        let frame = EventFrame::new(&event(), 9);
        let mut bytes = frame.encode_to_vec();
        // An unknown field 15 (varint 1) from a newer peer.
        bytes.extend_from_slice(&[0x78, 0x01]);
        let decoded = EventFrame::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, frame);
        assert!(
            EventFrame::decode(&[0x0a, 0x05, b'a'][..]).is_err(),
            "truncated"
        );
    }
}
