"""The webhook inbox: every event the payment bridges received, what it produced, and Retry for failures.

Reading is everyone's; Retry (``services.bridge.prepare_retry`` then ``process_inbox``, as
``punte bridge retry`` does) is the accountant's and the owner's. Corrections typed in the Retry form
are the buyer fields the bridge accepts (``providers.base.BUYER_FIELDS``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from punte.domain.errors import DomainError
from punte.providers.base import BUYER_FIELDS
from punte.services import bridge
from punte.services.bridge_ops import waiting_deliveries
from punte.services.companies import require_company
from punte.store.db import Database

from .. import bridge_queries, i18n
from ..pages import redirect, render
from ..security import WebContext, current, posted

router = APIRouter()

PROVIDERS = ("stripe", "shopify", "paypal")
STATUSES = ("received", "done", "waiting", "ignored", "failed")
# the buyer fields offered in the Retry form, with their Romanian labels
CORRECTABLE = {
    "name": "Nume", "business_name": "Firma", "cif": "CIF", "line1": "Adresa", "city": "Localitatea",
    "state": "Județul", "postal_code": "Cod poștal", "country": "Țara", "email": "E-mail",
}
assert set(CORRECTABLE) <= set(BUYER_FIELDS)


@router.get("/bridge/events", response_class=HTMLResponse)
def inbox(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("viewer")
    provider = request.query_params.get("provider", "")
    status = request.query_params.get("status", "")
    provider = provider if provider in PROVIDERS else ""
    status = status if status in STATUSES else ""
    db: Database = request.app.state.db
    with db.session() as s:
        company = require_company(s, membership.company_id)
        rows = bridge.list_events(s, company, provider=provider or None, status=status or None, limit=100)
        links = bridge_queries.document_ids(s, company.id, [r.id for r in rows])
    waiting = waiting_deliveries(db, membership.company_id, provider or None)
    return render(request, ctx, "bridge_events.html", rows=rows, links=links, provider=provider, status_filter=status,
                  waiting=waiting,
                  providers=PROVIDERS, statuses=STATUSES, correctable=CORRECTABLE,
                  can_retry=ctx.can("accountant"))


@router.post("/bridge/events/{inbox_id:int}/retry")
def retry(request: Request, inbox_id: int, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("accountant")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)
    overrides = {f: str(form.get(f"buyer.{f}") or "").strip() for f in CORRECTABLE}
    overrides = {f: v[:300] for f, v in overrides.items() if v}
    back = "/bridge/events"
    db: Database = request.app.state.db
    try:
        with db.session(write=True) as s:
            company = require_company(s, membership.company_id)
            row = bridge.find_event(s, company, str(inbox_id))  # only this company's events
            if row.id != inbox_id:
                raise DomainError(f"Evenimentul {inbox_id} nu a fost gasit.")
            bridge.prepare_retry(s, company, str(inbox_id), overrides, actor=ctx.email)
    except DomainError as exc:
        return redirect(request, back, flash=("error", exc.text))
    outcome = bridge.process_inbox(db, request.app.state.settings, inbox_id,
                                   services=request.app.state.worker_services)
    problems = "; ".join(f"{p.get('field')}: {p.get('text')}" for p in outcome.detail.get("problems") or [])
    text = _("Evenimentul a fost reprocesat: {status} ({outcome}).", status=outcome.status, outcome=outcome.text)
    if problems:
        text += " " + problems
    return redirect(request, back, flash=("ok" if outcome.status in ("done", "waiting") else "error", text))
