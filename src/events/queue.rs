//! `EventQueue`: one client's bounded queue of events.
//!
//! Pushing never blocks and never waits for the client: a committing request hands its events to
//! every subscriber's queue and moves on. When a queue is full the oldest event is dropped
//! (drop-oldest) and counted; the next delivery after an overflow is a `client-events-dropped`
//! marker `{:count n :pieces #{...}}`, so the client knows exactly how much it missed and which
//! pieces to refetch. Sequence numbers are assigned as events are delivered, so the client sees
//! them gap-free (the marker takes one too). One event can be put first
//! ([`EventQueue::offer_first`], the registration confirmation): it is delivered before
//! anything else and never dropped, however many events arrive before the client reads. The consumer side is a poll function that parks a
//! `Waker`, so any async runtime can drive it; nothing here depends on one.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::Event;
use crate::model::PieceId;

/// What a client receives next.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// An event, with the client's sequence number for it.
    Event { sequence: u64, event: Arc<Event> },
    /// Events were dropped since the last delivery: how many, and of which pieces.
    Dropped {
        sequence: u64,
        count: u64,
        pieces: BTreeSet<PieceId>,
    },
}

impl Delivery {
    /// The delivery's sequence number.
    pub fn sequence(&self) -> u64 {
        match self {
            Delivery::Event { sequence, .. } | Delivery::Dropped { sequence, .. } => *sequence,
        }
    }
}

#[derive(Debug)]
struct State {
    /// Delivered before everything else, never dropped.
    first: Option<Arc<Event>>,
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    dropped: u64,
    dropped_pieces: BTreeSet<PieceId>,
    /// Total dropped since the queue was made (statistics).
    dropped_total: u64,
    next_sequence: u64,
    closed: bool,
    /// Refuses new events without ending the consumer's stream (the client disconnected but
    /// keeps its stream until it closes it).
    refusing: bool,
    waker: Option<Waker>,
}

/// What [`EventQueue::offer`] did with an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Offer {
    /// The queue is closed; the event was not queued.
    Refused,
    /// Queued; nothing was dropped.
    Queued,
    /// Queued, and the queue was full, so this oldest event was dropped to make room (returned
    /// so that statistics can count the drop under the dropped event's own category).
    QueuedDroppingOldest(Arc<Event>),
}

/// A bounded, drop-oldest queue of events for one client.
#[derive(Debug)]
pub struct EventQueue {
    state: Mutex<State>,
}

impl EventQueue {
    /// A queue holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            state: Mutex::new(State {
                first: None,
                events: VecDeque::with_capacity(capacity.min(64)),
                capacity: capacity.max(1),
                dropped: 0,
                dropped_pieces: BTreeSet::new(),
                dropped_total: 0,
                next_sequence: 1,
                closed: false,
                refusing: false,
                waker: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock; a poisoned one still guards consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an event, dropping the oldest one if the queue is full. Never blocks. Returns false
    /// if the queue is closed (the event is not queued).
    pub fn push(&self, event: Arc<Event>) -> bool {
        self.offer(event) != Offer::Refused
    }

    /// Adds an event like [`EventQueue::push`], and says whether it was refused and which
    /// event, if any, was dropped to make room.
    pub fn offer(&self, event: Arc<Event>) -> Offer {
        let mut wakers = Vec::new();
        let outcome = self.offer_deferred(event, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        outcome
    }

    /// [`EventQueue::offer`], except that the consumer's waker, if it is waiting, is added to
    /// `wakers` instead of being woken: a fan-out to many queues wakes their consumers together
    /// afterwards, where that is cheaper (see `clients::WakeDispatch`).
    pub fn offer_deferred(&self, event: Arc<Event>, wakers: &mut Vec<Waker>) -> Offer {
        let (waker, outcome) = {
            let mut s = self.lock();
            if s.closed || s.refusing {
                return Offer::Refused;
            }
            let mut outcome = Offer::Queued;
            if s.events.len() == s.capacity
                && let Some(old) = s.events.pop_front()
            {
                s.dropped += 1;
                s.dropped_total += 1;
                if let Some(piece) = old.piece_id {
                    s.dropped_pieces.insert(piece);
                }
                outcome = Offer::QueuedDroppingOldest(old);
            }
            s.events.push_back(event);
            (s.waker.take(), outcome)
        };
        wakers.extend(waker);
        outcome
    }

    /// Puts `event` first: it is delivered before anything queued, and a full queue drops other
    /// events, never this one. Only one event can be first, and only before the first delivery;
    /// after that this is [`EventQueue::offer`].
    pub fn offer_first(&self, event: Arc<Event>) -> Offer {
        let waker = {
            let mut s = self.lock();
            if s.closed || s.refusing {
                return Offer::Refused;
            }
            if s.first.is_some() || s.next_sequence > 1 {
                drop(s);
                return self.offer(event);
            }
            s.first = Some(event);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Offer::Queued
    }

    /// The next delivery, if one is ready: the overflow marker first, then events in order.
    pub fn try_next(&self) -> Option<Delivery> {
        let mut s = self.lock();
        Self::next_locked(&mut s)
    }

    fn next_locked(s: &mut State) -> Option<Delivery> {
        if let Some(event) = s.first.take() {
            let sequence = s.next_sequence;
            s.next_sequence += 1;
            return Some(Delivery::Event { sequence, event });
        }
        if s.dropped > 0 {
            let sequence = s.next_sequence;
            s.next_sequence += 1;
            let count = std::mem::take(&mut s.dropped);
            let pieces = std::mem::take(&mut s.dropped_pieces);
            return Some(Delivery::Dropped {
                sequence,
                count,
                pieces,
            });
        }
        let event = s.events.pop_front()?;
        let sequence = s.next_sequence;
        s.next_sequence += 1;
        Some(Delivery::Event { sequence, event })
    }

    /// Polls for the next delivery: `Ready(Some)` when one is ready, `Ready(None)` once the
    /// queue is closed and empty, otherwise `Pending` (woken by the next push or close).
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let mut s = self.lock();
        if let Some(d) = Self::next_locked(&mut s) {
            return Poll::Ready(Some(d));
        }
        if s.closed {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Closes the queue: later pushes are refused; what is queued can still be taken.
    pub fn close(&self) {
        let waker = {
            let mut s = self.lock();
            s.closed = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Events waiting now (the one put first included).
    pub fn len(&self) -> usize {
        let s = self.lock();
        s.events.len() + usize::from(s.first.is_some())
    }

    /// True when no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped since the queue was made.
    pub fn dropped_total(&self) -> u64 {
        self.lock().dropped_total
    }

    /// Refuses every later event but keeps the consumer waiting (not ended): what is queued is
    /// still delivered, and [`EventQueue::close`] still ends it.
    pub fn refuse_new_events(&self) {
        self.lock().refusing = true;
    }

    /// Whether the queue was closed (its consumer will see the end once the queue is empty).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PieceId;
    use crate::value::Value;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    fn event(n: i64, piece: Option<PieceId>) -> Arc<Event> {
        Arc::new(Event::new(
            "piece-measures-invalidated",
            piece,
            0,
            &Value::Int(n),
        ))
    }

    fn payload(d: &Delivery) -> Option<i64> {
        match d {
            Delivery::Event { event, .. } => {
                match crate::value::wire::decode(&event.data, &crate::value::ValueLimits::default())
                {
                    Ok(Value::Int(n)) => Some(n),
                    _ => None,
                }
            }
            Delivery::Dropped { .. } => None,
        }
    }

    #[test]
    fn the_event_put_first_is_delivered_first_and_never_dropped() {
        let q = EventQueue::new(3);
        assert_eq!(q.offer_first(event(0, None)), Offer::Queued);
        for n in 1..=10 {
            q.push(event(n, None));
        }
        assert_eq!(
            q.len(),
            4,
            "the first event is not counted against the capacity"
        );
        let first = q.try_next().unwrap();
        assert_eq!((first.sequence(), payload(&first)), (1, Some(0)));
        let marker = q.try_next().unwrap();
        assert!(matches!(
            marker,
            Delivery::Dropped {
                sequence: 2,
                count: 7,
                ..
            }
        ));
        let next = q.try_next().unwrap();
        assert_eq!((next.sequence(), payload(&next)), (3, Some(8)));
        // After the first delivery there is no first place any more.
        assert_eq!(q.offer_first(event(99, None)), Offer::Queued);
        let rest: Vec<Option<i64>> = std::iter::from_fn(|| q.try_next())
            .map(|d| payload(&d))
            .collect();
        assert_eq!(rest, [Some(9), Some(10), Some(99)]);
    }

    #[test]
    fn a_stalled_client_keeps_the_newest_events_and_learns_how_many_it_missed() {
        let q = EventQueue::new(1000);
        let (a, b) = (PieceId::mint(), PieceId::mint());
        for n in 0..1500 {
            assert!(q.push(event(n, Some(if n % 2 == 0 { a } else { b }))));
        }
        assert_eq!(q.len(), 1000);
        let first = q.try_next().expect("the marker");
        match &first {
            Delivery::Dropped {
                sequence,
                count,
                pieces,
            } => {
                assert_eq!((*sequence, *count), (1, 500));
                assert_eq!(pieces.len(), 2);
            }
            other => panic!("expected the marker first, got {other:?}"),
        }
        let rest: Vec<Delivery> = std::iter::from_fn(|| q.try_next()).collect();
        assert_eq!(rest.len(), 1000);
        assert_eq!(
            rest.iter().map(payload).collect::<Vec<_>>(),
            (500..1500).map(Some).collect::<Vec<_>>()
        );
        let sequences: Vec<u64> = rest.iter().map(Delivery::sequence).collect();
        assert_eq!(
            sequences,
            (2..1002).collect::<Vec<_>>(),
            "gap-free, the marker included"
        );
        assert_eq!(q.dropped_total(), 500);
    }

    #[test]
    fn at_capacity_nothing_is_dropped_and_one_past_drops_one() {
        let q = EventQueue::new(3);
        for n in 0..3 {
            q.push(event(n, None));
        }
        assert_eq!(q.dropped_total(), 0);
        q.push(event(3, None));
        assert!(matches!(
            q.try_next(),
            Some(Delivery::Dropped { count: 1, .. })
        ));
        assert_eq!(payload(&q.try_next().unwrap()), Some(1));
    }

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiting_consumer_is_woken_by_a_push_and_by_close() {
        let q = EventQueue::new(4);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(q.poll_next(&mut cx).is_pending());
        q.push(event(7, None));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            q.poll_next(&mut cx),
            Poll::Ready(Some(Delivery::Event { sequence: 1, .. }))
        ));
        assert!(q.poll_next(&mut cx).is_pending());
        q.close();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(matches!(q.poll_next(&mut cx), Poll::Ready(None)));
        assert!(!q.push(event(8, None)), "a closed queue refuses events");
    }

    #[test]
    fn a_refusing_queue_delivers_what_it_holds_and_waits_without_ending() {
        let q = EventQueue::new(4);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        q.push(event(1, None));
        q.refuse_new_events();
        assert!(!q.push(event(2, None)), "new events are refused");
        assert!(matches!(
            q.poll_next(&mut cx),
            Poll::Ready(Some(Delivery::Event { sequence: 1, .. }))
        ));
        assert!(q.poll_next(&mut cx).is_pending(), "the stream is not ended");
        assert!(!q.is_closed());
        q.close();
        assert!(matches!(q.poll_next(&mut cx), Poll::Ready(None)));
    }

    #[test]
    fn an_offer_names_the_event_it_dropped() {
        let q = EventQueue::new(2);
        let first = event(1, None);
        assert_eq!(q.offer(Arc::clone(&first)), Offer::Queued);
        assert_eq!(q.offer(event(2, None)), Offer::Queued);
        assert_eq!(q.offer(event(3, None)), Offer::QueuedDroppingOldest(first));
        q.close();
        assert_eq!(q.offer(event(4, None)), Offer::Refused);
    }
}
