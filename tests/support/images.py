"""Build and run the generated Dockerfile without a Docker engine or a registry.

buildah builds and podman runs, both rootful on the `vfs` driver, in a storage of their own under
`~/.cache/goldenpath/containers` (set `GOLDENPATH_CACHE` to move it). Registries cannot be
reached, so the Dockerfile's base images are replaced through its build arguments by stand-ins
built here from Debian packages (see /work/shared/notes/containers.md for the recipe):

- builder: `debootstrap --variant=minbase trixie`, like `debian:13-slim`;
- runtime: Debian 13's python3.13 and the libraries it needs, unpacked into an empty root with
  a `nonroot` user 65532 and no shell, like `gcr.io/distroless/python3-debian13:nonroot`;
- uv: the uv binary running these tests, like `ghcr.io/astral-sh/uv` (a `scratch` image).

Stand-ins are built once and kept across sessions: their tag is a hash of the recipe, so a
change to this module builds new ones and an unchanged recipe reuses the cached images.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from .commands import CommandFailedError, uv_executable
from .ports import raise_if_port_taken

DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "trixie"
# What gcr.io/distroless/python3-debian13 is made of (its Bazel package list, less nothing).
RUNTIME_PACKAGES = (
    "python3.13-minimal", "libpython3.13-minimal", "libpython3.13-stdlib", "libc6", "libssl3t64",
    "zlib1g", "libffi8", "libexpat1", "ca-certificates", "tzdata", "netbase", "libbz2-1.0",
    "liblzma5", "libsqlite3-0", "libreadline8t64", "libncursesw6", "libtinfo6", "libuuid1",
    "libgcc-s1", "libcrypt1", "libzstd1", "media-types", "libstdc++6", "libmpdec4",
)  # fmt: skip
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NONROOT_UID = 65532
# How the tests and the benchmark run the image: on loopback, with Kubernetes' restrictions
# (deploy/k8s): a read-only root with a /tmp, no capabilities, no privilege escalation.
RESTRICTED_RUN = (
    "--network", "host", "--pids-limit", "0", "--read-only", "--tmpfs", "/tmp",
    "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
)  # fmt: skip
REQUIRED_TOOLS = ("buildah", "podman", "runc", "debootstrap")


def env_arguments(environment: Mapping[str, str]) -> list[str]:
    """`--env KEY=VALUE` for each variable, as `podman run` takes them."""
    return [item for key, value in environment.items() for item in ("--env", f"{key}={value}")]


class ImageToolsMissingError(RuntimeError):
    """buildah, podman, runc or debootstrap is not installed."""


class ContainerExitedError(RuntimeError):
    """A container that should be serving has exited; the message holds its logs."""


def cache_root() -> Path:
    configured = os.environ.get("GOLDENPATH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "goldenpath"


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


@dataclass(frozen=True)
class ContainerTools:
    """buildah and podman pointed at a private storage and configuration."""

    root: Path

    @classmethod
    def create(cls) -> ContainerTools:
        missing = missing_tools()
        if missing:
            raise ImageToolsMissingError(
                f"{', '.join(missing)} not installed: `apt-get install buildah podman runc "
                "debootstrap` (the README's set-up; .ci/run installs them)"
            )
        tools = cls(cache_root() / "containers")
        tools.root.mkdir(parents=True, exist_ok=True)
        tools._write_configuration()
        return tools

    @property
    def storage_conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def containers_conf(self) -> Path:
        return self.root / "containers.conf"

    def _write_configuration(self) -> None:
        # runroot holds locks and mount state: keep it on a path that a reboot clears.
        runroot = Path(tempfile.gettempdir()) / "goldenpath-containers-run"
        self.storage_conf.write_text(
            "[storage]\n"
            'driver = "vfs"\n'
            f'graphroot = "{self.root / "storage"}"\n'
            f'runroot = "{runroot}"\n'
        )
        # An empty ulimit list: podman cannot raise RLIMIT_NOFILE in this sandbox. runc with
        # cgroupfs: crun and systemd cgroups fail here.
        self.containers_conf.write_text(
            "[containers]\n"
            "default_ulimits = []\n"
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            'runtime = "runc"\n'
        )

    def env(self) -> dict[str, str]:
        return dict(os.environ) | {
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "STORAGE_DRIVER": "vfs",
            "BUILDAH_ISOLATION": "chroot",
        }

    def run(
        self,
        *command: str,
        stdin: bytes | None = None,
        timeout: float = 900,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            list(command),
            input=stdin.decode("latin-1") if stdin is not None else None,
            env=self.env(),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise CommandFailedError(
                f"`{' '.join(command)}` failed with {completed.returncode}\n"
                f"--- stdout ---\n{completed.stdout[-12000:]}\n"
                f"--- stderr ---\n{completed.stderr[-8000:]}"
            )
        return completed

    def remove_container(self, name: str) -> None:
        """Remove a container, running or not, at once; quietly, for `finally` blocks."""
        self.run("podman", "rm", "--force", "--time", "0", name, check=False)

    def run_once(
        self, reference: str, arguments: Sequence[str], *command: str
    ) -> subprocess.CompletedProcess[str]:
        """One command of the image (`migrate`, `healthcheck`), restricted, removed after."""
        return self.run(
            "podman", "run", "--rm", *RESTRICTED_RUN, *arguments, reference, *command,
            check=False,
        )  # fmt: skip

    @contextlib.contextmanager
    def serving(self, reference: str, arguments: Sequence[str]) -> Iterator[str]:
        """The image's default command in the background, restricted, removed on exit; yields
        the container's name. Its HEALTHCHECK is kept but run on demand (`podman healthcheck
        run`): there is no systemd here for its timer."""
        name = f"goldenpath-{uuid.uuid4().hex[:8]}"
        self.run(
            "podman", "run", "--detach", "--name", name, "--health-interval", "disable",
            *RESTRICTED_RUN, *arguments, reference,
        )  # fmt: skip
        try:
            yield name
        finally:
            self.remove_container(name)

    def raise_for_exit(self, name: str) -> NoReturn:
        """For a container that has exited: `PortTakenError` when its service could not bind
        its port (its logs say so; another port may do), `ContainerExitedError` otherwise."""
        logs = self.run("podman", "logs", name, check=False)
        output = logs.stdout + logs.stderr
        raise_if_port_taken(output)
        raise ContainerExitedError(f"container {name} exited:\n{output}")

    def image_exists(self, reference: str) -> bool:
        return self.run("podman", "image", "exists", reference, check=False).returncode == 0

    def import_rootfs(self, rootfs: Path, reference: str, changes: Sequence[str]) -> None:
        """`tar | podman import`: a single-layer image from a folder."""
        arguments = [item for change in changes for item in ("--change", change)]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        imported = subprocess.run(
            ["podman", "import", *arguments, "-", reference],
            stdin=tar.stdout,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise CommandFailedError(f"podman import {reference} failed:\n{imported.stderr}")

    def image_inspect(self, reference: str) -> dict[str, object]:
        output = self.run("podman", "image", "inspect", reference).stdout
        loaded = json.loads(output)
        assert isinstance(loaded, list)
        first = loaded[0]
        assert isinstance(first, dict)
        return first


@dataclass(frozen=True)
class StandIns:
    builder: str
    runtime: str
    uv: str

    def build_args(self) -> dict[str, str]:
        return {"BUILDER_IMAGE": self.builder, "RUNTIME_IMAGE": self.runtime, "UV_IMAGE": self.uv}


def _build_lock() -> Path:
    return cache_root() / "build.lock"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One holder at a time, across sessions sharing the cache (stand-ins, image builds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sh(*command: str, cwd: Path | None = None, timeout: float = 900) -> None:
    completed = subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise CommandFailedError(
            f"`{' '.join(command)}` failed with {completed.returncode}\n"
            f"{completed.stdout[-6000:]}\n{completed.stderr[-6000:]}"
        )


def _debootstrap(rootfs: Path) -> None:
    _sh("debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR, timeout=1200)


def _download_runtime_packages(rootfs: Path, into: Path) -> None:
    """`apt-get download` inside the trixie root, so the packages are trixie's."""
    shutil.copyfile("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")
    downloads = rootfs / "tmp" / "runtime-debs"
    downloads.mkdir()
    try:
        _sh("chroot", str(rootfs), "apt-get", "update", "-qq")
        _sh(
            "chroot", str(rootfs), "sh", "-c",
            f"cd /tmp/runtime-debs && apt-get download -qq {' '.join(RUNTIME_PACKAGES)}",
        )  # fmt: skip
        for deb in downloads.glob("*.deb"):
            shutil.move(deb, into / deb.name)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
        _sh("chroot", str(rootfs), "apt-get", "clean")
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        (rootfs / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True)
        (rootfs / "etc" / "resolv.conf").unlink(missing_ok=True)


def _assemble_runtime(debs: Path, rootfs: Path) -> None:
    for deb in sorted(debs.glob("*.deb")):
        _sh("dpkg-deb", "-x", str(deb), str(rootfs))
    # The usr-merged layout of Debian 13 (without lib64 the ELF loader is missing).
    for link, target in {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib"}.items():
        if not (rootfs / link).exists():
            (rootfs / link).symlink_to(target)
    (rootfs / "usr" / "lib64").mkdir(parents=True, exist_ok=True)
    if not (rootfs / "lib64").exists():
        (rootfs / "lib64").symlink_to("usr/lib64")
    loader = rootfs / "usr" / "lib64" / "ld-linux-x86-64.so.2"
    if not loader.exists():
        loader.symlink_to("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    etc = rootfs / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/sbin/nologin\n"
        f"nonroot:x:{NONROOT_UID}:{NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin\n"
    )
    (etc / "group").write_text(f"root:x:0:\nnonroot:x:{NONROOT_UID}:\n")
    home = rootfs / "home" / "nonroot"
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, NONROOT_UID, NONROOT_UID)
    tmp = rootfs / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    for alias in ("python3", "python"):
        alias_path = rootfs / "usr" / "bin" / alias
        if not alias_path.exists():
            alias_path.symlink_to("python3.13")
    assert not (rootfs / "bin" / "sh").exists(), "the runtime stand-in must have no shell"


def _build_uv(rootfs: Path) -> None:
    uv = Path(uv_executable()).resolve()
    shutil.copy2(uv, rootfs / "uv")
    uvx = uv.with_name("uvx")
    if uvx.is_file():
        shutil.copy2(uvx, rootfs / "uvx")


def _build_stand_ins(tools: ContainerTools, stand_ins: StandIns, work: Path) -> None:
    builder_root, runtime_root, debs, uv_root = (
        work / name for name in ("builder", "runtime", "debs", "uv")
    )
    for folder in (runtime_root, debs, uv_root):
        folder.mkdir()
    _debootstrap(builder_root)
    _download_runtime_packages(builder_root, debs)
    # The machine reaches PyPI through a TLS proxy whose CA only the host trusts: give
    # the builder the host's bundle, outside the image's own (never in the Dockerfile).
    if HOST_CA_BUNDLE.is_file():
        (builder_root / "etc" / "ssl").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA_BUNDLE, builder_root / "etc" / "ssl" / "host-ca.crt")
    tools.import_rootfs(
        builder_root,
        stand_ins.builder,
        [
            "ENV SSL_CERT_FILE=/etc/ssl/host-ca.crt",
            "ENV PIP_CERT=/etc/ssl/host-ca.crt",
            'CMD ["/bin/bash"]',
        ],
    )
    _assemble_runtime(debs, runtime_root)
    tools.import_rootfs(
        runtime_root,
        stand_ins.runtime,
        [f"USER {NONROOT_UID}", 'ENTRYPOINT ["/usr/bin/python3.13"]'],
    )
    _build_uv(uv_root)
    tools.import_rootfs(uv_root, stand_ins.uv, ['ENTRYPOINT ["/uv"]'])


def _recipe_hash() -> str:
    """Changes when the recipe, the host's uv or its CA bundle change; not on other edits."""
    recipe: list[Callable[..., object]] = [
        _debootstrap,
        _download_runtime_packages,
        _assemble_runtime,
        _build_uv,
        _build_stand_ins,
    ]
    digest = hashlib.sha256(repr((DEBIAN_MIRROR, DEBIAN_SUITE, RUNTIME_PACKAGES)).encode())
    for function in recipe:
        digest.update(inspect.getsource(function).encode())
    digest.update(Path(uv_executable()).resolve().read_bytes())
    if HOST_CA_BUNDLE.is_file():
        digest.update(HOST_CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:16]


def ensure_stand_ins(tools: ContainerTools) -> StandIns:
    """Build the three stand-in base images unless this recipe's are already cached."""
    tag = _recipe_hash()
    stand_ins = StandIns(
        builder=f"localhost/goldenpath-standin-builder:{tag}",
        runtime=f"localhost/goldenpath-standin-runtime:{tag}",
        uv=f"localhost/goldenpath-standin-uv:{tag}",
    )
    with _locked(cache_root() / "stand-ins.lock"):
        wanted = [stand_ins.builder, stand_ins.runtime, stand_ins.uv]
        if all(tools.image_exists(reference) for reference in wanted):
            return stand_ins
        work = Path(tempfile.mkdtemp(prefix="goldenpath-stand-ins-", dir=cache_root()))
        try:
            _build_stand_ins(tools, stand_ins, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with _locked(_build_lock()):  # a prune never runs beside another session's build
            _remove_stale_stand_ins(tools, keep=set(wanted))
    return stand_ins


def _remove_stale_stand_ins(tools: ContainerTools, *, keep: set[str]) -> None:
    """Stand-ins of earlier recipes only take disk space (vfs stores whole layers)."""
    listed = tools.run("podman", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    stale = [
        reference
        for reference in listed.split()
        if reference.startswith("localhost/goldenpath-standin-") and reference not in keep
    ]
    for reference in stale:
        # Without --force: a stand-in identical to the current one shares its image ID, and
        # plain `rmi` of one of two tags only removes that tag.
        tools.run("podman", "rmi", reference, check=False)
    # Earlier stand-ins whose tags moved to identical rebuilds: untagged, unused, ours alone.
    tools.run("podman", "image", "prune", "--force", check=False)


def build_image(
    tools: ContainerTools,
    context: Path,
    reference: str,
    *,
    build_args: Mapping[str, str],
    timeout: float = 1200,
) -> subprocess.CompletedProcess[str]:
    """`buildah bud` the project's Dockerfile, in Docker format so HEALTHCHECK is kept."""
    arguments = [
        item for key, value in build_args.items() for item in ("--build-arg", f"{key}={value}")
    ]
    # One build at a time in the shared storage: the clean-up below removes the working
    # containers that appeared during this build, which would include another session's.
    with _locked(_build_lock()):
        before = set(tools.run("buildah", "containers", "--quiet").stdout.split())
        try:
            return tools.run(
                "buildah", "bud", "--isolation", "chroot", "--network", "host", "--format",
                "docker", "--pull-never", "--layers=false", *arguments, "-f", "Dockerfile",
                "-t", reference, ".",
                cwd=context, timeout=timeout,
            )  # fmt: skip
        finally:
            # buildah keeps the working container of a stage used only by `COPY --from`. (Not
            # `--force-rm`: buildah 1.28 then deletes that stage's base image, our uv stand-in.)
            leftovers = set(tools.run("buildah", "containers", "--quiet").stdout.split()) - before
            if leftovers:
                tools.run("buildah", "rm", *sorted(leftovers), check=False)
