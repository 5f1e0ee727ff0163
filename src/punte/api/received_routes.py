"""punte extension: the invoices suppliers sent a company through e-Factura (``/SBORO/api/efactura/received``).

Not part of SmartBill's API; authenticated the same way (HTTP Basic with the e-mail and API token,
the company named by ``cif``), errors in the same ``{"errorText", "message"}`` shape.

* ``GET  .../received?cif=&from=&to=&supplier=&lines=`` the received invoices (issue date between
  ``from`` and ``to``, YYYY-MM-DD), newest first, with the company's sync status;
* ``GET  .../received/pdf?cif=&id=`` the invoice drawn as a PDF from the archived XML;
* ``GET  .../received/xml?cif=&id=`` the invoice XML exactly as the supplier sent it;
* ``POST .../received/sync?cif=`` queue a sync now (the worker lists ANAF's messages and downloads
  the new invoices).

``id`` is ANAF's download id (``id`` of the ``FACTURA PRIMITA`` message).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from punte.services import received, received_read
from punte.store.models import Company

from .context import ApiError, authenticate, authorize, run_read, run_write

router = APIRouter(prefix="/SBORO/api/efactura/received", tags=["punte extension: received e-Factura invoices"])

CIF_MISSING = "Ciful firmei trebuie specificat!"
ID_MISSING = "Id-ul facturii primite ('id', id-ul de descarcare ANAF) trebuie specificat!"
_ERRORS = {
    "400": {"description": "Bad data, unknown invoice or unreadable file; errorText says why."},
    "401": {"description": "Wrong e-mail/token or no right on the company."},
    "403": {"description": "Rate limit exceeded; blocked for a while."},
}


def _date(request: Request, name: str) -> date | None:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, f"Parametrul '{name}' trebuie sa fie o data AAAA-LL-ZZ, nu {raw!r}.") from exc


def _flag(request: Request, name: str) -> bool:
    return (request.query_params.get(name) or "").strip().lower() in ("1", "true", "da", "yes")


@router.get("", summary="Facturi primite (e-Factura)", openapi_extra={"responses": _ERRORS})
def list_invoices(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)
    start, end = _date(request, "from"), _date(request, "to")
    supplier = request.query_params.get("supplier")
    lines = _flag(request, "lines")

    def op(session: Session, company: Company) -> dict[str, Any]:
        rows = received_read.list_received(session, company, start=start, end=end, supplier=supplier)
        return {
            "cif": company.cif, "count": len(rows), "invoices": [received_read.as_dict(r, lines=lines) for r in rows],
            "sync": received_read.sync_dict(received_read.sync_status(session, company)),
            "pendingDownloads": received_read.pending_downloads(session, company),
        }

    return JSONResponse(run_read(request, cif, op, {}))


def _one(request: Request) -> tuple[str, str]:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)
    download_id = (request.query_params.get("id") or "").strip()
    if not download_id:
        raise ApiError(400, ID_MISSING)
    return cif, download_id


@router.get("/pdf", summary="Factura primita (PDF)",
            responses={200: {"content": {"application/pdf": {}}}}, openapi_extra={"responses": _ERRORS})
def invoice_pdf(request: Request) -> Response:
    cif, download_id = _one(request)
    settings = request.app.state.settings

    def op(session: Session, company: Company) -> tuple[bytes, str]:
        row = received_read.get_received(session, company, download_id)
        label = f"{row.supplier_cif or 'furnizor'}_{row.number or download_id}"
        return received_read.received_pdf(settings, row), label

    data, label = run_read(request, cif, op, {})
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{_safe(label)}.pdf"'})


@router.get("/xml", summary="Factura primita (XML)",
            responses={200: {"content": {"application/xml": {}}}}, openapi_extra={"responses": _ERRORS})
def invoice_xml(request: Request) -> Response:
    cif, download_id = _one(request)
    settings = request.app.state.settings

    def op(session: Session, company: Company) -> tuple[bytes, str]:
        return received_read.received_xml(settings, received_read.get_received(session, company, download_id))

    data, name = run_read(request, cif, op, {})
    return Response(data, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{_safe(name)}"'})


@router.post("/sync", summary="Sincronizare facturi primite (pusa in coada)", openapi_extra={"responses": _ERRORS})
def sync(request: Request) -> JSONResponse:
    caller = authenticate(request)
    cif = authorize(caller, request.query_params.get("cif"), CIF_MISSING)

    def op(session: Session, company: Company) -> dict[str, Any]:
        job = received.queue_sync(session, company, actor=caller.email)
        waiting = job.status in ("queued", "running")
        text = ("Sincronizarea facturilor primite a fost pusa in coada." if waiting else
                "O sincronizare a rulat in ultimul minut; incercati din nou peste un minut.")
        return {"queued": waiting, "jobId": job.id, "jobStatus": job.status, "cif": company.cif, "message": text}

    return run_write(request, caller, cif, b"efactura-received-sync", op, {})


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "factura"
