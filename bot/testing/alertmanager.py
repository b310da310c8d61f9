"""The real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) for tests and the
storm benchmark: started with Foghorn as its webhook receiver, stopped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import yaml

from bot.testing.ports import free_port


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@contextlib.asynccontextmanager
async def alertmanager(workdir: Path, webhook_url: str, token: str, *,
                       ready_within: float = 20.0) -> AsyncIterator[str]:
    """Alertmanager grouping by alertname (group_wait and group_interval 1 s), sending its
    webhook to `webhook_url` with `token` as its bearer token; yields its URL once ready."""
    binary = alertmanager_binary()
    if binary is None:
        raise RuntimeError("prometheus-alertmanager is not installed")
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump({
        "route": {"receiver": "foghorn", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "foghorn", "webhook_configs": [{
            "url": webhook_url, "send_resolved": True,
            "http_config": {"authorization": {"credentials": token}}}]}]}))
    proc = await asyncio.create_subprocess_exec(
        binary, f"--config.file={config}", f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        async with aiohttp.ClientSession() as s:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with s.get(f"{url}/-/ready") as r:
                        if r.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Alertmanager was not ready within {ready_within:g} s")
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        await proc.wait()
