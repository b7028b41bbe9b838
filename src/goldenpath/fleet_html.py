"""`goldenpath fleet --format html`: the fleet view as one static, self-contained page.

One file a platform team can open from disk, attach to a ticket or publish as a CI artefact:
no server, no external asset (its Content-Security-Policy allows none), styles and a small
sorting script inline. Per service: its release, how far behind it is, its audit score overall
and by area, and what its update would do. Every column sorts (click its heading; again for
the other direction); a cell's `data-sort` holds the value it sorts by, and rows without a value
stay last either way.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from html import escape

from .fleet import CLEAN, CONFLICTS, FAILED, UP_TO_DATE, ServiceStatus, update_text
from .fleet_audit import SCORED_AREAS
from .update import UpdatePlan

# How an update's outcome sorts: what needs a person first.
UPDATE_ORDER = {FAILED: 0, CONFLICTS: 1, CLEAN: 2, UP_TO_DATE: 3}
GOOD, FAIR = 99.0, 80.0

STYLE = """
:root { color-scheme: light; font: 14px/1.45 system-ui, sans-serif; color: #1f2328; }
body { margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.meta { margin: 0 0 16px; color: #59636e; }
ul.summary { display: flex; gap: 16px; list-style: none; padding: 0; margin: 0 0 16px; }
ul.summary li { padding: 4px 10px; border-radius: 6px; background: #f6f8fa; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #d1d9e0; padding: 6px 8px; text-align: left;
  white-space: nowrap; }
td.number, th.number { text-align: right; }
th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0;
  cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
td.good { background: #dafbe1; } td.fair { background: #fff8c5; }
td.poor { background: #ffebe9; } td.none { color: #818b98; }
td.update-up-to-date, td.update-clean { color: #1a7f37; }
td.update-conflicts { color: #9a6700; font-weight: 600; }
td.update-failed { color: #d1242f; font-weight: 600; white-space: normal; min-width: 24em; }
dl { margin-top: 20px; color: #59636e; } dt { font-weight: 600; float: left; width: 9em; }
dd { margin: 0 0 4px 9em; }
"""

SCRIPT = """
for (const button of document.querySelectorAll("th button")) {
  button.addEventListener("click", () => {
    const heading = button.closest("th");
    const table = heading.closest("table");
    const column = [...heading.parentNode.children].indexOf(heading);
    const ascending = heading.getAttribute("aria-sort") !== "ascending";
    for (const other of table.querySelectorAll("th")) other.removeAttribute("aria-sort");
    heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const numeric = heading.classList.contains("number");
    const key = (row) => row.cells[column].dataset.sort;
    const rows = [...table.tBodies[0].rows].sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === "" || y === "") return (x === "") - (y === "");
      const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    table.tBodies[0].append(...rows);
  });
}
"""


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _cell(text: str, sort: str | float | int | None, css: str = "", title: str = "") -> str:
    key = "" if sort is None else str(sort)
    attributes = f' data-sort="{escape(key)}"'
    if css:
        attributes += f' class="{css}"'
    if title:
        attributes += f' title="{escape(title)}"'
    return f"<td{attributes}>{escape(text)}</td>"


def _score(value: float | None) -> str:
    if value is None:
        return _cell("n/a", None, "number none", "not applicable, or not audited")
    grade = "good" if value >= GOOD else "fair" if value >= FAIR else "poor"
    return _cell(f"{value:.0f}%", value, f"number {grade}")


def _behind(plan: UpdatePlan | None, count: int | None) -> str:
    if plan is None or count is None:
        return "-"
    unit = "commit" if plan.untagged else "release"
    return f"{count} {unit}{'s' * (count != 1)}" if count else "0"


def _row(status: ServiceStatus, now: datetime) -> str:
    plan = status.plan
    count = plan.behind if plan else None
    update = status.update
    cells = [
        _cell(status.service, status.service, title=str(status.repository)),
        _cell(plan.recorded_commit if plan else "-", plan.recorded_commit if plan else None),
        _cell(
            plan.newest.tag if plan else "-",
            plan.newest.tag if plan else None,
            title=f"{plan.source} (untagged: commits)" if plan and plan.untagged else "",
        ),
        _cell(_behind(plan, count), count, "number"),
        _cell(
            str(plan.days_behind(now)) if plan else "-",
            plan.days_behind(now) if plan else None,
            "number",
        ),
        _score(status.audit.score),
        *(_score(status.audit.area(key)) for key, _ in SCORED_AREAS),
        _cell(
            update_text(status),
            UPDATE_ORDER.get(update, 0),
            f"update-{update}",
            title=status.error or status.audit.note or "",
        ),
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _heading(label: str, *, number: bool = False, title: str = "") -> str:
    css = ' class="number"' if number else ""
    hint = f' title="{escape(title)}"' if title else ""
    return f'<th scope="col"{css}{hint}><button type="button">{escape(label)}</button></th>'


def page(statuses: Sequence[ServiceStatus], now: datetime) -> str:
    """The whole page, as text: write it to a file and open it in any browser."""
    headings = [
        _heading("service"),
        _heading("release", title="_commit in .copier-answers.yml"),
        _heading("newest", title="the template's newest release (untagged: newest commit)"),
        _heading("behind", number=True, title="releases not taken (untagged: commits)"),
        _heading("days", number=True, title="days since the first release not taken came out"),
        _heading("audit", number=True, title="the standards audit's overall score"),
        *(_heading(key, number=True, title=title) for key, title in SCORED_AREAS),
        _heading("update", title="the update to the newest release, tried in a private clone"),
    ]
    counts = {
        label: sum(1 for status in statuses if status.update == outcome)
        for label, outcome in (
            ("up to date", UP_TO_DATE),
            ("update applies cleanly", CLEAN),
            ("update conflicts", CONFLICTS),
            ("update failed", FAILED),
        )
    }
    summary = "".join(f"<li>{escape(label)}: {count}</li>" for label, count in counts.items())
    untagged = sorted({s.plan.source for s in statuses if s.plan and s.plan.untagged})
    notes = [
        f"template {source}: untagged (no vX.Y.Z tag), behind counts commits" for source in untagged
    ]
    notes += sorted({s.audit.note for s in statuses if s.audit.note})
    areas = "".join(
        f"<dt>{escape(key)}</dt><dd>{escape(title)}</dd>" for key, title in SCORED_AREAS
    )
    policy = (
        f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; "
        "base-uri 'none'; form-action 'none'"
    )
    generated = now.isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fleet: {len(statuses)} service(s)</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Fleet: {len(statuses)} service(s)</h1>
<p class="meta">Generated by <code>goldenpath fleet</code> at {escape(generated)}.
Click a column's heading to sort by it.</p>
<ul class="summary">{summary}</ul>
<table>
<thead><tr>{"".join(headings)}</tr></thead>
<tbody>
{"\n".join(_row(status, now) for status in statuses)}
</tbody>
</table>
{"".join(f'<p class="meta">{escape(note)}</p>' for note in notes)}
<dl>{areas}</dl>
<script>{SCRIPT}</script>
</body>
</html>
"""
