"""Settings of the current company: its data, series, VAT rates and status history, and its users.

Everyone with a role reads them; changes are the owner's.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.domain.vat import VatRate
from punte.services import companies, quotas
from punte.services.companies import SERIES_TYPES, require_company
from punte.services.issuing import parse_date, today_in_romania
from punte.store.db import Database
from punte.store.models import Company

from .. import accounts, i18n
from ..security import WebContext, WebError, current, posted
from ..actions import run_action
from ..pages import render

router = APIRouter()


def _company(request: Request, ctx: WebContext, level: str = "viewer") -> tuple[int, Company]:
    membership = ctx.require(level)
    db: Database = request.app.state.db
    with db.session() as s:
        return membership.company_id, require_company(s, membership.company_id)


@router.get("/settings", response_class=HTMLResponse)
def company_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    _, company = _company(request, ctx)
    return render(request, ctx, "settings_company.html", company=company)


# The company's fields as the form names them (the CIF is shown, never posted: it cannot change).
COMPANY_FIELDS = ("name", "reg_com", "address", "city", "county", "country", "iban", "bank", "email", "phone",
                  "intra_cif")


@router.post("/settings")
def update_company(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    """The owner changes the company's data (``companies.update_company``); issued documents keep theirs."""
    membership = ctx.require("owner")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)
    changes = companies.CompanyChanges(
        **{name: str(form.get(name) or "") for name in COMPANY_FIELDS},
        uses_product_codes=form.get("uses_product_codes") == "1",
    )

    def op(s: Session, company: Company) -> str:
        changed = companies.update_company(s, company, changes, actor=ctx.email)
        return _("Datele firmei au fost salvate.") if changed else _("Datele firmei nu s-au schimbat.")

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings")


@router.get("/settings/plan", response_class=HTMLResponse)
def plan_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    membership = ctx.require("owner")
    db: Database = request.app.state.db
    with db.session() as s:
        plan = quotas.status(s, require_company(s, membership.company_id))
    return render(request, ctx, "settings_plan.html", plan=plan, kinds=quotas.KINDS)


@router.get("/settings/series", response_class=HTMLResponse)
def series_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    company_id, company = _company(request, ctx)
    db: Database = request.app.state.db
    with db.session() as s:
        rows = companies.list_series(s, company)
    return render(request, ctx, "settings_series.html", series=rows, types=SERIES_TYPES)


@router.post("/settings/series")
def add_series(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)

    def number(name: str, default: int) -> int:
        raw = str(form.get(name) or "").strip()
        return int(raw) if raw.isdigit() else (default if not raw else -1)

    def op(s: Session, company: Company) -> str:
        row = companies.add_series(
            s, company, type=str(form.get("type") or ""), name=str(form.get("name") or ""),
            next_number=number("next_number", 1), padding=number("padding", 4), actor=ctx.email,
        )
        return _("Seria {name} a fost adăugată.", name=row.name)

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/series")


@router.get("/settings/vat", response_class=HTMLResponse)
def vat_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    company_id, company = _company(request, ctx)
    db: Database = request.app.state.db
    today = today_in_romania()
    with db.session() as s:
        rates: list[VatRate] = companies.vat_rates(s, company_id)
        company = require_company(s, company_id)
        history = sorted(company.vat_statuses, key=lambda v: v.effective_from, reverse=True)
        in_force = companies.vat_status_on(company, today)
    return render(request, ctx, "settings_vat.html", rates=rates, history=history, in_force=in_force, today=today)


# The statuses the VAT tab offers: (vat_payer, vat_on_collection) of ``companies.change_vat_status``.
VAT_STATUSES: dict[str, tuple[bool, bool]] = {
    "payer": (True, False), "on_collection": (True, True), "non_payer": (False, False),
}


@router.post("/settings/vat")
def change_vat_status(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    """A new VAT status from a date on, exactly as ``punte company vat-status`` records it."""
    membership = ctx.require("owner")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        status = VAT_STATUSES.get(str(form.get("status") or ""))
        if status is None:
            raise DomainError(_("Alegeți noul statut de TVA."))
        day = parse_date(str(form.get("effective_from") or "").strip() or None)
        if day is None:
            raise DomainError(_("Data de la care se aplică noul statut trebuie completată."))
        change = companies.change_vat_status(
            s, company, vat_payer=status[0], vat_on_collection=status[1], effective_from=day, actor=ctx.email
        )
        parts = [_("Noul statut de TVA se aplică de la {day}.", day=day.strftime("%d.%m.%Y"))]
        if change.stopped_recurring:
            parts.append(_("Facturi recurente oprite: {count}.", count=len(change.stopped_recurring)))
        if change.deactivated_price_lists:
            parts.append(_("Liste de prețuri dezactivate: {names}.", names=", ".join(change.deactivated_price_lists)))
        return " ".join(parts)

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/vat")


@router.get("/settings/users", response_class=HTMLResponse)
def users_settings(request: Request, ctx: WebContext = Depends(current)) -> Response:
    company_id, company = _company(request, ctx, "owner")
    db: Database = request.app.state.db
    with db.session() as s:
        members = accounts.members_of(s, company)
    return render(request, ctx, "settings_users.html", members=members, roles=list(accounts.ROLE_LEVEL)[::-1])


def _user_id(ctx: WebContext) -> int:
    assert ctx.form is not None
    raw = str(ctx.form.get("user_id") or "")
    if not raw.isdigit():
        raise WebError(400, "Utilizatorul lipsește din formular.")
    return int(raw)


@router.post("/settings/users")
def add_user(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    assert ctx.form is not None
    form = ctx.form
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        email = str(form.get("email") or "")
        password = str(form.get("password") or "") or None
        accounts.add_user(s, company, email, password, str(form.get("role") or ""), actor=ctx.email)
        return _("Utilizatorul {email} are acum acces la firmă.", email=email.strip().lower())

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/users")


@router.post("/settings/users/role")
def change_role(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    assert ctx.form is not None
    user_id, role = _user_id(ctx), str(ctx.form.get("role") or "")
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        accounts.set_role(s, company, user_id, role, actor=ctx.email)
        return _("Rolul a fost schimbat.")

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/users")


@router.post("/settings/users/remove")
def remove_user(request: Request, ctx: WebContext = Depends(posted)) -> Response:
    membership = ctx.require("owner")
    user_id = _user_id(ctx)
    _ = i18n.translator(ctx.language)

    def op(s: Session, company: Company) -> str:
        accounts.remove_member(s, company, user_id, actor=ctx.email)
        return _("Accesul utilizatorului la firmă a fost retras.")

    return run_action(request, ctx, membership.company_id, "owner", op, back="/settings/users")
