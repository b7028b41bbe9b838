"""Benchmark: the audit on a repository holding a rendered manifest near the 2 MB bound.

A small Flask service (the audit tests' sample) with `deploy/rendered.yaml`: Deployments,
Services and ConfigMaps as `helm template` prints them, as many as fit under the audit's size
bound. The audit runs on it in one process, the sides alternating, each round a fresh audit:
- before: PyYAML's pure-Python loader, each reader parsing the files it reads;
- the pure loader with each file parsed once per audit (Repository.yaml_documents' memo);
- after: libyaml's loader and the memo, what the audit does when PyYAML has libyaml.
With `--before-source SRC` (another checkout's `src/`, main's before a change), that code's
audit too, in a process of its own, in the same rounds. The in-process sides share this
checkout's other code (the bound's walk, line numbers), so the "before" side is the loader and
the memo alone. For each side: the audit's time (median and best of the rounds), how often the
manifest was parsed in one audit, and the manifest's parse alone. The in-process sides' reports
must agree. Prints figures; fails nothing.
`uv run python benchmarks/audit_yaml.py [--rounds N] [--megabytes M] [--before-source SRC]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

# `python benchmarks/audit_yaml.py` puts benchmarks/ first on sys.path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from goldenpath import bounded_yaml
from goldenpath.audit import Report, audit
from goldenpath.audit.facts.files import Repository
from goldenpath.bounded_yaml import Loader, load_documents
from tests.support.samples import flask_service

MANIFEST = "deploy/rendered.yaml"
RESOURCES = """\
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-{n}
  labels: {{app.kubernetes.io/name: shop-{n}, app.kubernetes.io/instance: shop, tier: web}}
spec:
  replicas: 3
  selector:
    matchLabels: {{app.kubernetes.io/name: shop-{n}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: shop-{n}}}
      annotations: {{checksum/config: "{n:064x}"}}
    spec:
      serviceAccountName: shop
      securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: shop
          image: "registry.example/shop:1.{n}.0"
          ports:
            - {{name: http, containerPort: 8000}}
          env:
            - {{name: APP_ENV, value: production}}
            - name: DATABASE_URL
              valueFrom: {{secretKeyRef: {{name: shop-{n}-db, key: url}}}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /health/ready, port: http}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: shop-{n}
spec:
  selector: {{app.kubernetes.io/name: shop-{n}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
---
# Source: shop/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-{n}
data:
  LOG_LEVEL: INFO
  FEATURES: "search,checkout,reviews-{n}"
"""
BEFORE, AFTER = "before: pure loader, no memo", "after: libyaml, memo"
SIDES: dict[str, tuple[Loader, bool]] = {
    BEFORE: (yaml.SafeLoader, False),
    "pure loader, memo": (yaml.SafeLoader, True),
    AFTER: (bounded_yaml.default_loader(yaml.__with_libyaml__), True),
}


def rendered_manifest(size: int) -> str:
    parts: list[str] = []
    total = 0
    while True:
        part = RESOURCES.format(n=len(parts))
        if total + len(part) > size:
            return "".join(parts)
        parts.append(part)
        total += len(part)


@contextmanager
def side(loader: Loader, memo: bool, parsed: list[int]) -> Iterator[None]:
    """The audit with `loader` as every read's default, each parse's size in `parsed`, and
    without the memo each reader parsing again."""

    def counted(self: Any, stream: str) -> None:
        parsed.append(len(stream))
        loader.__init__(self, stream)

    saved_loader, saved_reader = bounded_yaml.DEFAULT_LOADER, Repository.yaml_documents
    bounded_yaml.DEFAULT_LOADER = type("Counted", (loader,), {"__init__": counted})
    if not memo:
        Repository.yaml_documents = Repository._parsed_yaml  # type: ignore[method-assign]
    try:
        yield
    finally:
        bounded_yaml.DEFAULT_LOADER = saved_loader
        Repository.yaml_documents = saved_reader  # type: ignore[method-assign]


def verdicts(report: Report) -> list[Any]:
    return [
        (r.standard.id, r.status.value, [q.outcome.value for q in r.requirements])
        for r in report.results
    ] + [(item.path, item.reason) for item in report.not_read]


# Run with the other checkout's package first on the path: prints the audit's seconds.
TIMED_AUDIT = (
    "import sys, time; from pathlib import Path; from goldenpath.audit import audit; "
    "started = time.perf_counter(); audit(Path(sys.argv[1])); "
    "print(time.perf_counter() - started)"
)


def audit_elsewhere(source: Path, service: Path) -> float:
    environment = {**os.environ, "PYTHONPATH": str(source)}
    timed = subprocess.run(
        [sys.executable, "-c", TIMED_AUDIT, str(service)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(timed.stdout.split()[-1])


def parse_time(manifest: str, loader: Loader, rounds: int) -> float:
    """The best of `rounds` reads of the manifest alone, as the audit reads it."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        load_documents(manifest, loader=loader)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=1.95)
    parser.add_argument("--before-source", type=Path, help="another checkout's src/ folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        service = flask_service(Path(folder) / "service")
        manifest = rendered_manifest(int(args.megabytes * 1_000_000))
        (service / MANIFEST).parent.mkdir()
        (service / MANIFEST).write_text(manifest)
        times: dict[str, list[float]] = {name: [] for name in SIDES}
        parses: dict[str, int] = {}
        reports: dict[str, list[Any]] = {}
        elsewhere: list[float] = []
        for _ in range(args.rounds):
            if args.before_source is not None:
                elsewhere.append(audit_elsewhere(args.before_source.resolve(), service))
            for name, (loader, memo) in SIDES.items():
                parsed: list[int] = []
                with side(loader, memo, parsed):
                    started = time.perf_counter()
                    report = audit(service)
                    times[name].append(time.perf_counter() - started)
                parses[name] = parsed.count(len(manifest))
                reports[name] = verdicts(report)
        objects = sum(1 for line in manifest.splitlines() if line.startswith("kind: "))
        print(
            f"Audit of a Flask service with {MANIFEST}: {len(manifest) / 1_000_000:.2f} MB, "
            f"{objects} objects; {args.rounds} rounds, sides alternating; libyaml "
            f"{'present' if yaml.__with_libyaml__ else 'ABSENT (after = pure)'}"
        )
        print(f"{'side':<32}{'median s':>10}{'best s':>9}{'manifest parses':>17}{'parse s':>9}")
        for name, (loader, _) in SIDES.items():
            alone = parse_time(manifest, loader, args.rounds)
            print(
                f"{name:<32}{statistics.median(times[name]):>10.2f}{min(times[name]):>9.2f}"
                f"{parses[name]:>17}{alone:>9.2f}"
            )
        if elsewhere:
            name = f"{args.before_source}'s code"[-31:]
            print(f"{name:<32}{statistics.median(elsewhere):>10.2f}{min(elsewhere):>9.2f}")
        before, after = (statistics.median(times[name]) for name in (BEFORE, AFTER))
        agree = len({repr(verdicts) for verdicts in reports.values()}) == 1
        print(f"after/before: {after / before:.2f} ({before / after:.1f}x faster)")
        print(f"reports agree: {'yes' if agree else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
