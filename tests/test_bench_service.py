"""bench/service.py --quick runs end to end, so the service benchmark cannot rot unnoticed.

It stands up the production deployment (its own database on the test's PostgreSQL server,
its own redis-server, a daphne and the worker from deploy/run.sh) and drives every stage for
3 s: the figures are not checked (a shared machine), only that each action was answered,
without errors outside the fault stage, and that no posted request was lost.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def server_url() -> str:
    """The test database's PostgreSQL server (the bench makes and drops databases of its own)."""
    settings = connection.settings_dict
    user = quote(settings["USER"] or "postgres")
    password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/postgres"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_quick_service_bench_answers_every_action_and_loses_no_request(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI's second run)")
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server program to start a Redis of its own")
    figures = tmp_path / "figures.json"
    command = [sys.executable, "bench/service.py", "--quick", "--database-url", server_url()]
    finished = subprocess.run(
        [*command, "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "Targets (issue 13)" in finished.stdout
    stages = {stage["stage"]: stage for stage in json.loads(figures.read_text())["results"]["1"]}
    expected = {
        "empty view (max)": "empty view",
        "posts (max)": "post",
        "logins (max)": "login",
        "sign-ups (max)": "sign-up",
    }
    mixes = [name for name in stages if name.startswith("crisis mix") and "restarted" not in name]
    assert mixes
    expected |= dict.fromkeys(mixes, "post")
    for name, action in expected.items():
        assert stages[name]["actions"][action]["answered"] > 0, name
        assert all(figures["errors"] == 0 for figures in stages[name]["actions"].values()), stages[name]
    for stage in stages.values():
        if stage.get("posted"):
            # Every request posted was proposed (and maybe accepted and done), none left open.
            assert "open" not in stage["request_statuses"], stage
    mix = stages[mixes[0]]
    assert mix["lag_seconds"]["count"] > 0
    assert mix["actions"]["accept (socket)"]["answered"] > 0
    assert any("restarted" in name for name in stages)
