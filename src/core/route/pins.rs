//! Session pins: which model each conversation was routed to, so later turns go to the same
//! model and reuse its warm prompt cache. Bounded: at most `capacity` conversations, the least
//! recently used forgotten first, and each forgotten `ttl_ms` after its last request. Time is
//! an argument (`now_ms`), never read from a clock here.
use std::collections::HashMap;

use super::Tier;

/// Where a conversation was last routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The index of the route it was routed by (a conversation that switches route is routed
    /// afresh).
    pub route: usize,
    /// `provider/model`.
    pub model: String,
    pub tier: Tier,
}

const NONE: usize = usize::MAX;

struct Slot {
    key: String,
    pin: Pin,
    last_used_ms: u64,
    /// Towards the most recently used end.
    newer: usize,
    /// Towards the least recently used end.
    older: usize,
}

/// An LRU map with an idle TTL: a hash map into a slab of slots chained most- to
/// least-recently used, so lookups, updates and evictions are O(1).
pub struct SessionPins {
    capacity: usize,
    ttl_ms: u64,
    index: HashMap<String, usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    newest: usize,
    oldest: usize,
}

impl SessionPins {
    /// `capacity` of at least 1 and `ttl_ms` of at least 1 (the router config validates both).
    pub fn new(capacity: usize, ttl_ms: u64) -> Self {
        SessionPins {
            capacity: capacity.max(1),
            ttl_ms: ttl_ms.max(1),
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            newest: NONE,
            oldest: NONE,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The conversation's pin, unless it expired (an expired pin is dropped).
    pub fn get(&mut self, conversation: &str, now_ms: u64) -> Option<&Pin> {
        let slot = *self.index.get(conversation)?;
        if self.expired(slot, now_ms) {
            self.remove(slot);
            return None;
        }
        Some(&self.slots[slot].pin)
    }

    /// Pins the conversation (again), making it the most recently used. Re-pinning to the
    /// same model allocates nothing.
    pub fn put(&mut self, conversation: &str, route: usize, model: &str, tier: Tier, now_ms: u64) {
        if let Some(&slot) = self.index.get(conversation) {
            let entry = &mut self.slots[slot];
            if entry.pin.model != model {
                entry.pin.model = model.to_string();
            }
            entry.pin.route = route;
            entry.pin.tier = tier;
            entry.last_used_ms = now_ms;
            self.unlink(slot);
            self.push_newest(slot);
            return;
        }
        while self.oldest != NONE && self.expired(self.oldest, now_ms) {
            self.remove(self.oldest);
        }
        if self.index.len() >= self.capacity {
            self.remove(self.oldest);
        }
        let entry = Slot {
            key: conversation.to_string(),
            pin: Pin {
                route,
                model: model.to_string(),
                tier,
            },
            last_used_ms: now_ms,
            newer: NONE,
            older: NONE,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                self.slots.len() - 1
            }
        };
        self.index.insert(conversation.to_string(), slot);
        self.push_newest(slot);
    }

    pub fn forget(&mut self, conversation: &str) {
        if let Some(&slot) = self.index.get(conversation) {
            self.remove(slot);
        }
    }

    fn expired(&self, slot: usize, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.slots[slot].last_used_ms) >= self.ttl_ms
    }

    fn remove(&mut self, slot: usize) {
        self.unlink(slot);
        let key = std::mem::take(&mut self.slots[slot].key);
        self.index.remove(&key);
        self.free.push(slot);
    }

    fn unlink(&mut self, slot: usize) {
        let Slot { newer, older, .. } = self.slots[slot];
        match newer {
            NONE => self.newest = older,
            n => self.slots[n].older = older,
        }
        match older {
            NONE => self.oldest = newer,
            o => self.slots[o].newer = newer,
        }
        self.slots[slot].newer = NONE;
        self.slots[slot].older = NONE;
    }

    fn push_newest(&mut self, slot: usize) {
        self.slots[slot].older = self.newest;
        self.slots[slot].newer = NONE;
        match self.newest {
            NONE => self.oldest = slot,
            n => self.slots[n].newer = slot,
        }
        self.newest = slot;
    }
}

impl std::fmt::Debug for SessionPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPins")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("ttl_ms", &self.ttl_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(pins: &mut SessionPins, key: &str, model: &str, now: u64) {
        pins.put(key, 0, model, Tier::Simple, now);
    }

    fn model(pins: &mut SessionPins, key: &str, now: u64) -> Option<String> {
        pins.get(key, now).map(|p| p.model.clone())
    }

    #[test]
    fn pins_expire_after_the_idle_ttl_and_refresh_on_use() {
        let mut pins = SessionPins::new(10, 1000);
        put(&mut pins, "c1", "a", 0);
        assert_eq!(model(&mut pins, "c1", 999).as_deref(), Some("a"));
        put(&mut pins, "c1", "a", 900);
        assert_eq!(model(&mut pins, "c1", 1899).as_deref(), Some("a"));
        assert_eq!(model(&mut pins, "c1", 1900), None);
        assert!(pins.is_empty(), "the expired pin was dropped");
    }

    #[test]
    fn the_least_recently_used_pin_is_evicted_at_capacity() {
        let mut pins = SessionPins::new(3, 1_000_000);
        put(&mut pins, "a", "1", 1);
        put(&mut pins, "b", "2", 2);
        put(&mut pins, "c", "3", 3);
        put(&mut pins, "a", "1", 4); // a is now the most recent; b the least
        put(&mut pins, "d", "4", 5);
        assert_eq!(pins.len(), 3);
        assert_eq!(model(&mut pins, "b", 6), None);
        for key in ["a", "c", "d"] {
            assert!(model(&mut pins, key, 6).is_some(), "{key}");
        }
        put(&mut pins, "e", "5", 7);
        assert_eq!(model(&mut pins, "c", 8), None, "c was the least recent");
    }

    #[test]
    fn expired_pins_make_room_before_live_ones_are_evicted() {
        let mut pins = SessionPins::new(2, 100);
        put(&mut pins, "old", "1", 0);
        put(&mut pins, "live", "2", 150);
        put(&mut pins, "new", "3", 160);
        assert_eq!(model(&mut pins, "live", 161).as_deref(), Some("2"));
        assert_eq!(model(&mut pins, "new", 161).as_deref(), Some("3"));
    }

    #[test]
    fn updates_replace_the_pin_and_slots_are_reused() {
        let mut pins = SessionPins::new(2, 1_000_000);
        for round in 0..100u64 {
            put(&mut pins, &format!("k{round}"), "x", round);
        }
        assert_eq!(pins.len(), 2);
        assert_eq!(pins.slots.len(), 2);
        put(&mut pins, "k99", "y", 200);
        assert_eq!(model(&mut pins, "k99", 201).as_deref(), Some("y"));
        pins.forget("k99");
        assert_eq!(model(&mut pins, "k99", 201), None);
        assert_eq!(model(&mut pins, "k98", 201).as_deref(), Some("x"));
    }
}
