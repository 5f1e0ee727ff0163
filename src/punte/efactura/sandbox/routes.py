"""HTTP surface of the sandbox, mounted under ``/anaf-sandbox`` (see :func:`punte.efactura.sandbox.install`).

ANAF's paths, relative to the prefix::

    GET  anaf-oauth2/v1/authorize            POST anaf-oauth2/v1/token
    POST {prod|test}/FCTEL/rest/upload       POST {prod|test}/FCTEL/rest/uploadb2c
    GET  {prod|test}/FCTEL/rest/stareMesaj   GET  {prod|test}/FCTEL/rest/descarcare
    GET  {prod|test}/FCTEL/rest/listaMesajeFactura
    GET  {prod|test}/FCTEL/rest/listaMesajePaginatieFactura
    POST prod/FCTEL/rest/validare/{FACT1|FCN}           (no token; absent on test, as at ANAF)
    POST prod/FCTEL/rest/transformare/{FACT1|FCN}[/DA]  (no token; absent on test)

plus ``GET certificate`` (the sandbox's signing certificate, PEM) and the test/demo controls
under ``_admin/`` (answered to loopback callers only). The routes read the request, apply the
per-minute limit and any injected fault, and send the :class:`~.formats.Answer` the
:class:`~.service.Sandbox` gives; they hold no ANAF logic.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from . import formats
from .faults import MAX_SECONDS, Fault
from .formats import Answer
from .limits import Limits
from .oauth import Principal
from .service import ENVIRONMENTS, Sandbox

router = APIRouter(tags=["ANAF sandbox"])
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox | None = getattr(request.app.state, "anaf_sandbox", None)
    if sandbox is None:
        raise HTTPException(404)
    return sandbox


def _send(answer: Answer) -> Response:
    if isinstance(answer.body, (dict, list)):
        return JSONResponse(answer.body, answer.status, headers=answer.headers)
    return Response(answer.body, answer.status, headers=answer.headers, media_type=answer.media_type)


def _fault_response(sandbox: Sandbox, fault: Fault) -> Response:
    if fault.kind == "500":
        body = formats.bad_request("Eroare interna a serverului", sandbox.clock.now(), 500, "Internal Server Error")
        return JSONResponse(body, 500)
    if fault.kind == "html":
        return HTMLResponse(formats.MAINTENANCE_PAGE, 200)
    if fault.kind == "rejected":
        return HTMLResponse(formats.REJECTED_PAGE.format(support_id=secrets.randbelow(10**19)), 200)
    if fault.kind == "text":
        return PlainTextResponse(formats.PLAIN_TEXT_ERROR, 200)
    return _send(sandbox.too_many_requests(60))  # "429"


def _caller(request: Request) -> str:
    authorization = request.headers.get("authorization")
    if authorization:
        return "token:" + hashlib.sha256(authorization.encode()).hexdigest()
    return "ip:" + (request.client.host if request.client else "-")


async def _body(request: Request, limit: int) -> tuple[bytes, bool]:
    """The request body, or (b"", True) as soon as it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", True
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


Call = Callable[[Sandbox, Principal | None, bytes, bool], Answer]


async def _serve(request: Request, endpoint: str, call: Call, *, env: str | None = None, auth: bool = True,
                 body_limit: int | None = None, counted: bool = True) -> Response:
    """One sandbox call: per-minute limit, injected fault, token, body, then the sandbox's answer."""
    sandbox = _sandbox(request)
    if env is not None and env not in ENVIRONMENTS:
        raise HTTPException(404)
    if counted:
        refused = sandbox.minute_check(_caller(request))
        if refused is not None:
            return _send(refused)
    fault = sandbox.faults.take(endpoint)
    if fault is not None and fault.kind not in ("hang", "hold"):
        return _fault_response(sandbox, fault)
    principal: Principal | None = None
    if auth:
        verdict = await run_in_threadpool(sandbox.authenticate, request.headers.get("authorization"))
        if isinstance(verdict, Answer):
            return _send(verdict)
        principal = verdict
    body, too_large = (b"", False) if body_limit is None else await _body(request, body_limit)
    if fault is not None and fault.kind == "hang":  # the whole request has arrived; it is handled late
        await asyncio.sleep(fault.seconds)
    answer = await run_in_threadpool(call, sandbox, principal, body, too_large)
    if fault is not None and fault.kind == "hold" and answer.index_incarcare is not None:
        hold = sandbox.holds.open(endpoint, answer.index_incarcare)
        deadline = asyncio.get_running_loop().time() + (fault.seconds or MAX_SECONDS)
        try:
            while not hold.released and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
        finally:
            sandbox.holds.close(hold)
    return _send(answer)


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


# -- OAuth ------------------------------------------------------------------------------------------


@router.get("/anaf-oauth2/v1/authorize", summary="OAuth authorize (no certificate in the sandbox)")
async def authorize(request: Request) -> Response:
    params = _params(request)
    return await _serve(request, "authorize", lambda sb, _p, _b, _t: sb.oauth.authorize(params), auth=False,
                        counted=False)


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@router.post("/anaf-oauth2/v1/token", summary="OAuth token: authorization_code and refresh_token grants")
async def token(request: Request) -> Response:
    basic = _basic(request)

    def call(sb: Sandbox, _p: Principal | None, body: bytes, _t: bool) -> Answer:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return sb.oauth.token(form, basic)

    return await _serve(request, "token", call, auth=False, body_limit=64 * 1024, counted=False)


# -- e-Factura API ----------------------------------------------------------------------------------


def _upload(kind: str) -> Callable[[Request, str], Any]:
    async def handler(request: Request, env: str) -> Response:
        params = _params(request)
        limit = _sandbox(request).limits.upload_max_bytes

        def call(sb: Sandbox, principal: Principal | None, body: bytes, too_large: bool) -> Answer:
            assert principal is not None
            return sb.upload(env, kind, params, body, principal, too_large=too_large)

        return await _serve(request, kind, call, env=env, body_limit=limit)

    handler.__name__ = kind
    return handler


router.add_api_route("/{env}/FCTEL/rest/upload", _upload("upload"), methods=["POST"],
                     summary="Upload an invoice (B2B/B2G)")
router.add_api_route("/{env}/FCTEL/rest/uploadb2c", _upload("uploadb2c"), methods=["POST"],
                     summary="Upload an invoice to an individual (B2C)")


@router.get("/{env}/FCTEL/rest/stareMesaj", summary="State of an upload")
async def stare_mesaj(request: Request, env: str) -> Response:
    params = _params(request)
    return await _serve(request, "stareMesaj", lambda sb, p, _b, _t: sb.status(env, params, p), env=env)  # type: ignore[arg-type]


@router.get("/{env}/FCTEL/rest/listaMesajeFactura", summary="Messages of the last days")
async def lista_mesaje(request: Request, env: str) -> Response:
    params = _params(request)
    return await _serve(request, "listaMesajeFactura", lambda sb, p, _b, _t: sb.messages(env, params, p),  # type: ignore[arg-type]
                        env=env)


@router.get("/{env}/FCTEL/rest/listaMesajePaginatieFactura", summary="Messages of an interval, by page")
async def lista_paginata(request: Request, env: str) -> Response:
    params = _params(request)
    return await _serve(request, "listaMesajePaginatieFactura",
                        lambda sb, p, _b, _t: sb.messages_paged(env, params, p), env=env)  # type: ignore[arg-type]


@router.get("/{env}/FCTEL/rest/descarcare", summary="Download an answer ZIP")
async def descarcare(request: Request, env: str) -> Response:
    params = _params(request)
    return await _serve(request, "descarcare", lambda sb, p, _b, _t: sb.download(env, params, p), env=env)  # type: ignore[arg-type]


@router.post("/prod/FCTEL/rest/validare/{standard}", summary="Validate a document (no token)")
async def validare(request: Request, standard: str) -> Response:
    limit = _sandbox(request).limits.validation_max_bytes
    return await _serve(request, "validare", lambda sb, _p, body, big: sb.validate(standard, body, too_large=big),
                        auth=False, body_limit=limit)


async def _transform(request: Request, standard: str, skip: bool) -> Response:
    limit = _sandbox(request).limits.validation_max_bytes
    return await _serve(request, "transformare",
                        lambda sb, _p, body, big: sb.transform(standard, body, skip_validation=skip, too_large=big),
                        auth=False, body_limit=limit)


@router.post("/prod/FCTEL/rest/transformare/{standard}", summary="A document as PDF (validated first)")
async def transformare(request: Request, standard: str) -> Response:
    return await _transform(request, standard, False)


@router.post("/prod/FCTEL/rest/transformare/{standard}/DA", summary="A document as PDF, without validation")
async def transformare_fara_validare(request: Request, standard: str) -> Response:
    return await _transform(request, standard, True)


@router.get("/certificate", summary="The sandbox's signing certificate (PEM)")
async def certificate(request: Request) -> Response:
    pem = await run_in_threadpool(_sandbox(request).certificate_pem)
    return Response(pem, 200, media_type="application/x-pem-file")


# -- test and demo controls ---------------------------------------------------------------------------

admin = APIRouter(prefix="/_admin", include_in_schema=False)


class _AdminError(Exception):
    pass


def _admin_sandbox(request: Request) -> Sandbox:
    host = request.client.host if request.client else ""
    if host not in _LOOPBACK:
        raise HTTPException(403, "the sandbox controls answer to loopback callers only")
    return _sandbox(request)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _AdminError(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _AdminError("the body must be a JSON object")
    return data


def _record_json(record: Any) -> dict[str, Any]:
    data = asdict(record)
    data["received_at"] = record.received_at.isoformat()
    data["errors"] = list(record.errors)
    return data


async def _admin_call(request: Request, action: Callable[[Sandbox, dict[str, Any]], Any]) -> JSONResponse:
    sandbox = _admin_sandbox(request)
    try:
        data = await _json(request) if request.method in ("POST", "PUT") else dict(request.query_params)
        result = await run_in_threadpool(action, sandbox, data)
    except (_AdminError, ValueError, TypeError, KeyError, InvalidOperation) as exc:
        return JSONResponse({"error": str(exc)}, 400)
    return JSONResponse(result)


def _inject(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    xml = data.get("xml")
    record = sb.inject_invoice(
        str(data["buyer_cif"]),
        seller_cif=str(data["seller_cif"]) if data.get("seller_cif") else None,
        xml=xml.encode("utf-8") if isinstance(xml, str) else None,
        env=str(data.get("env", "prod")),
        number=str(data["number"]) if data.get("number") else None,
        issue_date=date.fromisoformat(data["issue_date"]) if data.get("issue_date") else None,
        amount=Decimal(str(data.get("amount", "100.00"))),
    )
    return _record_json(record)


def _add_fault(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    fault = sb.faults.add(str(data.get("endpoint", "*")), str(data["kind"]), int(data.get("count", 1)),
                          float(data.get("seconds", 0)))
    return asdict(fault)


def _limits(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    known = set(asdict(Limits()))
    for name, value in data.items():
        if name not in known:
            raise ValueError(f"unknown limit {name!r}; one of {', '.join(sorted(known))}")
        setattr(sb.limits, name, int(value))
    return asdict(sb.limits)


def _release(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    return {"released": sb.holds.release(int(data["id"]) if data.get("id") is not None else None)}


def _clock(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    now = sb.clock.advance(float(data.get("advance_seconds", 0)))
    return {"now": now.isoformat(), "offset_seconds": sb.clock.offset.total_seconds()}


def _register(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    sb.oauth.register_client(str(data["client_id"]), str(data["client_secret"]), data.get("redirect_uris"))
    return {"client_id": data["client_id"]}


def _process(sb: Sandbox, _data: dict[str, Any]) -> dict[str, Any]:
    return {"processed": sb.process_pending()}


def _delay(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    sb.set_processing_delay(float(data["seconds"]))
    return {"seconds": sb.processing_delay}


def _faults(sb: Sandbox, _data: dict[str, Any]) -> list[dict[str, Any]]:
    return [asdict(f) for f in sb.faults.pending()]


def _clear_faults(sb: Sandbox, _data: dict[str, Any]) -> dict[str, Any]:
    sb.faults.clear()
    return {"cleared": True}


def _holds(sb: Sandbox, _data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": h.id, "endpoint": h.endpoint, "index_incarcare": h.index_incarcare} for h in sb.holds]


def _uploads(sb: Sandbox, data: dict[str, Any]) -> list[dict[str, Any]]:
    return [_record_json(r) for r in sb.uploads(cif=data.get("cif"), env=data.get("env"), number=data.get("number"))]


def _reset_limits(sb: Sandbox, _data: dict[str, Any]) -> dict[str, Any]:
    sb.reset_limits()
    return {"reset": True}


_ADMIN_ACTIONS: dict[tuple[str, str], Callable[[Sandbox, dict[str, Any]], Any]] = {
    ("POST", "/inject"): _inject,
    ("POST", "/process"): _process,
    ("PUT", "/delay"): _delay,
    ("GET", "/faults"): _faults,
    ("POST", "/faults"): _add_fault,
    ("DELETE", "/faults"): _clear_faults,
    ("GET", "/holds"): _holds,
    ("POST", "/holds/release"): _release,
    ("GET", "/uploads"): _uploads,
    ("POST", "/clock"): _clock,
    ("PUT", "/limits"): _limits,
    ("POST", "/reset-limits"): _reset_limits,
    ("POST", "/clients"): _register,
}


def _admin_route(method: str, path: str, action: Callable[[Sandbox, dict[str, Any]], Any]) -> None:
    async def handler(request: Request) -> JSONResponse:
        return await _admin_call(request, action)

    handler.__name__ = f"admin_{method.lower()}_{path.strip('/').replace('/', '_').replace('-', '_')}"
    admin.add_api_route(path, handler, methods=[method])


for (_method, _path), _action in _ADMIN_ACTIONS.items():
    _admin_route(_method, _path, _action)

router.include_router(admin)
