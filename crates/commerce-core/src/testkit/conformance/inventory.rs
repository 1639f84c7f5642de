//! Conformance suite for [`InventoryStore`], including the model-based check:
//! random operation sequences run against the adapter and against the reference
//! [`Ledger`] must give the same answers, and the stock invariants must hold
//! after every step.

use std::{collections::HashMap, future::Future};

use proptest::{collection::vec, prelude::*};
use uuid::Uuid;

use crate::{
    ids::{ProductId, ReservationId},
    inventory::{
        InventoryError, InventoryReceipt, Ledger, OnHand, Quantity, ReservationLine, ReservationRequest,
        ReservationState, StockReturn,
    },
    ports::InventoryStore,
    testkit::units,
    timestamp::Timestamp,
};

/// Product number `n` of a test (ids are namespaced by `ns` so tests can share a store).
pub fn product(ns: u64, n: u8) -> ProductId {
    ProductId::from_uuid(Uuid::from_u64_pair(ns, u64::from(n)))
}

/// Reservation number `n` of a test.
pub fn reservation(ns: u64, n: u8) -> ReservationId {
    ReservationId::from_uuid(Uuid::from_u64_pair(ns | 1 << 63, u64::from(n)))
}

/// One step of the model-based test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryOp {
    /// `set_on_hand(product, on_hand)`.
    SetOnHand(u8, OnHand),
    /// `reserve(reservation, lines)` expiring `ttl` seconds from now.
    Reserve(u8, Vec<(u8, u32)>, i64),
    /// `commit(reservation)`.
    Commit(u8),
    /// `release(reservation)`.
    Release(u8),
    /// Advance time by the given seconds, then `expire(now)`.
    Expire(i64),
    /// `restore(id, lines)`: units come back to stock.
    Restore(u8, Vec<(u8, u32)>),
}

/// Random operation sequences over 4 products and 6 reservation ids; the flag asks
/// for an immediate retry of the same operation.
pub fn inventory_ops() -> impl Strategy<Value = Vec<(InventoryOp, bool)>> {
    let op = prop_oneof![
        2 => (0..4_u8, 0..12_u64).prop_map(|(p, n)| InventoryOp::SetOnHand(p, units(n))),
        4 => (0..6_u8, proptest::sample::subsequence(vec![0_u8, 1, 2, 3], 1..=3), vec(1..=4_u32, 3), 1..=60_i64)
            .prop_map(|(r, ps, qs, ttl)| InventoryOp::Reserve(r, ps.into_iter().zip(qs).collect(), ttl)),
        2 => (0..6_u8).prop_map(InventoryOp::Commit),
        2 => (0..6_u8).prop_map(InventoryOp::Release),
        1 => (0..40_i64).prop_map(InventoryOp::Expire),
        1 => (0..6_u8, proptest::sample::subsequence(vec![0_u8, 1, 2, 3], 1..=2), vec(1..=4_u32, 2))
            .prop_map(|(r, ps, qs)| InventoryOp::Restore(r, ps.into_iter().zip(qs).collect())),
    ];
    vec((op, proptest::bool::weighted(0.25)), 1..40)
}

enum Outcome {
    Set(Result<crate::inventory::StockLevel, InventoryError>),
    One(Result<InventoryReceipt, InventoryError>),
    Many(Result<Vec<InventoryReceipt>, InventoryError>),
}

impl Outcome {
    fn normalized(self) -> String {
        match self {
            Self::Set(r) => format!("{r:?}"),
            Self::One(r) => format!("{r:?}"),
            Self::Many(r) => format!(
                "{:?}",
                r.map(|mut v| {
                    v.sort_by_key(|x| x.reservation.id);
                    v
                })
            ),
        }
    }
}

/// Runs `ops` against `store` and against a fresh [`Ledger`], asserting equal
/// results, then checks the invariants: available never negative, no unit
/// created or lost (`on_hand` = last set value - units committed since + units
/// returned since), reserved
/// = sum of active reservations, and retries change nothing.
pub async fn check_model<S: InventoryStore>(store: &S, ns: u64, ops: &[(InventoryOp, bool)]) {
    let mut model = Ledger::new();
    let mut now = Timestamp::from_unix_micros(1_767_225_600_000_000);
    let mut last_set: HashMap<u8, u64> = HashMap::new();
    let mut committed_since_set: HashMap<u8, u64> = HashMap::new();
    let mut returned_since_set: HashMap<u8, u64> = HashMap::new();
    for (step, (op, retry)) in ops.iter().enumerate() {
        if let InventoryOp::Expire(secs) = op {
            now = now.plus_seconds(*secs);
        }
        for attempt in 0..=usize::from(*retry) {
            let before = snapshot(store, ns).await;
            let was_active =
                |r: &u8| model.reservation(reservation(ns, *r)).map(|x| x.state) == Some(ReservationState::Active);
            let commit_takes_units = matches!(op, InventoryOp::Commit(r) if was_active(r));
            let restore_adds_units =
                matches!(op, InventoryOp::Restore(r, _) if model.reservation(reservation(ns, *r)).is_none());
            let (got, want) = apply(store, &mut model, ns, op, now).await;
            let got_str = got.normalized();
            assert_eq!(
                got_str,
                want.normalized(),
                "step {step} ({op:?}, attempt {attempt}) differs from the reference ledger"
            );
            if attempt == 0 {
                if let InventoryOp::SetOnHand(p, n) = op
                    && !got_str.starts_with("Err")
                {
                    last_set.insert(*p, n.get());
                    committed_since_set.insert(*p, 0);
                    returned_since_set.insert(*p, 0);
                }
                if let InventoryOp::Restore(_, lines) = op
                    && restore_adds_units
                    && got_str.starts_with("Ok")
                {
                    for (p, q) in lines {
                        *returned_since_set.entry(*p).or_default() += u64::from(*q);
                    }
                }
                if let InventoryOp::Commit(r) = op
                    && commit_takes_units
                    && got_str.starts_with("Ok")
                {
                    for line in model.reservation(reservation(ns, *r)).map(|x| x.lines.clone()).unwrap_or_default() {
                        let p = (0..4).find(|n| product(ns, *n) == line.product_id).unwrap_or(u8::MAX);
                        *committed_since_set.entry(p).or_default() += u64::from(line.quantity.get());
                    }
                }
            } else {
                assert_eq!(snapshot(store, ns).await, before, "step {step}: retrying {op:?} changed stock");
            }
        }
        let levels = snapshot(store, ns).await;
        for (p, (on_hand, reserved)) in &levels {
            assert!(on_hand >= reserved, "step {step}: available went negative for product {p}");
            let expected_on_hand = last_set.get(p).copied().unwrap_or(0)
                + returned_since_set.get(p).copied().unwrap_or(0)
                - committed_since_set.get(p).copied().unwrap_or(0);
            assert_eq!(*on_hand, expected_on_hand, "step {step}: units created or lost for product {p}");
            // The adapter answered exactly like the ledger so far, so the ledger's
            // reservation states are the adapter's too.
            let held: u64 = (0..6)
                .filter_map(|r| model.reservation(reservation(ns, r)))
                .filter(|x| x.state == ReservationState::Active)
                .flat_map(|x| &x.lines)
                .filter(|l| l.product_id == product(ns, *p))
                .map(|l| u64::from(l.quantity.get()))
                .sum();
            assert_eq!(*reserved, held, "step {step}: reserved differs from active reservations for product {p}");
        }
    }
}

/// On-hand and reserved units per product number.
async fn snapshot<S: InventoryStore>(store: &S, ns: u64) -> HashMap<u8, (u64, u64)> {
    let ids: Vec<_> = (0..4).map(|n| product(ns, n)).collect();
    let levels = store.stock(&ids).await.unwrap_or_else(|e| panic!("stock: {e}"));
    (0..4_u8)
        .filter_map(|n| levels.iter().find(|l| l.product_id == product(ns, n)).map(|l| (n, (l.on_hand, l.reserved))))
        .collect()
}

async fn apply<S: InventoryStore>(
    store: &S,
    model: &mut Ledger,
    ns: u64,
    op: &InventoryOp,
    now: Timestamp,
) -> (Outcome, Outcome) {
    let lines_of = |lines: &[(u8, u32)]| -> Vec<ReservationLine> {
        lines
            .iter()
            .map(|(p, q)| ReservationLine {
                product_id: product(ns, *p),
                quantity: Quantity::new(*q).unwrap_or_else(|_| unreachable!()),
            })
            .collect()
    };
    match op {
        InventoryOp::SetOnHand(p, n) => (
            Outcome::Set(store.set_on_hand(product(ns, *p), *n).await),
            Outcome::Set(model.set_on_hand(product(ns, *p), *n)),
        ),
        InventoryOp::Reserve(r, lines, ttl) => {
            match ReservationRequest::new(reservation(ns, *r), lines_of(lines), now.plus_seconds(*ttl)) {
                Ok(req) => (Outcome::One(store.reserve(&req).await), Outcome::One(model.reserve(&req))),
                Err(e) => (Outcome::One(Err(e.clone())), Outcome::One(Err(e))),
            }
        }
        InventoryOp::Commit(r) => {
            (Outcome::One(store.commit(reservation(ns, *r)).await), Outcome::One(model.commit(reservation(ns, *r))))
        }
        InventoryOp::Release(r) => {
            (Outcome::One(store.release(reservation(ns, *r)).await), Outcome::One(model.release(reservation(ns, *r))))
        }
        InventoryOp::Expire(_) => {
            (Outcome::Many(store.expire(now, 1000).await), Outcome::Many(Ok(model.expire(now, 1000))))
        }
        InventoryOp::Restore(r, lines) => match StockReturn::new(reservation(ns, *r), lines_of(lines)) {
            Ok(back) => (Outcome::One(store.restore(&back).await), Outcome::One(model.restore(&back))),
            Err(e) => (Outcome::One(Err(e.clone())), Outcome::One(Err(e))),
        },
    }
}

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: InventoryStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    use InventoryOp::{Commit, Expire, Release, Reserve, Restore, SetOnHand};
    let scripted: &[(&str, Vec<InventoryOp>)] = &[
        (
            "all_or_nothing",
            vec![
                SetOnHand(0, units(5)),
                SetOnHand(1, units(1)),
                Reserve(0, vec![(0, 3), (1, 2)], 60),
                Reserve(1, vec![(0, 5)], 60),
            ],
        ),
        (
            "refusal_is_remembered",
            vec![
                SetOnHand(0, units(1)),
                Reserve(0, vec![(0, 2)], 60),
                SetOnHand(0, units(9)),
                Reserve(0, vec![(0, 2)], 60),
            ],
        ),
        ("unknown_product", vec![Reserve(0, vec![(3, 1)], 60)]),
        (
            "commit_is_idempotent",
            vec![SetOnHand(0, units(5)), Reserve(0, vec![(0, 2)], 60), Commit(0), Commit(0), Release(0)],
        ),
        (
            "release_is_idempotent",
            vec![SetOnHand(0, units(5)), Reserve(0, vec![(0, 2)], 60), Release(0), Release(0), Commit(0)],
        ),
        ("release_fences_a_late_reserve", vec![SetOnHand(0, units(5)), Release(2), Reserve(2, vec![(0, 2)], 60)]),
        ("mismatched_retry", vec![SetOnHand(0, units(5)), Reserve(0, vec![(0, 2)], 60), Reserve(0, vec![(0, 3)], 60)]),
        (
            "below_reserved",
            vec![SetOnHand(0, units(5)), Reserve(0, vec![(0, 4)], 60), SetOnHand(0, units(3)), SetOnHand(0, units(4))],
        ),
        (
            "expiry",
            vec![
                SetOnHand(0, units(5)),
                Reserve(0, vec![(0, 1)], 10),
                Reserve(1, vec![(0, 1)], 100),
                Expire(10),
                Commit(0),
                Expire(200),
                Commit(1),
            ],
        ),
        ("unknown_reservation", vec![Commit(5)]),
        (
            "returns_apply_once",
            vec![
                SetOnHand(0, units(5)),
                Reserve(0, vec![(0, 2), (1, 1)], 60),
                SetOnHand(1, units(3)),
                Reserve(0, vec![(0, 2)], 60),
                Commit(0),
                Restore(1, vec![(0, 2)]),
                Restore(1, vec![(0, 1)]),
                Restore(0, vec![(0, 2)]),
                Restore(2, vec![(0, 1), (2, 1)]),
                Commit(1),
                Release(1),
            ],
        ),
    ];
    for (i, (name, ops)) in scripted.iter().enumerate() {
        let ops: Vec<_> = ops.iter().map(|o| (o.clone(), true)).collect();
        let store = make().await;
        let ns = 0xC0DE_0000 + i as u64;
        // Panics inside name the step; this line names the case.
        let _case = CaseName(name);
        check_model(&store, ns, &ops).await;
    }
    concurrent_reserves_never_oversell(&make().await).await;
    concurrent_calls_with_one_reservation_id(&make().await).await;
    concurrent_returns_with_one_id(&make().await).await;
}

/// Prints the case name if the case panics.
struct CaseName<'a>(&'a str);

impl Drop for CaseName<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            #[allow(clippy::print_stderr, reason = "names the failing conformance case")]
            {
                eprintln!("inventory conformance case failed: {}", self.0);
            }
        }
    }
}

async fn concurrent_reserves_never_oversell<S: InventoryStore>(s: &S) {
    let ns = 0xC0DE_FFFF;
    let p = product(ns, 0);
    s.set_on_hand(p, units(10)).await.unwrap_or_else(|e| panic!("set: {e}"));
    let at = Timestamp::from_unix_micros(i64::MAX / 2);
    let attempts = (0..40_u8).map(|r| {
        let req = ReservationRequest::new(
            reservation(ns, r),
            vec![ReservationLine { product_id: p, quantity: Quantity::new(1).unwrap_or_else(|_| unreachable!()) }],
            at,
        );
        async move { s.reserve(&req.unwrap_or_else(|e| panic!("{e}"))).await }
    });
    let results = futures::future::join_all(attempts).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 10, "exactly the units on hand are reserved under contention");
    let level = s.stock(&[p]).await.unwrap_or_else(|e| panic!("stock: {e}"));
    assert_eq!((level[0].on_hand, level[0].reserved), (10, 10));
}

/// Retries race: a client whose first call timed out calls again while the first is still
/// running, so calls with one reservation id arrive together. They must act once: every
/// reserve answers the one outcome (never an Active reservation overwritten by a
/// Rejected replay, never units counted twice), and a release racing a reserve leaves
/// nothing held whichever runs first.
async fn concurrent_calls_with_one_reservation_id<S: InventoryStore>(s: &S) {
    let ns = 0xC0DE_EEEE;
    let p = product(ns, 0);
    let at = Timestamp::from_unix_micros(i64::MAX / 2);
    let request = |r: u8, quantity: u32| {
        ReservationRequest::new(
            reservation(ns, r),
            vec![ReservationLine {
                product_id: p,
                quantity: Quantity::new(quantity).unwrap_or_else(|_| unreachable!()),
            }],
            at,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };

    // Exactly the units on hand, asked for eight times at once under one id.
    s.set_on_hand(p, units(2)).await.unwrap_or_else(|e| panic!("set: {e}"));
    let same = request(0, 2);
    let results = futures::future::join_all((0..8).map(|_| s.reserve(&same))).await;
    for r in &results {
        let receipt = r.as_ref().unwrap_or_else(|e| panic!("a retry replays the reservation, got {e}"));
        assert_eq!(receipt.reservation.state, ReservationState::Active, "never overwritten by a refusal");
    }
    let level = level_of(s, p).await;
    assert_eq!((level.on_hand, level.reserved), (2, 2), "held once");

    // A release racing its reserve: whichever runs first, nothing stays held.
    s.set_on_hand(p, units(10)).await.unwrap_or_else(|e| panic!("set: {e}"));
    for r in 1..=6_u8 {
        let reserve = request(r, 3);
        let reserving = async { s.reserve(&reserve).await.map(|_| ()) };
        let releasing = async { s.release(reservation(ns, r)).await.map(|_| ()) };
        let (_, released) = futures::future::join(reserving, releasing).await;
        released.unwrap_or_else(|e| panic!("release: {e}"));
        // A later retry of the reserve finds the release (a tombstone or the released reservation).
        let _ = s.reserve(&reserve).await;
        assert_eq!(level_of(s, p).await.reserved, 2, "round {r}: only the first reservation holds units");
    }
}

async fn level_of<S: InventoryStore>(s: &S, p: ProductId) -> crate::inventory::StockLevel {
    s.stock(&[p]).await.unwrap_or_else(|e| panic!("stock: {e}"))[0]
}

/// A refund's restock retried while its first call still runs: the units come back once.
async fn concurrent_returns_with_one_id<S: InventoryStore>(s: &S) {
    let ns = 0xC0DE_DDDD;
    let p = product(ns, 0);
    s.set_on_hand(p, units(3)).await.unwrap_or_else(|e| panic!("set: {e}"));
    let line = ReservationLine { product_id: p, quantity: Quantity::new(2).unwrap_or_else(|_| unreachable!()) };
    let back = StockReturn::new(reservation(ns, 0), vec![line]).unwrap_or_else(|e| panic!("{e}"));
    let results = futures::future::join_all((0..8).map(|_| s.restore(&back))).await;
    for r in &results {
        let receipt = r.as_ref().unwrap_or_else(|e| panic!("a retry replays the return, got {e}"));
        assert_eq!(receipt.reservation.state, ReservationState::Returned);
    }
    assert_eq!(level_of(s, p).await.on_hand, 5, "returned once");
}
