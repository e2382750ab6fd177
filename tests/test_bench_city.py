"""bench/city.py --quick runs end to end, so the month-in-a-community simulation cannot rot.

It runs a simulated week of both scenarios and every strategy through the real services on
a throwaway SQLite database. The figures are not held to the issue's targets (a week of a
small community says little); only that the table has its shape and the figures are sane.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ["this service", "one at a time", "km only", "greedy nearest", "broadcast"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_quick_city_simulation_prints_every_strategy_with_sane_figures(tmp_path):
    figures_path = tmp_path / "figures.json"
    finished = subprocess.run(
        [sys.executable, "bench/city.py", "--quick", "--seed", "3", "--json", str(figures_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "day 0 of" in finished.stderr  # progress on stderr
    results = json.loads(figures_path.read_text())["results"]
    assert list(results) == ["Leuven Helpt's first fortnight", "scarce"]
    for scenario, rows in results.items():
        assert list(rows) == STRATEGIES
        for strategy, figures in rows.items():
            where = f"{scenario} / {strategy}"
            assert figures["requests"] > 0, where
            assert 0 < figures["served"] <= figures["requests"], where
            for share in ("served share", "turn share"):
                assert 0 <= figures[share] <= 1, where
            assert math.isnan(figures["same volunteer share"]) or 0 <= figures["same volunteer share"] <= 1
            assert 0 <= figures["p50 hours"] <= figures["p95 hours"] < 24 * 14, where
            assert figures["total km"] > 0, where
            assert 1 <= figures["most tasks"] <= figures["served"], where
            assert figures["volunteers with a task"] <= figures["volunteers"], where
    # The table: one header per scenario, a row per strategy, and a verdict per target.
    table_rows = [line for line in finished.stdout.splitlines() if line.startswith("| ")]
    assert len(table_rows) == 2 * (1 + len(STRATEGIES))
    assert finished.stdout.count("Targets (issue 17)") == 2
    assert (
        finished.stdout.count("**met**")
        + finished.stdout.count("**MISSED**")
        + finished.stdout.count("**not measured**")
        == 2 * 4
    )
