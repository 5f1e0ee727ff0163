"""The overview: the cards listed in ``punte.web.panels.OVERVIEW_CARDS``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from punte.services.issuing import today_in_romania
from punte.store.db import Database

from ..panels import load_cards
from ..pages import render
from ..security import WebContext, current

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, ctx: WebContext = Depends(current)) -> Response:
    if ctx.company is None:
        return render(request, ctx, "no_company.html", status=403)
    db: Database = request.app.state.db
    today = today_in_romania()
    with db.session() as s:
        cards = load_cards(s, ctx.company.company_id, today, ctx.can)
    return render(request, ctx, "overview.html", cards=cards, today=today)
