"""A real headless Chromium, driven by Selenium, for pages the tools write.

Debian's `chromium` and `chromium-driver` (.ci/run installs them); Selenium is given both paths,
so it never looks for, or downloads, a browser of its own. Screenshots are test artefacts, kept
in `test-artefacts/` (git-ignored; `GOLDENPATH_ARTEFACTS` moves it) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from .commands import REPOSITORY

ARTEFACTS = Path(os.environ.get("GOLDENPATH_ARTEFACTS", REPOSITORY / "test-artefacts"))


@contextmanager
def headless_chromium(width: int = 1600, height: int = 1000) -> Iterator[webdriver.Chrome]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip(
            "SKIPPED LOUDLY: the browser tests need Debian's chromium and chromium-driver "
            "(`apt-get install chromium chromium-driver`; .ci/run installs them)"
        )
    options = Options()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


def save_screenshot(session: webdriver.Chrome, name: str) -> Path:
    """The page as the browser shows it, as a PNG artefact; its path."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / name
    assert session.save_screenshot(str(path)), f"Chromium saved no screenshot to {path}"
    return path
