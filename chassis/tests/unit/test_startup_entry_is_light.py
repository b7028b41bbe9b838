"""INF-3: `goldenpath_chassis.startup`, which a service's `__main__` imports first, loads nothing
but the standard library: everything before its handler is a window in which PID 1 drops SIGTERM.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# The package and the path to the handler; every name the package offers loads on first use.
ALLOWED = {
    "__main__",  # the `-c` script
    "goldenpath_chassis",
    "goldenpath_chassis._core",
    "goldenpath_chassis._core.startup_stop",
    "goldenpath_chassis.startup",
}


def test_inf3_the_entry_loads_the_standard_library_alone() -> None:
    script = "import json, sys, goldenpath_chassis.startup; print(json.dumps(list(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    foreign = {
        name
        for name in json.loads(loaded)
        if name.partition(".")[0] not in sys.stdlib_module_names and name not in ALLOWED
    }
    assert foreign == set()


def test_the_package_still_offers_its_names() -> None:
    import goldenpath_chassis  # noqa: PLC0415
    from goldenpath_chassis._core.service import Service  # noqa: PLC0415

    assert goldenpath_chassis.Service is Service
    assert all(getattr(goldenpath_chassis, name) for name in goldenpath_chassis.__all__)
    assert goldenpath_chassis.__version__.count(".") == 2
