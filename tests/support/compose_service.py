"""A service of the generated compose.yaml, as `podman run` arguments.

No Docker engine runs here, so the tests read what compose would apply to a container (its
read-only root, tmpfs mounts, named volumes, dropped capabilities, security options and
environment) and pass the same to podman. Only the keys the project's own services use are read;
another key fails loudly rather than being dropped unseen.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .manifests import load_yaml

# Keys that only concern compose itself (how to build, order, publish or stop), not how one
# container runs.
_COMPOSE_ONLY = {
    "build", "command", "depends_on", "ports", "stop_grace_period", "healthcheck", "restart",
}  # fmt: skip
_READ = {"environment", "read_only", "tmpfs", "volumes", "cap_drop", "security_opt"}


@dataclass(frozen=True)
class ComposeService:
    """One service's container settings; named volumes get a unique prefix (`volume_names`)."""

    environment: dict[str, str]
    arguments: list[str]
    volume_names: list[str] = field(default_factory=list)


def load_service(project: Path, name: str) -> ComposeService:
    """`name`'s settings from `project/compose.yaml` (YAML merge keys resolved)."""
    compose = load_yaml(project / "compose.yaml")
    service: Mapping[str, Any] = compose["services"][name]
    unknown = set(service) - _COMPOSE_ONLY - _READ
    assert not unknown, f"compose.yaml's {name} uses {sorted(unknown)}: teach the tests them"
    prefix = f"goldenpath-{uuid.uuid4().hex[:8]}"
    arguments: list[str] = []
    volume_names: list[str] = []
    if service.get("read_only"):
        arguments.append("--read-only")
    for target in _as_list(service.get("tmpfs")):
        arguments += ["--tmpfs", target]
    for volume in _as_list(service.get("volumes")):
        source, target, *mode = str(volume).split(":")
        assert not source.startswith((".", "/")), f"{name}: a bind mount ({volume}) is not run"
        volume_name = f"{prefix}-{source}"
        volume_names.append(volume_name)
        arguments += ["--volume", ":".join([volume_name, target, *mode])]
    for capability in service.get("cap_drop", []):
        arguments += ["--cap-drop", capability]
    for option in service.get("security_opt", []):
        arguments += ["--security-opt", option]
    environment = {key: str(value) for key, value in service.get("environment", {}).items()}
    return ComposeService(environment, arguments, volume_names)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
