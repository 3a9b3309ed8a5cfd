//! The event streams open on one server, so that shutdown can end every one of them.
//!
//! A client's stream ends when its client goes away or when the server stops, not when the
//! client disconnects: `Disconnect` removes the registration but leaves the stream open (it must
//! not race the client's in-flight calls; the client closes it). Such a stream no longer belongs
//! to any registered client, so shutdown cannot find it through the registry; this set holds
//! every open stream's client until the stream is dropped. A stream opened after shutdown began
//! is ended at once, so graceful shutdown never waits on a stream nobody will close.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clients::Client;

#[derive(Debug, Default)]
struct Open {
    closing: bool,
    /// By registration generation, unique per registration.
    streams: HashMap<u64, Arc<Client>>,
}

/// The open event streams of one server.
#[derive(Debug, Default)]
pub struct OpenStreams(Mutex<Open>);

impl OpenStreams {
    fn lock(&self) -> MutexGuard<'_, Open> {
        // Nothing panics while holding this lock; a poisoned one still guards consistent data.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the stream of `client`; ends it at once if the server is shutting down.
    pub fn opened(&self, client: &Arc<Client>) {
        let mut open = self.lock();
        if open.closing {
            client.queue().close();
        } else {
            open.streams.insert(client.generation(), Arc::clone(client));
        }
    }

    /// Forgets the stream of `client` (it was dropped).
    pub fn ended(&self, client: &Client) {
        self.lock().streams.remove(&client.generation());
    }

    /// Ends every open stream once its queued events are delivered, and every later one at once.
    pub fn close_all(&self) {
        let streams = {
            let mut open = self.lock();
            open.closing = true;
            std::mem::take(&mut open.streams)
        };
        for client in streams.values() {
            client.queue().close();
        }
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.lock().streams.len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientRegistry;
    use crate::identity::ClientId;
    use crate::identity::Principal;

    fn client(registry: &ClientRegistry, id: &str) -> Arc<Client> {
        registry
            .register(&Principal::local(), ClientId::new(id).unwrap(), None, 4)
            .unwrap()
    }

    #[test]
    fn shutdown_ends_open_streams_and_every_stream_opened_later() {
        let registry = ClientRegistry::new();
        let streams = OpenStreams::default();
        let (a, b) = (client(&registry, "aaa"), client(&registry, "bbb"));
        streams.opened(&a);
        streams.opened(&b);
        streams.ended(&b);
        assert_eq!(streams.len(), 1);
        streams.close_all();
        assert!(a.queue().is_closed());
        assert!(
            !b.queue().is_closed(),
            "a dropped stream is no longer tracked"
        );
        let late = client(&registry, "ccc");
        streams.opened(&late);
        assert!(late.queue().is_closed(), "opened after shutdown began");
        assert!(streams.is_empty());
    }
}
