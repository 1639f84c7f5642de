"""A gRPC client nobody here wrote: Python's grpcio, with stubs compiled from the
.proto by grpcio-tools, plus server reflection and the standard health check.

Usage: client.py <host:port> <admin token> <proto dir>. Exits non-zero on any mismatch.
"""
import sys
import tempfile
import time
import uuid

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_tools import protoc

target, token, proto_dir = sys.argv[1], sys.argv[2], sys.argv[3]
channel = grpc.insecure_channel(target)

# Reflection lists the services without any local .proto.
services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
assert "commerce.inventory.v1.InventoryService" in services, services
assert "grpc.health.v1.Health" in services, services

# Standard health check.
status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
assert status.status == health_pb2.HealthCheckResponse.SERVING, status

# Stubs compiled from the published .proto.
out = tempfile.mkdtemp()
rc = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}",
                  f"{proto_dir}/commerce/inventory/v1/inventory.proto"])
assert rc == 0, "protoc failed"
sys.path.insert(0, out)
from commerce.inventory.v1 import inventory_pb2 as pb, inventory_pb2_grpc as rpc  # noqa: E402

stub = rpc.InventoryServiceStub(channel)
auth = [("authorization", f"Bearer {token}")]
product = str(uuid.uuid4())

try:
    stub.SetOnHand(pb.SetOnHandRequest(product_id=product, on_hand=3))
    raise AssertionError("SetOnHand without a token must fail")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e.code()

level = stub.SetOnHand(pb.SetOnHandRequest(product_id=product, on_hand=3), metadata=auth)
assert (level.on_hand, level.available) == (3, 3), level

reservation = str(uuid.uuid4())
line = pb.ReservationLine(product_id=product, quantity=2)
try:
    stub.Reserve(pb.ReserveRequest(reservation_id=reservation, lines=[line], expires_at_unix_micros=4102444800000000))
    raise AssertionError("Reserve without a token must fail")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e.code()
stub.CheckAccess(pb.CheckAccessRequest(), metadata=auth)
# A deadline in 2100 is cut to the server's maximum reservation TTL.
receipt = stub.Reserve(pb.ReserveRequest(reservation_id=reservation, lines=[line], expires_at_unix_micros=4102444800000000),
                       metadata=auth)
assert receipt.expires_at_unix_micros <= (time.time() + 3600 + 60) * 1_000_000, receipt
assert receipt.state == pb.RESERVATION_STATE_ACTIVE, receipt
assert receipt.levels[0].available == 1, receipt

try:
    stub.Reserve(pb.ReserveRequest(reservation_id=str(uuid.uuid4()), lines=[line], expires_at_unix_micros=4102444800000000),
                 metadata=auth)
    raise AssertionError("overselling must fail")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e.code()

try:
    stub.GetStock(pb.GetStockRequest(product_id="not-a-uuid"))
    raise AssertionError("bad input must fail")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()

try:
    stub.GetStock(pb.GetStockRequest(product_id=str(uuid.uuid4())))
    raise AssertionError("unknown product must fail")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.NOT_FOUND, e.code()

committed = stub.Commit(pb.ReservationRef(reservation_id=reservation), metadata=auth)
assert committed.state == pb.RESERVATION_STATE_COMMITTED, committed
levels = stub.BatchGetStock(pb.BatchGetStockRequest(product_ids=[product])).levels
assert [(l.on_hand, l.reserved, l.available) for l in levels] == [(1, 0, 1)], levels
print("python grpc client: ok")
