"""README's "Operating a farm" table is what the twin's scenarios measured: regenerated, it is the
same text, and a stale one fails `--check`."""

from __future__ import annotations

import importlib

from tests.twin.conftest import report_of  # the module pytest loaded: its cache is the `scenario` fixture's
from twin import readme
from twin.scenarios import SCENARIOS


def _reports() -> dict:
    return {name: report_of(SCENARIOS[name]) for name in readme.scenario_names()}


def test_the_operating_a_farm_table_in_readme_is_the_twins():
    current = readme.README.read_text()
    assert readme.synced(current, _reports()) == current, (
        "README's 'Operating a farm' table is stale: run `venv/bin/python -m twin.readme`"
    )


def test_check_fails_on_a_stale_table_and_never_writes(tmp_path, monkeypatch):
    stale = tmp_path / "README.md"
    text = readme.README.read_text()
    stale.write_text(text.replace("clients notice (twin:", "clients notice (stale:"))
    monkeypatch.setattr(readme, "README", stale)
    before = stale.read_text()
    assert readme.main(["--check"], lambda name: report_of(SCENARIOS[name])) == 1
    assert stale.read_text() == before
    assert readme.main([], lambda name: report_of(SCENARIOS[name])) == 0
    assert stale.read_text() == readme.synced(before, _reports())


def test_importing_the_module_writes_nothing(tmp_path, monkeypatch):
    before = readme.README.read_text()
    importlib.reload(readme)
    assert readme.README.read_text() == before


def test_the_column_says_yes_exactly_where_a_scenario_measured_an_outage_or_a_failed_clone():
    reports = _reports()
    for row in readme.ROWS:
        text = readme.clients_notice(reports, row)
        spoken = [reports[n] if row.then is None else reports[n]["then"][row.then] for n in row.scenarios]
        measured = [_site(r) for r in spoken if not r.get("refused_at_preview")]
        noticed = any(site["outage_s"] > 0 or site["clones"]["failed"] > 0 for site in measured)
        assert text.startswith("**yes**") is noticed, (row.change, text)
        for site in measured:
            assert f"{site['clones']['failed']} of {site['clones']['started']} clones failed" in text


def _site(report):
    (site,) = report["sites"].values()
    return site
