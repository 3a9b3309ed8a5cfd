//! A key set fetched from `auth.jwks_url`, cached by `kid`. The first fetch happens at start-up
//! ([`RemoteKeys::refresh`] from `Server::open`: no keys, not ready). Afterwards a token naming a
//! `kid` the cached set does not have, or a set older than its TTL, asks for a refresh; refreshes
//! are single-flight (one fetch at a time) and at least the minimum interval apart, so a flood
//! of tokens with random `kid`s costs at most one fetch per interval. The refusing request does
//! not wait: it is UNAUTHENTICATED, and a retry after the refresh finds the new key.
//!
//! Plain HTTP only (this build has no TLS client): an in-cluster identity provider, or a proxy
//! in front of an external one. The document is read with a time limit and a size limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Uri;

use super::token::{AuthError, TokenVerifier, VerifiedToken, VerifierSettings};
use crate::stm::sync;

/// The largest key set accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct State {
    verifier: Option<Arc<TokenVerifier>>,
    fetched_at: Option<Instant>,
}

/// Who may fetch now: at most one fetch at a time (single-flight), and a new one only once the
/// minimum interval since the last one has passed. Built on the STM's sync shim, so that the
/// shuttle tests explore it under every interleaving.
#[derive(Debug, Default)]
pub(crate) struct FetchGate(sync::Mutex<Gate>);

#[derive(Debug, Default)]
struct Gate {
    fetching: bool,
    attempted_at: Option<Instant>,
}

impl FetchGate {
    /// Takes the right to fetch, if nobody holds it and the last fetch began at least
    /// `min_interval` ago (`force`: whatever the interval says, for start-up).
    pub(crate) fn claim(&self, min_interval: Duration, force: bool) -> bool {
        let mut gate = sync::lock(&self.0);
        if gate.fetching {
            return false;
        }
        if !force
            && gate
                .attempted_at
                .is_some_and(|at| at.elapsed() < min_interval)
        {
            return false;
        }
        gate.fetching = true;
        gate.attempted_at = Some(Instant::now());
        true
    }

    /// Gives the right back once the fetch is over.
    pub(crate) fn release(&self) {
        sync::lock(&self.0).fetching = false;
    }
}

/// The key set of one URL.
#[derive(Debug)]
pub struct RemoteKeys {
    url: Uri,
    base: VerifierSettings,
    min_interval: Duration,
    ttl: Duration,
    state: Mutex<State>,
    gate: FetchGate,
    fetches: AtomicU64,
}

impl RemoteKeys {
    /// Keys from `url` (`http://` only), verified with the rules of `base`.
    pub fn new(
        url: &str,
        base: VerifierSettings,
        min_interval: Duration,
        ttl: Duration,
    ) -> Result<RemoteKeys, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("auth.jwks_url {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!(
                "auth.jwks_url {url:?}: only http:// URLs are supported (this build has no TLS \
                 client): reach the identity provider through an in-cluster proxy, or download \
                 the key set and use auth.jwks_file"
            ));
        }
        Ok(RemoteKeys {
            url: uri,
            base,
            min_interval,
            ttl,
            state: Mutex::new(State::default()),
            gate: FetchGate::default(),
            fetches: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many fetches have been made.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Verifies `token` with the cached keys; an unknown `kid` or an expired set asks for a
    /// refresh in the background (if one is allowed now) and refuses this token.
    pub fn verify(self: &Arc<Self>, token: &str) -> Result<VerifiedToken, AuthError> {
        let (verifier, stale) = {
            let state = self.lock();
            let stale = state.fetched_at.is_none_or(|at| at.elapsed() >= self.ttl);
            (state.verifier.clone(), stale)
        };
        if stale {
            self.refresh_in_background();
        }
        let Some(verifier) = verifier else {
            return Err(AuthError::UnknownKey);
        };
        let verified = verifier.verify(token);
        if verified == Err(AuthError::UnknownKey) {
            self.refresh_in_background();
        }
        verified
    }

    /// The token's cached verification, if any.
    pub fn cached_verification(&self, token: &str) -> Option<VerifiedToken> {
        self.lock().verifier.as_ref()?.cached_verification(token)
    }

    /// Starts a refresh on the runtime if none is running and the last one is at least the
    /// minimum interval ago.
    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.gate.claim(self.min_interval, false) {
            return;
        }
        let keys = Arc::clone(self);
        runtime.spawn(async move {
            let _ = keys.fetch_and_store().await;
            keys.gate.release();
        });
    }

    /// Fetches the key set now (start-up), whatever the interval says; waits for a fetch
    /// already running instead of starting a second one.
    pub async fn refresh(&self) -> Result<(), String> {
        while !self.gate.claim(self.min_interval, true) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let result = self.fetch_and_store().await;
        self.gate.release();
        result
    }

    async fn fetch_and_store(&self) -> Result<(), String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let document = tokio::time::timeout(FETCH_TIMEOUT, fetch(&self.url))
            .await
            .map_err(|_| format!("fetching {} took longer than {FETCH_TIMEOUT:?}", self.url))??;
        let verifier = TokenVerifier::new(&VerifierSettings {
            hs256_secret: None,
            public_keys_pem: Vec::new(),
            jwks: Some(document),
            ..self.base.clone()
        })
        .map_err(|e| format!("{}: {e}", self.url))?;
        let mut state = self.lock();
        state.verifier = Some(Arc::new(verifier));
        state.fetched_at = Some(Instant::now());
        Ok(())
    }
}

/// GETs `url` and returns the body of a 200 answer, at most [`MAX_JWKS_BYTES`].
async fn fetch(url: &Uri) -> Result<Vec<u8>, String> {
    let (status, document) =
        crate::net::client::get(url, "application/json", MAX_JWKS_BYTES).await?;
    if status != http::StatusCode::OK {
        return Err(format!("{url} answered {status}"));
    }
    Ok(document)
}

#[cfg(all(test, feature = "shuttle"))]
mod shuttle_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use shuttle::sync::atomic::{AtomicUsize, Ordering};
    use shuttle::thread;

    use super::FetchGate;

    /// Three threads race to fetch, twice each: never two fetches at once, and with an interval
    /// longer than the test, exactly one fetch in all.
    fn scenario(min_interval: Duration) -> usize {
        let gate = Arc::new(FetchGate::default());
        let holders = Arc::new(AtomicUsize::new(0));
        let fetched = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (gate, holders, fetched) = (
                    Arc::clone(&gate),
                    Arc::clone(&holders),
                    Arc::clone(&fetched),
                );
                thread::spawn(move || {
                    for _ in 0..2 {
                        if gate.claim(min_interval, false) {
                            assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0, "two fetches");
                            fetched.fetch_add(1, Ordering::SeqCst);
                            thread::yield_now();
                            holders.fetch_sub(1, Ordering::SeqCst);
                            gate.release();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        fetched.load(Ordering::SeqCst)
    }

    #[test]
    fn at_most_one_fetch_at_a_time_and_one_per_interval() {
        shuttle::check_random(
            || {
                assert_eq!(scenario(Duration::from_secs(3600)), 1);
            },
            2000,
        );
        shuttle::check_pct(
            || {
                assert!(scenario(Duration::ZERO) >= 1);
            },
            2000,
            3,
        );
    }
}
