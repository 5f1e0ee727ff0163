"""``POST /SBORO/api/document/send``: e-mail an issued invoice or proforma, as SmartBill does.

The answer is SmartBill's ``{"status": {"code", "message"}}``: 0 when the message is accepted (it
is queued in the same transaction and sent by the worker; the outcome is in the message log),
1 for bad data (HTTP 400, ``errorText`` set too), 2 for a failure on punte's side (HTTP 500).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from punte.services.email import queue_document_email
from punte.smartbill.wire_email import (
    CODE_DATA_ERROR,
    CODE_SENT,
    CODE_SERVER_ERROR,
    Base64TextError,
    SendAnswer,
    SendDocumentRequest,
    decode_base64_text,
    send_answer,
)
from punte.store.models import Company

from .context import ApiError, authenticate, authorize, json_body, off_loop, run_write

log = logging.getLogger("punte.api.email")
router = APIRouter(prefix="/SBORO/api", tags=["SmartBill-compatible"])

COMPANY_MISSING = "CIF-ul firmei ('companyVatCode') trebuie specificat"
SHAPE: dict[str, Any] = {"status": {"code": CODE_DATA_ERROR, "message": ""}}


def _with_status(exc: ApiError) -> ApiError:
    """The same error with ``status`` carrying the code and the text (the helpers know only ``errorText``)."""
    code = CODE_SERVER_ERROR if exc.status >= 500 else CODE_DATA_ERROR
    return ApiError(exc.status, exc.text, {"status": {"code": code, "message": exc.text}})


def _schema(model: type[SendDocumentRequest] | type[SendAnswer]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined (the routes' schemas stand alone in OpenAPI)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return dict(inline(schema))


_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _schema(SendDocumentRequest)}},
    },
    "responses": {
        "200": {"description": "Accepted: status.code 0, the message is queued for sending",
                "content": {"application/json": {"schema": _schema(SendAnswer)}}},
        "400": {"description": "Bad data: status.code 1 and errorText say why"},
        "401": {"description": "Wrong e-mail/token or no right on the company."},
        "500": {"description": "Failure on punte's side: status.code 2"},
    },
}


@router.post("/document/send", summary="Trimitere document (factura, proforma) pe e-mail", openapi_extra=_OPENAPI)
async def send_document(request: Request) -> JSONResponse:
    return await off_loop(request, lambda raw: _send_document(request, raw))


def _send_document(request: Request, raw: bytes) -> JSONResponse:
    try:
        caller = authenticate(request)
        req = json_body(request, raw, SendDocumentRequest, SHAPE)
        cif = authorize(caller, req.companyVatCode, COMPANY_MISSING, SHAPE)
        try:
            subject = decode_base64_text(req.subject, "subject")
            body = decode_base64_text(req.bodyText, "bodyText")
        except Base64TextError as exc:
            raise ApiError(400, exc.text) from exc

        def op(session: Session, company: Company) -> dict[str, Any]:
            message = queue_document_email(
                session, company, doc_type=req.type, series=req.seriesName, number=req.number,
                to=req.to, cc=req.cc, bcc=req.bcc, subject=subject, body=body, actor=caller.email,
            )
            return send_answer(CODE_SENT, f"Mesajul a fost acceptat si pus in coada de trimitere catre {message.to_addrs}.")

        return run_write(request, caller, cif, raw, op, SHAPE)
    except ApiError as exc:
        raise _with_status(exc) from exc
    except Exception:
        log.exception("POST /document/send failed")
        text = "Eroare pe server la trimiterea documentului pe e-mail. Incercati din nou."
        return JSONResponse(send_answer(CODE_SERVER_ERROR, text), status_code=500)
