"""Where this service gets goldenpath-chassis, and whether CI can get it there too.

    python3 .github/scripts/chassis_source.py check     # exit 1, saying what to change, if not
    python3 .github/scripts/chassis_source.py refresh   # rebuild .chassis/'s wheel, re-lock

A service generated from a local clone of the template takes the chassis from a wheel in its
git-ignored `.chassis/` folder: right on the machine with the clone, unreachable from CI and
from anyone else's clone. `check` fails there (CI runs it first, the pre-push hook before a
push) and names the two ways out; `refresh` rebuilds the wheel from the clone after the
clone's chassis changed. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

EXIT_OK = 0
EXIT_LOCAL = 1
EXIT_USAGE = 2
WHEELS = Path(".chassis")
ADVICE = """\
goldenpath-chassis comes from {wheel}, a wheel built from a local clone of the template:
CI and every other clone of this repository cannot install it. Before pushing, either
  - take it from the template's git repository: set `_src_path` in .copier-answers.yml to the
    template's git URL (for example https://github.com/acme/goldenpath.git), then run
    `copier update --trust --defaults`; or
  - take it from your platform's package index: run
    `copier update --trust --defaults --data chassis_index_url=https://your.index/simple`.
Either way pyproject.toml and uv.lock then name a source CI can reach."""


def chassis_source(pyproject: Path = Path("pyproject.toml")) -> dict[str, object]:
    sources = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    source = sources.get("tool", {}).get("uv", {}).get("sources", {}).get("goldenpath-chassis")
    return source if isinstance(source, dict) else {}


def local_wheel(source: dict[str, object]) -> str | None:
    path = source.get("path")
    return path if isinstance(path, str) and path.startswith(f"{WHEELS}/") else None


def check() -> int:
    wheel = local_wheel(chassis_source())
    if wheel is None:
        print("chassis_source: goldenpath-chassis comes from a source CI can reach.")
        return EXIT_OK
    print(ADVICE.format(wheel=wheel), file=sys.stderr)
    return EXIT_LOCAL


def refresh() -> int:
    wheel = local_wheel(chassis_source())
    if wheel is None:
        print("chassis_source: nothing to refresh; the chassis does not come from .chassis/.")
        return EXIT_OK
    recorded = WHEELS / "SOURCE"
    clone = Path(recorded.read_text().strip()) if recorded.is_file() else None
    if clone is None or not (clone / "chassis" / "pyproject.toml").is_file():
        print(
            f"chassis_source: {recorded} does not name a template clone with a chassis/ folder; "
            "write the clone's path into it.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    # Built aside, and swapped in only when it is the wheel pyproject.toml wants: a failed
    # build, or one of another version, leaves the working wheel in place.
    with tempfile.TemporaryDirectory(dir=WHEELS) as scratch:
        build = [uv, "build", "--wheel", "--quiet", "--out-dir", scratch, str(clone / "chassis")]
        # uv, on the clone named in .chassis/SOURCE.
        if subprocess.run(build, check=False).returncode != 0:  # noqa: S603
            print(f"chassis_source: the build failed; {wheel} is unchanged.", file=sys.stderr)
            return EXIT_USAGE
        built = Path(scratch) / Path(wheel).name
        if not built.is_file():
            names = ", ".join(p.name for p in Path(scratch).glob("*.whl")) or "nothing"
            print(
                f"chassis_source: built {names}, but pyproject.toml wants {wheel}, which is "
                "unchanged; run `copier update`.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        for old in WHEELS.glob("goldenpath_chassis-*.whl"):
            old.unlink()
        built.replace(wheel)
    relock = [uv, "lock", "--quiet", "--upgrade-package", "goldenpath-chassis"]
    subprocess.run(relock, check=True)  # noqa: S603 - uv, in this service
    print(f"chassis_source: rebuilt {wheel} from {clone} and re-locked.")
    return EXIT_OK


def main(argv: list[str]) -> int:
    commands = {"check": check, "refresh": refresh}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: chassis_source.py ({' | '.join(commands)})", file=sys.stderr)
        return EXIT_USAGE
    return commands[argv[0]]()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
