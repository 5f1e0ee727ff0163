"""Special price lists ("liste de preturi speciale"): per-client or per-group product prices.

A list holds prices for nomenclature products and applies to the clients assigned to it directly or
through their group, only while it is active (lists start inactive and are activated and
deactivated explicitly; a change of the company's VAT-payer status deactivates them all).

When an invoice line names a product without a price, the line takes, in this order: the price in
the active list assigned to the client, the price in the active list of the client's group, the
product's nomenclature price. The price carries its currency and whether it includes VAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError, NotFound
from punte.domain.identifiers import cif_digits
from punte.domain.money import CURRENCIES
from punte.smartbill.wire import ClientData
from punte.store.models import Client, Company, Product
from punte.store.models_operations import ClientGroupMember, PriceList, PriceListAssignment, PriceListItem

from . import events


@dataclass(frozen=True)
class ProductPrice:
    """The price a line without one takes, and where it comes from."""

    price: Decimal
    currency: str
    tax_included: bool
    unit: str
    vat_name: str | None
    is_service: bool
    source: str  # the price list's name, or "nomenclator"


def _name(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise DomainError(f"Numele {what} trebuie specificat.")
    if len(value) > 100:
        raise DomainError(f"Numele {what} poate avea cel mult 100 de caractere.")
    return value


def require_list(session: Session, company: Company, name: str, *, lock: bool = False) -> PriceList:
    stmt = select(PriceList).where(PriceList.company_id == company.id, PriceList.name == (name or "").strip())
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(f"Lista de preturi speciale {name} nu a fost gasita.")
    return found


def find_product(session: Session, company: Company, name: str, code: str | None) -> Product | None:
    """The nomenclature product a line names: by name and code, or by name alone when unambiguous."""
    stmt = select(Product).where(Product.company_id == company.id, Product.name == name.strip())
    if code:
        return session.scalar(stmt.where(Product.code == code.strip()))
    rows = list(session.scalars(stmt))
    if len(rows) == 1:
        return rows[0]
    return next((r for r in rows if not r.code), None)


def require_product(session: Session, company: Company, name: str, code: str | None) -> Product:
    product = find_product(session, company, name, code)
    if product is None:
        label = f"{name} (cod {code})" if code else name
        raise NotFound(f"Produsul {label} nu exista in nomenclator. Salvati-l intai (saveToDb pe o factura).")
    return product


def require_client(session: Session, company: Company, name: str) -> Client:
    client = session.scalar(select(Client).where(Client.company_id == company.id, Client.name == name.strip()))
    if client is None:
        raise NotFound(f"Clientul {name} nu exista in nomenclator.")
    return client


def add_list(session: Session, company: Company, name: str, *, actor: str) -> PriceList:
    """A new, inactive list."""
    label = _name(name, "listei de preturi")
    if session.scalar(select(PriceList).where(PriceList.company_id == company.id, PriceList.name == label)):
        raise DomainError(f"Lista de preturi speciale {label} exista deja.")
    row = PriceList(company_id=company.id, name=label, active=False)
    session.add(row)
    session.flush()
    events.record(session, company_id=company.id, entity="price_list", entity_id=row.id, action="created",
                  actor=actor, data={"name": label})
    return row


def set_price(
    session: Session,
    company: Company,
    list_name: str,
    *,
    product: str,
    code: str | None = None,
    price: Decimal,
    currency: str = "RON",
    tax_included: bool = False,
    actor: str,
) -> PriceListItem:
    """Set (or change) a product's special price in a list."""
    plist = require_list(session, company, list_name, lock=True)
    row_product = require_product(session, company, product, code)
    if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
        raise DomainError("Pretul special trebuie sa fie un numar pozitiv.")
    cur = (currency or "RON").strip().upper()
    if cur not in CURRENCIES:
        raise DomainError("Moneda nu a fost gasita pe server!")
    item = session.scalar(
        select(PriceListItem).where(PriceListItem.price_list_id == plist.id, PriceListItem.product_id == row_product.id)
    )
    if item is None:
        item = PriceListItem(price_list_id=plist.id, product_id=row_product.id)
        session.add(item)
    item.price, item.currency, item.tax_included = price, cur, tax_included
    session.flush()
    events.record(
        session, company_id=company.id, entity="price_list", entity_id=plist.id, action="price_set", actor=actor,
        data={"product": row_product.name, "code": row_product.code, "price": price, "currency": cur,
              "tax_included": tax_included},
    )
    return item


def set_group(session: Session, company: Company, group: str, clients: list[str], *, actor: str) -> None:
    """Put clients in a group (a client is in at most one group: this moves it)."""
    label = _name(group, "grupului")
    for name in clients:
        client = require_client(session, company, name)
        member = session.scalar(select(ClientGroupMember).where(
            ClientGroupMember.company_id == company.id, ClientGroupMember.client_id == client.id))
        if member is None:
            member = ClientGroupMember(company_id=company.id, client_id=client.id)
            session.add(member)
        member.group_name = label
        session.flush()
        events.record(session, company_id=company.id, entity="client", entity_id=client.id, action="grouped",
                      actor=actor, data={"group": label})


def assign(
    session: Session, company: Company, list_name: str, *, client: str | None = None, group: str | None = None,
    actor: str,
) -> PriceListAssignment:
    """Apply a list to one client or to a group (replacing the list they had)."""
    if bool(client) == bool(group):
        raise DomainError("Specificati fie un client, fie un grup de clienti.")
    plist = require_list(session, company, list_name)
    stmt = select(PriceListAssignment).where(PriceListAssignment.company_id == company.id)
    client_row = require_client(session, company, client) if client else None
    group_label = _name(group, "grupului") if group else None
    if client_row is not None:
        stmt = stmt.where(PriceListAssignment.client_id == client_row.id)
    else:
        stmt = stmt.where(PriceListAssignment.group_name == group_label)
    row = session.scalar(stmt)
    if row is None:
        row = PriceListAssignment(
            company_id=company.id, client_id=client_row.id if client_row else None, group_name=group_label
        )
        session.add(row)
    row.price_list_id = plist.id
    session.flush()
    events.record(
        session, company_id=company.id, entity="price_list", entity_id=plist.id, action="assigned", actor=actor,
        data={"client": client_row.name if client_row else None, "group": group_label},
    )
    return row


def set_active(session: Session, company: Company, list_name: str, active: bool, *, actor: str,
               reason: str | None = None) -> PriceList:
    plist = require_list(session, company, list_name, lock=True)
    if plist.active == active:
        word = "activa" if active else "inactiva"
        raise DomainError(f"Lista de preturi speciale {plist.name} este deja {word}.")
    plist.active = active
    events.record(session, company_id=company.id, entity="price_list", entity_id=plist.id,
                  action="activated" if active else "deactivated", actor=actor, data={"reason": reason})
    return plist


def deactivate_all(session: Session, company: Company, *, actor: str, reason: str) -> list[PriceList]:
    """Deactivate every active list of the company (a VAT-payer status change does this)."""
    rows = list(session.scalars(
        select(PriceList).where(PriceList.company_id == company.id, PriceList.active.is_(True)).with_for_update()
    ))
    for plist in rows:
        plist.active = False
        events.record(session, company_id=company.id, entity="price_list", entity_id=plist.id,
                      action="deactivated", actor=actor, data={"reason": reason})
    return rows


@dataclass(frozen=True)
class PriceListView:
    name: str
    active: bool
    prices: list[tuple[str, str, Decimal, str, bool]]  # product, code, price, currency, tax included
    clients: list[str]
    groups: list[str]


def list_lists(session: Session, company: Company) -> list[PriceListView]:
    views = []
    for plist in session.scalars(select(PriceList).where(PriceList.company_id == company.id).order_by(PriceList.name)):
        prices = session.execute(
            select(Product.name, Product.code, PriceListItem.price, PriceListItem.currency, PriceListItem.tax_included)
            .join(Product, Product.id == PriceListItem.product_id)
            .where(PriceListItem.price_list_id == plist.id)
            .order_by(Product.name)
        ).all()
        assigned = session.execute(
            select(Client.name, PriceListAssignment.group_name)
            .outerjoin(Client, Client.id == PriceListAssignment.client_id)
            .where(PriceListAssignment.price_list_id == plist.id)
        ).all()
        views.append(PriceListView(
            name=plist.name, active=plist.active, prices=[tuple(p) for p in prices],  # type: ignore[misc]
            clients=sorted(c for c, _ in assigned if c), groups=sorted(g for _, g in assigned if g),
        ))
    return views


class PriceResolver:
    """Looks up the price of a line that names a product without one, for one client.

    Created per document; it queries only when such a line appears (most invoices carry prices).
    """

    def __init__(self, session: Session, company: Company, client: ClientData | None) -> None:
        self.session = session
        self.company = company
        self.client = client
        self._lists: list[PriceList] | None = None

    def _client_row(self) -> Client | None:
        if self.client is None:
            return None
        name = (self.client.name or "").strip()
        base = select(Client).where(Client.company_id == self.company.id)
        row = self.session.scalar(base.where(Client.name == name)) if name else None
        digits = cif_digits(self.client.vatCode or "")
        if row is None and digits:
            matches = [c for c in self.session.scalars(base.where(Client.vat_code.is_not(None)))
                       if cif_digits(c.vat_code or "") == digits]
            row = matches[0] if len(matches) == 1 else None
        return row

    def _active_lists(self) -> list[PriceList]:
        """The client's own list, then its group's, keeping only active ones."""
        if self._lists is not None:
            return self._lists
        found: list[PriceList] = []
        client = self._client_row()
        if client is not None:
            own = self.session.scalar(
                select(PriceList).join(PriceListAssignment, PriceListAssignment.price_list_id == PriceList.id)
                .where(PriceListAssignment.company_id == self.company.id, PriceListAssignment.client_id == client.id)
            )
            group = self.session.scalar(select(ClientGroupMember.group_name).where(
                ClientGroupMember.company_id == self.company.id, ClientGroupMember.client_id == client.id))
            shared = None
            if group is not None:
                shared = self.session.scalar(
                    select(PriceList).join(PriceListAssignment, PriceListAssignment.price_list_id == PriceList.id)
                    .where(PriceListAssignment.company_id == self.company.id, PriceListAssignment.group_name == group)
                )
            found = [pl for pl in (own, shared) if pl is not None and pl.active]
        self._lists = found
        return found

    def price_for(self, name: str, code: str | None) -> ProductPrice | None:
        product = find_product(self.session, self.company, name, code)
        if product is None:
            return None
        for plist in self._active_lists():
            item = self.session.scalar(select(PriceListItem).where(
                PriceListItem.price_list_id == plist.id, PriceListItem.product_id == product.id))
            if item is not None:
                return ProductPrice(item.price, item.currency, item.tax_included, product.unit, product.vat_name,
                                    product.is_service, plist.name)
        return ProductPrice(product.price, product.currency, product.tax_included, product.unit, product.vat_name,
                            product.is_service, "nomenclator")


__all__ = [
    "PriceListView", "PriceResolver", "ProductPrice", "add_list", "assign", "deactivate_all", "find_product",
    "list_lists", "require_list", "set_active", "set_group", "set_price",
]
