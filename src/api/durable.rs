//! Acknowledgement of a call's commits by the durability stage: a [`Durable`] the caller waits
//! on, resolved once every piece commit of the call has been settled.
//!
//! A committed call hands each of its piece commits (creations, changes, deletions) an [`Ack`]
//! of one shared ticket. Whoever makes the commit durable settles its ack: the store's
//! durability stage after its transaction committed (or failed), or at once when durability is
//! asynchronous. An ack dropped unsettled (a stage that panicked, a pipeline shut down) counts
//! as a failure, so nothing is ever acknowledged by accident. The caller waits without holding a
//! thread: [`Durable`] is a future (the gRPC path awaits it), with a blocking wait for tools.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::Error;

#[derive(Debug)]
struct State {
    /// Acks not settled yet.
    pending: usize,
    /// The first failure.
    error: Option<Error>,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Ticket {
    state: Mutex<State>,
    settled: Condvar,
}

impl Ticket {
    fn settle(&self, outcome: Result<(), Error>) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.pending = state.pending.saturating_sub(1);
            if let Err(e) = outcome {
                state.error.get_or_insert(e);
            }
            if state.pending > 0 {
                return;
            }
            state.waker.take()
        };
        self.settled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// One piece commit's share of its call's acknowledgement. Settle it once; dropping it
/// unsettled settles it as a failure.
#[derive(Debug)]
pub struct Ack(Option<Arc<Ticket>>);

impl Ack {
    /// Settles this commit: durable (`Ok`) or not (`Err`, which the caller receives).
    pub fn settle(mut self, outcome: Result<(), Error>) {
        if let Some(ticket) = self.0.take() {
            ticket.settle(outcome);
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(ticket) = self.0.take() {
            ticket.settle(Err(Error::StoreUnavailable {
                message: "the commit was dropped before it became durable".into(),
            }));
        }
    }
}

/// Where a piece commit keeps its ack. A clone of the commit (for a second consumer) carries
/// none: only the stage the commit was handed to may settle it.
#[derive(Debug, Default)]
pub struct AckSlot(pub(crate) Option<Ack>);

impl Clone for AckSlot {
    fn clone(&self) -> Self {
        AckSlot(None)
    }
}

impl AckSlot {
    /// Takes the ack, to settle it later (the durability stage).
    pub fn take(&mut self) -> Option<Ack> {
        self.0.take()
    }

    /// Settles the ack, if the commit still carries one.
    pub fn settle(&mut self, outcome: Result<(), Error>) {
        if let Some(ack) = self.0.take() {
            ack.settle(outcome);
        }
    }
}

/// Resolves once every commit of a call is durable, or with the first failure. A call that
/// committed nothing is durable at once.
#[derive(Debug)]
#[must_use = "a write is acknowledged only once it is durable"]
pub struct Durable(Option<Arc<Ticket>>);

impl Durable {
    /// Nothing to wait for.
    pub fn done() -> Durable {
        Durable(None)
    }

    /// A ticket of `parts` acks (and the acks).
    pub(crate) fn with_parts(parts: usize) -> (Durable, Vec<Ack>) {
        if parts == 0 {
            return (Durable::done(), Vec::new());
        }
        let ticket = Arc::new(Ticket {
            state: Mutex::new(State {
                pending: parts,
                error: None,
                waker: None,
            }),
            settled: Condvar::new(),
        });
        let acks = (0..parts).map(|_| Ack(Some(ticket.clone()))).collect();
        (Durable(Some(ticket)), acks)
    }

    /// The outcome if every ack is settled.
    fn outcome(state: &mut State) -> Option<Result<(), Error>> {
        (state.pending == 0).then(|| state.error.take().map_or(Ok(()), Err))
    }

    /// Waits on this thread (tools and tests; the gRPC path awaits instead).
    pub fn wait(self) -> Result<(), Error> {
        let Some(ticket) = self.0 else {
            return Ok(());
        };
        let mut state = ticket.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(outcome) = Self::outcome(&mut state) {
                return outcome;
            }
            state = ticket
                .settled
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Future for Durable {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(ticket) = &self.0 else {
            return Poll::Ready(Ok(()));
        };
        let mut state = ticket.state.lock().unwrap_or_else(|e| e.into_inner());
        match Self::outcome(&mut state) {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_after_every_part_and_reports_the_first_failure() {
        let (durable, mut acks) = Durable::with_parts(3);
        acks.pop().unwrap().settle(Ok(()));
        acks.pop().unwrap().settle(Err(Error::StoreUnavailable {
            message: "disk".into(),
        }));
        let last = acks.pop().unwrap();
        let waiter = std::thread::spawn(move || durable.wait());
        last.settle(Ok(()));
        let e = waiter.join().unwrap().unwrap_err();
        assert_eq!(e.reason(), "STORE_UNAVAILABLE");
    }

    #[test]
    fn an_ack_dropped_unsettled_is_a_failure_and_a_clone_carries_none() {
        let (durable, mut acks) = Durable::with_parts(1);
        let slot = AckSlot(acks.pop());
        let mut copy = slot.clone();
        assert!(copy.take().is_none(), "a clone cannot settle");
        drop(slot);
        assert!(durable.wait().is_err());
        assert!(Durable::done().wait().is_ok());
    }
}
