"""BNR reference rates in the store: loaded from files, fetched once, and kept current by the worker.

A rate, once stored for a (currency, day), is never fetched or changed again: BNR does not revise
published rates, and a document records the rate it used anyway (``Document.exchange_rate``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.fx.bnr import BnrClient, BnrFeedError, Rates, latest_expected_publication, parse_bnr_xml
from punte.store.db import Database
from punte.store.models import ExchangeRate
from punte.worker.runner import periodic

from . import events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    days: int
    added: int
    first: date | None
    last: date | None


def store_rates(session: Session, rates: Rates, *, source: str = "BNR") -> LoadResult:
    """Insert the rates not yet stored; existing (currency, day) rows are left as they are."""
    if not rates:
        return LoadResult(0, 0, None, None)
    days = sorted(rates)
    existing = {
        (c, d)
        for c, d in session.execute(
            select(ExchangeRate.currency, ExchangeRate.day).where(
                ExchangeRate.day >= days[0], ExchangeRate.day <= days[-1]
            )
        )
    }
    added = 0
    for day in days:
        for currency, value in sorted(rates[day].items()):
            if (currency, day) in existing:
                continue
            session.add(ExchangeRate(currency=currency, day=day, rate=value, source=source))
            added += 1
    session.flush()
    if added:
        events.record(
            session, company_id=None, entity="exchange_rates", entity_id=None, action="loaded", actor=source,
            data={"first": days[0], "last": days[-1], "added": added},
        )
    return LoadResult(len(days), added, days[0], days[-1])


def load_file(db: Database, path: Path) -> LoadResult:
    """Load a BNR daily or yearly XML file from disk (offline installs)."""
    rates = parse_bnr_xml(path.read_bytes(), source=str(path))
    with db.session(write=True) as session:
        return store_rates(session, rates, source="BNR file")


def latest_stored(db: Database) -> date | None:
    with db.session() as session:
        return session.scalar(select(func.max(ExchangeRate.day)))


def fetch(
    db: Database,
    *,
    base_url: str,
    transport: httpx.BaseTransport | None = None,
    year: int | None = None,
    attempts: int = 3,
) -> LoadResult:
    """Fetch the daily file (or a whole year) from BNR and store what is new.

    The network call happens outside any database transaction.
    """
    with BnrClient(base_url, transport=transport, max_attempts=attempts) as client:
        rates = client.fetch_year(year) if year is not None else client.fetch_daily()
    with db.session(write=True) as session:
        return store_rates(session, rates, source="BNR")


def refresh_if_due(
    db: Database, *, base_url: str, transport: httpx.BaseTransport | None = None, now: datetime | None = None,
    attempts: int = 3,
) -> LoadResult | None:
    """Fetch when the store lacks the newest publication that should exist by now.

    After a gap of more than one publication (a server switched off for a while) the year file is
    fetched, so every banking day in between is stored too.
    """
    now = now or datetime.now(UTC)
    expected = latest_expected_publication(now)
    have = latest_stored(db)
    if have is not None and have >= expected:
        return None
    if have is None or (expected - have).days > 4:
        result = fetch(db, base_url=base_url, transport=transport, year=expected.year, attempts=attempts)
        if have is not None and have.year < expected.year:
            fetch(db, base_url=base_url, transport=transport, year=have.year, attempts=attempts)
        return result
    return fetch(db, base_url=base_url, transport=transport, attempts=attempts)


def rate_for(db: Database, currency: str, day: date) -> tuple[date, Decimal] | None:
    with db.session() as session:
        row = session.execute(
            select(ExchangeRate.day, ExchangeRate.rate)
            .where(ExchangeRate.currency == currency.upper(), ExchangeRate.day <= day)
            .order_by(ExchangeRate.day.desc())
            .limit(1)
        ).first()
    return (row[0], row[1]) if row else None


@periodic("fx.bnr_refresh", seconds=1800)
def _periodic_refresh(db: Database, settings: Settings, services: dict[str, Any]) -> None:
    if not settings.bnr_auto_fetch:
        return
    try:
        refresh_if_due(db, base_url=settings.bnr_base_url, transport=services.get("bnr_transport"), attempts=1)
    except BnrFeedError as exc:
        log.warning("BNR rates not refreshed: %s", exc)


__all__ = ["LoadResult", "fetch", "latest_stored", "load_file", "rate_for", "refresh_if_due", "store_rates"]
