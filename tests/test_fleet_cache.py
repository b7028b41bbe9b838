"""TPL-2: the fleet view's outcomes kept across runs (goldenpath/fleet_cache.py).

The cache on its own: what a key depends on, entries written whole, unreadable ones worked out
again, old ones forgotten, a folder that cannot be used refused in one line. And the audits'
processes: one that dies costs its row a note, not the run. The fleet view's
reuse of real update outcomes is in tests/test_update_rollout.py.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from goldenpath import fleet_cache
from goldenpath.fleet import audit_processes
from goldenpath.fleet_audit import AuditScore
from goldenpath.fleet_cache import (
    OutcomeCache,
    UpdateOutcome,
    default_folder,
    outcome_key,
    tool_fingerprint,
)

SERVICE, OTHER_SERVICE = "a" * 40, "b" * 40
RELEASE, OTHER_RELEASE = "c" * 40, "d" * 40
CONFLICTED = UpdateOutcome("conflicts", ("README.md",), ("ci.yml",))


def test_tpl2_an_outcome_is_kept_by_the_service_commit_the_release_and_the_tool() -> None:
    key = outcome_key(SERVICE, RELEASE)
    assert key == outcome_key(SERVICE, RELEASE)
    assert len({key, outcome_key(OTHER_SERVICE, RELEASE), outcome_key(SERVICE, OTHER_RELEASE)}) == 3
    assert len(tool_fingerprint()) == 64


def test_tpl2_the_tool_fingerprint_follows_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "goldenpath"
    shutil.copytree(Path(fleet_cache.__file__).parent, package)
    monkeypatch.setattr(fleet_cache, "_PACKAGE", package)
    fingerprints = []
    for edit in ("", "# a changed comment\n"):
        module = package / "update.py"
        module.write_text(module.read_text() + edit)
        fleet_cache.tool_fingerprint.cache_clear()
        fingerprints.append(fleet_cache.tool_fingerprint())
    fleet_cache.tool_fingerprint.cache_clear()
    assert fingerprints[0] != fingerprints[1]


def test_tpl2_outcomes_are_read_back_across_runs(tmp_path: Path) -> None:
    key = outcome_key(SERVICE, RELEASE)
    assert OutcomeCache(tmp_path).get(key) is None
    assert OutcomeCache(tmp_path).put(key, CONFLICTED)
    later = OutcomeCache(tmp_path)  # another run
    assert later.get(key) == CONFLICTED
    assert later.hits == 1
    assert [path.name for path in tmp_path.iterdir()] == [f"{key}.json"]  # no temporary left


def test_tpl2_an_unreadable_entry_is_worked_out_again(tmp_path: Path) -> None:
    cache = OutcomeCache(tmp_path)
    key = outcome_key(SERVICE, RELEASE)
    for damaged in (
        '{"update": "clean"',  # cut short
        '{"update": "clean"}',
        "[]",
        '{"update": "failed", "conflicts": [], "deleted": []}',  # never kept
        '{"update": "clean", "conflicts": "README.md", "deleted": []}',
    ):
        (tmp_path / f"{key}.json").write_text(damaged)
        assert cache.get(key) is None
        assert not (tmp_path / f"{key}.json").exists()
    assert cache.hits == 0


def test_tpl2_entries_unused_for_a_month_are_forgotten(tmp_path: Path) -> None:
    old, recent = outcome_key(SERVICE, RELEASE), outcome_key(OTHER_SERVICE, RELEASE)
    cache = OutcomeCache(tmp_path)
    cache.put(old, CONFLICTED)
    cache.put(recent, CONFLICTED)
    month_ago = time.time() - 31 * 86_400
    os.utime(tmp_path / f"{old}.json", (month_ago, month_ago))
    stopped_mid_write = tmp_path / ".abandoned.tmp"
    stopped_mid_write.write_text('{"upd')
    os.utime(stopped_mid_write, (month_ago, month_ago))
    os.utime(tmp_path / f"{recent}.json", (month_ago + 2 * 86_400, month_ago + 2 * 86_400))
    reopened = OutcomeCache(tmp_path)
    assert not stopped_mid_write.exists()
    assert reopened.get(old) is None
    assert reopened.get(recent) == CONFLICTED  # and read, so kept another month
    assert (tmp_path / f"{recent}.json").stat().st_mtime > time.time() - 60


def test_tpl2_a_cache_folder_that_cannot_be_used_is_refused_in_one_line(tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    with pytest.raises(OSError, match=r"cannot use .*a-file as the fleet's cache folder"):
        OutcomeCache(taken)
    assert taken.read_text() == "not a folder"


def test_tpl2_an_outcome_that_cannot_be_written_does_not_stop_the_run(tmp_path: Path) -> None:
    cache = OutcomeCache(tmp_path / "cache")
    shutil.rmtree(tmp_path / "cache")  # gone under the run's feet
    assert cache.put(outcome_key(SERVICE, RELEASE), CONFLICTED) is False


def test_tpl2_the_cache_folder_is_the_users_unless_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOLDENPATH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_folder() == tmp_path / "xdg" / "goldenpath" / "fleet"
    monkeypatch.setenv("GOLDENPATH_CACHE_DIR", str(tmp_path / "named"))
    assert default_folder() == tmp_path / "named"


def die(repository: Path, newest_release: str | None) -> AuditScore:
    """An audit whose process is killed under it (out of memory, say)."""
    os._exit(9)


def die_on_oom(repository: Path, newest_release: str | None) -> AuditScore:
    """`die` for the repository named oom; any other is scored."""
    if repository.name == "oom":
        os._exit(9)
    return AuditScore(50.0)


def test_tpl2_an_audit_whose_process_dies_is_a_note_in_its_row_not_the_runs_end() -> None:
    with audit_processes(1, audit=die) as auditor:
        score = auditor(Path("/fleet/orders"), "v0.4.0")
    assert score.score is None
    assert score.note is not None
    assert score.note.startswith("orders: the audit's process died")


def test_tpl2_the_audits_after_one_whose_process_died_are_scored() -> None:
    # A dead worker breaks its process pool for good: every later audit failed with it.
    with audit_processes(2, audit=die_on_oom) as auditor:
        scores = [auditor(Path("/fleet") / name, "v0.4.0") for name in ("a", "oom", "b", "c")]
    assert [score.score for score in scores] == [50.0, None, 50.0, 50.0]
    assert scores[1].note is not None
    assert scores[1].note.startswith("oom: the audit's process died")
