"""Subscription plans and document quotas.

Every issued document counts (invoice, proforma, storno, receipt or other payment), at the moment it
was actually issued (not the date printed on it), in the Bucharest day of that moment. The count is
written in the issuing transaction to ``quota_usage`` (one row per company, day and kind, only ever
incremented), so deleting the last document of a series does not give its slot back.

A plan limits the documents per anniversary month (``punte.domain.periods``). The check runs under a
lock: on PostgreSQL ``SELECT ... FOR UPDATE`` on the company's plan row, on SQLite the write
transaction's database lock. Concurrent issuers therefore see each other's counts exactly. Lock
order: a transaction takes its document's series row, then the plan row, then anything else; a
transaction that issues several documents (an invoice with its receipt) takes the plan row once,
with the first, so callers should call ``before_issue`` before locking a second series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.domain.periods import Period, subscription_period
from punte.store.models import Company
from punte.store.models_operations import CompanyPlan, QuotaUsage

from . import events

BUCHAREST = ZoneInfo("Europe/Bucharest")
#: SmartBill's own text for this refusal; punte adds the limit, the count and the reset day.
LIMIT_REACHED = (
    "Pentru acest pachet s-a emis numarul maxim de documente permis. "
    "Pentru a putea continua, va rugam sa comandati prelungirea abonamentului."
)
KINDS = ("invoice", "proforma", "receipt", "payment")


def _ro(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def local_day(at: datetime | None = None) -> date:
    """The Bucharest calendar day of ``at`` (default now)."""
    return (at or datetime.now(UTC)).astimezone(BUCHAREST).date()


@dataclass(frozen=True)
class QuotaStatus:
    """What ``GET /quota`` shows: the plan, the current period and its use."""

    plan: str | None
    limit: int | None  # None: unlimited
    activated_on: date | None
    period: Period | None  # None without a plan
    used: int | None
    by_kind: dict[str, int]

    @property
    def remaining(self) -> int | None:
        if self.limit is None or self.used is None:
            return None
        return max(self.limit - self.used, 0)


def get_plan(session: Session, company: Company, *, lock: bool = False) -> CompanyPlan | None:
    stmt = select(CompanyPlan).where(CompanyPlan.company_id == company.id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def set_plan(
    session: Session,
    company: Company,
    *,
    limit: int | None,
    activated_on: date,
    name: str | None = None,
    actor: str,
    today: date | None = None,
) -> CompanyPlan:
    """Assign (or change) the company's plan; ``limit=None`` lifts the limit."""
    if limit is not None and limit < 0:
        raise DomainError("Limita de documente trebuie sa fie un numar pozitiv.")
    if activated_on > (today or local_day()):
        raise DomainError("Data activarii abonamentului nu poate fi in viitor.")
    label = (name or "").strip() or None
    if label is not None and len(label) > 40:
        raise DomainError("Numele abonamentului poate avea cel mult 40 de caractere.")
    plan = get_plan(session, company, lock=True)
    before = None
    if plan is None:
        plan = CompanyPlan(company_id=company.id)
        session.add(plan)
    else:
        before = {"name": plan.name, "limit": plan.document_limit, "activated_on": plan.activated_on}
    plan.name = label
    plan.document_limit = limit
    plan.activated_on = activated_on
    plan.updated_at = datetime.now(UTC)
    session.flush()
    events.record(
        session, company_id=company.id, entity="company_plan", entity_id=plan.id,
        action="created" if before is None else "changed", actor=actor,
        data={"name": label, "limit": limit, "activated_on": activated_on, "before": before},
    )
    return plan


_USED = (
    select(QuotaUsage.kind, func.sum(QuotaUsage.used))
    .where(
        QuotaUsage.company_id == bindparam("company_id"),
        QuotaUsage.day >= bindparam("start"),
        QuotaUsage.day <= bindparam("end"),
    )
    .group_by(QuotaUsage.kind)
)


def _used(session: Session, company_id: int, period: Period) -> dict[str, int]:
    rows = session.execute(_USED, {"company_id": company_id, "start": period.start, "end": period.end}).all()
    return {kind: int(total or 0) for kind, total in rows}


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE used = used + n``, built once per dialect (issuing is hot)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(QuotaUsage).values(
        company_id=bindparam("company_id"), day=bindparam("day"), kind=bindparam("kind"), used=bindparam("used")
    )
    return stmt.on_conflict_do_update(
        index_elements=["company_id", "day", "kind"],
        set_={"used": QuotaUsage.__table__.c.used + stmt.excluded.used},
    )


def _count(session: Session, company_id: int, day: date, kind: str, count: int) -> None:
    """Add ``count`` to the day's row in one atomic upsert (no read-modify-write race)."""
    session.execute(
        _upsert(session.get_bind().dialect.name), {"company_id": company_id, "day": day, "kind": kind, "used": count}
    )


#: The plan row, locked: every issuer of a company with a plan waits here for the previous one's commit.
_PLAN_FOR_UPDATE = (
    select(CompanyPlan.document_limit, CompanyPlan.activated_on)
    .where(CompanyPlan.company_id == bindparam("company_id"))
    .with_for_update()
)


def limit_text(limit: int, used: int, period: Period) -> str:
    return (
        f"{LIMIT_REACHED} Limita abonamentului: {limit} documente pe perioada {_ro(period.start)} - "
        f"{_ro(period.end)}; emise in aceasta perioada: {used}. "
        f"Numarul de documente se reseteaza la {_ro(period.next_start)}."
    )


def consume(session: Session, company: Company, *, kind: str, count: int = 1, at: datetime | None = None) -> None:
    """Count ``count`` documents of ``kind`` issued now; refuse (nothing written) over the limit.

    Called inside the issuing transaction, before the document takes its number.
    """
    if count < 1:
        return
    day = local_day(at)
    plan = session.execute(_PLAN_FOR_UPDATE, {"company_id": company.id}).first()
    if plan is not None and plan.document_limit is not None:
        period = subscription_period(plan.activated_on, day)
        used = sum(_used(session, company.id, period).values())
        if used + count > plan.document_limit:
            raise DomainError(limit_text(plan.document_limit, used, period))
    _count(session, company.id, day, kind if kind in KINDS else "other", count)


def status(session: Session, company: Company, *, at: datetime | None = None) -> QuotaStatus:
    plan = get_plan(session, company)
    if plan is None:
        return QuotaStatus(plan=None, limit=None, activated_on=None, period=None, used=None, by_kind={})
    period = subscription_period(plan.activated_on, local_day(at))
    by_kind = _used(session, company.id, period)
    return QuotaStatus(
        plan=plan.name, limit=plan.document_limit, activated_on=plan.activated_on, period=period,
        used=sum(by_kind.values()), by_kind=by_kind,
    )


__all__ = ["LIMIT_REACHED", "QuotaStatus", "consume", "get_plan", "limit_text", "local_day", "set_plan", "status"]
