"""A local OTLP/gRPC trace receiver for the system tests.

Listens on 127.0.0.1:<port> for OpenTelemetry's TraceService/Export and appends one
JSON line per received span to <output>: the sending service's name, trace id, span
id, parent span id and span name. Needs `grpcio` and `opentelemetry-proto` (PyPI).

    python3 receiver.py <port> <output>
"""

import json
import sys
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


def service_name(resource):
    for attribute in resource.attributes:
        if attribute.key == "service.name":
            return attribute.value.string_value
    return ""


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, output):
        self.output = output

    def Export(self, request, context):
        lines = []
        for resource_spans in request.resource_spans:
            service = service_name(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "service": service,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                    }))
        with open(self.output, "a", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        return trace_service_pb2.ExportTraceServiceResponse()


def main():
    port, output = int(sys.argv[1]), sys.argv[2]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(output), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
