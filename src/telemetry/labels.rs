//! The bounded label values of the gRPC metrics: the method (one of the server's own methods,
//! named by service, method and call type as go-grpc-prometheus names them; any other path is
//! `unknown`) and the status code (the 17 gRPC code names). A client can send any path and any
//! number of them, so a label must never be taken from the request as is: that is what keeps
//! the number of series fixed (8 methods x 17 codes at most).

use http::HeaderMap;

/// A gRPC method the server serves, or [`GrpcMethod::Unknown`] for any other path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcMethod {
    /// `/ooloi.OoloiService/ExecuteMethod`.
    ExecuteMethod,
    /// `/ooloi.OoloiService/RegisterClient` (server stream).
    RegisterClient,
    /// `/ooloi.OoloiService/Disconnect`.
    Disconnect,
    /// `/grpc.health.v1.Health/Check`.
    HealthCheck,
    /// `/grpc.health.v1.Health/Watch` (server stream).
    HealthWatch,
    /// `/grpc.reflection.v1.ServerReflection/ServerReflectionInfo` (bidirectional stream).
    ReflectionV1,
    /// `/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo` (bidirectional stream).
    ReflectionV1Alpha,
    /// Any other path (answered `UNIMPLEMENTED`).
    Unknown,
}

/// How requests and responses flow in a call: the `grpc_type` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcType {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStream,
    /// Streams both ways.
    BidiStream,
}

impl GrpcType {
    /// The label value, as go-grpc-prometheus spells it.
    pub fn label(self) -> &'static str {
        match self {
            GrpcType::Unary => "unary",
            GrpcType::ServerStream => "server_stream",
            GrpcType::BidiStream => "bidi_stream",
        }
    }
}

impl GrpcMethod {
    /// Every method label, in [`GrpcMethod::index`] order.
    pub const ALL: [GrpcMethod; 8] = [
        GrpcMethod::ExecuteMethod,
        GrpcMethod::RegisterClient,
        GrpcMethod::Disconnect,
        GrpcMethod::HealthCheck,
        GrpcMethod::HealthWatch,
        GrpcMethod::ReflectionV1,
        GrpcMethod::ReflectionV1Alpha,
        GrpcMethod::Unknown,
    ];

    /// The method a request path (`/service/method`) names. Runs on every call: compares
    /// slices, allocates nothing.
    pub fn of_path(path: &str) -> GrpcMethod {
        let Some((service, name)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return GrpcMethod::Unknown;
        };
        GrpcMethod::ALL
            .into_iter()
            .find(|m| *m != GrpcMethod::Unknown && m.parts() == (service, name))
            .unwrap_or(GrpcMethod::Unknown)
    }

    /// The fully qualified service and the method name (`grpc_service`, `grpc_method`).
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            GrpcMethod::ExecuteMethod => ("ooloi.OoloiService", "ExecuteMethod"),
            GrpcMethod::RegisterClient => ("ooloi.OoloiService", "RegisterClient"),
            GrpcMethod::Disconnect => ("ooloi.OoloiService", "Disconnect"),
            GrpcMethod::HealthCheck => ("grpc.health.v1.Health", "Check"),
            GrpcMethod::HealthWatch => ("grpc.health.v1.Health", "Watch"),
            GrpcMethod::ReflectionV1 => (
                "grpc.reflection.v1.ServerReflection",
                "ServerReflectionInfo",
            ),
            GrpcMethod::ReflectionV1Alpha => (
                "grpc.reflection.v1alpha.ServerReflection",
                "ServerReflectionInfo",
            ),
            GrpcMethod::Unknown => ("unknown", "unknown"),
        }
    }

    /// The span name of a call (`ooloi.OoloiService/ExecuteMethod`), as OpenTelemetry's RPC
    /// conventions spell it.
    pub fn span_name(self) -> &'static str {
        match self {
            GrpcMethod::ExecuteMethod => "ooloi.OoloiService/ExecuteMethod",
            GrpcMethod::RegisterClient => "ooloi.OoloiService/RegisterClient",
            GrpcMethod::Disconnect => "ooloi.OoloiService/Disconnect",
            GrpcMethod::HealthCheck => "grpc.health.v1.Health/Check",
            GrpcMethod::HealthWatch => "grpc.health.v1.Health/Watch",
            GrpcMethod::ReflectionV1 => "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            GrpcMethod::ReflectionV1Alpha => {
                "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
            }
            GrpcMethod::Unknown => "unknown",
        }
    }

    /// The `grpc_service` label: the fully qualified service name, or `unknown`.
    pub fn service(self) -> &'static str {
        self.parts().0
    }

    /// The `grpc_method` label: the method name, or `unknown`.
    pub fn name(self) -> &'static str {
        self.parts().1
    }

    /// The request path (`/service/method`); `unknown` for [`GrpcMethod::Unknown`].
    pub fn path(self) -> String {
        match self {
            GrpcMethod::Unknown => "unknown".to_string(),
            known => format!("/{}/{}", known.service(), known.name()),
        }
    }

    /// The `grpc_type` label. An unknown method is counted as unary: it is refused before any
    /// message is read, so nothing streams.
    pub fn grpc_type(self) -> GrpcType {
        match self {
            GrpcMethod::RegisterClient | GrpcMethod::HealthWatch => GrpcType::ServerStream,
            GrpcMethod::ReflectionV1 | GrpcMethod::ReflectionV1Alpha => GrpcType::BidiStream,
            _ => GrpcType::Unary,
        }
    }

    /// Its position in [`GrpcMethod::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for the methods whose response is a stream that lives as long as the client wants.
    pub fn is_streaming(self) -> bool {
        self.grpc_type() != GrpcType::Unary
    }
}

/// A gRPC status code, by number (0-16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcCode(u8);

/// The code names, indexed by code number, as gRPC spells them.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl GrpcCode {
    /// How many codes there are.
    pub const COUNT: usize = CODE_NAMES.len();
    pub const OK: GrpcCode = GrpcCode(0);
    pub const CANCELLED: GrpcCode = GrpcCode(1);
    pub const UNKNOWN: GrpcCode = GrpcCode(2);
    pub const DEADLINE_EXCEEDED: GrpcCode = GrpcCode(4);
    pub const UNAUTHENTICATED: GrpcCode = GrpcCode(16);

    /// The code numbered `n`; a number gRPC does not define is `UNKNOWN`, as the gRPC
    /// specification says a client must read it.
    pub fn from_number(n: u32) -> GrpcCode {
        if (n as usize) < Self::COUNT {
            GrpcCode(n as u8)
        } else {
            Self::UNKNOWN
        }
    }

    /// Whether a server span with this code is an error, by OpenTelemetry's RPC conventions:
    /// UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
    pub fn fails_server_span(self) -> bool {
        matches!(self.0, 2 | 4 | 12 | 13 | 14 | 15)
    }

    /// The code's number (`rpc.grpc.status_code` on a span).
    pub fn number(self) -> u32 {
        u32::from(self.0)
    }

    /// The code in a `grpc-status` header or trailer, if there is one. A value that is not a
    /// number is `UNKNOWN`.
    pub fn from_headers(headers: &HeaderMap) -> Option<GrpcCode> {
        let value = headers.get("grpc-status")?;
        Some(
            value
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .map_or(Self::UNKNOWN, Self::from_number),
        )
    }

    /// Its number (also its index in per-code arrays).
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Its name (`OK`, `INVALID_ARGUMENT`, ...).
    pub fn name(self) -> &'static str {
        CODE_NAMES[self.index()]
    }

    /// Every code, by number.
    pub fn all() -> impl Iterator<Item = GrpcCode> {
        (0..Self::COUNT as u8).map(GrpcCode)
    }

    /// Codes that mean the caller sent something the server refused: bad arguments, missing
    /// things, conflicts, permissions, sizes, unknown methods.
    pub fn is_client_error(self) -> bool {
        matches!(self.0, 3 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 16)
    }

    /// Codes that mean the server failed: `UNKNOWN`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`.
    pub fn is_server_error(self) -> bool {
        matches!(self.0, 2 | 13 | 14 | 15)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_are_their_own_label_and_anything_else_is_unknown() {
        for m in GrpcMethod::ALL {
            assert_eq!(GrpcMethod::ALL[m.index()], m);
            if m != GrpcMethod::Unknown {
                assert_eq!(GrpcMethod::of_path(&m.path()), m);
            }
        }
        let m = GrpcMethod::of_path("/ooloi.OoloiService/ExecuteMethod");
        assert_eq!(m, GrpcMethod::ExecuteMethod);
        assert_eq!(
            (m.service(), m.name(), m.grpc_type().label()),
            ("ooloi.OoloiService", "ExecuteMethod", "unary")
        );
        assert_eq!(
            GrpcMethod::RegisterClient.grpc_type().label(),
            "server_stream"
        );
        assert_eq!(GrpcMethod::ReflectionV1.grpc_type().label(), "bidi_stream");
        for path in [
            "/ooloi.OoloiService/Nope",
            "/ooloi.OoloiService/ExecuteMethod/",
            "/ooloi.ooloiservice/executemethod",
            "",
            "unknown",
            &"/x".repeat(10_000),
        ] {
            assert_eq!(GrpcMethod::of_path(path), GrpcMethod::Unknown, "{path:.40}");
        }
    }

    #[test]
    fn codes_are_named_as_grpc_names_them_and_strange_ones_are_unknown() {
        assert_eq!(GrpcCode::from_number(0).name(), "OK");
        assert_eq!(GrpcCode::from_number(3).name(), "INVALID_ARGUMENT");
        assert_eq!(GrpcCode::from_number(16).name(), "UNAUTHENTICATED");
        assert_eq!(GrpcCode::from_number(17), GrpcCode::UNKNOWN);
        assert_eq!(GrpcCode::from_number(u32::MAX), GrpcCode::UNKNOWN);
        let mut headers = HeaderMap::new();
        assert_eq!(GrpcCode::from_headers(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(
            GrpcCode::from_headers(&headers).unwrap().name(),
            "NOT_FOUND"
        );
        headers.insert("grpc-status", "five".parse().unwrap());
        assert_eq!(GrpcCode::from_headers(&headers), Some(GrpcCode::UNKNOWN));
        assert_eq!(GrpcCode::all().count(), 17);
        assert!(GrpcCode::from_number(3).is_client_error());
        assert!(GrpcCode::from_number(13).is_server_error());
        assert!(!GrpcCode::OK.is_client_error() && !GrpcCode::OK.is_server_error());
    }
}
