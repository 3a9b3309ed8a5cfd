//! Events on their way to clients: an [`Event`] is encoded once (its type, timestamp and data as
//! protobuf fields of `EventMessage`) and shared by every recipient, each of which adds only its
//! own sequence number; [`EventQueue`] is one client's bounded, drop-oldest queue.
//!
//! This is the delivery half of DESIGN section 7. Routing (the piece -> subscribers index) and
//! the client registry are in `clients`; the gRPC stream that drains a queue and adds the
//! sequence (`grpc::EventFrame`) is in `grpc`.

mod queue;

pub use queue::{Delivery, EventQueue, Offer};

use crate::model::PieceId;
use crate::value::{Instant, Value, wire};

/// One event, encoded once for every recipient.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event type (`piece-structure-changed`, ...).
    pub event_type: String,
    /// The piece the event is about, for piece events.
    pub piece_id: Option<PieceId>,
    /// When the server emitted it, microseconds since the Unix epoch.
    pub timestamp: i64,
    /// The encoded `OoloiValue` of the event map.
    pub data: bytes::Bytes,
    /// `EventMessage` fields 1-3 (type, timestamp, data) already encoded; a recipient's frame
    /// (`grpc::EventFrame`) adds field 4, its sequence number.
    pub envelope: bytes::Bytes,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Event {
    /// Encodes an event with the given data, stamped now (`timestamp == 0`) or at `timestamp`.
    pub fn new(event_type: &str, piece_id: Option<PieceId>, timestamp: i64, data: &Value) -> Self {
        let timestamp = if timestamp == 0 {
            Instant::now().epoch_micros()
        } else {
            timestamp
        };
        let data = wire::encode(data);
        let mut envelope = Vec::with_capacity(event_type.len() + data.len() + 24);
        envelope.push(0x0a); // field 1, event_type
        put_varint(&mut envelope, event_type.len() as u64);
        envelope.extend_from_slice(event_type.as_bytes());
        envelope.push(0x10); // field 2, timestamp
        put_varint(&mut envelope, timestamp as u64);
        envelope.push(0x1a); // field 3, event_data
        put_varint(&mut envelope, data.len() as u64);
        envelope.extend_from_slice(&data);
        Event {
            event_type: event_type.to_owned(),
            piece_id,
            timestamp,
            data: data.into(),
            envelope: envelope.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::EventMessage;
    use prost::Message;

    #[test]
    fn the_shared_envelope_is_an_event_message_without_its_sequence() {
        // The recipient's sequence (field 4) is added by `grpc::EventFrame`, tested there.
        let data = Value::map([(Value::keyword("type"), Value::keyword("piece-deleted"))]);
        let event = Event::new("piece-deleted", None, 1_795_753_029_123_456, &data);
        let message = EventMessage::decode(event.envelope.as_ref()).unwrap();
        assert_eq!(message.event_type, "piece-deleted");
        assert_eq!(message.timestamp, 1_795_753_029_123_456);
        assert_eq!(message.sequence, 0);
        let decoded = Value::from_proto(message.event_data.unwrap(), &Default::default()).unwrap();
        assert_eq!(decoded, data);
    }
}
