"""The image's figures for `standards_cost.py --image`: its size, and how long it takes to start.

Start-up in the image is timed from the moment the container's process started (podman's
`State.StartedAt`) to `/health/ready` answering 200, with the same production settings (and the
same PostgreSQL, Redis and OTLP receiver) as the other start-ups of the run, in a read-only
container. Creating the container is left out: here podman's `vfs` storage copies the whole image
for each container, which says nothing about a cluster.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import select
import statistics
import time
from collections.abc import Iterator, Mapping
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
from tests.support.ports import on_free_port

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
    """Seconds from the container's process start to /health/ready 200, on a free loopback port.
    A container whose port was taken before it bound it is removed, and a new one started on
    another port: the start timed is the new container's own."""
    return on_free_port(lambda port: _time_to_ready_on(tools, reference, environment, port))


def _time_to_ready_on(
    tools: ContainerTools, reference: str, environment: Mapping[str, str], port: int
) -> float:
    settings = dict(environment) | {"HOST": "127.0.0.1", "PORT": str(port)}
    url = f"http://127.0.0.1:{port}/health/ready"
    with tools.serving(reference, env_arguments(settings)) as name, _watched(tools, name) as run:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if run.ended():
                    tools.raise_for_exit(name)
                try:
                    if client.get(url).status_code == 200:
                        return time.time() - run.started_at
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        logs = tools.run("podman", "logs", name, check=False)
        raise RuntimeError(f"the image never became ready:\n{logs.stdout}{logs.stderr}")


@dataclass(frozen=True)
class _ContainerRun:
    """When a container's process started, and whether it has ended, known without asking
    podman again: a podman command on each poll would take CPU from the start-up being timed."""

    started_at: float  # a Unix time
    # A pidfd of the container's conmon: readable once conmon has exited, which it does after
    # the container's process, with all of its output in the container's log.
    _monitor: int | None

    def ended(self) -> bool:
        return self._monitor is None or bool(select.select([self._monitor], [], [], 0)[0])


@contextlib.contextmanager
def _watched(tools: ContainerTools, name: str) -> Iterator[_ContainerRun]:
    inspected = tools.run("podman", "inspect", name, "--format", "{{json .State}}")
    state = json.loads(inspected.stdout)
    started_at = _unix_time(state["StartedAt"])
    try:
        # No ConmonPid once the container has ended (and its conmon with it).
        monitor = os.pidfd_open(state["ConmonPid"]) if state.get("ConmonPid") else None
    except ProcessLookupError:
        monitor = None
    try:
        yield _ContainerRun(started_at, monitor)
    finally:
        if monitor is not None:
            os.close(monitor)


def _unix_time(stamp: str) -> float:
    """An RFC 3339 time with nanoseconds and any offset (podman writes the host's local time,
    `Z` for UTC) as a Unix time; Python's parser takes at most microseconds."""
    match = re.fullmatch(r"([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    seconds, fraction, offset = match.groups()
    whole = datetime.datetime.fromisoformat(seconds + offset.replace("Z", "+00:00"))
    return whole.timestamp() + float(f"0.{fraction or 0}")
