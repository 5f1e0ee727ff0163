"""The append-only event log, written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.store.models import Event


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def record(
    session: Session,
    *,
    company_id: int | None,
    entity: str,
    entity_id: int | None,
    action: str,
    actor: str,
    data: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        company_id=company_id,
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor=actor,
        data=_jsonable(data or {}),
    )
    session.add(event)
    return event


def history(session: Session, entity: str, entity_id: int) -> list[Event]:
    stmt = select(Event).where(Event.entity == entity, Event.entity_id == entity_id).order_by(Event.id)
    return list(session.scalars(stmt))
