//! [`RequestFrame`] and [`ResponseFrame`]: `OoloiRequest` and `OoloiResponse` as the server
//! reads and writes them. The `OoloiValue` inside each stays as bytes, so the server decodes
//! params once, straight into a [`Value`](crate::value::Value) with the direct decoder
//! ([`crate::value::wire`], which enforces the value limits and names the failing path), and
//! encodes a result once, straight from a `Value`, instead of going through prost's generated
//! structs. On the wire both are exactly the generated messages; any client uses its own types.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};

/// `OoloiRequest` with its params still encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFrame {
    /// The method name (field 1).
    pub method: String,
    /// The bytes of the `params` `OoloiValue` (field 2), if present.
    pub params: Option<Bytes>,
}

/// `OoloiResponse` with its result already encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseFrame {
    /// Field 1.
    pub success: bool,
    /// Field 2.
    pub error: String,
    /// The bytes of the `result` `OoloiValue` (field 3), if present.
    pub result: Option<Bytes>,
}

/// Reads a message field kept as its encoded bytes. A repeated occurrence is appended, which is
/// protobuf's merge of embedded messages.
fn merge_message_bytes(
    target: &mut Option<Bytes>,
    wire_type: WireType,
    buf: &mut impl Buf,
    ctx: DecodeContext,
) -> Result<(), prost::DecodeError> {
    let mut bytes = Bytes::new();
    prost::encoding::bytes::merge(wire_type, &mut bytes, buf, ctx)?;
    *target = Some(match target.take() {
        None => bytes,
        Some(earlier) => [earlier, bytes].concat().into(),
    });
    Ok(())
}

impl prost::Message for RequestFrame {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if !self.method.is_empty() {
            prost::encoding::string::encode(1, &self.method, buf);
        }
        if let Some(params) = &self.params {
            prost::encoding::bytes::encode(2, params, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => prost::encoding::string::merge(wire_type, &mut self.method, buf, ctx),
            2 => merge_message_bytes(&mut self.params, wire_type, buf, ctx),
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        (if self.method.is_empty() {
            0
        } else {
            prost::encoding::string::encoded_len(1, &self.method)
        }) + self
            .params
            .as_ref()
            .map_or(0, |p| prost::encoding::bytes::encoded_len(2, p))
    }

    fn clear(&mut self) {
        *self = RequestFrame::default();
    }
}

impl prost::Message for ResponseFrame {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        if self.success {
            prost::encoding::bool::encode(1, &self.success, buf);
        }
        if !self.error.is_empty() {
            prost::encoding::string::encode(2, &self.error, buf);
        }
        if let Some(result) = &self.result {
            prost::encoding::bytes::encode(3, result, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => prost::encoding::bool::merge(wire_type, &mut self.success, buf, ctx),
            2 => prost::encoding::string::merge(wire_type, &mut self.error, buf, ctx),
            3 => merge_message_bytes(&mut self.result, wire_type, buf, ctx),
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        (if self.success { 2 } else { 0 })
            + if self.error.is_empty() {
                0
            } else {
                prost::encoding::string::encoded_len(2, &self.error)
            }
            + self
                .result
                .as_ref()
                .map_or(0, |r| prost::encoding::bytes::encoded_len(3, r))
    }

    fn clear(&mut self) {
        *self = ResponseFrame::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{OoloiRequest, OoloiResponse};
    use crate::value::{Value, edn, wire};
    use prost::Message;

    fn params() -> Value {
        edn::parse("[[:m 0 1] \"piece-1\" {:name \"Violin\" :ratio 3/4 :tags #{:a :b}}]").unwrap()
    }

    #[test]
    fn a_request_frame_reads_what_the_generated_client_writes() {
        let sent = OoloiRequest {
            method: "add-musician".into(),
            params: Some(params().to_proto()),
        };
        let frame = RequestFrame::decode(sent.encode_to_vec().as_slice()).unwrap();
        assert_eq!(frame.method, "add-musician");
        let decoded = wire::decode(frame.params.as_ref().unwrap(), &Default::default()).unwrap();
        assert_eq!(decoded, params());
        assert_eq!(
            frame.encode_to_vec(),
            sent.encode_to_vec(),
            "and writes it back"
        );
        assert_eq!(frame.encoded_len(), sent.encoded_len());
        let empty = RequestFrame::decode(&[][..]).unwrap();
        assert_eq!(empty, RequestFrame::default(), "absent params stay absent");
    }

    #[test]
    fn a_response_frame_is_what_the_generated_client_reads() {
        for (success, error, result) in [
            (true, "", Some(params())),
            (false, "why", None),
            (true, "", Some(Value::Nil)),
        ] {
            let frame = ResponseFrame {
                success,
                error: error.into(),
                result: result.as_ref().map(|v| wire::encode(v).into()),
            };
            let expected = OoloiResponse {
                success,
                error: error.into(),
                result: result.as_ref().map(Value::to_proto),
            };
            assert_eq!(frame.encode_to_vec(), expected.encode_to_vec());
            assert_eq!(frame.encoded_len(), expected.encoded_len());
            assert_eq!(
                ResponseFrame::decode(frame.encode_to_vec().as_slice()).unwrap(),
                frame
            );
        }
    }

    #[test]
    fn malformed_bytes_are_a_decode_error_not_a_panic() {
        for bytes in [
            &[0x12, 0x05, 0x01][..],   // params longer than the message
            &[0x0a, 0x02, 0xff, 0xfe], // method not UTF-8
            &[0x13],                   // a group start with no end
            &[
                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ], // varint overflow
        ] {
            assert!(RequestFrame::decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
