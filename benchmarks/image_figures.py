"""The image's figures for `standards_cost.py --image`: its size, and how long it takes to start.

Start-up in the image is timed from the moment the container's process started (podman's
`State.StartedAt`) to `/health/ready` answering 200, with the same production settings (and the
same PostgreSQL, Redis and OTLP receiver) as the other start-ups of the run, in a read-only
container. Creating the container is left out: here podman's `vfs` storage copies the whole image
for each container, which says nothing about a cluster.
"""

from __future__ import annotations

import datetime
import json
import re
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.images import (
    ContainerTools,
    build_image,
    ensure_stand_ins,
    env_arguments,
    missing_tools,
)
from tests.support.servers import free_port

READY_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ImageFigures:
    size_mb: float | None
    note: str
    # From the container's process start to /health/ready 200, one per start.
    to_ready: list[float] = field(default_factory=list)

    @property
    def median_to_ready(self) -> float | None:
        return statistics.median(self.to_ready) if self.to_ready else None


@dataclass(frozen=True)
class ImageSide:
    """A project to build, and the production settings its container starts with."""

    project: Path
    environment: Mapping[str, str]


def measure_images(
    build: bool, sides: Mapping[str, ImageSide], package: str, runs: int
) -> dict[str, ImageFigures]:
    """Build each side's image on the stand-in bases, weigh it, and time its start-ups (the
    sides alternate, start by start, so they share the machine's moods)."""
    if not build:
        note = (
            "not built in this run: `--image` builds one here (minutes), or "
            "`uv run pytest tests/test_image.py -m image` prints `[image] ...: N MB`"
        )
        return {label: ImageFigures(None, note) for label in sides}
    missing = missing_tools()
    if missing:
        return {
            label: ImageFigures(None, f"not built: {', '.join(missing)} missing") for label in sides
        }
    print("image ...", flush=True)
    tools = ContainerTools.create()
    stand_ins = ensure_stand_ins(tools)
    figures: dict[str, ImageFigures] = {}
    built: dict[str, str] = {}
    try:
        for label, side in sides.items():
            reference = f"localhost/goldenpath-bench-{package}-{label}:latest"
            started = time.perf_counter()
            try:
                build_image(tools, side.project, reference, build_args=stand_ins.build_args())
            except Exception as error:  # a failed build is a figure missing, not a failure
                figures[label] = ImageFigures(
                    None, f"the build failed: {str(error).splitlines()[0]}"
                )
                continue
            built[label] = reference
            size = int(str(tools.image_inspect(reference)["Size"])) / 1e6
            note = f"built in {time.perf_counter() - started:.0f} s on stand-in base images"
            figures[label] = ImageFigures(size, note, [])
        for _ in range(runs):
            for label, reference in built.items():
                seconds = time_to_ready(tools, reference, sides[label].environment)
                figures[label].to_ready.append(seconds)
    finally:
        for reference in built.values():
            tools.run("podman", "rmi", "--force", reference, check=False)
    return figures


def time_to_ready(tools: ContainerTools, reference: str, environment: Mapping[str, str]) -> float:
    port = free_port()
    settings = dict(environment) | {"HOST": "127.0.0.1", "PORT": str(port)}
    url = f"http://127.0.0.1:{port}/health/ready"
    with tools.serving(reference, env_arguments(settings)) as name:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(url).status_code == 200:
                        return time.time() - _started_at(tools, name)
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        logs = tools.run("podman", "logs", name, check=False)
        raise RuntimeError(f"the image never became ready:\n{logs.stdout}{logs.stderr}")


def _started_at(tools: ContainerTools, name: str) -> float:
    """When the container's process started, as a Unix time (podman gives nanoseconds)."""
    inspected = tools.run("podman", "inspect", name, "--format", "{{json .State.StartedAt}}")
    stamp: str = json.loads(inspected.stdout)
    return _unix_time(stamp)


def _unix_time(stamp: str) -> float:
    """An RFC 3339 time with nanoseconds and any offset (podman writes the host's local time,
    `Z` for UTC) as a Unix time; Python's parser takes at most microseconds."""
    match = re.fullmatch(r"([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    seconds, fraction, offset = match.groups()
    whole = datetime.datetime.fromisoformat(seconds + offset.replace("Z", "+00:00"))
    return whole.timestamp() + float(f"0.{fraction or 0}")
