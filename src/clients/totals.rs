//! Server-wide event counters that outlive the clients they count: every offer to a client's
//! queue (by category, with what the drop-oldest policy threw away) and every delivery written
//! to a stream. Reference section 5.6 keeps these totals "across client churn"; a client's own
//! counters disappear with it, these last for the life of the process. Relaxed atomics:
//! statistics never order or affect delivery.

use std::sync::atomic::{AtomicU64, Ordering};

use super::EventCategory;
use crate::events::Offer;

/// The outcomes of offering one event to many queues, before they are added to [`EventTotals`].
#[derive(Debug, Default)]
pub(super) struct OfferTally {
    queued: u64,
    refused: u64,
    /// Dropped to make room, by the dropped event's category.
    dropped: [u64; EventCategory::ALL.len()],
}

impl OfferTally {
    /// Counts one offer's outcome.
    pub(super) fn count(&mut self, offer: &Offer) {
        match offer {
            Offer::Refused => self.refused += 1,
            Offer::Queued => self.queued += 1,
            Offer::QueuedDroppingOldest(old) => {
                self.queued += 1;
                self.dropped[EventCategory::of(old).index()] += 1;
            }
        }
    }

    /// Offers that were queued.
    pub(super) fn queued(&self) -> u64 {
        self.queued
    }
}

/// Event counters for the whole server.
#[derive(Debug, Default)]
pub struct EventTotals {
    offered: AtomicU64,
    refused: AtomicU64,
    queued: [AtomicU64; EventCategory::ALL.len()],
    dropped: [AtomicU64; EventCategory::ALL.len()],
    sent: AtomicU64,
    bytes_sent: AtomicU64,
}

impl EventTotals {
    /// Adds what fanning one `category` event out to many queues did, counted locally in
    /// `tally`: one atomic add per counter per fan-out, not per recipient. A dropped event is
    /// counted under its own category, which may differ from the one that pushed it out.
    pub(super) fn record_offers(&self, category: EventCategory, tally: &OfferTally) {
        let add = |counter: &AtomicU64, n: u64| {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        };
        add(&self.offered, tally.queued + tally.refused);
        add(&self.refused, tally.refused);
        add(&self.queued[category.index()], tally.queued);
        for (counter, n) in self.dropped.iter().zip(tally.dropped) {
            add(counter, n);
        }
    }

    /// Counts one delivery of `bytes` bytes written to a client's stream.
    pub(super) fn record_sent(&self, bytes: u64) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Offers to any client's queue (Ooloi's `event-delivery-attempts`).
    pub fn offered(&self) -> u64 {
        self.offered.load(Ordering::Relaxed)
    }

    /// Offers refused because the queue was closed (its client was leaving).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// `category` events accepted into a queue.
    pub fn queued(&self, category: EventCategory) -> u64 {
        self.queued[category.index()].load(Ordering::Relaxed)
    }

    /// Events of every category accepted into a queue (Ooloi's `event-delivery-successes`).
    pub fn queued_total(&self) -> u64 {
        EventCategory::ALL.iter().map(|c| self.queued(*c)).sum()
    }

    /// `category` events dropped from a full queue to make room for a newer one.
    pub fn dropped(&self, category: EventCategory) -> u64 {
        self.dropped[category.index()].load(Ordering::Relaxed)
    }

    /// Events of every category dropped from full queues.
    pub fn dropped_total(&self) -> u64 {
        EventCategory::ALL.iter().map(|c| self.dropped(*c)).sum()
    }

    /// Deliveries written to client streams (events and overflow markers).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bytes of the deliveries written to client streams.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::events::Event;
    use crate::model::PieceId;
    use crate::value::Value;

    #[test]
    fn a_drop_counts_under_the_dropped_events_category() {
        let totals = EventTotals::default();
        let piece_event = Arc::new(Event::new(
            "piece-measures-invalidated",
            Some(PieceId::mint()),
            0,
            &Value::Nil,
        ));
        let record = |category, offer: Offer| {
            let mut tally = OfferTally::default();
            tally.count(&offer);
            totals.record_offers(category, &tally);
        };
        record(EventCategory::Piece, Offer::Queued);
        record(
            EventCategory::Server,
            Offer::QueuedDroppingOldest(piece_event),
        );
        record(EventCategory::Server, Offer::Refused);
        assert_eq!(totals.offered(), 3);
        assert_eq!(totals.refused(), 1);
        assert_eq!(totals.queued(EventCategory::Piece), 1);
        assert_eq!(totals.queued(EventCategory::Server), 1);
        assert_eq!(totals.queued_total(), 2);
        assert_eq!(totals.dropped(EventCategory::Piece), 1);
        assert_eq!(totals.dropped(EventCategory::Server), 0);
        assert_eq!(totals.dropped_total(), 1);
    }

    #[test]
    fn a_fan_out_tallied_once_adds_what_each_offer_would() {
        let totals = EventTotals::default();
        let dropped = Arc::new(Event::new("server-shutdown", None, 0, &Value::Nil));
        let mut tally = OfferTally::default();
        for offer in [
            Offer::Queued,
            Offer::Queued,
            Offer::Refused,
            Offer::QueuedDroppingOldest(dropped),
        ] {
            tally.count(&offer);
        }
        assert_eq!(tally.queued(), 3);
        totals.record_offers(EventCategory::Piece, &tally);
        assert_eq!(totals.offered(), 4);
        assert_eq!(totals.refused(), 1);
        assert_eq!(totals.queued(EventCategory::Piece), 3);
        assert_eq!(totals.dropped(EventCategory::Server), 1);
        assert_eq!(totals.dropped_total(), 1);
    }
}
