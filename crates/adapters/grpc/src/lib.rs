//! # commerce-grpc
//!
//! The inventory service's gRPC API (`commerce.inventory.v1.InventoryService`,
//! see `proto/commerce/inventory/v1/inventory.proto`):
//!
//! - [`InventoryGrpcServer`] serves any `InventoryStore` (Redis in production),
//!   mapping domain errors to gRPC codes; [`server_router`] adds the standard
//!   health service and server reflection.
//! - [`GrpcInventoryClient`] is itself an `InventoryStore`: services that sell
//!   (orders-service) or restock (catalog-api) use it to make the inventory service
//!   the single authority for stock. Calls have deadlines and are retried on
//!   `UNAVAILABLE` when they are idempotent (all but `Expire`).

mod client;
mod convert;
pub mod metrics;
mod server;
mod tls;

pub use client::GrpcInventoryClient;
pub use server::{Health, InventoryGrpcServer, serve, serve_tls, server_router, server_router_with_health};
pub use tls::{ClientTls, ServerTls};

/// Generated protobuf types and service stubs.
#[allow(clippy::pedantic, missing_docs, reason = "generated code")]
pub mod pb {
    tonic::include_proto!("commerce.inventory.v1");

    /// The encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("inventory_descriptor");
}
