"""Foghorn as operators install it (#16): the wheel in a fresh virtualenv, run from an empty
folder (the Dockerfile's own steps); the Dockerfile's health check against a real process;
compose.yaml, the Heroku files. Docker itself cannot run on this machine: what the image
does is tested through the same steps outside it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.config import Settings
from bot.testing.fake_slack import FakeSlack
from tests.conftest import ROOT
from tests.processes import free_port

DOCKERFILE = (ROOT / "Dockerfile").read_text()


async def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             limit: float = 300) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def healthcheck_command() -> list[str]:
    found = re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])", DOCKERFILE)
    assert found, "the Dockerfile has a HEALTHCHECK with an exec-form CMD"
    return list(json.loads(found.group(1)))


async def test_the_wheel_installs_and_runs_from_an_empty_folder(tmp_path: Path) -> None:
    """The Dockerfile's steps: `pip wheel --no-deps .`, then `pip install` the wheel into a
    fresh Python; then what an operator runs first, from a folder with nothing in it."""
    wheels, venv, empty = tmp_path / "wheels", tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    code, out = await sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                         "--wheel-dir", str(wheels), str(ROOT))
    assert code == 0, out
    assert "deprecat" not in out.lower(), out  # no setuptools license deprecation
    [wheel] = wheels.glob("foghorn-*.whl")
    assert (await sh(sys.executable, "-m", "venv", str(venv)))[0] == 0
    code, out = await sh(str(venv / "bin" / "pip"), "install", "--quiet",
                         "--disable-pip-version-check", str(wheel), limit=600)
    assert code == 0, out
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    foghorn = str(venv / "bin" / "foghorn")
    code, out = await sh(foghorn, "--version", cwd=empty, env=env)
    assert (code, out.strip()) == (0, "foghorn 0.1.0")
    code, out = await sh(foghorn, "demo", "--pace", "0", cwd=empty, env=env)
    assert code == 0, out
    assert "INCIDENT DECLARED" in out and out.rstrip().endswith("Demo finished.")
    assert "Traceback" not in out and "WARNING" not in out
    assert list(empty.iterdir()) == []  # the demo leaves nothing behind
    code, out = await sh(foghorn, "init", cwd=empty, env=env)
    assert code == 0 and (empty / "playbooks" / "default.yml").is_file()
    code, out = await sh(foghorn, "check-playbooks", cwd=empty, env=env)
    assert code == 0 and "ok: playbooks/default.yml" in out
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "bot" / "defaults" / "default.yml").is_file()
    assert (site / "bot" / "defaults" / "default.yml").read_text() == (
        ROOT / "playbooks" / "default.yml").read_text()
    assert next(site.glob("foghorn-*.dist-info/licenses/LICENSE")).is_file()


async def test_the_images_health_check_follows_healthz(fake: FakeSlack,
                                                       token_env: dict[str, str], start
                                                       ) -> None:
    command = healthcheck_command()
    assert command[0] == "python"
    down = await sh(sys.executable, *command[1:], env={"PORT": str(free_port())}, limit=20)
    assert down[0] != 0  # nothing listening: unhealthy
    bot = await start(token_env)
    await bot.until_health(200)
    up = await sh(sys.executable, *command[1:], env={"PORT": token_env["PORT"]}, limit=20)
    assert up[0] == 0, up[1]
    code, _ = await bot.stop()
    assert code == 0


def test_the_dockerfile_runs_foghorn_unprivileged_and_stops_on_sigterm() -> None:
    lines = [line.strip() for line in DOCKERFILE.splitlines()
             if line.strip() and not line.startswith("#")]
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM "))]
    assert final.startswith("FROM python:3.12-slim")
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users == ["foghorn"]
    assert 'ENTRYPOINT ["foghorn"]' in lines and 'CMD ["run"]' in lines
    assert "STOPSIGNAL SIGTERM" in lines
    assert "/healthz" in " ".join(healthcheck_command())
    for line in lines:  # everything copied from the tree exists
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_compose_runs_two_replicas_on_postgresql_behind_one_port() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "foghorn", "proxy"}
    app = services["foghorn"]
    assert app["deploy"]["replicas"] == 2 and "ports" not in app  # only the proxy listens
    env = app["environment"]
    assert set(env) <= set(Settings.model_fields)
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://") and "@db:5432/" in env[
        "DATABASE_URL"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    [port] = services["proxy"]["ports"]
    assert port.endswith(":8080")
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server foghorn:3000" in nginx and "listen 8080" in nginx
    assert "proxy_next_upstream" in nginx


async def test_compose_config_is_valid_where_compose_exists(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's)")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path),
           "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32}
    code, out = await sh(tool, "-f", str(ROOT / "compose.yaml"), "config", "--quiet",
                         cwd=ROOT, env=env, limit=60)
    assert code == 0, out
    code, out = await sh(tool, "-f", str(ROOT / "compose.yaml"), "config", "--quiet",
                         cwd=ROOT, env={**env, "SLACK_BOT_TOKEN": ""}, limit=60)
    assert code != 0 and "set SLACK_BOT_TOKEN" in out  # a missing secret is refused


def test_heroku_style_buildpacks_have_what_they_need() -> None:
    assert (ROOT / "Procfile").read_text().strip() == "web: foghorn run"
    requirements = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    assert requirements == ["."]
    assert (ROOT / ".python-version").read_text().strip() == "3.12"
    app = json.loads((ROOT / "app.json").read_text())
    assert set(app["env"]) <= set(Settings.model_fields)
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= {
        k for k, v in app["env"].items() if v.get("required")}
    assert "heroku-postgresql" in app["addons"]


async def test_the_shipped_nginx_keeps_metrics_off_the_public_port(
        bot: Any, tmp_path: Path) -> None:
    """deploy/nginx.conf in a real nginx in front of a real bot: Slack's requests and the
    health check pass; /metrics (in any spelling nginx normalises) does not."""
    tool = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (.ci/run installs Debian's nginx-light)")
        pytest.skip("nginx is not installed (.ci/run installs Debian's nginx-light)")
    port = free_port()
    shipped = (ROOT / "deploy" / "nginx.conf").read_text()
    server = shipped.replace("server foghorn:3000", f"server {bot.url.split('//')[1]}").replace(
        "listen 8080", f"listen 127.0.0.1:{port}")
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
                    f"events {{}}\nhttp {{\naccess_log off;\n"
                    f"client_body_temp_path {tmp_path}/body;\nproxy_temp_path {tmp_path}/proxy;\n"
                    f"{server}\n}}\n")
    proc = await asyncio.create_subprocess_exec(
        tool, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as session:
            front = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    async with session.get(f"{front}/healthz") as r:
                        assert r.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("nginx did not start")
            async with session.get(f"{bot.url}/metrics") as r:  # the replica's own port
                assert r.status == 200 and "foghorn_" in await r.text()
            for path in ("/metrics", "//metrics", "/%6Detrics", "/metrics?format=text"):
                async with session.get(front + path) as r:
                    body = await r.text()
                    assert r.status == 404 and "foghorn_" not in body, path
            reply = await bot.slack.post(b"{}", "application/json")  # signed, via the bot
            assert reply.status == 400
            async with session.post(f"{front}/slack/events", data=b"{}") as r:
                assert r.status == 401  # reached Foghorn, which checks the signature
    finally:
        proc.terminate()
        await proc.wait()
