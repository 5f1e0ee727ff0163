"""``punte serve`` runs its worker in a child process: woken through a pipe, restarted when it dies, gone when
the server goes (issue #6: the worker's CPU no longer delays webhook acknowledgements; measured in
bench/webhooks.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from punte.cli import app as cli
from punte.config import get_settings
from punte.worker import queue
from punte.worker.child import WorkerProcess

from .bridge_support import SECRET, body_of, checkout_session, event, stripe_headers

CIF = "RO18547290"


def _wait(what: Callable[[], Any], seconds: float, message: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(message)


def _gone(pid: int) -> bool:
    """The process exited (an orphan nobody reaped yet is a zombie: it runs no more either)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return [p for p in found if not _gone(p)]


def test_the_wake_event_writes_to_the_pipes_it_forwards_to() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    queue.WAKE.forward_to(write_end)
    try:
        queue.WAKE.set()
        queue.WAKE.set()
        assert os.read(read_end, 10) == b"\0\0"
    finally:
        queue.WAKE.stop_forwarding(write_end)
        queue.WAKE.clear()
        os.close(write_end)
    queue.WAKE.set()  # no longer forwarded: nothing to read, and the pipe's writer is closed
    assert os.read(read_end, 10) == b""
    os.close(read_end)
    queue.WAKE.clear()


_FAKE_WORKER = textwrap.dedent("""
    import os, sys
    fd = int(sys.argv[sys.argv.index("--wake-fd") + 1])
    out = sys.argv[1]
    while True:
        data = os.read(fd, 100)
        if not data:
            break
        with open(out, "a") as f:
            f.write(str(os.getpid()) + " " + str(len(data)) + "\\n")
""")


def test_the_supervisor_wakes_restarts_and_stops_its_child(tmp_path: Path) -> None:
    log = tmp_path / "wakes.log"
    supervisor = WorkerProcess(poll=5, restart_after=0.1, stop_timeout=5,
                               command=[sys.executable, "-c", _FAKE_WORKER, str(log)])
    supervisor.start()
    try:
        first = supervisor.process
        assert first is not None
        queue.WAKE.set()
        _wait(lambda: log.exists() and log.read_text().startswith(f"{first.pid} "), 10, "the child was not woken")
        first.kill()
        second = _wait(lambda: supervisor.process if supervisor.process is not first else None, 10,
                       "the child was not started again")
        assert supervisor.restarts == 1
        queue.WAKE.set()
        _wait(lambda: f"{second.pid} " in log.read_text(), 10, "the new child was not woken")
    finally:
        supervisor.stop()
        queue.WAKE.clear()
    assert second.poll() == 0  # it saw the pipe close and exited on its own
    assert supervisor.restarts == 1


@contextmanager
def _serve(env: dict[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "punte.cli", "serve", "--port", str(port)], env=env,
                              cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if server.poll() is not None:
            raise AssertionError("punte serve exited")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up, 60, "punte serve did not start")
        yield server, base
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


def _pay(base: str, n: int) -> None:
    payload = event("checkout.session.completed", checkout_session(
        pi=f"pi_child_{n}", amount=12100, metadata={"Order Item #1": "SKU1, Carte, 1, 121.00"}))
    body = body_of(payload)
    answer = httpx.post(f"{base}/webhooks/stripe/{CIF[2:]}", content=body, headers=stripe_headers(body), timeout=10)
    assert answer.status_code == 200 and answer.json()["duplicate"] is False


def test_serve_runs_its_worker_in_a_child_that_is_woken_restarted_and_stopped_with_it(tmp_path: Path) -> None:
    database = tmp_path / "punte.db"
    env = {**os.environ, "PUNTE_DATA_DIR": str(tmp_path), "PUNTE_SECRET_KEY": "child-test",
           "PUNTE_DATABASE_URL": f"sqlite:///{database}", "PUNTE_CONFIG": str(tmp_path / "none.toml"),
           "PUNTE_EMBEDDED_WORKER": "true", "PUNTE_WORKER_PROCESS": "true",
           "PUNTE_WORKER_POLL_SECONDS": "300",  # only the wake-up pipe can make it run a new job in time
           "PUNTE_BNR_AUTO_FETCH": "false", "PUNTE_RECEIVED_SYNC_MINUTES": "0"}
    runner = CliRunner()
    get_settings.cache_clear()
    try:
        for args in (["db", "upgrade"],
                     ["company", "add", "--cif", CIF, "--name", "Copil SRL", "--address", "Str. 2", "--city",
                      "Cluj-Napoca", "--county", "Cluj"],
                     ["series", "add", "--cif", CIF, "--type", "f", "--name", "FCT"],
                     ["bridge", "stripe", "--cif", CIF, "--webhook-secret", SECRET, "--settle-seconds", "0"]):
            result = runner.invoke(cli, args, env=env)
            assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    engine = create_engine(f"sqlite:///{database}")

    def invoiced() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM documents WHERE kind = 'invoice'")).scalar_one())

    with _serve(env, tmp_path) as (server, base):
        child = _wait(lambda: _children(server.pid), 30, "no worker child")[0]
        health = httpx.get(f"{base}/healthz").json()
        assert (health["status"], health["worker"], health["webhooksWaiting"]) == ("ok", "running", 0)
        _pay(base, 1)
        _wait(lambda: invoiced() == 1, 30, "the child did not issue the invoice")

        os.kill(child, signal.SIGKILL)  # a crashed worker is started again
        _wait(lambda: httpx.get(f"{base}/healthz").json()["worker"] == "restarting", 10, "healthz missed the crash")
        again = _wait(lambda: [p for p in _children(server.pid) if p != child], 30, "no new worker child")[0]
        _pay(base, 2)
        _wait(lambda: invoiced() == 2, 30, "the new child did not issue the invoice")

        server.terminate()  # the server stops its worker on the way out
        server.wait(30)
    _wait(lambda: _gone(again), 10, "the worker outlived the server")

    with _serve(env, tmp_path) as (server, base):  # killed outright, the server's pipe closes all the same
        child = _wait(lambda: _children(server.pid), 30, "no worker child")[0]
        server.kill()
        server.wait(10)
        _wait(lambda: _gone(child), 30, "the worker outlived a killed server")
    engine.dispose()


def test_a_child_reads_the_same_settings_from_the_environment_it_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from punte.config import Settings

    settings = Settings(data_dir=tmp_path / "data", anaf_client_id="app-1", public_url="https://punte.example.ro",
                        rate_limit_calls=7, anaf_read_timeout=12.5,
                        worker_poll_seconds=42.5, anaf_sandbox_enabled=False)
    env = settings.as_environment()
    assert env["PUNTE_DATABASE_URL"] == f"sqlite:///{(tmp_path / 'data' / 'punte.db').resolve()}"
    assert env["PUNTE_SECRET_KEY"] == (tmp_path / "data" / "secret.key").read_text().strip()
    for name in [k for k in os.environ if k.startswith("PUNTE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert again.model_dump(exclude={"database_url", "secret_key"}) == settings.model_dump(
        exclude={"database_url", "secret_key"})
    assert again.resolved_database_url() == settings.resolved_database_url()


@pytest.mark.parametrize("process", [True, False])
def test_create_app_runs_the_worker_as_asked(tmp_path: Path, process: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from punte.api.app import create_app
    from punte.config import Settings
    from punte.worker.runner import Worker

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a child reading its settings anew would make ./var/punte.db here
    settings = Settings(data_dir=tmp_path, secret_key="k", database_url=f"sqlite:///{tmp_path / 'p.db'}",
                        worker_poll_seconds=300, bnr_auto_fetch=False, received_sync_minutes=0)
    application = create_app(settings, worker=True, worker_process=process)
    with TestClient(application) as client:
        assert client.get("/healthz").json()["worker"] == "running"
        runner = application.state.worker
        assert isinstance(runner, WorkerProcess if process else Worker)
        if process:
            assert runner.process is not None and runner.process.poll() is None
    if process:
        assert runner.process.poll() == 0  # stopped with the app, cleanly
    assert list(elsewhere.iterdir()) == []
