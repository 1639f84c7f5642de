//! The gRPC server over any inventory store.

use std::sync::Arc;

use commerce_core::{
    Timestamp,
    inventory::{InventoryError, ReservationRequest},
    ports::InventoryStore,
};
use subtle::ConstantTimeEq;
use tonic::{Request, Response, Status};

use crate::{
    convert::{level_to_pb, lines_from_pb, on_hand, product, receipt_to_pb, reservation_id, status_of},
    pb::{self, inventory_service_server::InventoryService},
};

/// Serves `InventoryService` over a store. `SetOnHand` and `Expire` need the admin token.
pub struct InventoryGrpcServer {
    store: Arc<dyn InventoryStore>,
    admin_token: Arc<str>,
}

impl InventoryGrpcServer {
    /// A server over `store`; mutations of on-hand counts require `admin_token`.
    pub fn new(store: Arc<dyn InventoryStore>, admin_token: impl Into<Arc<str>>) -> Self {
        Self { store, admin_token: admin_token.into() }
    }

    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(self.admin_token.as_bytes())) && !given.is_empty() {
            Ok(())
        } else {
            Err(Status::unauthenticated("a bearer token is required"))
        }
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
        let r = request.get_ref();
        let id = reservation_id(&r.reservation_id).map_err(|e| invalid(&e))?;
        let lines = lines_from_pb(&r.lines).map_err(|e| invalid(&e))?;
        let request = ReservationRequest::new(id, lines, Timestamp::from_unix_micros(r.expires_at_unix_micros))
            .map_err(|e| invalid(&e))?;
        let receipt = self.store.reserve(&request).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(receipt_to_pb(&receipt)))
    }

    async fn commit(&self, request: Request<pb::ReservationRef>) -> Result<Response<pb::ReservationReceipt>, Status> {
        let id = reservation_id(&request.get_ref().reservation_id).map_err(|e| invalid(&e))?;
        let receipt = self.store.commit(id).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(receipt_to_pb(&receipt)))
    }

    async fn release(&self, request: Request<pb::ReservationRef>) -> Result<Response<pb::ReservationReceipt>, Status> {
        let id = reservation_id(&request.get_ref().reservation_id).map_err(|e| invalid(&e))?;
        let receipt = self.store.release(id).await.map_err(|e| status_of(&e))?;
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
        let expired = self
            .store
            .expire(Timestamp::from_unix_micros(r.now_unix_micros), limit)
            .await
            .map_err(|e| status_of(&e))?;
        Ok(Response::new(pb::ExpireResponse { expired: expired.iter().map(receipt_to_pb).collect() }))
    }
}

/// The inventory service with the standard health service (`grpc.health.v1`, reporting
/// SERVING) and server reflection (`grpc.reflection.v1` and `v1alpha`), ready to serve.
pub async fn server_router(
    server: InventoryGrpcServer,
) -> Result<tonic::service::Routes, Box<dyn std::error::Error + Send + Sync>> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<pb::inventory_service_server::InventoryServiceServer<InventoryGrpcServer>>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Both reflection versions: grpcurl speaks v1, many client libraries still v1alpha.
    Ok(tonic::service::Routes::new(pb::inventory_service_server::InventoryServiceServer::new(server))
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?))
}

/// Serves `routes` on `listener` until `shutdown` resolves.
pub async fn serve(
    routes: tonic::service::Routes,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
        .await
}
