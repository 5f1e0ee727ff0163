"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from punte import __version__
from punte.config import Settings, get_settings
from punte.store.db import Database
from punte.store.migrate import upgrade
from punte.worker.child import WorkerProcess

from .anaf_routes import router as anaf_router
from .context import ApiError, AuthCache, WriteTurns, error_response
from .email_routes import router as email_router
from .operations_routes import router as operations_router
from .ratelimit import RateLimiter, RateLimitMiddleware
from .payment_routes import router as payment_router
from .smartbill_routes import router as smartbill_router
from .stock_routes import router as stock_router
from .views import router as views_router


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, migrate: bool = True, worker: bool = False,
    worker_process: bool = False,
) -> FastAPI:
    """Build the app. ``migrate`` runs Alembic at start (the embedded mode does); ``worker`` runs the
    background worker while the app is up (``punte serve`` with the embedded default): in a thread, or
    with ``worker_process`` in a child ``punte worker`` process (:mod:`punte.worker.child`)."""
    settings = settings or get_settings()
    database = db or Database(settings.resolved_database_url(), busy_timeout_ms=settings.sqlite_busy_timeout_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner: Any = None
        if worker and worker_process:
            runner = WorkerProcess(poll=settings.worker_poll_seconds, environment=settings.as_environment())
            runner.start()
        elif worker:
            from punte.worker.runner import Worker

            runner = Worker(database, settings, services=app.state.worker_services)
            runner.start()
        app.state.worker = runner
        yield
        if runner is not None:
            runner.stop()
        if db is None:
            database.dispose()

    if migrate:
        upgrade(database.url)

    app = FastAPI(
        title="punte",
        version=__version__,
        description="Self-hosted, SmartBill-compatible invoicing API with RO e-Factura.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.secret_key = settings.resolved_secret_key()
    app.state.auth_cache = AuthCache()
    app.state.write_turns = WriteTurns(one_for_all=database.is_sqlite)
    app.state.worker_services = {}
    app.state.limiter = RateLimiter(
        settings.rate_limit_calls, settings.rate_limit_window_seconds, settings.rate_limit_block_seconds
    )

    app.add_middleware(
        RateLimitMiddleware, limiter=lambda: app.state.limiter,
        refuse=lambda: error_response(403, "Ati depasit numarul de apeluri permise. Accesul este blocat temporar."),
    )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.text, exc.shape)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, f"Cerere invalida: {exc.errors()[:3]}")

    @app.exception_handler(404)
    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return error_response(404, "Adresa nu exista.")

    @app.exception_handler(405)
    async def method_not_allowed(_request: Request, _exc: Exception) -> JSONResponse:
        return error_response(405, "Metoda HTTP nu este permisa pentru aceasta adresa.")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        """For load balancers and monitoring: the version, the embedded worker, the webhooks waiting for it."""
        runner = getattr(app.state, "worker", None)
        if runner is None:
            state = "none"  # PUNTE_EMBEDDED_WORKER=false: workers run apart
        elif isinstance(runner, WorkerProcess):
            alive = runner.process is not None and runner.process.poll() is None
            state = "running" if alive else "restarting"
        else:
            state = "running"  # a thread of this process
        waiting = database.journal.count() if database.journal is not None else 0
        return {"status": "ok", "version": __version__, "worker": state, "webhooksWaiting": waiting}

    app.include_router(smartbill_router)
    app.include_router(operations_router)
    app.include_router(payment_router)
    app.include_router(stock_router)
    app.include_router(views_router)
    app.include_router(anaf_router)
    app.include_router(email_router)
    from .received_routes import router as received_router

    app.include_router(received_router)  # punte extension: /SBORO/api/efactura/received (supplier invoices)
    from .webhook_routes import install as install_webhooks

    install_webhooks(app)  # POST /webhooks/{stripe|shopify|paypal}/{cif}: the payment bridge's inbox
    if settings.anaf_sandbox_enabled:
        from punte.efactura.sandbox import install as install_anaf_sandbox

        install_anaf_sandbox(app, settings, database)
    from punte.web import install as install_dashboard

    install_dashboard(app)  # the dashboard: / (overview), /login, /documents, /settings ...
    _add_wire_schemas(app)
    return app


def _add_wire_schemas(app: FastAPI) -> None:
    """Put the SmartBill wire models into the OpenAPI components the routes refer to."""
    from pydantic.json_schema import models_json_schema

    from .smartbill_routes import OPENAPI_MODELS

    default_openapi = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema:
            return app.openapi_schema
        schema = default_openapi()
        _, defs = models_json_schema(
            [(m, "validation") for m in OPENAPI_MODELS], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
