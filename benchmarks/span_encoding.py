"""Benchmark: encoding spans to OTLP, per span, the SDK's way and the chassis's.

The SDK's exporter encodes each batch of spans in Python on its own thread, holding the GIL the
requests need, so that cost showed in the traced p99 (docs/benchmarks.md). This encodes one
batch (the batch processor's 512) of server spans made as the request layer makes them, in the
generated project's venv, alternating, the best of the rounds for each:
- the SDK's encoder, with the resource the service's tracer provider has and with a plain SDK
  `Resource` of the same attributes;
- the chassis's way (`_core/span_encoding.py`): each span encoded as it ends, on the thread
  that ends it, then the batch framed into one request on the exporter's thread.
Prints figures; fails nothing.
`uv run python benchmarks/span_encoding.py [--project PATH] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.standards_cost import PACKAGE
from tests.support.commands import pin_python_for_generated_projects
from tests.support.projects import synced_defaults

BATCH = 512

# Run in the generated project's venv: prints one JSON line, µs per span for each resource.
DRIVER = textwrap.dedent(
    f"""
    import json, os, sys, time

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from goldenpath_chassis._core.otlp import OtlpEncoders
    from goldenpath_chassis._core.span_encoding import EndedSpan
    from goldenpath_chassis._core.tracing import ServerSpans, Tracing
    from {PACKAGE}.settings import load_settings

    ROUNDS, BATCH, REPEATS = int(sys.argv[1]), int(sys.argv[2]), 10

    def batch_of(provider):
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        spans = ServerSpans(provider)
        for number in range(BATCH):
            scope = {{"method": "GET", "path": f"/v1/items/{{number}}", "scheme": "http"}}
            started = spans.start(scope, None)
            spans.finish(*started, route="/v1/items/{{item_id}}", status=200, error=None)
        return list(exporter.get_finished_spans())

    service = Tracing(load_settings(), service_version="1.0.0").provider
    plain = TracerProvider(
        resource=Resource(service.resource.attributes, service.resource.schema_url)
    )
    batches = {{"service": batch_of(service), "plain": batch_of(plain)}}
    encoders = OtlpEncoders()
    best = {{name: float("inf") for name in ("service", "plain", "on_end", "framing")}}
    for _ in range(ROUNDS):
        for name, batch in batches.items():
            started = time.perf_counter()
            for _ in range(REPEATS):
                encode_spans(batch).SerializeToString()
            per_span = (time.perf_counter() - started) / REPEATS / BATCH * 1e6
            best[name] = min(best[name], per_span)
        started = time.perf_counter()
        for _ in range(REPEATS):
            ended = [EndedSpan(span, encoders.span(span)) for span in batches["service"]]
        on_end = (time.perf_counter() - started) / REPEATS / BATCH * 1e6
        best["on_end"] = min(best["on_end"], on_end)
        started = time.perf_counter()
        for _ in range(REPEATS):
            encoders.request(ended)
        best["framing"] = min(best["framing"], (time.perf_counter() - started) / REPEATS * 1e3)
    best["resource_type"] = type(service.resource).__qualname__
    print(json.dumps(best))
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (min kept)")
    parser.add_argument("--project", type=Path, help="an already generated, synced project")
    args = parser.parse_args()
    pin_python_for_generated_projects()
    with tempfile.TemporaryDirectory(prefix="goldenpath-span-encoding-") as tmp:
        project = args.project or synced_defaults(Path(tmp) / "project")
        driver = Path(tmp) / "driver.py"
        driver.write_text(DRIVER)
        completed = subprocess.run(
            [str(project / ".venv/bin/python"), str(driver), str(args.rounds), str(BATCH)],
            cwd=project,
            # An endpoint makes the service build its tracer provider; nothing is sent to it.
            env={"PATH": "/usr/bin:/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
            capture_output=True,
            text=True,
            check=False,
        )
    if completed.returncode != 0:
        raise SystemExit(f"the driver failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    service, plain = result["service"], result["plain"]
    print(f"OTLP encoding of a batch of {BATCH} server spans, best of {args.rounds} rounds")
    print(f"{'resource':<44} {'µs/span':>8}")
    print(f"{'a plain SDK Resource, same attributes':<44} {plain:8.1f}")
    label = f"the service's ({result['resource_type']})"
    print(f"{label:<44} {service:8.1f} {(service - plain) / plain:+.0%}")
    print(f"a batch: {BATCH * service / 1000:.1f} ms of the exporter thread's time with the GIL")
    on_end = result["on_end"]
    print(f"encoded as it ends (the chassis): {on_end:.1f} µs/span, on the request's thread")
    print(f"framing a batch of them: {result['framing']:.2f} ms of the exporter thread's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
