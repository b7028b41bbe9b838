"""Build the template's chassis wheel into a service generated from a local clone.

A service generated from a git URL or with a package index gets goldenpath-chassis from there.
Generated from a local clone (the README's first command), its `pyproject.toml` points at a
wheel in its git-ignored `.chassis/` folder: this builds that wheel from the template being
copied (the clone Copier made, at the release being generated), and notes in `.chassis/SOURCE`
where the original clone is, so `.github/scripts/chassis_source.py refresh` can rebuild it
later. Standard library only, like every hook.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
CHASSIS = TEMPLATE / "chassis"
WHEEL_SOURCE = re.compile(
    r'^goldenpath-chassis = \{ path = "(?P<wheel>\.chassis/[^"]+\.whl)" \}$', re.M
)


def _warn(message: str) -> None:
    print(f"chassis: WARNING: {message}", file=sys.stderr)


def wanted_wheel(project: Path) -> str | None:
    """The wheel the service's pyproject.toml points at, if it takes one from `.chassis/`."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return None
    found = WHEEL_SOURCE.search(pyproject.read_text(encoding="utf-8"))
    return found["wheel"] if found else None


def original_clone(project: Path) -> Path | None:
    """The clone the service was generated from, as `_src_path` names it (maybe relative to
    the directory Copier was run in, which is PWD in Copier's environment)."""
    answers = project / ".copier-answers.yml"
    if not answers.is_file():
        return None
    found = re.search(r"^_src_path:\s*['\"]?(?P<path>[^'\"\n]+)", answers.read_text(), re.M)
    if found is None:
        return None
    path = Path(found["path"]).expanduser()
    if not path.is_absolute():
        path = Path(os.environ.get("PWD", os.getcwd())) / path
    return path.resolve() if (path / "chassis" / "pyproject.toml").is_file() else None


def build_chassis_wheel(project: Path, chassis: Path = CHASSIS) -> bool:
    """Build the wheel when the service wants one; warn and carry on if it cannot be built."""
    wheel = wanted_wheel(project)
    if wheel is None:
        return False
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        _warn("uv is not installed; run `python3 .github/scripts/chassis_source.py refresh`.")
        return False
    out = project / ".chassis"
    out.mkdir(exist_ok=True)
    # Noted before the build, so that `chassis_source.py refresh` can retry a failed one.
    clone = original_clone(project)
    if clone is not None:
        (out / "SOURCE").write_text(f"{clone}\n", encoding="utf-8")
    # Built aside, and swapped in only when it is the wanted wheel: a failed build, or one of
    # another version, leaves a wheel already there in place.
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        result = subprocess.run(
            [uv, "build", "--wheel", "--quiet", "--out-dir", scratch, str(chassis)], check=False
        )
        built = Path(scratch) / Path(wheel).name
        if result.returncode != 0 or not built.is_file():
            if (project / wheel).is_file():
                _warn(f"could not build {wheel} from {chassis}; the one there is kept.")
            else:
                _warn(f"could not build {wheel} from {chassis}; the service cannot sync yet.")
            return False
        for old in out.glob("goldenpath_chassis-*.whl"):
            old.unlink()
        built.replace(project / wheel)
    return True
