"""Companies, their VAT status history, series, VAT rates, units and API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.crypto import hash_token, new_api_token
from punte.domain.errors import DomainError, NotFound
from punte.domain.geo import COUNTIES, country_code, county_code
from punte.domain.identifiers import cif_digits, validate_cif
from punte.domain.units import DEFAULT_UNITS
from punte.domain.vat import VatRate, default_rates
from punte.store.models import ApiToken, Company, MeasuringUnit, Series, VatRateRow, VatStatus

from . import events

SERIES_TYPES = {"f": "factura", "p": "proforma", "c": "chitanta"}
COMPANY_GONE = "Firma la care incercati sa va conectati nu mai este disponibila in Cloud. Verificati ciful companiei."


@dataclass(frozen=True)
class CompanyData:
    cif: str
    name: str
    vat_payer: bool = True
    vat_on_collection: bool = False
    reg_com: str | None = None
    address: str | None = None
    city: str | None = None
    county: str | None = None
    country: str = "Romania"
    iban: str | None = None
    bank: str | None = None
    email: str | None = None
    phone: str | None = None
    intra_cif: str | None = None
    uses_product_codes: bool = False
    vat_since: date | None = None


def add_company(session: Session, data: CompanyData, *, actor: str) -> Company:
    """Create a company with today's VAT rates (plus the historical ones) and the usual units.

    Its data is checked and normalised as :func:`update_company` checks a change (county, IBAN, e-mail,
    phone, VAT id, lengths), so a company cannot be created with data it could not be edited to.
    """
    digits = validate_cif(data.cif)
    if session.scalar(select(Company).where(Company.cif == digits)) is not None:
        raise DomainError(f"Firma cu CIF {digits} exista deja.")
    blank = Company(cif=digits, name="", country="Romania")
    values = _cleaned(blank, CompanyChanges(
        name=data.name, reg_com=data.reg_com or "", address=data.address or "", city=data.city or "",
        county=data.county or "", country=data.country or "Romania", iban=data.iban or "", bank=data.bank or "",
        email=data.email or "", phone=data.phone or "", intra_cif=data.intra_cif or "",
        uses_product_codes=data.uses_product_codes,
    ))
    company = Company(cif=digits, **values)
    session.add(company)
    session.flush()
    session.add(
        VatStatus(
            company_id=company.id,
            vat_payer=data.vat_payer,
            vat_on_collection=data.vat_on_collection and data.vat_payer,
            effective_from=data.vat_since or date(1990, 1, 1),
        )
    )
    for rate in default_rates():
        session.add(
            VatRateRow(
                company_id=company.id,
                name=rate.name,
                percentage=rate.percentage,
                category=rate.category,
                valid_from=rate.valid_from,
                valid_to=rate.valid_to,
                exemption_reason=rate.exemption_reason,
                is_default=rate.is_default,
            )
        )
    for name, code in DEFAULT_UNITS.items():
        session.add(MeasuringUnit(company_id=company.id, name=name, code=code))
    events.record(
        session,
        company_id=company.id,
        entity="company",
        entity_id=company.id,
        action="created",
        actor=actor,
        data={"cif": digits, "name": company.name, "vat_payer": data.vat_payer},
    )
    session.flush()
    return company


@dataclass(frozen=True)
class CompanyChanges:
    """Changes to a company's own data. ``None`` keeps a value; ``""`` clears an optional one.

    The CIF is not here: it identifies the company (API calls, e-Factura, the documents issued), so a
    different CIF is a different company.
    """

    name: str | None = None
    reg_com: str | None = None
    address: str | None = None
    city: str | None = None
    county: str | None = None
    country: str | None = None
    iban: str | None = None
    bank: str | None = None
    email: str | None = None
    phone: str | None = None
    intra_cif: str | None = None
    uses_product_codes: bool | None = None


# The column sizes of ``companies``: PostgreSQL refuses longer text, so the refusal is ours and clear.
_MAX_LENGTH = {"name": 200, "reg_com": 40, "address": 300, "city": 100, "county": 100, "country": 60, "bank": 100,
               "email": 200, "phone": 40, "intra_cif": 20, "iban": 40}
_FIELD_NAMES = {"name": "Numele firmei", "reg_com": "Nr. Reg. Com.", "address": "Adresa", "city": "Localitatea",
                "county": "Judetul", "country": "Tara", "bank": "Banca", "email": "Adresa de e-mail",
                "phone": "Telefonul", "intra_cif": "Codul de TVA intracomunitar", "iban": "IBAN-ul"}
_PHONE = re.compile(r"^\+?[0-9 ()./-]{4,40}$")


def _clean_iban(text: str) -> str | None:
    from stdnum import iban as stdnum_iban

    value = re.sub(r"\s+", "", text).upper()
    if not value:
        return None
    if not stdnum_iban.is_valid(value):
        raise DomainError(f"IBAN-ul {value} nu este valid.")
    return value


def _clean_email(text: str) -> str | None:
    from punte.render.email import AddressError, parse_addresses

    try:
        found = parse_addresses(text, "email")
    except AddressError as exc:
        raise DomainError(f"Adresa de e-mail a firmei ({text.strip()}) nu este valida.") from exc
    if len(found) > 1 or any("<" in a for a in found):
        raise DomainError("Firma poate avea o singura adresa de e-mail, fara nume.")
    return found[0] if found else None


def _clean_intra_cif(text: str) -> str | None:
    from stdnum.eu import vat as eu_vat

    value = re.sub(r"\s+", "", text).upper()
    if value and not eu_vat.is_valid(value):
        raise DomainError(f"Codul de TVA intracomunitar {value} nu este valid.")
    return value or None


def _clean_place(county: str | None, country: str) -> str | None:
    """A Romanian county is stored under its official name ("jud. Cluj" -> "Cluj"), so UBL finds its code."""
    text = (county or "").strip()
    if not text or country_code(country) != "RO":
        return text or None
    code = county_code(text)
    if code is None:
        raise DomainError(f"Judetul {text} nu a fost recunoscut.")
    return COUNTIES[code][0]


def _cleaned(company: Company, changes: CompanyChanges) -> dict[str, object]:
    """The new values asked for, normalised and validated; a bad one refuses the whole change."""
    values: dict[str, object] = {}
    for name in ("name", "reg_com", "address", "city", "bank"):
        raw = getattr(changes, name)
        if raw is not None:
            values[name] = " ".join(raw.split()) or None
    if "name" in values and values["name"] is None:
        raise DomainError("Numele firmei trebuie specificat.")
    if changes.country is not None:
        country = " ".join(changes.country.split()) or "Romania"
        if country_code(country) is None:
            raise DomainError(f"Tara {country} nu a fost recunoscuta.")
        values["country"] = country
    if changes.county is not None or changes.country is not None:
        county = changes.county if changes.county is not None else company.county
        values["county"] = _clean_place(county, str(values.get("country") or company.country))
    if changes.iban is not None:
        values["iban"] = _clean_iban(changes.iban)
    if changes.email is not None:
        values["email"] = _clean_email(changes.email)
    if changes.phone is not None:
        phone = " ".join(changes.phone.split())
        if phone and not _PHONE.match(phone):
            raise DomainError(f"Telefonul {phone} nu este valid.")
        values["phone"] = phone or None
    if changes.intra_cif is not None:
        values["intra_cif"] = _clean_intra_cif(changes.intra_cif)
    if changes.uses_product_codes is not None:
        values["uses_product_codes"] = changes.uses_product_codes
    for name, limit in _MAX_LENGTH.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise DomainError(f"{_FIELD_NAMES[name]} poate avea cel mult {limit} de caractere.")
    return values


def update_company(
    session: Session, company: Company, data: CompanyChanges, *, actor: str
) -> dict[str, tuple[object, object]]:
    """Change the company's own data; returns ``{field: (old, new)}`` of what really changed.

    Every change is one ``company/updated`` event with the old and the new values. Documents already
    issued keep the seller data copied onto them at issue; only documents issued from now on carry
    the new data. Nothing changed: no event, an empty answer.
    """
    locked = session.scalar(
        select(Company).where(Company.id == company.id).with_for_update().execution_options(populate_existing=True)
    )
    if locked is None:
        raise NotFound(COMPANY_GONE)
    values = _cleaned(locked, data)
    changed = {name: (getattr(locked, name), new) for name, new in values.items() if getattr(locked, name) != new}
    if not changed:
        return {}
    for name, (_old, new) in changed.items():
        setattr(locked, name, new)
    session.flush()
    events.record(
        session, company_id=locked.id, entity="company", entity_id=locked.id, action="updated", actor=actor,
        data={"before": {k: old for k, (old, _new) in changed.items()},
              "after": {k: new for k, (_old, new) in changed.items()}},
    )
    return changed


def get_company(session: Session, cif: str | None) -> Company:
    digits = cif_digits(cif or "")
    company = session.scalar(select(Company).where(Company.cif == digits)) if digits else None
    if company is None:
        raise NotFound(COMPANY_GONE)
    return company


def vat_status_on(company: Company, day: date) -> VatStatus:
    """The VAT status in force on ``day`` (the latest change effective on or before it)."""
    applicable = [s for s in company.vat_statuses if s.effective_from <= day]
    if not applicable:
        return company.vat_statuses[0]
    return max(applicable, key=lambda s: s.effective_from)


@dataclass(frozen=True)
class VatStatusChange:
    status: VatStatus
    payer_changed: bool
    stopped_recurring: list[int]
    deactivated_price_lists: list[str]


def change_vat_status(
    session: Session,
    company: Company,
    *,
    vat_payer: bool,
    effective_from: date,
    vat_on_collection: bool = False,
    actor: str,
) -> VatStatusChange:
    """Record the company's new VAT status from ``effective_from`` on (the history only grows).

    A change between payer and non-payer (not one of VAT on collection alone) stops every active or
    paused recurring invoice (they must be set up again) and deactivates the special price lists, as
    SmartBill does, at once and whatever the effective date; each is recorded as an event. Documents
    issued under the old status keep it and can then only be viewed (``check_same_vat_status``).
    """
    from .price_lists import deactivate_all
    from .recurring import stop_all

    if vat_on_collection and not vat_payer:
        raise DomainError("O firma neplatitoare de tva nu poate folosi tva la incasare!")
    session.scalar(select(Company.id).where(Company.id == company.id).with_for_update())
    history = list(session.scalars(
        select(VatStatus).where(VatStatus.company_id == company.id).order_by(VatStatus.effective_from)
    ))
    latest = history[-1]
    if effective_from <= latest.effective_from:
        raise DomainError(
            "Statutul de platitor TVA se poate schimba doar de la o data ulterioara ultimei schimbari "
            f"({latest.effective_from.strftime('%d.%m.%Y')})."
        )
    if latest.vat_payer == vat_payer and latest.vat_on_collection == vat_on_collection:
        raise DomainError("Firma are deja acest statut de platitor TVA.")
    row = VatStatus(
        company_id=company.id, vat_payer=vat_payer, vat_on_collection=vat_on_collection,
        effective_from=effective_from,
    )
    session.add(row)
    session.flush()
    session.expire(company, ["vat_statuses"])
    payer_changed = latest.vat_payer != vat_payer
    events.record(
        session, company_id=company.id, entity="company", entity_id=company.id, action="vat_status_changed",
        actor=actor, data={
            "vat_payer": vat_payer, "vat_on_collection": vat_on_collection, "effective_from": effective_from,
            "before": {"vat_payer": latest.vat_payer, "vat_on_collection": latest.vat_on_collection,
                       "effective_from": latest.effective_from},
        },
    )
    stopped: list[int] = []
    lists: list[str] = []
    if payer_changed:
        reason = (
            f"Statutul de platitor TVA al firmei s-a schimbat ({'platitor' if vat_payer else 'neplatitor'} "
            f"de la {effective_from.strftime('%d.%m.%Y')})."
        )
        stopped = stop_all(session, company, actor=actor, reason=reason)
        lists = [pl.name for pl in deactivate_all(session, company, actor=actor, reason=reason)]
    return VatStatusChange(row, payer_changed, stopped, lists)


def vat_rates(session: Session, company_id: int) -> list[VatRate]:
    rows = session.scalars(select(VatRateRow).where(VatRateRow.company_id == company_id).order_by(VatRateRow.id))
    return [
        VatRate(
            name=r.name,
            percentage=r.percentage,
            category=r.category,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            exemption_reason=r.exemption_reason,
            is_default=r.is_default,
        )
        for r in rows
    ]


def _check_series_type(type: str) -> None:
    if type not in SERIES_TYPES:
        raise DomainError(
            f"Tipul documentului nu poate fi {type}! Parametrul type poate lua valorile: "
            "'f' pentru factura, 'p' pentru proforma si 'c' pentru chitanta."
        )


def rates_in_force(session: Session, company: Company, day: date) -> list[VatRate]:
    """The company's VAT rates valid on ``day`` (what ``GET /tax`` lists)."""
    return [r for r in vat_rates(session, company.id) if r.valid_on(day)]


def add_series(
    session: Session,
    company: Company,
    *,
    type: str,
    name: str,
    next_number: int = 1,
    padding: int = 4,
    actor: str,
    default: bool | None = None,
) -> Series:
    _check_series_type(type)
    name = name.strip()
    if not name or len(name) > 20 or not name.isalnum():
        raise DomainError("Numele seriei trebuie sa contina doar litere si cifre (cel mult 20).")
    if next_number < 1 or padding < 1 or padding > 10:
        raise DomainError("Numarul urmator trebuie sa fie cel putin 1, iar completarea intre 1 si 10 cifre.")
    existing = session.scalars(select(Series).where(Series.company_id == company.id, Series.type == type)).all()
    if any(s.name == name for s in existing):
        raise DomainError(f"Seria {name} exista deja.")
    series = Series(
        company_id=company.id,
        type=type,
        name=name,
        next_number=next_number,
        padding=padding,
        is_default=default if default is not None else not existing,
    )
    session.add(series)
    try:
        session.flush()
    except IntegrityError as exc:
        raise DomainError(f"Seria {name} exista deja.") from exc
    events.record(
        session,
        company_id=company.id,
        entity="series",
        entity_id=series.id,
        action="created",
        actor=actor,
        data={"type": type, "name": name, "next": next_number, "padding": padding},
    )
    return series


def list_series(session: Session, company: Company, type: str | None = None) -> list[Series]:
    stmt = select(Series).where(Series.company_id == company.id)
    if type:
        _check_series_type(type)
        stmt = stmt.where(Series.type == type)
    return list(session.scalars(stmt.order_by(Series.type, Series.name)))


def add_token(session: Session, company: Company, email: str, *, secret_key: str, actor: str) -> str:
    """Create an API token for ``email`` on ``company``; returns the token (shown once, stored hashed)."""
    email = email.strip()
    if "@" not in email:
        raise DomainError("Adresa de e-mail a utilizatorului nu este valida.")
    token = new_api_token()
    row = ApiToken(company_id=company.id, email=email.lower(), token_hash=hash_token(token, secret_key))
    session.add(row)
    session.flush()
    events.record(
        session, company_id=company.id, entity="api_token", entity_id=row.id, action="created", actor=actor,
        data={"email": email.lower()},
    )
    return token


def companies_for_token(session: Session, email: str, token: str, *, secret_key: str) -> set[str]:
    """CIFs (digits) on which ``email:token`` has rights; empty when the credentials are wrong."""
    rows = session.execute(
        select(Company.cif)
        .join(ApiToken, ApiToken.company_id == Company.id)
        .where(
            ApiToken.token_hash == hash_token(token, secret_key),
            ApiToken.email == email.strip().lower(),
            ApiToken.revoked_at.is_(None),
        )
    ).all()
    return {r[0] for r in rows}


def measuring_units(session: Session, company: Company) -> list[str]:
    rows = session.scalars(select(MeasuringUnit.name).where(MeasuringUnit.company_id == company.id))
    return sorted(rows)


def require_company(session: Session, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound(COMPANY_GONE)
    return company
