"""Running a dashboard action: role check, one service call in one transaction, a message after."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.responses import Response
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.services.companies import require_company
from punte.store.db import Database
from punte.store.models import Company

from .pages import redirect
from .security import WebContext


def run_action(
    request: Request, ctx: WebContext, company_id: int, level: str, op: Callable[[Session, Company], str],
    *, back: str, done: Callable[[], str] | None = None,
) -> Response:
    """One service call in one transaction after the role check; its refusal is shown on ``back``."""
    ctx.require(level, company_id)
    db: Database = request.app.state.db
    try:
        with db.session(write=True) as s:
            company = require_company(s, company_id)
            message = op(s, company)
    except DomainError as exc:
        return redirect(request, back, flash=("error", exc.text))
    return redirect(request, done() if done else back, flash=("ok", message))
