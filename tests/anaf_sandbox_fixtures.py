"""pytest fixtures: punte's app with its offline ANAF sandbox, served over real HTTP.

Use them from a test module with::

    from tests.anaf_sandbox_fixtures import *  # noqa: F403  (anaf_live and the fixtures it needs)

``anaf_live`` (function scope; parametrized over SQLite and PostgreSQL through conftest's ``db``)
starts ``create_app(settings, db=db)`` in a real uvicorn server on a free loopback port and
yields an :class:`AnafLive`:

* ``base_url``      ``http://127.0.0.1:<port>`` (also set as ``settings.public_url``, so the
                    ANAF client's default sandbox URLs point at this server);
* ``sandbox``       the :class:`~punte.efactura.sandbox.service.Sandbox` (``app.state.anaf_sandbox``):
                    ``clock``, ``limits``, ``faults``, ``holds``, ``processing_delay``,
                    ``uploads()``, ``inject_invoice()``, ``process_pending()``, ``oauth``;
* ``db``, ``settings``, ``app``;
* ``api_url(env)``  ``.../anaf-sandbox/{prod|test}/FCTEL/rest/``; ``oauth_url``
                    ``.../anaf-sandbox/anaf-oauth2/v1``; ``certificate_url``;
* ``tokens()``      runs the OAuth dance (authorize, then the code for tokens) and returns the
                    token answer (``access_token``, ``refresh_token``, ...).

Defaults chosen for tests: ``processing_delay`` is 0 (a file is processed by the first call
after its upload; set it higher, or advance ``sandbox.clock``, to observe ``in prelucrare``),
and the sandbox validates with ANAF's rules from ``../shared/efactura`` when that directory
exists (one validator per test session), else it falls back to the XSD/CIF checks and logs it.
The server's signing key is generated once per session and copied into each data directory.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from punte.config import Settings
from punte.efactura.sandbox import SandboxKeys
from punte.efactura.sandbox.service import Sandbox
from punte.efactura.validator import Validator
from punte.store.db import Database

SHARED_EFACTURA = Path(__file__).resolve().parents[1].parent / "shared" / "efactura"
BUNDLE = SHARED_EFACTURA / "ro16931-ubl-1.0.9.zip"
XSD_DIR = SHARED_EFACTURA / "ubl-2.1"
CLIENT_ID = "punte-tests"
CLIENT_SECRET = "punte-tests-secret"
REDIRECT_URI = "http://127.0.0.1/anaf/callback"

__all__ = ["AnafLive", "anaf_keys_dir", "anaf_live", "anaf_validator"]


@dataclass
class AnafLive:
    base_url: str
    sandbox: Sandbox
    db: Database
    settings: Settings
    app: FastAPI

    @property
    def sandbox_url(self) -> str:
        return f"{self.base_url}/anaf-sandbox"

    @property
    def oauth_url(self) -> str:
        return f"{self.sandbox_url}/anaf-oauth2/v1"

    @property
    def certificate_url(self) -> str:
        return f"{self.sandbox_url}/certificate"

    def api_url(self, env: str = "test") -> str:
        return f"{self.sandbox_url}/{env}/FCTEL/rest/"

    def tokens(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET,
               redirect_uri: str = REDIRECT_URI, subject: str | None = None) -> dict[str, Any]:
        """Authorize (the sandbox answers 302 with a code at once), then exchange the code."""
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "token_content_type": "jwt", "state": "t"}
        if subject:
            params["sandbox_subject"] = subject
        with httpx.Client(timeout=10) as client:
            redirect = client.get(f"{self.oauth_url}/authorize", params=params)
            assert redirect.status_code == 302, redirect.text
            code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
            answer = client.post(f"{self.oauth_url}/token", auth=(client_id, client_secret), data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "token_content_type": "jwt"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def bearer(self, **kwargs: Any) -> dict[str, str]:
        """``Authorization`` header with a fresh access token."""
        return {"Authorization": f"Bearer {self.tokens(**kwargs)['access_token']}"}


@pytest.fixture(scope="session")
def anaf_validator(tmp_path_factory: pytest.TempPathFactory) -> Validator | None:
    """ANAF's rules from the shared directory, compiled once per session (None when absent)."""
    if not (BUNDLE.is_file() and (XSD_DIR / "maindoc").is_dir()):
        return None
    return Validator(BUNDLE, XSD_DIR, tmp_path_factory.mktemp("anaf-sandbox-xslt"))


@pytest.fixture(scope="session")
def anaf_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding one sandbox signing key, generated once per session."""
    data_dir = tmp_path_factory.mktemp("anaf-sandbox-keys")
    SandboxKeys.load_or_create(data_dir)
    return data_dir / "anaf-sandbox"


def _serve(app: FastAPI, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="anaf-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    return server, thread


@pytest.fixture
def anaf_live(db: Database, settings: Settings, anaf_validator: Validator | None,
              anaf_keys_dir: Path) -> Iterator[AnafLive]:
    from punte.api.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings.public_url = base_url
    shutil.copytree(anaf_keys_dir, settings.data_dir / "anaf-sandbox", dirs_exist_ok=True)
    app = create_app(settings, db=db, migrate=False)
    sandbox: Sandbox = app.state.anaf_sandbox
    sandbox.use_validator(anaf_validator)
    sandbox.processing_delay = 0
    server, thread = _serve(app, sock)
    try:
        yield AnafLive(base_url, sandbox, db, settings, app)
    finally:
        sandbox.holds.release()
        sandbox.faults.clear()
        server.should_exit = True
        thread.join(10)
        sock.close()
