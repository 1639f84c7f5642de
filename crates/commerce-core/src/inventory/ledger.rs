//! [`Ledger`]: the pure reference implementation of the inventory rules, which the
//! memory adapter wraps in a lock and every other adapter is checked against.

use std::collections::{BTreeMap, HashMap};

use super::{
    InventoryError, InventoryReceipt, OnHand, Reservation, ReservationLine, ReservationRequest, ReservationState,
    StockLevel, StockReturn,
};
use crate::{
    ids::{ProductId, ReservationId},
    timestamp::Timestamp,
};

/// The pure, in-memory reference implementation of the inventory rules.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    items: BTreeMap<ProductId, StockLevel>,
    reservations: HashMap<ReservationId, Reservation>,
    /// The last restock number applied per product (see [`Ledger::restock`]).
    restocks: HashMap<ProductId, u64>,
}

/// What became of a seller restock (see [`Ledger::restock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestockOutcome {
    /// The restock set the on-hand units; the level after it.
    Applied(StockLevel),
    /// A restock with this number or a newer one was applied already: nothing changed.
    Stale {
        /// The newest restock number applied.
        applied: u64,
        /// The level now.
        level: StockLevel,
    },
}

impl RestockOutcome {
    /// The product's stock level after the restock (applied or not).
    pub fn level(&self) -> StockLevel {
        match self {
            Self::Applied(level) | Self::Stale { level, .. } => *level,
        }
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger holding just the given records: how a database adapter applies these
    /// rules to the rows it locked for one operation, then writes back what changed.
    pub fn from_parts(
        levels: impl IntoIterator<Item = StockLevel>,
        reservations: impl IntoIterator<Item = Reservation>,
    ) -> Self {
        Self {
            items: levels.into_iter().map(|l| (l.product_id, l)).collect(),
            reservations: reservations.into_iter().map(|r| (r.id, r)).collect(),
            restocks: HashMap::new(),
        }
    }

    /// Every reservation record (including refusals and tombstones).
    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.reservations.values()
    }

    /// A product's stock, if it has a record.
    pub fn stock(&self, product: ProductId) -> Option<StockLevel> {
        self.items.get(&product).copied()
    }

    /// A reservation, if known.
    pub fn reservation(&self, id: ReservationId) -> Option<&Reservation> {
        self.reservations.get(&id)
    }

    /// Every stock record, by product id.
    pub fn levels(&self) -> impl Iterator<Item = &StockLevel> {
        self.items.values()
    }

    fn levels_of(&self, lines: &[ReservationLine]) -> Vec<StockLevel> {
        lines.iter().filter_map(|l| self.stock(l.product_id)).collect()
    }

    fn receipt(&self, reservation: &Reservation) -> InventoryReceipt {
        InventoryReceipt { reservation: reservation.clone(), levels: self.levels_of(&reservation.lines) }
    }

    /// Sets a product's on-hand count, creating its record if needed.
    ///
    /// Returns `BelowReserved` when `on_hand` is less than the units reserved.
    pub fn set_on_hand(&mut self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        let on_hand = on_hand.get();
        let level = self.items.entry(product).or_insert(StockLevel {
            product_id: product,
            on_hand: 0,
            reserved: 0,
            version: 0,
        });
        if on_hand < level.reserved {
            return Err(InventoryError::BelowReserved { product_id: product, on_hand, reserved: level.reserved });
        }
        if level.on_hand != on_hand || level.version == 0 {
            level.on_hand = on_hand;
            level.version += 1;
        }
        Ok(*level)
    }

    /// Applies a seller restock numbered `restock` by the catalog (1, 2, ... per product):
    /// sets the on-hand units unless a restock with this or a higher number was applied
    /// already, so a redelivered or overtaken restock changes nothing.
    ///
    /// Returns `BelowReserved` like [`Ledger::set_on_hand`]; the number is not recorded
    /// then, and nothing changes.
    pub fn restock(
        &mut self,
        product: ProductId,
        on_hand: OnHand,
        restock: u64,
    ) -> Result<RestockOutcome, InventoryError> {
        if let Some(&applied) = self.restocks.get(&product).filter(|applied| **applied >= restock)
            && let Some(level) = self.stock(product)
        {
            return Ok(RestockOutcome::Stale { applied, level });
        }
        let level = self.set_on_hand(product, on_hand)?;
        self.restocks.insert(product, restock);
        Ok(RestockOutcome::Applied(level))
    }

    /// Holds every line or nothing. A retry with the same id returns the first
    /// outcome (including a refusal); the same id with other lines is a `ReservationMismatch`.
    pub fn reserve(&mut self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        if let Some(existing) = self.reservations.get(&request.id) {
            return self.replay(existing, request);
        }
        for line in &request.lines {
            let level = self.stock(line.product_id).ok_or(InventoryError::UnknownProduct(line.product_id))?;
            let requested = u64::from(line.quantity.get());
            if level.available() < requested {
                let state =
                    ReservationState::Rejected { product_id: line.product_id, requested, available: level.available() };
                let rejected =
                    Reservation { id: request.id, lines: request.lines.clone(), expires_at: request.expires_at, state };
                self.reservations.insert(request.id, rejected);
                return Err(InventoryError::InsufficientStock {
                    product_id: line.product_id,
                    requested,
                    available: level.available(),
                });
            }
        }
        for line in &request.lines {
            if let Some(level) = self.items.get_mut(&line.product_id) {
                level.reserved += u64::from(line.quantity.get());
                level.version += 1;
            }
        }
        let reservation = Reservation {
            id: request.id,
            lines: request.lines.clone(),
            expires_at: request.expires_at,
            state: ReservationState::Active,
        };
        self.reservations.insert(request.id, reservation.clone());
        Ok(self.receipt(&reservation))
    }

    fn replay(&self, existing: &Reservation, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        let tombstone = existing.lines.is_empty() && existing.state == ReservationState::Released;
        if !tombstone && existing.lines != request.lines {
            return Err(InventoryError::ReservationMismatch(request.id));
        }
        match existing.state {
            ReservationState::Rejected { product_id, requested, available } => {
                Err(InventoryError::InsufficientStock { product_id, requested, available })
            }
            _ => Ok(self.receipt(existing)),
        }
    }

    /// Takes the reserved units out of stock. Committing twice is a no-op;
    /// committing a released, expired or refused reservation is an `InvalidTransition`.
    pub fn commit(&mut self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let reservation = self.reservations.get(&id).ok_or(InventoryError::UnknownReservation(id))?.clone();
        match reservation.state {
            ReservationState::Committed => return Ok(self.receipt(&reservation)),
            ReservationState::Active => {}
            state => return Err(InventoryError::InvalidTransition { id, state }),
        }
        for line in &reservation.lines {
            if let Some(level) = self.items.get_mut(&line.product_id) {
                let q = u64::from(line.quantity.get());
                level.reserved -= q;
                level.on_hand -= q;
                level.version += 1;
            }
        }
        self.finish(id, ReservationState::Committed)
    }

    /// Gives held units back. Releasing twice, or after expiry or refusal, is a
    /// no-op; releasing an unknown id records a tombstone so a late reserve with
    /// that id holds nothing. Releasing a committed reservation is an `InvalidTransition`.
    pub fn release(&mut self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let Some(reservation) = self.reservations.get(&id).cloned() else {
            let tombstone =
                Reservation { id, lines: Vec::new(), expires_at: Timestamp::EPOCH, state: ReservationState::Released };
            self.reservations.insert(id, tombstone.clone());
            return Ok(self.receipt(&tombstone));
        };
        match reservation.state {
            ReservationState::Active => {
                self.give_back(&reservation.lines);
                self.finish(id, ReservationState::Released)
            }
            ReservationState::Committed => Err(InventoryError::InvalidTransition { id, state: reservation.state }),
            _ => Ok(self.receipt(&reservation)),
        }
    }

    /// Adds returned units to on-hand, once per return id: a retry returns the first
    /// receipt. Returns `UnknownProduct` when a product has no stock record,
    /// `ReservationMismatch` when the id was used with other lines, `InvalidTransition`
    /// when it names a reservation (a hold is never a return), and `InvalidRequest` when
    /// on-hand would pass [`OnHand::MAX`]. Nothing changes when it fails.
    pub fn restore(&mut self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        if let Some(existing) = self.reservations.get(&request.id()) {
            return match existing.state {
                ReservationState::Returned if existing.lines == request.lines() => Ok(self.receipt(existing)),
                ReservationState::Returned => Err(InventoryError::ReservationMismatch(request.id())),
                state => Err(InventoryError::InvalidTransition { id: request.id(), state }),
            };
        }
        for line in request.lines() {
            let level = self.stock(line.product_id).ok_or(InventoryError::UnknownProduct(line.product_id))?;
            if level.on_hand + u64::from(line.quantity.get()) > OnHand::MAX {
                return Err(InventoryError::InvalidRequest(format!(
                    "returning {} units of product {} would pass {} on hand",
                    line.quantity.get(),
                    line.product_id,
                    OnHand::MAX
                )));
            }
        }
        for line in request.lines() {
            if let Some(level) = self.items.get_mut(&line.product_id) {
                level.on_hand += u64::from(line.quantity.get());
                level.version += 1;
            }
        }
        let record = Reservation {
            id: request.id(),
            lines: request.lines().to_vec(),
            expires_at: Timestamp::EPOCH,
            state: ReservationState::Returned,
        };
        self.reservations.insert(request.id(), record.clone());
        Ok(self.receipt(&record))
    }

    /// Expires up to `limit` active reservations whose deadline is at or before `now`,
    /// earliest deadline first.
    pub fn expire(&mut self, now: Timestamp, limit: usize) -> Vec<InventoryReceipt> {
        let mut due: Vec<_> = self
            .reservations
            .values()
            .filter(|r| r.state == ReservationState::Active && r.expires_at <= now)
            .map(|r| (r.expires_at, r.id, r.lines.clone()))
            .collect();
        due.sort_by_key(|(at, id, _)| (*at, *id));
        due.into_iter()
            .take(limit)
            .filter_map(|(_, id, lines)| {
                self.give_back(&lines);
                self.finish(id, ReservationState::Expired).ok()
            })
            .collect()
    }

    fn give_back(&mut self, lines: &[ReservationLine]) {
        for line in lines {
            if let Some(level) = self.items.get_mut(&line.product_id) {
                level.reserved -= u64::from(line.quantity.get());
                level.version += 1;
            }
        }
    }

    fn finish(&mut self, id: ReservationId, state: ReservationState) -> Result<InventoryReceipt, InventoryError> {
        let reservation = self.reservations.get_mut(&id).ok_or(InventoryError::UnknownReservation(id))?;
        reservation.state = state;
        let reservation = reservation.clone();
        Ok(self.receipt(&reservation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Quantity;
    use uuid::Uuid;

    fn units(n: u64) -> OnHand {
        OnHand::new(n).unwrap()
    }
    fn pid(n: u128) -> ProductId {
        ProductId::from_uuid(Uuid::from_u128(n))
    }
    fn rid(n: u128) -> ReservationId {
        ReservationId::from_uuid(Uuid::from_u128(n))
    }
    fn line(p: u128, q: u32) -> ReservationLine {
        ReservationLine { product_id: pid(p), quantity: Quantity::new(q).unwrap() }
    }
    fn req(id: u128, lines: Vec<ReservationLine>) -> ReservationRequest {
        ReservationRequest::new(rid(id), lines, Timestamp::from_unix_micros(100)).unwrap()
    }

    #[test]
    fn reserve_is_all_or_nothing() {
        let mut l = Ledger::new();
        l.set_on_hand(pid(1), units(5)).unwrap();
        l.set_on_hand(pid(2), units(1)).unwrap();
        let err = l.reserve(&req(9, vec![line(1, 3), line(2, 2)])).unwrap_err();
        assert_eq!(err, InventoryError::InsufficientStock { product_id: pid(2), requested: 2, available: 1 });
        assert_eq!(l.stock(pid(1)).unwrap().reserved, 0);
        // A retry returns the first outcome even though stock arrived meanwhile.
        l.set_on_hand(pid(2), units(10)).unwrap();
        assert_eq!(l.reserve(&req(9, vec![line(1, 3), line(2, 2)])).unwrap_err(), err);
    }

    #[test]
    fn commit_and_release_follow_the_state_machine() {
        let mut l = Ledger::new();
        l.set_on_hand(pid(1), units(5)).unwrap();
        l.reserve(&req(1, vec![line(1, 2)])).unwrap();
        assert_eq!(l.stock(pid(1)).unwrap().available(), 3);
        assert!(matches!(l.set_on_hand(pid(1), units(1)), Err(InventoryError::BelowReserved { reserved: 2, .. })));
        let first = l.commit(rid(1)).unwrap();
        assert_eq!(l.commit(rid(1)).unwrap(), first);
        assert_eq!((first.levels[0].on_hand, first.levels[0].reserved), (3, 0));
        assert!(matches!(l.release(rid(1)), Err(InventoryError::InvalidTransition { .. })));

        l.reserve(&req(2, vec![line(1, 3)])).unwrap();
        l.release(rid(2)).unwrap();
        l.release(rid(2)).unwrap();
        assert_eq!(l.stock(pid(1)).unwrap().available(), 3);
        assert!(matches!(l.commit(rid(2)), Err(InventoryError::InvalidTransition { .. })));
    }

    #[test]
    fn release_before_reserve_leaves_a_tombstone() {
        let mut l = Ledger::new();
        l.set_on_hand(pid(1), units(5)).unwrap();
        l.release(rid(7)).unwrap();
        let late = l.reserve(&req(7, vec![line(1, 2)])).unwrap();
        assert_eq!(late.reservation.state, ReservationState::Released);
        assert_eq!(l.stock(pid(1)).unwrap().reserved, 0);
    }

    #[test]
    fn expiry_releases_only_due_reservations() {
        let mut l = Ledger::new();
        l.set_on_hand(pid(1), units(5)).unwrap();
        l.reserve(&req(1, vec![line(1, 1)])).unwrap();
        let later = ReservationRequest::new(rid(2), vec![line(1, 1)], Timestamp::from_unix_micros(500)).unwrap();
        l.reserve(&later).unwrap();
        let expired = l.expire(Timestamp::from_unix_micros(100), 10);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].reservation.state, ReservationState::Expired);
        assert_eq!(l.stock(pid(1)).unwrap().reserved, 1);
    }

    #[test]
    fn restocks_apply_once_and_never_out_of_order() {
        let mut l = Ledger::new();
        let first = l.restock(pid(1), units(5), 1).unwrap();
        assert!(matches!(first, RestockOutcome::Applied(StockLevel { on_hand: 5, version: 1, .. })));
        assert!(
            matches!(l.restock(pid(1), units(5), 1).unwrap(), RestockOutcome::Stale { applied: 1, .. }),
            "redelivered"
        );
        assert!(matches!(
            l.restock(pid(1), units(9), 3).unwrap(),
            RestockOutcome::Applied(StockLevel { on_hand: 9, .. })
        ));
        let overtaken = l.restock(pid(1), units(7), 2).unwrap();
        assert!(matches!(overtaken, RestockOutcome::Stale { applied: 3, level: StockLevel { on_hand: 9, .. } }));
        assert_eq!(l.stock(pid(1)).unwrap().on_hand, 9);

        l.reserve(&req(1, vec![line(1, 4)])).unwrap();
        assert!(matches!(l.restock(pid(1), units(3), 4), Err(InventoryError::BelowReserved { reserved: 4, .. })));
        // A refused restock is not recorded: a corrected one with a later number applies.
        assert!(matches!(
            l.restock(pid(1), units(6), 5).unwrap(),
            RestockOutcome::Applied(StockLevel { on_hand: 6, .. })
        ));
    }

    #[test]
    fn returns_add_to_on_hand_once() {
        let mut l = Ledger::new();
        l.set_on_hand(pid(1), units(5)).unwrap();
        l.reserve(&req(1, vec![line(1, 2)])).unwrap();
        l.commit(rid(1)).unwrap();
        let back = StockReturn::new(rid(2), vec![line(1, 2)]).unwrap();
        let first = l.restore(&back).unwrap();
        assert_eq!((first.levels[0].on_hand, first.reservation.state), (5, ReservationState::Returned));
        assert_eq!(l.restore(&back).unwrap(), first, "a retry applies nothing");
        assert_eq!(l.stock(pid(1)).unwrap().on_hand, 5);
        let other = StockReturn::new(rid(2), vec![line(1, 1)]).unwrap();
        assert_eq!(l.restore(&other).unwrap_err(), InventoryError::ReservationMismatch(rid(2)));
        let hold = StockReturn::new(rid(1), vec![line(1, 2)]).unwrap();
        assert!(matches!(l.restore(&hold), Err(InventoryError::InvalidTransition { .. })), "a hold is no return");
        let unknown = StockReturn::new(rid(3), vec![line(1, 1), line(9, 1)]).unwrap();
        assert_eq!(l.restore(&unknown).unwrap_err(), InventoryError::UnknownProduct(pid(9)));
        assert_eq!(l.stock(pid(1)).unwrap().on_hand, 5, "a refused return changes nothing");
        assert!(matches!(l.commit(rid(2)), Err(InventoryError::InvalidTransition { .. })));
        assert!(matches!(l.release(rid(2)), Ok(r) if r.reservation.state == ReservationState::Returned));
    }

    #[test]
    fn requests_are_validated() {
        assert!(Quantity::new(0).is_err());
        assert!(ReservationRequest::new(rid(1), vec![], Timestamp::EPOCH).is_err());
        assert!(ReservationRequest::new(rid(1), vec![line(1, 1), line(1, 2)], Timestamp::EPOCH).is_err());
        let mut l = Ledger::new();
        assert_eq!(l.reserve(&req(1, vec![line(3, 1)])).unwrap_err(), InventoryError::UnknownProduct(pid(3)));
    }
}
