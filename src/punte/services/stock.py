"""Stock: warehouses, goods received and adjusted, and what issued invoices do to stock.

Every quantity that enters or leaves a warehouse is a row of the ledger (``stock_movements``), dated
with the day it counts for, and moves the product's balance row (``stock_balances``) in the same
transaction. A quantity is taken out only while the balance rows concerned are locked
(``SELECT ... FOR UPDATE`` ordered by warehouse and product on PostgreSQL; the ``BEGIN IMMEDIATE``
write transaction on SQLite), and only if the stock stays at or above zero on that day *and on every
later day* of the ledger, so concurrent issuers never sell the same unit twice and stock "as of" any
date never goes negative.

An invoice issued with ``useStock`` discharges its goods lines from the warehouse each names
(``warehouseName``, matched exactly); services and discounts never move stock, proformas never do.
A storno of such an invoice puts its quantities back (its own issue does it: its lines are negative).
Cancelling or deleting a document undoes exactly what it had moved, restoring it moves it again.
Document movements are dated with the document's issue date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.domain.errors import Conflict, DomainError, NotFound
from punte.store.models import Company, Document, DocumentLine
from punte.store.models_stock import WAREHOUSE_TYPES, StockBalance, StockMovement, Warehouse

from . import events

ZERO = Decimal(0)
MAX_PLACES = 6  # the ledger keeps quantities to 6 decimals (NUMERIC(20, 6))

SHORT_AT_ISSUE = "Cantitate stoc insuficienta la Factura {doc} din data {day} pentru produsul {product} de la pozitia {pos}"
SHORT_AT_CHANGE = (
    "Cantitate stoc insuficienta la documentul {doc} din data de {day} pentru produsul {product} de la pozitia {pos}."
)
SHORT = "Cantitate stoc insuficienta pentru produsul {product}."


# ---- warehouses ----------------------------------------------------------------------------------------------


def add_warehouse(session: Session, company: Company, name: str, *, type: str = "en gros", actor: str) -> Warehouse:
    """Create a warehouse (gestiune); its name is unique in the company, case included."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Numele gestiunii trebuie specificat.")
    if len(name) > 100:
        raise DomainError("Numele gestiunii poate avea cel mult 100 de caractere.")
    if type not in WAREHOUSE_TYPES:
        raise DomainError(f"Tipul gestiunii trebuie sa fie unul dintre: {', '.join(WAREHOUSE_TYPES)}.")
    warehouse = Warehouse(company_id=company.id, name=name, type=type, created_by=actor)
    try:
        with session.begin_nested():
            session.add(warehouse)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Gestiunea {name} exista deja.") from exc
    events.record(session, company_id=company.id, entity="warehouse", entity_id=warehouse.id, action="created",
                  actor=actor, data={"name": name, "type": type})
    return warehouse


def list_warehouses(session: Session, company: Company) -> list[Warehouse]:
    return list(session.scalars(select(Warehouse).where(Warehouse.company_id == company.id).order_by(Warehouse.name)))


def require_warehouse(session: Session, company: Company, name: str | None) -> Warehouse:
    found = session.scalar(select(Warehouse).where(Warehouse.company_id == company.id, Warehouse.name == (name or "")))
    if found is None:
        raise NotFound(f"Gestiunea {name or ''} nu a fost gasita pe server.")
    return found


# ---- the balance engine --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    """A signed quantity of one product for one warehouse (+ in, - out)."""

    warehouse: Warehouse
    key: str
    name: str
    code: str | None
    unit: str
    quantity: Decimal
    position: int | None = None
    unit_cost: Decimal | None = None


def product_key(company: Company, name: str, code: str | None) -> str:
    """Products are told apart by code when the company uses product codes, else by name."""
    return code if company.uses_product_codes and code else name


def _label(doc: Document) -> str:
    return f"{doc.series_name}{doc.number_text or ''}"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _lock_balances(session: Session, company: Company, deltas: list[Delta], day: date) -> dict[tuple[int, str], StockBalance]:
    """The balance rows the deltas touch, locked in (warehouse, product) order; created for what comes in."""
    keys = sorted({(d.warehouse.id, d.key) for d in deltas})
    incoming = {(d.warehouse.id, d.key): d for d in deltas if d.quantity > 0}
    if incoming:
        rows = [
            {"company_id": company.id, "warehouse_id": wid, "product_key": key, "product_name": d.name,
             "product_code": d.code, "unit": d.unit, "quantity": ZERO, "last_movement_date": day}
            for (wid, key), d in sorted(incoming.items())
        ]
        stmt = _insert(session)(StockBalance).on_conflict_do_nothing(
            index_elements=["company_id", "warehouse_id", "product_key"]
        )
        session.execute(stmt, rows)
    stmt = (
        select(StockBalance)
        .where(StockBalance.company_id == company.id,
               tuple_(StockBalance.warehouse_id, StockBalance.product_key).in_(keys))
        .order_by(StockBalance.warehouse_id, StockBalance.product_key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {(b.warehouse_id, b.product_key): b for b in session.scalars(stmt)}


def _lowest_from(session: Session, balance: StockBalance, day: date) -> Decimal:
    """The lowest stock of this product on ``day`` or any later day of the ledger."""
    if day >= balance.last_movement_date:
        return balance.quantity
    later: dict[date, Decimal] = defaultdict(Decimal)
    rows = session.execute(
        select(StockMovement.movement_date, StockMovement.quantity).where(
            StockMovement.company_id == balance.company_id,
            StockMovement.warehouse_id == balance.warehouse_id,
            StockMovement.product_key == balance.product_key,
            StockMovement.movement_date > day,
        )
    )
    for when, quantity in rows:
        later[when] += quantity
    level = balance.quantity - sum(later.values(), ZERO)
    lowest = level
    for when in sorted(later):
        level += later[when]
        lowest = min(lowest, level)
    return lowest


def _missing(session: Session, company: Company, d: Delta, shortage: DomainError) -> DomainError:
    """Why a product to take out has no stock row in that warehouse."""
    elsewhere = session.scalar(select(StockBalance.id).where(
        StockBalance.company_id == company.id, StockBalance.product_key == d.key,
    ).limit(1))
    if elsewhere is not None:
        return shortage
    if company.uses_product_codes:
        other = session.scalar(select(StockBalance).where(
            StockBalance.company_id == company.id, StockBalance.warehouse_id == d.warehouse.id,
            StockBalance.product_name == d.name,
        ).limit(1))
        if other is not None:
            return DomainError(f"Exista deja pe stoc un produs cu numele {other.product_name} si codul {other.product_code}.")
    return DomainError(
        f"Nu ai facut nicio achizitie pentru produsul {d.name}. "
        "Incarca mai intai stoc pentru produs sau emite documentul fara descarcare de gestiune."
    )


def _apply(
    session: Session,
    company: Company,
    deltas: list[Delta],
    *,
    day: date,
    kind: str,
    actor: str,
    shortage: str,
    document: Document | None = None,
    note: str | None = None,
) -> list[StockMovement]:
    """Check and write ``deltas`` (in order) as ledger rows, moving the locked balances with them."""
    if not deltas:
        return []
    balances = _lock_balances(session, company, deltas, day)
    label = _label(document) if document is not None else ""
    room: dict[tuple[int, str], Decimal] = {}  # lowest stock from ``day`` on, with this operation's deltas so far
    movements = []
    for d in deltas:
        ref = (d.warehouse.id, d.key)
        short = DomainError(shortage.format(doc=label, day=day.strftime("%d/%m/%Y"), product=d.name, pos=d.position))
        balance = balances.get(ref)
        if balance is None:
            raise _missing(session, company, d, short)
        if d.unit != balance.unit:
            named = f"{d.name} ({d.code})" if d.code else d.name
            raise DomainError(f"Unitatea de masura {d.unit} a produsului {named} nu are factor de conversie setat.")
        if d.quantity < 0:
            if ref not in room:
                room[ref] = _lowest_from(session, balance, day)
            if room[ref] + d.quantity < 0:
                raise short
        if ref in room:
            room[ref] += d.quantity
        balance.quantity += d.quantity
        balance.last_movement_date = max(balance.last_movement_date, day)
        movements.append(StockMovement(
            company_id=company.id, warehouse_id=d.warehouse.id, product_key=d.key, product_name=d.name,
            product_code=d.code, unit=d.unit, quantity=d.quantity, unit_cost=d.unit_cost, movement_date=day,
            kind=kind, document_id=document.id if document is not None else None,
            document_label=_label(document) if document is not None else None, line_position=d.position,
            note=note, actor=actor,
        ))
    session.add_all(movements)
    session.flush()
    summary = [
        {"warehouse": d.warehouse.name, "product": d.name, "code": d.code, "unit": d.unit,
         "quantity": d.quantity.normalize(),
         "position": d.position}
        for d in deltas
    ]
    if document is not None:
        events.record(session, company_id=company.id, entity="document", entity_id=document.id,
                      action=f"stock_{kind}", actor=actor, data={"day": day, "movements": summary})
    else:
        events.record(session, company_id=company.id, entity="stock_movement", entity_id=movements[0].id,
                      action=kind, actor=actor, data={"day": day, "movements": summary, "note": note})
    return movements


# ---- documents -----------------------------------------------------------------------------------------------


def moves_stock(session: Session, document: Document) -> bool:
    """An invoice issued with ``useStock``, or a storno of one. Proformas and receipts never move stock."""
    if document.kind != "invoice":
        return False
    if (document.details or {}).get("useStock"):
        return True
    if document.reverses_id is not None:
        original = session.get(Document, document.reverses_id)
        return original is not None and bool((original.details or {}).get("useStock"))
    return False


def _document_deltas(session: Session, company: Company, document: Document) -> list[Delta]:
    """What the document's goods lines take out of (or, when negative, put back into) their warehouses."""
    lines = list(session.scalars(
        select(DocumentLine).where(DocumentLine.document_id == document.id).order_by(DocumentLine.position)
    ))
    goods = [ln for ln in lines if not ln.is_discount and not ln.is_service and ln.quantity != 0]
    names = {ln.warehouse for ln in goods if ln.warehouse}
    found = {
        w.name: w
        for w in session.scalars(select(Warehouse).where(Warehouse.company_id == company.id, Warehouse.name.in_(names)))
    } if names else {}
    deltas = []
    for ln in goods:
        if not ln.warehouse:
            raise DomainError(f"Gestiunea predatoare nu este setata pentru produsul {ln.name}.")
        warehouse = found.get(ln.warehouse)
        if warehouse is None:
            raise DomainError(f"Gestiunea predatoare {ln.warehouse} a produsului {ln.name} nu a fost gasita.")
        deltas.append(Delta(warehouse=warehouse, key=product_key(company, ln.name, ln.code), name=ln.name,
                            code=ln.code, unit=ln.unit, quantity=-ln.quantity, position=ln.position))
    return deltas


def discharge_document(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """At issue: an invoice with ``useStock`` takes its goods out of stock, its storno puts them back."""
    if not moves_stock(session, document):
        return
    deltas = _document_deltas(session, company, document)
    _apply(session, company, deltas, day=document.issue_date, kind="issue", actor=actor, shortage=SHORT_AT_ISSUE,
           document=document)


def restore_document_stock(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """A cancelled document restored moves its stock again, on its own date (stock permitting)."""
    if not moves_stock(session, document):
        return
    deltas = _document_deltas(session, company, document)
    _apply(session, company, deltas, day=document.issue_date, kind="restore", actor=actor, shortage=SHORT_AT_CHANGE,
           document=document)


def _outstanding(session: Session, company: Company, document: Document) -> list[Delta]:
    """What the document has moved and not undone, per warehouse, product and line."""
    rows = list(session.scalars(
        select(StockMovement)
        .where(StockMovement.company_id == company.id, StockMovement.document_id == document.id)
        .order_by(StockMovement.id)
    ))
    net: dict[tuple[int, str, int | None], Decimal] = defaultdict(Decimal)
    first: dict[tuple[int, str, int | None], StockMovement] = {}
    for m in rows:
        ref = (m.warehouse_id, m.product_key, m.line_position)
        net[ref] += m.quantity
        first.setdefault(ref, m)
    if not any(net.values()):
        return []
    warehouses = {w.id: w for w in session.scalars(
        select(Warehouse).where(Warehouse.id.in_({ref[0] for ref, q in net.items() if q}))
    )}
    return [
        Delta(warehouse=warehouses[ref[0]], key=ref[1], name=first[ref].product_name, code=first[ref].product_code,
              unit=first[ref].unit, quantity=q, position=ref[2])
        for ref, q in sorted(net.items(), key=lambda item: (item[0][2] or 0, item[0][0], item[0][1]))
        if q
    ]


def _undo(session: Session, company: Company, document: Document, *, kind: str, actor: str) -> None:
    moved = _outstanding(session, company, document)
    undo = [Delta(warehouse=d.warehouse, key=d.key, name=d.name, code=d.code, unit=d.unit, quantity=-d.quantity,
                  position=d.position) for d in moved]
    _apply(session, company, undo, day=document.issue_date, kind=kind, actor=actor, shortage=SHORT_AT_CHANGE,
           document=document)


def cancel_document_stock(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """A cancelled invoice puts back what it took; a cancelled storno takes back what it returned.

    An invoice whose storno returned stock cannot be cancelled before that storno (SmartBill's rule):
    its goods would come back twice.
    """
    if not moves_stock(session, document):
        return
    if document.reverses_id is None:
        stornos = list(session.scalars(
            select(Document).where(Document.reverses_id == document.id, Document.status == "issued")
        ))
        loading = [s for s in stornos if _outstanding(session, company, s)]
        if loading:
            raise Conflict(
                f"Pentru factura {_label(document)} exista deja stornari care incarca stocul. "
                f"Trebuie sa anulati intai facturile storno ({', '.join(_label(s) for s in loading)})."
            )
    _undo(session, company, document, kind="cancel", actor=actor)


def delete_document_stock(session: Session, company: Company, document: Document, *, actor: str) -> None:
    """The last invoice of a series deleted: what it moved is undone (the ledger keeps both rows)."""
    if not moves_stock(session, document):
        return
    _undo(session, company, document, kind="delete", actor=actor)


# ---- goods received and adjustments (SmartBill does these in its web interface) ------------------------------


@dataclass(frozen=True)
class StockItem:
    """A product as an operator enters it: received (quantity > 0) or adjusted (either sign)."""

    name: str
    unit: str
    quantity: Decimal
    code: str | None = None
    unit_cost: Decimal | None = None


def _delta_of(company: Company, warehouse: Warehouse, item: StockItem, position: int) -> Delta:
    name = (item.name or "").strip()
    code = (item.code or "").strip() or None
    unit = (item.unit or "").strip()
    if not name:
        raise DomainError("Numele produsului trebuie specificat.")
    if not unit:
        raise DomainError(f"Unitatea de masura a produsului {name} trebuie specificata.")
    if company.uses_product_codes and not code:
        raise DomainError(f"Produsul {name} nu are codul specificat.")
    if not item.quantity.is_finite() or item.quantity.as_tuple().exponent < -MAX_PLACES:  # type: ignore[operator]
        raise DomainError(f"Cantitatea produsului {name} poate avea cel mult {MAX_PLACES} zecimale.")
    if item.quantity.copy_abs() > Decimal("1e12"):
        raise DomainError(f"Cantitatea produsului {name} depaseste valorile acceptate.")
    if item.unit_cost is not None and item.unit_cost < 0:
        raise DomainError(f"Pretul de achizitie al produsului {name} nu poate fi negativ.")
    return Delta(warehouse=warehouse, key=product_key(company, name, code), name=name, code=code, unit=unit,
                 quantity=item.quantity, position=position, unit_cost=item.unit_cost)


def receive(
    session: Session, company: Company, warehouse_name: str | None, items: list[StockItem], *, day: date, actor: str,
    note: str | None = None,
) -> list[StockMovement]:
    """Goods received into a warehouse (a reception, or the initial stock)."""
    warehouse = require_warehouse(session, company, warehouse_name)
    if not items:
        raise DomainError("Receptia nu contine produse!")
    deltas = [_delta_of(company, warehouse, item, i) for i, item in enumerate(items, start=1)]
    for d in deltas:
        if d.quantity <= 0:
            raise DomainError(f"Cantitatea receptionata din produsul {d.name} trebuie sa fie mai mare decat 0.")
    return _apply(session, company, deltas, day=day, kind="receipt", actor=actor, shortage=SHORT, note=note)


def adjust(
    session: Session, company: Company, warehouse_name: str | None, item: StockItem, *, day: date, actor: str,
    note: str | None = None,
) -> StockMovement:
    """A manual correction (inventory count, breakage): adds or, within the stock, takes out."""
    warehouse = require_warehouse(session, company, warehouse_name)
    d = _delta_of(company, warehouse, item, 1)
    if d.quantity == 0:
        raise DomainError(f"Cantitatea ajustata din produsul {d.name} nu poate fi 0.")
    return _apply(session, company, [d], day=day, kind="adjustment", actor=actor, shortage=SHORT, note=note)[0]


def quantity_now(session: Session, company: Company, warehouse_name: str | None, name: str, code: str | None) -> Decimal:
    """The product's stock in the warehouse now (its balance: every movement, whatever its date)."""
    warehouse = require_warehouse(session, company, warehouse_name)
    found = session.scalar(select(StockBalance.quantity).where(
        StockBalance.company_id == company.id, StockBalance.warehouse_id == warehouse.id,
        StockBalance.product_key == product_key(company, name, code),
    ))
    return found if found is not None else ZERO


# ---- stock as of a date --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockLine:
    name: str
    code: str | None
    unit: str
    quantity: Decimal


@dataclass(frozen=True)
class WarehouseStock:
    name: str
    type: str
    products: list[StockLine]


def stock_on(
    session: Session,
    company: Company,
    day: date,
    *,
    warehouse_name: str | None = None,
    product_name: str | None = None,
    product_code: str | None = None,
) -> list[WarehouseStock]:
    """Products in stock at the end of ``day``, per warehouse: the balances less the ledger after that day.

    Only products with a non-zero quantity are listed; a warehouse asked for by name is always listed.
    """
    if warehouse_name:
        warehouses = [require_warehouse(session, company, warehouse_name)]
    else:
        warehouses = list_warehouses(session, company)
    ids = [w.id for w in warehouses]
    stmt = select(StockBalance).where(StockBalance.company_id == company.id, StockBalance.warehouse_id.in_(ids))
    if product_name:
        stmt = stmt.where(StockBalance.product_name == product_name)
    if product_code:
        stmt = stmt.where(StockBalance.product_code == product_code)
    balances = {(b.warehouse_id, b.product_key): b for b in session.scalars(stmt)}
    level = {ref: b.quantity for ref, b in balances.items()}
    if balances and any(day < b.last_movement_date for b in balances.values()):
        later = session.execute(
            select(StockMovement.warehouse_id, StockMovement.product_key, StockMovement.quantity).where(
                StockMovement.company_id == company.id, StockMovement.warehouse_id.in_(ids),
                StockMovement.movement_date > day,
            )
        )
        for wid, key, quantity in later:
            if (wid, key) in level:
                level[(wid, key)] -= quantity
    out = []
    for w in warehouses:
        products = sorted(
            (StockLine(name=b.product_name, code=b.product_code, unit=b.unit, quantity=level[ref])
             for ref, b in balances.items() if ref[0] == w.id and level[ref] != 0),
            key=lambda s: (s.name, s.code or ""),
        )
        if products or warehouse_name:
            out.append(WarehouseStock(name=w.name, type=w.type, products=products))
    return out


__all__ = [
    "StockItem", "StockLine", "WarehouseStock", "add_warehouse", "adjust", "cancel_document_stock",
    "delete_document_stock", "discharge_document", "list_warehouses", "moves_stock", "product_key", "quantity_now", "receive",
    "require_warehouse", "restore_document_stock", "stock_on",
]
