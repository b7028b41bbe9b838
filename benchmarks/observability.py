"""Benchmark: what tracing costs a generated service per request (its metrics are on in every
configuration of the service: the chassis has no switch for them, so bare FastAPI is the
reference for both together).

Drives the ASGI apps in-process (no sockets, no load generator), so the figure is the stack's
own CPU time per request, measured as process CPU time in interleaved rounds, best round kept:
steady on a busy machine. Each round of a traced configuration ends with a flush of its spans,
so the exporter's work (encoding, sending) is charged to the configuration that made them.
Every configuration serves the same trivial route through its whole stack:

- bare FastAPI (the reference);
- the service, tracing off (the default without OTEL_EXPORTER_OTLP_ENDPOINT);
- the service, tracing on, every request sampled, exported to a loopback OTLP receiver: with
  the request layer's own server span (what the service uses), and, the layer's span off, with
  FastAPI's native telemetry instead, or opentelemetry-instrumentation-fastapi instead
  (installed for the run only, `uv run --with`);
- the service, tracing on, 10% sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio).

Prints figures; fails nothing. `uv run python benchmarks/observability.py [--rounds N]` (or
`python -m benchmarks.observability`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

# `python benchmarks/observability.py` puts benchmarks/ first on sys.path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.commands import pin_python_for_generated_projects, run, uv_executable
from tests.support.projects import synced_defaults

PACKAGE = "acme_orders"

DRIVER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from contextlib import AsyncExitStack

    from asgi_lifespan import LifespanManager
    from fastapi import FastAPI

    from {package}.app import create_app
    from {package}.settings import load_settings
    from goldenpath_chassis._core import tracing
    from goldenpath_chassis._core.logging import add_processor, configure_logging
    from goldenpath_chassis.security import Public
    from goldenpath_chassis.testing.otlp import otlp_receiver

    PATH = "/bench/0190c1b0-7dd1-7c1d-8000-000000000000"
    SCOPE = {{
        "type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"bench"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }}

    async def receive():
        return {{"type": "http.request", "body": b"", "more_body": False}}

    async def send(message):
        pass

    def with_route(app, dependencies=()):
        @app.get("/bench/{{item_id}}", dependencies=list(dependencies))
        async def bench(item_id: str) -> dict[str, str]:
            return {{"id": item_id}}
        return app

    async def cpu_per_request(app, n):
        chassis = getattr(app.state, "chassis", None)
        provider = chassis.instruments.tracing.provider if chassis else None
        started = time.process_time()
        for _ in range(n):
            await app(dict(SCOPE), receive, send)
        if provider is not None:
            provider.force_flush()  # each configuration pays for exporting its own spans
        return (time.process_time() - started) / n * 1e6

    def service(endpoint=None, *, layer_spans=True, native=False):
        # The service's app; for the comparison, without the request layer's spans, or with
        # FastAPI's native telemetry recording them instead.
        telemetry, spans = tracing.Tracing.fastapi_telemetry, tracing.Tracing.server_spans
        if native:
            tracing.Tracing.fastapi_telemetry = lambda self: telemetry(self) | {{
                "tracing": True, "tracer_provider": self.provider,
            }}
        if not layer_spans:
            tracing.Tracing.server_spans = lambda self: None
        try:
            settings = load_settings(app_env="test", otel_exporter_otlp_endpoint=endpoint)
            # Deny by default (SEC-3): the benchmark's route is declared open, as /health is.
            return with_route(create_app(settings), [Public])
        finally:
            tracing.Tracing.fastapi_telemetry, tracing.Tracing.server_spans = telemetry, spans

    async def main(rounds, per_round):
        add_processor(tracing.add_trace_ids)
        configure_logging(level="WARNING")
        with otlp_receiver() as receiver:
            endpoint = receiver.endpoint
            configs = {{
                "bare FastAPI": with_route(FastAPI()),
                "service, tracing off": service(),
                "service, tracing on": service(endpoint),
                "  FastAPI's native telemetry instead": service(
                    endpoint, layer_spans=False, native=True
                ),
            }}
            try:
                from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
            except ImportError:  # not a dependency of the service: a row only where installed
                print("(instrumentation-fastapi not installed: its row is left out)")
            else:
                contrib = service(endpoint, layer_spans=False)
                FastAPIInstrumentor.instrument_app(
                    contrib, tracer_provider=contrib.state.chassis.instruments.tracing.provider
                )
                configs["  instrumentation-fastapi instead"] = contrib
            os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
            os.environ["OTEL_TRACES_SAMPLER_ARG"] = "0.1"
            configs["service, tracing on, 10% sampled"] = service(endpoint)
            results = {{name: [] for name in configs}}
            async with AsyncExitStack() as stack:
                for name, app in configs.items():
                    if name != "bare FastAPI":
                        await stack.enter_async_context(LifespanManager(app))
                    await cpu_per_request(app, 200)  # warm up
                for _ in range(rounds):
                    for name, app in configs.items():
                        results[name].append(await cpu_per_request(app, per_round))
        bare = min(results["bare FastAPI"])
        for name, values in results.items():
            best = min(values)
            print(f"{{name:<36}} {{best:7.1f}} us CPU/request  +{{best - bare:6.1f}} us"
                  f"   {{bare / best:5.0%}} of bare FastAPI's throughput")

    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
    """
).format(package=PACKAGE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=500, help="per round")
    parser.add_argument("--project", type=Path, help="an already generated, synced project")
    args = parser.parse_args()
    pin_python_for_generated_projects()
    with tempfile.TemporaryDirectory(prefix="goldenpath-bench-") as tmp:
        project = args.project or synced_defaults(Path(tmp) / "project")
        driver = Path(tmp) / "driver.py"
        driver.write_text(DRIVER)
        result = run(
            [
                uv_executable(), "run", "--quiet",
                "--with", "opentelemetry-instrumentation-fastapi",
                "python", str(driver), str(args.rounds), str(args.requests),
            ],
            cwd=project,
            env={"PYTHONPATH": str(project)},
        )  # fmt: skip
        print(result.stdout, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
