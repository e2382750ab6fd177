"""The engine and its CLI never import Django (they run without settings)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE_MODULES = sorted((ROOT / "matching" / "engine").rglob("*.py"))
CLI = ROOT / "matching" / "__main__.py"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
            "import_module",
            "__import__",
        }:
            names.update(
                arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return names


def test_engine_package_has_modules_to_check():
    assert len(ENGINE_MODULES) >= 3


def test_no_engine_module_imports_django():
    for path in [*ENGINE_MODULES, CLI]:
        offending = {name for name in imported_modules(path) if name.split(".")[0] == "django"}
        assert not offending, f"{path.relative_to(ROOT)} imports {offending}"


def test_engine_imports_only_the_standard_library_numpy_and_scipy():
    allowed = set(sys.stdlib_module_names) | {"numpy", "scipy", "matching"}
    for path in [*ENGINE_MODULES, CLI]:
        outside = {name for name in imported_modules(path) if name.split(".")[0] not in allowed}
        assert not outside, f"{path.relative_to(ROOT)} imports {outside}"


def test_importing_the_engine_and_cli_loads_no_django_at_run_time():
    code = (
        "import sys, matching.engine, matching.__main__; "
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'django']; "
        "assert not loaded, loaded"
    )
    environment = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, check=True)
