//! The codec of `OoloiService`: prost's encoding, except that a request the server cannot
//! decode is refused as the client's fault. tonic's prost codec answers malformed protobuf with
//! INTERNAL, which tells operators the server is broken and tells the client nothing useful;
//! DESIGN maps invalid input to INVALID_ARGUMENT, so this codec reports
//! INVALID_ARGUMENT with the `MALFORMED_REQUEST` reason and the decoder's message.
//!
//! Its encoder keeps a stream's encoded-but-unsent bytes small. tonic encodes a stream's ready
//! messages into one buffer until it holds 32 KiB before handing the chunk to HTTP/2, and HTTP/2
//! keeps that chunk even when the client's flow-control window is closed. For a client that
//! stopped reading, that moved up to 32 KiB of events out of its bounded queue (8 bytes per
//! event, drop-oldest) into transport buffers (the full encoding, never dropped): with a thousand
//! such clients, most of the server's memory. Chunks of [`YIELD_THRESHOLD_BYTES`] keep the
//! backlog in the queue, where the queue's bound and the drop-oldest rule apply; buffers start
//! at [`ENCODE_BUFFER_BYTES`] (tonic: 8 KiB) and grow for larger messages. Measured in
//! BENCHMARKS.md (memory scenario).

use std::marker::PhantomData;

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::error::Error;

/// The initial encode buffer of a response (unary or stream), in bytes.
pub const ENCODE_BUFFER_BYTES: usize = 1024;

/// A stream's encoded messages are handed to HTTP/2 as one chunk once they reach this size.
pub const YIELD_THRESHOLD_BYTES: usize = 2 * 1024;

/// The codec named in the generated server (`codec_path` in `build.rs`).
#[derive(Debug)]
pub struct OoloiCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for OoloiCodec<T, U> {
    fn default() -> Self {
        OoloiCodec(PhantomData)
    }
}

impl<T, U> Codec for OoloiCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::new(
            ENCODE_BUFFER_BYTES,
            YIELD_THRESHOLD_BYTES,
        ))
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(PhantomData)
    }
}

/// Decodes a request message; malformed bytes are INVALID_ARGUMENT / `MALFORMED_REQUEST`.
#[derive(Debug)]
pub struct RequestDecoder<U>(PhantomData<U>);

impl<U: prost::Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|e| Status::from(Error::MalformedRequest(e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::{EventFrame, RequestFrame};
    use tonic::codec::Encoder;

    #[test]
    fn the_encoder_keeps_unsent_stream_bytes_small() {
        let settings = OoloiCodec::<EventFrame, RequestFrame>::default()
            .encoder()
            .buffer_settings();
        // BufferSettings has no accessors; its Debug form names both fields.
        let shown = format!("{settings:?}");
        assert!(shown.contains("buffer_size: 1024"), "{shown}");
        assert!(shown.contains("yield_threshold: 2048"), "{shown}");
        assert_ne!(shown, format!("{:?}", BufferSettings::default()));
    }
}
