//! The HTTP/2 limits the gRPC server sets explicitly (DESIGN section 12: tonic leaves some of
//! hyper's limits off), taken from the `grpc` configuration section.
//!
//! [`Http2Limits::apply`] sets every limit through the [`Http2Builder`] trait, implemented by
//! hyper's HTTP/2 server builder; a unit test applies the limits to a recording builder and
//! checks that each one is set to its configured value, since hyper's builder cannot be
//! inspected. (TCP keepalive is set on each accepted socket, in `net`.)

use std::time::Duration;

use hyper_util::rt::TokioExecutor;

use crate::config::GrpcConfig;

/// The limits, one field per builder setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Http2Limits {
    /// Concurrent streams per connection (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    pub max_concurrent_streams: u32,
    /// Largest header list a client may send (`SETTINGS_MAX_HEADER_LIST_SIZE`), in bytes.
    pub max_header_list_size: u32,
    /// How often to ping an idle connection.
    pub keepalive_interval: Duration,
    /// How long to wait for the ping's acknowledgement before closing the connection.
    pub keepalive_timeout: Duration,
    /// Streams reset by the client before the server accepted them (rapid-reset defence).
    pub max_pending_accept_reset_streams: usize,
    /// Streams the server may reset for protocol errors before it closes the connection.
    pub max_local_error_reset_streams: usize,
}

/// The builder settings [`Http2Limits::apply`] uses.
pub trait Http2Builder: Sized {
    fn max_concurrent_streams(self, max: u32) -> Self;
    fn max_header_list_size(self, max: u32) -> Self;
    fn keepalive_interval(self, interval: Duration) -> Self;
    fn keepalive_timeout(self, timeout: Duration) -> Self;
    fn max_pending_accept_reset_streams(self, max: usize) -> Self;
    fn max_local_error_reset_streams(self, max: usize) -> Self;
}

impl Http2Limits {
    /// The limits the configuration asks for.
    pub fn from_config(grpc: &GrpcConfig) -> Self {
        Http2Limits {
            max_concurrent_streams: grpc.max_concurrent_streams,
            max_header_list_size: grpc.max_header_list_size,
            keepalive_interval: grpc.keepalive_interval(),
            keepalive_timeout: grpc.keepalive_timeout(),
            max_pending_accept_reset_streams: grpc.max_pending_accept_reset_streams,
            max_local_error_reset_streams: grpc.max_local_error_reset_streams,
        }
    }

    /// Sets every limit on `builder`.
    pub fn apply<B: Http2Builder>(&self, builder: B) -> B {
        builder
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(self.max_header_list_size)
            .keepalive_interval(self.keepalive_interval)
            .keepalive_timeout(self.keepalive_timeout)
            .max_pending_accept_reset_streams(self.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(self.max_local_error_reset_streams)
    }
}

type HyperHttp2 = hyper::server::conn::http2::Builder<TokioExecutor>;

impl Http2Builder for HyperHttp2 {
    fn max_concurrent_streams(mut self, max: u32) -> Self {
        HyperHttp2::max_concurrent_streams(&mut self, max);
        self
    }
    fn max_header_list_size(mut self, max: u32) -> Self {
        HyperHttp2::max_header_list_size(&mut self, max);
        self
    }
    fn keepalive_interval(mut self, interval: Duration) -> Self {
        HyperHttp2::keep_alive_interval(&mut self, interval);
        self
    }
    fn keepalive_timeout(mut self, timeout: Duration) -> Self {
        HyperHttp2::keep_alive_timeout(&mut self, timeout);
        self
    }
    fn max_pending_accept_reset_streams(mut self, max: usize) -> Self {
        HyperHttp2::max_pending_accept_reset_streams(&mut self, max);
        self
    }
    fn max_local_error_reset_streams(mut self, max: usize) -> Self {
        HyperHttp2::max_local_error_reset_streams(&mut self, max);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// Records what was set, by setting name.
    #[derive(Default)]
    struct Recorder(Vec<(&'static str, u64)>);

    impl Recorder {
        fn with(mut self, name: &'static str, value: u64) -> Self {
            self.0.push((name, value));
            self
        }
    }

    impl Http2Builder for Recorder {
        fn max_concurrent_streams(self, max: u32) -> Self {
            self.with("max_concurrent_streams", max.into())
        }
        fn max_header_list_size(self, max: u32) -> Self {
            self.with("max_header_list_size", max.into())
        }
        fn keepalive_interval(self, interval: Duration) -> Self {
            self.with("keepalive_interval_ms", interval.as_millis() as u64)
        }
        fn keepalive_timeout(self, timeout: Duration) -> Self {
            self.with("keepalive_timeout_ms", timeout.as_millis() as u64)
        }
        fn max_pending_accept_reset_streams(self, max: usize) -> Self {
            self.with("max_pending_accept_reset_streams", max as u64)
        }
        fn max_local_error_reset_streams(self, max: usize) -> Self {
            self.with("max_local_error_reset_streams", max as u64)
        }
    }

    #[test]
    fn every_limit_is_set_to_its_configured_value() {
        let env: Vec<(String, String)> = [
            ("OOLOI__GRPC__MAX_CONCURRENT_STREAMS", "17"),
            ("OOLOI__GRPC__MAX_HEADER_LIST_SIZE", "4321"),
            ("OOLOI__GRPC__KEEPALIVE_INTERVAL_SECONDS", "3"),
            ("OOLOI__GRPC__KEEPALIVE_TIMEOUT_SECONDS", "2"),
            ("OOLOI__GRPC__MAX_PENDING_ACCEPT_RESET_STREAMS", "9"),
            ("OOLOI__GRPC__MAX_LOCAL_ERROR_RESET_STREAMS", "11"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::load(None, &env, &[]).unwrap();
        let recorded = Http2Limits::from_config(&config.grpc).apply(Recorder::default());
        let mut recorded = recorded.0;
        recorded.sort();
        let mut expected = vec![
            ("keepalive_interval_ms", 3_000),
            ("keepalive_timeout_ms", 2_000),
            ("max_concurrent_streams", 17),
            ("max_header_list_size", 4321),
            ("max_local_error_reset_streams", 11),
            ("max_pending_accept_reset_streams", 9),
        ];
        expected.sort();
        assert_eq!(
            recorded, expected,
            "each setting exactly once, as configured"
        );
    }

    #[test]
    fn the_defaults_are_explicit_values_not_hyper_s_unset() {
        let config = Config::load(None, &[], &[]).unwrap();
        let limits = Http2Limits::from_config(&config.grpc);
        assert_eq!(limits.max_concurrent_streams, 256);
        assert_eq!(limits.max_header_list_size, 32 * 1024);
        assert_eq!(limits.keepalive_interval, Duration::from_secs(20));
        assert_eq!(limits.keepalive_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_pending_accept_reset_streams, 20);
        assert_eq!(limits.max_local_error_reset_streams, 1024);
    }
}
