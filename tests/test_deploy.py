"""The files in deploy/: every setting listed, the units calling deploy/run.sh, nginx's site valid."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def settings_variables() -> set[str]:
    text = (ROOT / "mutualaid" / "settings.py").read_text()
    names = set(re.findall(r'(?:os\.environ\.get|env_bool|env_list)\(\s*"([A-Z_0-9]+)"', text))
    return (names | {"DATABASE_URL"}) - {"PYTEST_XDIST_WORKER"}  # dj-database-url reads DATABASE_URL


def test_the_environment_example_lists_every_production_variable():
    example = (DEPLOY / "mutualaid.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z_0-9]+)=", example, flags=re.MULTILINE))
    assert settings_variables() - listed == set()


def test_the_readme_documents_every_variable():
    readme = (ROOT / "README.md").read_text()
    assert {name for name in settings_variables() if f"`{name}`" not in readme} == set()


def test_the_units_start_everything_through_deploy_run_sh():
    daphne = (DEPLOY / "systemd" / "mutualaid-daphne@.service").read_text()
    worker = (DEPLOY / "systemd" / "mutualaid-worker.service").read_text()
    assert re.search(r"^ExecStart=\S+/deploy/run\.sh daphne %i$", daphne, flags=re.MULTILINE)
    assert re.search(r"^ExecStart=\S+/deploy/run\.sh worker$", worker, flags=re.MULTILINE)
    assert re.search(r"^Restart=always$", worker, flags=re.MULTILINE)


def upstream_servers(site: str, name: str) -> list[str]:
    block = re.search(rf"upstream {name} {{(.*?)}}", site, flags=re.DOTALL).group(1)
    return re.findall(r"server (127\.0\.0\.1:\d+)", block)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
@pytest.mark.parametrize(
    ("socket_daphnes", "socket_servers"),
    [("0", ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]), ("1", ["127.0.0.1:8004"])],
)
def test_the_nginx_site_renders_to_a_configuration_nginx_accepts(tmp_path, socket_daphnes, socket_servers):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp_path / "key.pem",
         "-out", tmp_path / "cert.pem", "-days", "2", "-subj", "/CN=localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    environment = os.environ | {
        "NGINX_SERVER_NAME": "localhost",
        "NGINX_HTTPS_LISTEN": "127.0.0.1:1",
        "NGINX_HTTP_LISTEN": "127.0.0.1:2",
        "TLS_CERTIFICATE": str(tmp_path / "cert.pem"),
        "TLS_CERTIFICATE_KEY": str(tmp_path / "key.pem"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "DAPHNE_COUNT": "3",
        "SOCKET_DAPHNE_COUNT": socket_daphnes,
    }
    site = subprocess.run(
        ["bash", DEPLOY / "run.sh", "nginx-site"], env=environment, check=True, capture_output=True, text=True
    ).stdout
    assert "@" not in re.sub(r"#.*", "", site)  # every placeholder filled in
    assert upstream_servers(site, "mutualaid_daphne") == [
        "127.0.0.1:8001",
        "127.0.0.1:8002",
        "127.0.0.1:8003",
    ]
    # The sockets: daphnes of their own after the page daphnes, or the page daphnes themselves.
    assert upstream_servers(site, "mutualaid_sockets") == socket_servers
    assert re.search(r"location /ws/ {\s*proxy_pass http://mutualaid_sockets;", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;"
        f" fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi;"
        f" scgi_temp_path {tmp_path}/scgi; include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
