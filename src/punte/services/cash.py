"""The cash book (registrul de casa): cash payments and manual cash operations, per company and currency.

Every movement is a new row that is never changed: a deleted receipt is undone by a reversing movement,
and a wrong balance is corrected by a manual operation (``incasare`` puts money in, ``plata`` takes it
out), as SmartBill's FAQ advises. The register row holding the running balance is locked while a
movement is appended, so concurrent payments never lose an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.domain.money import CURRENCIES, ZERO, round_money
from punte.store.models import Company
from punte.store.models_payments import CashMovement, CashRegister

from . import events

MANUAL_KINDS = {"incasare": "manual_in", "plata": "manual_out"}
KIND_LABEL = {
    "payment": "Incasare",
    "payment_reversal": "Stornare incasare",
    "manual_in": "Alta incasare",
    "manual_out": "Alta plata",
}


def _currency(text: str | None) -> str:
    currency = (text or "RON").strip().upper()
    if currency not in CURRENCIES:
        raise DomainError("Moneda nu a fost gasita pe server!")
    return currency


def _find_register(session: Session, company: Company, currency: str, *, lock: bool) -> CashRegister | None:
    stmt = select(CashRegister).where(CashRegister.company_id == company.id, CashRegister.currency == currency)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def _locked_register(session: Session, company: Company, currency: str) -> CashRegister:
    register = _find_register(session, company, currency, lock=True)
    if register is not None:
        return register
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(CashRegister)
        .values(company_id=company.id, currency=currency, balance=ZERO, last_seq=0)
        .on_conflict_do_nothing(index_elements=["company_id", "currency"])
    )
    register = _find_register(session, company, currency, lock=True)
    assert register is not None
    return register


def record(
    session: Session,
    company: Company,
    *,
    currency: str,
    amount: Decimal,
    day: date,
    kind: str,
    actor: str,
    payment_id: int | None = None,
    reverses_id: int | None = None,
    document: str | None = None,
    text: str | None = None,
    allow_negative: bool = True,
) -> CashMovement:
    """Append a movement (``amount`` signed) to the company's cash book in ``currency``."""
    register = _locked_register(session, company, currency)
    balance = register.balance + amount
    if not allow_negative and balance < 0:
        raise DomainError(
            f"Soldul casei in {currency} ({format(round_money(register.balance, currency), 'f')}) nu acopera plata de "
            f"{format(round_money(-amount, currency), 'f')}."
        )
    register.last_seq += 1
    register.balance = balance
    movement = CashMovement(
        register_id=register.id,
        company_id=company.id,
        seq=register.last_seq,
        day=day,
        kind=kind,
        amount=amount,
        balance_after=balance,
        payment_id=payment_id,
        reverses_id=reverses_id,
        document=document,
        text=(text or "")[:300] or None,
        actor=actor,
    )
    session.add(movement)
    session.flush()
    events.record(
        session,
        company_id=company.id,
        entity="cash_movement",
        entity_id=movement.id,
        action=kind,
        actor=actor,
        data={
            "currency": currency, "amount": amount, "balance": balance, "day": day, "payment_id": payment_id,
            "reverses_id": reverses_id, "document": document, "text": movement.text,
        },
    )
    return movement


def reverse_payment(session: Session, company: Company, payment_id: int, *, day: date, actor: str,
                    document: str | None = None) -> list[CashMovement]:
    """Undo the cash movements of a payment that is being deleted, with opposite movements."""
    movements = list(session.scalars(
        select(CashMovement)
        .where(CashMovement.company_id == company.id, CashMovement.payment_id == payment_id,
               CashMovement.kind == "payment")
        .order_by(CashMovement.id)
    ))
    reversed_ids = set(session.scalars(
        select(CashMovement.reverses_id).where(CashMovement.reverses_id.in_([m.id for m in movements]))
    )) if movements else set()
    out = []
    for movement in movements:
        if movement.id in reversed_ids:
            continue
        register = session.get(CashRegister, movement.register_id)
        assert register is not None
        out.append(record(
            session, company, currency=register.currency, amount=-movement.amount, day=day,
            kind="payment_reversal", actor=actor, payment_id=payment_id, reverses_id=movement.id,
            document=document or movement.document, text=f"Stergere {movement.document or 'incasare'}",
        ))
    return out


def manual_operation(
    session: Session,
    company: Company,
    *,
    type: str | None,
    value: Decimal | None,
    day: date,
    actor: str,
    currency: str | None = None,
    text: str | None = None,
) -> CashMovement:
    """A manual cash operation: ``incasare`` (money in) or ``plata`` (money out, never below zero)."""
    kind = MANUAL_KINDS.get((type or "").strip().casefold())
    if kind is None:
        raise DomainError("Tipul operatiunii de casa trebuie sa fie 'incasare' sau 'plata'.")
    cur = _currency(currency)
    if value is None:
        raise DomainError("Valoarea operatiunii de casa trebuie specificata.")
    amount = round_money(value, cur)
    if amount != value or amount <= 0:
        raise DomainError("Valoarea operatiunii de casa trebuie sa fie pozitiva, cu cel mult doua zecimale.")
    return record(
        session, company, currency=cur, amount=amount if kind == "manual_in" else -amount, day=day, kind=kind,
        actor=actor, text=text or KIND_LABEL[kind], allow_negative=kind == "manual_in",
    )


def balance(session: Session, company: Company, currency: str | None = None, on: date | None = None) -> Decimal:
    """The register's balance now, or at the end of day ``on``."""
    cur = _currency(currency)
    if on is None:
        register = _find_register(session, company, cur, lock=False)
        return register.balance if register is not None else ZERO
    amounts = session.scalars(
        select(CashMovement.amount)
        .join(CashRegister, CashRegister.id == CashMovement.register_id)
        .where(CashRegister.company_id == company.id, CashRegister.currency == cur, CashMovement.day <= on)
    )
    return sum(amounts, ZERO)


@dataclass(frozen=True)
class RegisterReport:
    """The register by date: each movement with the balance after it in that order."""

    currency: str
    start: date
    end: date
    opening: Decimal
    movements: list[tuple[CashMovement, Decimal]]
    closing: Decimal


def report(session: Session, company: Company, *, start: date, end: date, currency: str | None = None) -> RegisterReport:
    """The cash register between ``start`` and ``end`` (inclusive): opening balance, movements by day."""
    if end < start:
        raise DomainError("Data de inceput trebuie sa fie cel tarziu data de sfarsit.")
    cur = _currency(currency)
    rows = list(session.scalars(
        select(CashMovement)
        .join(CashRegister, CashRegister.id == CashMovement.register_id)
        .where(CashRegister.company_id == company.id, CashRegister.currency == cur, CashMovement.day <= end)
        .order_by(CashMovement.day, CashMovement.seq)
    ))
    opening = sum((m.amount for m in rows if m.day < start), ZERO)
    running, inside = opening, []
    for m in rows:
        if m.day >= start:
            running += m.amount
            inside.append((m, running))
    return RegisterReport(cur, start, end, opening, inside, running)
