"""Payment webhooks: ``POST /webhooks/{stripe|shopify|paypal}/{cif}``.

The route only hands the raw body and headers to the bridge service, which verifies the signature with
the company's secrets, stores the event and queues its processing; the answer is 200 within
milliseconds (a repeated delivery too). A delivery that cannot be trusted (bad signature, stale
timestamp, malformed body) is refused with 400 and logged, and nothing of it is stored; an unknown company
or provider, or a disabled bridge, is 404.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from punte.crypto import SecretBox
from punte.providers.base import InvalidDelivery
from punte.services import bridge
from punte.services.bridge_checkout import configure_runtime

log = logging.getLogger("punte.webhooks")

router = APIRouter(prefix="/webhooks", tags=["Payment webhooks"])


@router.post(
    "/{provider}/{cif}",
    summary="Livrare webhook de la un procesator de plati (stripe, shopify, paypal)",
    responses={
        200: {"description": "Evenimentul a fost primit (sau era deja primit)."},
        400: {"description": "Semnatura, marcajul de timp sau corpul nu sunt valide; nimic nu a fost pastrat."},
        404: {"description": "Nu exista o punte activa pentru firma si procesatorul acesta."},
    },
)
async def receive_webhook(provider: str, cif: str, request: Request) -> JSONResponse:
    body = await request.body()
    state = request.app.state
    try:
        receipt = await run_in_threadpool(
            bridge.receive, state.db, state.bridge_box, provider, cif, body, request.headers,
            services=state.worker_services,
        )
    except bridge.UnknownBridge:
        return JSONResponse({"error": "Nu exista o punte de plati activa la aceasta adresa."}, status_code=404)
    except InvalidDelivery as exc:
        log.warning("webhook %s/%s refused from %s: %s", provider, cif,
                    request.client.host if request.client else "-", exc.reason)
        return JSONResponse({"error": f"Livrare refuzata: {exc.reason}"}, status_code=400)
    return JSONResponse({"received": True, "duplicate": not receipt.stored, "event": receipt.event_id})


def install(app: FastAPI) -> None:
    """Mount the webhook routes and give the bridge what it needs from the running app."""
    app.state.bridge_box = SecretBox(app.state.secret_key)
    configure_runtime(app.state.secret_key, app.state.settings.public_url, app.state.worker_services)
    app.include_router(router)


__all__ = ["install", "router"]
