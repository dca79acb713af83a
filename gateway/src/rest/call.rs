//! Calls of any RPC known only by its descriptor: tonic's generic client
//! over the gateway's one transport (`Upstream`), with a codec that encodes
//! and decodes `prost_reflect::DynamicMessage`s (which implement
//! `prost::Message`) of the method's input and output types.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::{
    Status, Streaming,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use super::routes::Route;
use crate::upstream::Upstream;

/// Encodes any message; decodes messages of one type.
#[derive(Debug, Clone)]
pub struct DynamicCodec {
    output: MessageDescriptor,
}

impl DynamicCodec {
    pub fn new(output: MessageDescriptor) -> Self {
        Self { output }
    }
}

#[derive(Debug, Clone)]
pub struct DynamicEncoder;

#[derive(Debug, Clone)]
pub struct DynamicDecoder(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.output.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))
    }
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the answer: {e}")))
    }
}

/// A unary call of the route's RPC.
pub async fn unary(
    upstream: &Upstream,
    route: &Route,
    request: tonic::Request<DynamicMessage>,
) -> Result<tonic::Response<DynamicMessage>, Status> {
    let mut grpc = upstream.grpc();
    ready(&mut grpc).await?;
    let codec = DynamicCodec::new(route.rpc.output());
    grpc.unary(request, route.grpc_path.clone(), codec).await
}

/// A server-streaming call of the route's RPC.
pub async fn server_streaming(
    upstream: &Upstream,
    route: &Route,
    request: tonic::Request<DynamicMessage>,
) -> Result<tonic::Response<Streaming<DynamicMessage>>, Status> {
    let mut grpc = upstream.grpc();
    ready(&mut grpc).await?;
    let codec = DynamicCodec::new(route.rpc.output());
    grpc.server_streaming(request, route.grpc_path.clone(), codec)
        .await
}

/// As the generated clients do before each call.
async fn ready(grpc: &mut tonic::client::Grpc<crate::upstream::Transport>) -> Result<(), Status> {
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))
}
