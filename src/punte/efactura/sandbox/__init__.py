"""A faithful offline ANAF (RO e-Factura API and its OAuth server), served by punte itself.

The embedded default talks to it, the tests run against it, and a user switches to ANAF's
test or production environment by configuration. Mounted under ``/anaf-sandbox`` by
:func:`install` when ``Settings.anaf_sandbox_enabled`` (the default); the
:class:`~punte.efactura.sandbox.service.Sandbox` object is ``app.state.anaf_sandbox``.

Public surface:

* :class:`Sandbox` - the service (ANAF's answers, plus the test/demo controls);
* :func:`verify_signature` / :class:`VerifiedZip` / :class:`SignatureError` - check an answer ZIP
  (the sandbox's or ANAF's) and get the signed document out of it;
* :class:`Clock`, :class:`Limits` - time and limits a test can change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clock import Clock
from .limits import Limits
from .signing import SandboxKeys, SignatureError, VerifiedZip, verify_signature

if TYPE_CHECKING:
    from fastapi import FastAPI

    from punte.config import Settings
    from punte.store.db import Database

    from .service import Sandbox

PREFIX = "/anaf-sandbox"


def install(app: FastAPI, settings: Settings, db: Database) -> Sandbox:
    """Create the sandbox for ``app`` and mount its routes under :data:`PREFIX`."""
    from .routes import router
    from .service import Sandbox

    sandbox = Sandbox(db, settings.data_dir)
    app.state.anaf_sandbox = sandbox
    app.include_router(router, prefix=PREFIX)
    return sandbox


def __getattr__(name: str) -> object:
    if name == "Sandbox":
        from .service import Sandbox

        return Sandbox
    raise AttributeError(name)


__all__ = ["PREFIX", "Clock", "Limits", "Sandbox", "SandboxKeys", "SignatureError", "VerifiedZip", "install",
           "verify_signature"]
