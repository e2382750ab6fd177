"""`python -m matching solve`: the command-line contract, run in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from geopy.distance import great_circle

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = {
    "requests": [
        {"id": "r1", "lat": 50.8798, "lon": 4.7005, "skills": ["shopping"], "slots": [3, 4], "priority": 2},
        {"id": "r9", "lat": 51.5, "lon": 4.7, "skills": ["shopping"], "slots": [], "priority": 1},
    ],
    "volunteers": [
        {
            "id": "v1",
            "lat": 50.8721,
            "lon": 4.7112,
            "skills": ["shopping", "driving"],
            "slots": [0, 3, 5],
            "max_km": 5.0,
            "capacity": 2,
        }
    ],
    "exclude": [],
}


def run_cli(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "matching", *arguments],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},  # no DJANGO_SETTINGS_MODULE
        timeout=120,
    )


@pytest.fixture
def instance_file(tmp_path: Path) -> Path:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(INSTANCE))
    return path


def check_result(result: dict) -> None:
    km = great_circle((50.8798, 4.7005), (50.8721, 4.7112)).km
    assert result["assignments"] == [{"request": "r1", "volunteer": "v1", "km": pytest.approx(km, abs=1e-9)}]
    assert result["unassigned"] == [{"request": "r9", "reason": "out_of_range"}]
    assert (result["matched"], result["total_priority"]) == (1, 2)
    assert result["certificate"]["optimal"] is True


def test_solve_prints_the_result_on_stdout_and_exits_0(instance_file):
    completed = run_cli("solve", str(instance_file))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    check_result(json.loads(completed.stdout))


def test_solve_writes_the_result_to_out(instance_file, tmp_path):
    out = tmp_path / "result.json"
    completed = run_cli("solve", str(instance_file), "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""
    check_result(json.loads(out.read_text()))


def test_solve_reads_standard_input_for_dash():
    completed = run_cli("solve", "-", stdin=json.dumps(INSTANCE))
    assert completed.returncode == 0, completed.stderr
    check_result(json.loads(completed.stdout))


def test_progress_goes_to_stderr_only_when_asked(instance_file):
    completed = run_cli("solve", str(instance_file), "--progress")
    assert completed.returncode == 0
    assert "progress: done" in completed.stderr
    check_result(json.loads(completed.stdout))


def _invalid(stdin: str | None = None, *arguments: str) -> str:
    completed = run_cli(*(arguments or ("solve", "-")), stdin=stdin)
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    return lines[0]


def test_invalid_field_exits_2_with_one_line_naming_record_and_field():
    data = json.loads(json.dumps(INSTANCE))
    data["volunteers"][0]["lat"] = 91.0
    assert _invalid(json.dumps(data)) == 'volunteers[0] ("v1"): lat 91.0 is outside -90..90'


def test_malformed_json_exits_2():
    assert "malformed JSON" in _invalid('{"requests": [')


def test_missing_file_exits_2(tmp_path):
    assert "cannot read" in _invalid(None, "solve", str(tmp_path / "nope.json"))


def test_wrong_type_exits_2():
    data = json.loads(json.dumps(INSTANCE))
    data["requests"][0]["priority"] = "high"
    assert _invalid(json.dumps(data)) == 'requests[0] ("r1"): priority must be an integer, got "high"'


def test_duplicate_id_exits_2():
    data = json.loads(json.dumps(INSTANCE))
    data["requests"][1]["id"] = "r1"
    assert "duplicate id" in _invalid(json.dumps(data))


def test_unknown_id_in_exclude_exits_2():
    data = json.loads(json.dumps(INSTANCE))
    data["exclude"] = [["r1", "nobody"]]
    assert _invalid(json.dumps(data)) == 'exclude[0]: unknown volunteer id "nobody"'


def test_top_level_not_an_object_exits_2():
    assert _invalid("[1, 2]") == "instance: expected an object, got list"


def test_missing_arguments_exit_2_with_one_line():
    _invalid(None, "solve")
