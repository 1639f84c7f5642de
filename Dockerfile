# syntax=docker/dockerfile:1
# Every binary of the distributed set in one small runtime image (issue 18). The build
# stage runs the build CI runs (`cargo build --locked --bins`), in release mode.
#   docker build -t commerce:dev .
# Each Kubernetes Deployment (deploy/k8s/) runs one binary of the image.

FROM rust:1.95-bookworm AS build
# librdkafka is built from source with its own OpenSSL (rdkafka's cmake-free build needs
# perl and make, present in this image); protoc is vendored by the gRPC crate.
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/commerce target/release/storefront-api target/release/orders-service \
          target/release/catalog-api target/release/inventory-service target/release/outbox-relay \
          target/release/projector target/release/notifications target/release/payments-simulator \
          target/release/commerce-load /out/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/commerce --create-home commerce
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/commerce
# Every service listens on all interfaces in a container: each binary's HTTP listener
# (COMMERCE_LISTEN) on 8080 unless its manifest names another port, and the inventory
# service's gRPC listener on 50051.
ENV COMMERCE_LISTEN=0.0.0.0:8080 \
    INVENTORY_GRPC_LISTEN=0.0.0.0:50051 \
    COMMERCE_LOG_JSON=true
EXPOSE 8080
CMD ["commerce", "--data-dir", "/var/lib/commerce/data"]
