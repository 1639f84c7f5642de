//! The gRPC client: an `InventoryStore` backed by the inventory service.

use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    ProductId, ReservationId, Timestamp,
    inventory::{InventoryError, InventoryReceipt, OnHand, ReservationRequest, StockLevel, StockReturn},
    ports::InventoryStore,
};
use tonic::{Code, Request, transport::Channel};

use crate::{
    ClientTls,
    convert::{error_of, level_from_pb, lines_to_pb, receipt_from_pb},
    pb::{self, inventory_service_client::InventoryServiceClient},
};

/// The inventory service as an inventory store.
#[derive(Debug, Clone)]
pub struct GrpcInventoryClient {
    client: InventoryServiceClient<Channel>,
    token: Option<String>,
    deadline: Duration,
    attempts: u32,
}

impl GrpcInventoryClient {
    /// A client of the service at `url` (e.g. `http://127.0.0.1:50051`), connecting lazily.
    /// `token` is the service token every call but the reads needs; a client that only
    /// reads stock may go without.
    pub fn connect_lazy(url: &str, token: Option<String>) -> Result<Self, InventoryError> {
        Self::connect_lazy_with(url, token, None)
    }

    /// [`GrpcInventoryClient::connect_lazy`] over TLS when `tls` is given (an `https://`
    /// URL): the server's certificate must chain to `tls.ca_pem`, and the client presents
    /// `tls.identity` when the server asks for one.
    pub fn connect_lazy_with(
        url: &str,
        token: Option<String>,
        tls: Option<&ClientTls>,
    ) -> Result<Self, InventoryError> {
        let mut endpoint = Channel::from_shared(url.to_owned())
            .map_err(|e| InventoryError::InvalidRequest(format!("bad inventory service URL: {e}")))?
            .connect_timeout(Duration::from_secs(2));
        if let Some(tls) = tls {
            endpoint = endpoint
                .tls_config(tls.config())
                .map_err(|e| InventoryError::InvalidRequest(format!("inventory TLS settings: {e}")))?;
        }
        let channel = endpoint.connect_lazy();
        Ok(Self { client: InventoryServiceClient::new(channel), token, deadline: Duration::from_secs(2), attempts: 3 })
    }

    /// Attempts per idempotent call (default 3; 1 disables retries).
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Per-call deadline (default 2 s).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// `Ok` when the service accepts this client's token; [`InventoryError::Unauthorized`]
    /// when it does not (or none is configured), `Unavailable` when it cannot be reached.
    /// Readiness probes call it, so a misconfigured token shows before the first request.
    pub async fn check_access(&self) -> Result<(), InventoryError> {
        if self.token.is_none() {
            return Err(InventoryError::Unauthorized("no service token is configured".into()));
        }
        let request = self.request(pb::CheckAccessRequest {}, true);
        self.client.clone().check_access(request).await.map(|_| ()).map_err(|s| error_of(&s))
    }

    fn request<T>(&self, message: T, authorized: bool) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.deadline);
        // The caller's trace continues in the inventory service.
        if let Some(value) = commerce_telemetry::current_traceparent().and_then(|v| v.parse().ok()) {
            request.metadata_mut().insert(commerce_telemetry::TRACEPARENT, value);
        }
        if authorized
            && let Some(token) = &self.token
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    /// Runs an idempotent call, retrying on UNAVAILABLE (the server never saw it, or its
    /// answer was lost: either way the retry returns the first outcome).
    async fn idempotent<T, F, Fut>(&self, mut call: F) -> Result<T, InventoryError>
    where
        F: FnMut(InventoryServiceClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut wait = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            match call(self.client.clone()).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if s.code() == Code::Unavailable && attempt < self.attempts => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                Err(s) => return Err(error_of(&s)),
            }
        }
    }
}

#[async_trait]
impl InventoryStore for GrpcInventoryClient {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        let ids: Vec<String> = products.iter().map(ToString::to_string).collect();
        let reply = self
            .idempotent(|mut c| {
                let r = self.request(pb::BatchGetStockRequest { product_ids: ids.clone() }, false);
                async move { c.batch_get_stock(r).await }
            })
            .await?;
        reply.levels.iter().map(level_from_pb).collect()
    }

    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        let reply = self
            .idempotent(|mut c| {
                let r = self
                    .request(pb::SetOnHandRequest { product_id: product.to_string(), on_hand: on_hand.get() }, true);
                async move { c.set_on_hand(r).await }
            })
            .await?;
        level_from_pb(&reply)
    }

    async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        let message = pb::ReserveRequest {
            reservation_id: request.id().to_string(),
            lines: lines_to_pb(request.lines()),
            expires_at_unix_micros: request.expires_at().unix_micros(),
        };
        let reply = self
            .idempotent(|mut c| {
                let r = self.request(message.clone(), true);
                async move { c.reserve(r).await }
            })
            .await?;
        receipt_from_pb(&reply)
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let reply = self
            .idempotent(|mut c| {
                let r = self.request(pb::ReservationRef { reservation_id: id.to_string() }, true);
                async move { c.commit(r).await }
            })
            .await?;
        receipt_from_pb(&reply)
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        let reply = self
            .idempotent(|mut c| {
                let r = self.request(pb::ReservationRef { reservation_id: id.to_string() }, true);
                async move { c.release(r).await }
            })
            .await?;
        receipt_from_pb(&reply)
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        // Not retried: a second call after a lost answer would expire other reservations.
        let message =
            pb::ExpireRequest { now_unix_micros: now.unix_micros(), limit: u32::try_from(limit).unwrap_or(u32::MAX) };
        let reply = self.client.clone().expire(self.request(message, true)).await.map_err(|s| error_of(&s))?;
        reply.into_inner().expired.iter().map(receipt_from_pb).collect()
    }

    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        let message =
            pb::RestoreRequest { reservation_id: request.id().to_string(), lines: lines_to_pb(request.lines()) };
        let reply = self
            .idempotent(|mut c| {
                let r = self.request(message.clone(), true);
                async move { c.restore(r).await }
            })
            .await?;
        receipt_from_pb(&reply)
    }
}
