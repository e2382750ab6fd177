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


def run_cli(*arguments: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "matching", *arguments],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},  # no DJANGO_SETTINGS_MODULE
        timeout=timeout,
    )


@pytest.fixture
def instance_file(tmp_path: Path) -> Path:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(INSTANCE))
    return path


def check_result(result: dict) -> None:
    km = great_circle((50.8798, 4.7005), (50.8721, 4.7112)).km
    assert result["assignments"] == [{"request": "r1", "volunteer": "v1", "km": pytest.approx(km, abs=1e-9)}]
    assert result["unassigned"] == [{"request": "r9", "places": 1, "reason": "out_of_range"}]
    assert result["total_cost"] == result["total_km"]
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


def test_deeply_nested_json_exits_2_without_a_traceback():
    assert _invalid("[" * 100_000 + "]" * 100_000) == "<stdin>: malformed JSON: nested too deeply"


def test_integer_with_more_digits_than_python_converts_exits_2():
    text = json.dumps(INSTANCE).replace('"priority": 2', '"priority": 1' + "0" * 5000, 1)
    assert _invalid(text).startswith("<stdin>: malformed JSON: Exceeds the limit (4300 digits)")


def test_invalid_utf8_on_standard_input_exits_2_like_a_file():
    completed = subprocess.run(
        [sys.executable, "-m", "matching", "solve", "-"],
        cwd=ROOT,
        input=json.dumps(INSTANCE).encode().replace(b'"r9"', b'"r\xff"'),  # 0xff: never UTF-8
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stdout == b""
    assert completed.stderr.decode().splitlines() == ["<stdin>: not UTF-8 text: invalid start byte"]


def test_unwritable_out_exits_1_with_one_line(instance_file, tmp_path):
    target = tmp_path / "missing-folder" / "result.json"
    completed = run_cli("solve", str(instance_file), "--out", str(target))
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [f"{target}: cannot write: No such file or directory"]


def test_distinct_priorities_competing_for_nearly_equal_volunteers_solve_promptly(tmp_path):
    # Pairs of requests of different priority, each pair between two volunteers 7 cm apart:
    # on as many candidates as volunteers, SciPy's LAPJVsp ran Jonker-Volgenant's augmenting
    # row reduction, pseudo-polynomial in the costs (priority ranks x BIG against km gaps of
    # a few units): this 20 x 20 instance took 98 s (24 x 24: 208 s); now about 1 s.
    requests, volunteers = [], []
    for g in range(10):
        lat, lon = 50 + (g // 40) * 0.02, 4 + (g % 40) * 0.03
        for name, east, priority in (("a", 0.0, 2 * g + 1), ("b", 0.02, 2 * g + 2)):
            requests.append(
                {
                    "id": f"{name}{g}",
                    "lat": lat,
                    "lon": lon + east,
                    "skills": [],
                    "slots": [],
                    "priority": priority,
                }
            )
        for name, east in (("x", 0.01), ("y", 0.01 + 1e-6)):
            volunteers.append(
                {
                    "id": f"{name}{g}",
                    "lat": lat + 0.01,
                    "lon": lon + east,
                    "skills": [],
                    "slots": [],
                    "max_km": 10.0,
                }
            )
    path = tmp_path / "instance.json"
    path.write_text(json.dumps({"requests": requests, "volunteers": volunteers}))
    completed = run_cli("solve", str(path), timeout=30)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert (result["matched"], result["total_priority"]) == (20, 210)
    assert result["certificate"]["optimal"] is True


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


def test_endless_input_is_refused_at_the_size_cap_with_exit_2():
    completed = run_cli("solve", "/dev/zero", timeout=60)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "256 MiB" in completed.stderr and len(completed.stderr.splitlines()) == 1


def test_instance_one_byte_over_the_cap_on_stdin_is_refused_before_parsing(monkeypatch, capsys):
    import io

    from matching import __main__ as cli

    monkeypatch.setattr(cli, "MAX_INSTANCE_BYTES", 64)
    text = json.dumps(INSTANCE)
    assert len(text) > 64
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert cli.main(["solve", "-"]) == 2
    assert "larger than 256 MiB" in capsys.readouterr().err
    monkeypatch.setattr(cli, "MAX_INSTANCE_BYTES", len(text))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert cli.main(["solve", "-"]) == 0
