"""Stock routes under ``/SBORO/api``: SmartBill's ``GET /stocks`` and punte's ``POST /stocks/receive``."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from punte.services import stock
from punte.services.issuing import today_in_romania
from punte.smartbill.wire_stock import (
    StockEntry,
    StockProduct,
    StockReceiveRequest,
    StocksAnswer,
    Warehouse,
)
from punte.store.models import Company

from .context import ApiError, authenticate, authorize, json_body, off_loop, run_read, run_write

router = APIRouter(prefix="/SBORO/api", tags=["SmartBill-compatible"])

CIF_MISSING = "Ciful firmei trebuie specificat!"
DATE_MISSING = "Data la care vreti sa aflati valoarea stocului trebuie specificata!"
EMPTY: dict[str, Any] = {"list": []}


def _day(text: str | None, missing: str, shape: dict[str, Any]) -> date:
    if not text:
        raise ApiError(400, missing, shape)
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(400, "Data trebuie sa fie de forma yyyy-MM-dd.", shape) from exc


def _answer(entries: list[stock.WarehouseStock]) -> dict[str, Any]:
    return StocksAnswer(list=[
        StockEntry(
            products=[
                StockProduct(productName=p.name, productCode=p.code or "", measuringUnit=p.unit, quantity=p.quantity)
                for p in e.products
            ],
            warehouse=Warehouse(warehouseName=e.name, warehouseType=e.type),
        )
        for e in entries
    ]).model_dump(mode="json")


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """A pydantic JSON schema with its ``$defs`` references written in place (OpenAPI cannot resolve them)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _body(model: type[StockReceiveRequest]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"openapi_extra": {"requestBody": {
        "required": True, "content": {"application/json": {"schema": _inline(schema, schema.get("$defs", {}))}},
    }}}


@router.get("/stocks", summary="Interogare stoc produse", response_model=StocksAnswer)
def list_stocks(request: Request) -> JSONResponse:
    """Stock at the end of ``date`` per warehouse, optionally of one warehouse or one product (name or code)."""
    caller = authenticate(request)
    q = request.query_params
    cif = authorize(caller, q.get("cif"), CIF_MISSING, EMPTY)
    day = _day(q.get("date"), DATE_MISSING, EMPTY)

    def op(session: Session, company: Company) -> dict[str, Any]:
        entries = stock.stock_on(
            session, company, day, warehouse_name=q.get("warehouseName") or None,
            product_name=q.get("productName") or None, product_code=q.get("productCode") or None,
        )
        return _answer(entries)

    return JSONResponse(run_read(request, cif, op, EMPTY))


@router.post("/stocks/receive", summary="Receptie marfa in gestiune (extensie punte)", response_model=StocksAnswer,
             **_body(StockReceiveRequest))
async def receive_stock(request: Request) -> JSONResponse:
    """Goods received into a warehouse. punte extension: SmartBill has no API for receptions.

    The answer lists the received products with their stock at the end of the reception's date.
    """
    return await off_loop(request, lambda raw: _receive_stock(request, raw))


def _receive_stock(request: Request, raw: bytes) -> JSONResponse:
    caller = authenticate(request)
    req = json_body(request, raw, StockReceiveRequest, EMPTY)
    cif = authorize(caller, req.companyVatCode, "CIF-ul firmei ('companyVatCode') trebuie specificat", EMPTY)
    day = _day(req.date, "", EMPTY) if req.date else today_in_romania()
    items = []
    for p in req.products or []:
        if p.quantity is None:
            raise ApiError(400, "quantity trebuie specificat pentru fiecare produs", EMPTY)
        items.append(stock.StockItem(name=p.name or "", code=p.code, unit=p.measuringUnitName or "",
                                     quantity=p.quantity, unit_cost=p.price))

    def op(session: Session, company: Company) -> dict[str, Any]:
        moved = stock.receive(session, company, req.warehouseName, items, day=day, actor=caller.email, note=req.note)
        keys = {m.product_key for m in moved}
        entries = stock.stock_on(session, company, day, warehouse_name=req.warehouseName)
        received = [
            stock.WarehouseStock(name=e.name, type=e.type, products=[
                p for p in e.products if stock.product_key(company, p.name, p.code) in keys
            ])
            for e in entries
        ]
        return _answer(received)

    return run_write(request, caller, cif, raw, op, EMPTY)
