"""Running the service: static files for production, health, readiness, metrics, logs."""

from __future__ import annotations

from tests.web.test_limits_and_headers import PRODUCTION, run_manage


def test_collectstatic_with_the_production_storage(tmp_path):
    # WhiteNoise's manifest storage follows every url() and sourceMappingURL in CSS and
    # JavaScript: a reference to a file not in the repository fails the deployment.
    static_root = tmp_path / "static"
    environment = PRODUCTION | {"STATIC_ROOT": str(static_root)}
    result = run_manage("collectstatic", "--noinput", environment=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (static_root / "staticfiles.json").is_file()
    assert list(static_root.glob("vendor/leaflet/leaflet.*.js"))  # hashed names for long caching
    assert list(static_root.glob("vendor/leaflet/leaflet.*.js.gz"))  # compressed beside them
