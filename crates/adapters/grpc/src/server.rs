//! The gRPC server over any inventory store.

use std::sync::Arc;

use std::time::Duration;

use commerce_core::{
    Timestamp,
    credential::BearerToken,
    inventory::{InventoryError, ReservationRequest, StockReturn},
    ports::{Clock, InventoryStore},
};
use tonic::{Request, Response, Status};

use crate::{
    convert::{level_to_pb, lines_from_pb, on_hand, product, receipt_to_pb, reservation_id, status_of},
    pb::{self, inventory_service_server::InventoryService},
};

/// Serves `InventoryService` over a store. Reads are open; every other call needs the
/// service token.
pub struct InventoryGrpcServer {
    store: Arc<dyn InventoryStore>,
    token: BearerToken,
    clock: Arc<dyn Clock>,
    max_reservation_ttl: Duration,
}

impl InventoryGrpcServer {
    /// The longest a reservation may hold stock unless [`Self::with_max_reservation_ttl`]
    /// says otherwise: far above a checkout's needs, far below "forever".
    pub const DEFAULT_MAX_RESERVATION_TTL: Duration = Duration::from_secs(3600);

    /// A server over `store` whose mutating calls require `token`; `clock` caps reservation
    /// deadlines and expiry times.
    pub fn new(store: Arc<dyn InventoryStore>, token: BearerToken, clock: Arc<dyn Clock>) -> Self {
        Self { store, token, clock, max_reservation_ttl: Self::DEFAULT_MAX_RESERVATION_TTL }
    }

    /// Caps every reservation's deadline at `ttl` from the server's now.
    #[must_use]
    pub fn with_max_reservation_ttl(mut self, ttl: Duration) -> Self {
        self.max_reservation_ttl = ttl;
        self
    }

    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match given {
            Some(token) if self.token.accepts(token) => Ok(()),
            _ => Err(Status::unauthenticated("this call requires the service's bearer token")),
        }
    }

    /// The latest deadline a reservation made now may have.
    fn latest_deadline(&self) -> Timestamp {
        let ttl = i64::try_from(self.max_reservation_ttl.as_secs()).unwrap_or(i64::MAX);
        self.clock.now().plus_seconds(ttl)
    }
}

fn invalid(e: &InventoryError) -> Status {
    status_of(e)
}

#[tonic::async_trait]
impl InventoryService for InventoryGrpcServer {
    async fn get_stock(&self, request: Request<pb::GetStockRequest>) -> Result<Response<pb::StockLevel>, Status> {
        let id = product(&request.get_ref().product_id).map_err(|e| invalid(&e))?;
        let levels = self.store.stock(&[id]).await.map_err(|e| status_of(&e))?;
        let level = levels.first().ok_or_else(|| status_of(&InventoryError::UnknownProduct(id)))?;
        Ok(Response::new(level_to_pb(level)))
    }

    async fn batch_get_stock(
        &self,
        request: Request<pb::BatchGetStockRequest>,
    ) -> Result<Response<pb::BatchGetStockResponse>, Status> {
        if request.get_ref().product_ids.len() > 1000 {
            return Err(Status::invalid_argument("at most 1,000 products per call"));
        }
        let ids = request
            .get_ref()
            .product_ids
            .iter()
            .map(|p| product(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(&e))?;
        let levels = self.store.stock(&ids).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(pb::BatchGetStockResponse { levels: levels.iter().map(level_to_pb).collect() }))
    }

    async fn reserve(&self, request: Request<pb::ReserveRequest>) -> Result<Response<pb::ReservationReceipt>, Status> {
        self.authorize(&request)?;
        let r = request.get_ref();
        let id = reservation_id(&r.reservation_id).map_err(|e| invalid(&e))?;
        let lines = lines_from_pb(&r.lines).map_err(|e| invalid(&e))?;
        let expires_at = Timestamp::from_unix_micros(r.expires_at_unix_micros).min(self.latest_deadline());
        let request = ReservationRequest::new(id, lines, expires_at).map_err(|e| invalid(&e))?;
        let receipt = self.store.reserve(&request).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(receipt_to_pb(&receipt)))
    }

    async fn commit(&self, request: Request<pb::ReservationRef>) -> Result<Response<pb::ReservationReceipt>, Status> {
        self.authorize(&request)?;
        let id = reservation_id(&request.get_ref().reservation_id).map_err(|e| invalid(&e))?;
        let receipt = self.store.commit(id).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(receipt_to_pb(&receipt)))
    }

    async fn release(&self, request: Request<pb::ReservationRef>) -> Result<Response<pb::ReservationReceipt>, Status> {
        self.authorize(&request)?;
        let id = reservation_id(&request.get_ref().reservation_id).map_err(|e| invalid(&e))?;
        let receipt = self.store.release(id).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(receipt_to_pb(&receipt)))
    }

    async fn restore(&self, request: Request<pb::RestoreRequest>) -> Result<Response<pb::ReservationReceipt>, Status> {
        self.authorize(&request)?;
        let r = request.get_ref();
        let id = reservation_id(&r.reservation_id).map_err(|e| invalid(&e))?;
        let lines = lines_from_pb(&r.lines).map_err(|e| invalid(&e))?;
        let request = StockReturn::new(id, lines).map_err(|e| invalid(&e))?;
        let receipt = self.store.restore(&request).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(receipt_to_pb(&receipt)))
    }

    async fn set_on_hand(&self, request: Request<pb::SetOnHandRequest>) -> Result<Response<pb::StockLevel>, Status> {
        self.authorize(&request)?;
        let id = product(&request.get_ref().product_id).map_err(|e| invalid(&e))?;
        let units = on_hand(request.get_ref().on_hand).map_err(|e| invalid(&e))?;
        let level = self.store.set_on_hand(id, units).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(level_to_pb(&level)))
    }

    async fn expire(&self, request: Request<pb::ExpireRequest>) -> Result<Response<pb::ExpireResponse>, Status> {
        self.authorize(&request)?;
        let r = request.get_ref();
        let limit = usize::try_from(r.limit.clamp(1, 10_000)).unwrap_or(1);
        // A caller's clock may run ahead; reservations expire by this server's time at the latest.
        let now = Timestamp::from_unix_micros(r.now_unix_micros).min(self.clock.now());
        let expired = self.store.expire(now, limit).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(pb::ExpireResponse { expired: expired.iter().map(receipt_to_pb).collect() }))
    }

    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        self.authorize(&request)?;
        Ok(Response::new(pb::CheckAccessResponse {}))
    }
}

/// The inventory service with the standard health service (`grpc.health.v1`, reporting
/// SERVING) and server reflection (`grpc.reflection.v1` and `v1alpha`), ready to serve.
pub async fn server_router(
    server: InventoryGrpcServer,
) -> Result<tonic::service::Routes, Box<dyn std::error::Error + Send + Sync>> {
    server_router_with_health(server).await.map(|(routes, _)| routes)
}

/// What `grpc.health.v1` reports for the inventory service: its name and the server as a
/// whole (the empty name) move together.
#[derive(Clone)]
pub struct Health(tonic_health::server::HealthReporter);

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").finish_non_exhaustive()
    }
}

impl Health {
    /// Reports SERVING, or NOT_SERVING (a dependency is down: clients and load balancers
    /// send their calls elsewhere).
    pub async fn set(&self, serving: bool) {
        use tonic_health::ServingStatus;
        type Service = pb::inventory_service_server::InventoryServiceServer<InventoryGrpcServer>;
        let status = if serving { ServingStatus::Serving } else { ServingStatus::NotServing };
        if serving {
            self.0.set_serving::<Service>().await;
        } else {
            self.0.set_not_serving::<Service>().await;
        }
        self.0.set_service_status("", status).await;
    }
}

/// [`server_router`], and the handle that changes what its health service reports.
pub async fn server_router_with_health(
    server: InventoryGrpcServer,
) -> Result<(tonic::service::Routes, Health), Box<dyn std::error::Error + Send + Sync>> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reporter = Health(reporter);
    reporter.set(true).await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Both reflection versions: grpcurl speaks v1, many client libraries still v1alpha.
    let routes = tonic::service::Routes::new(pb::inventory_service_server::InventoryServiceServer::new(server))
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);
    Ok((routes, reporter))
}

/// The span of one call: its method, and the caller's trace continued from the
/// `traceparent` metadata.
fn call_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    let span = tracing::info_span!("grpc", method = %request.uri().path(), trace_id = tracing::field::Empty);
    commerce_telemetry::continue_from_headers(&span, request.headers());
    span
}

/// Serves `routes` on `listener` until `shutdown` resolves.
pub async fn serve(
    routes: tonic::service::Routes,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .trace_fn(call_span)
        .add_routes(routes)
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}

/// [`serve`] over TLS (`https://` for clients), requiring client certificates when
/// `tls.client_ca_pem` is set.
pub async fn serve_tls(
    routes: tonic::service::Routes,
    listener: tokio::net::TcpListener,
    tls: &crate::ServerTls,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .trace_fn(call_span)
        .tls_config(tls.config())?
        .add_routes(routes)
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}
