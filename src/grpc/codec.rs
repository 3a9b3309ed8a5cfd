//! The codec of `OoloiService`: prost's encoding, except that a request the server cannot
//! decode is refused as the client's fault. tonic's prost codec answers malformed protobuf with
//! INTERNAL, which tells operators the server is broken and tells the client nothing useful;
//! DESIGN maps invalid input to INVALID_ARGUMENT, so this codec reports
//! INVALID_ARGUMENT with the `MALFORMED_REQUEST` reason and the decoder's message.

use std::marker::PhantomData;

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::error::Error;

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
        ProstEncoder::new(BufferSettings::default())
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
