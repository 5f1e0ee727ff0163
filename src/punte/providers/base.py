"""The one narrow interface every payment provider implements, and the neutral facts it produces.

A provider does three things and nothing else:

1. :meth:`Provider.verify` checks a delivery's signature over the raw body with the company's secrets
   (any of them: two are valid while a secret rotates) and refuses stale or forged deliveries with
   :class:`InvalidDelivery`. It runs in the webhook route, so it must be fast and must not touch the
   database.
2. :meth:`Provider.envelope` reads the event id and type from the raw body (a malformed body is an
   :class:`InvalidDelivery` too). The inbox stores the raw event under (company, provider, event id).
3. :meth:`Provider.interpret` maps a stored event to :class:`Facts`: which payment it is about (every
   provider id naming that payment, so events about one payment meet whatever order they arrive in),
   whether the payment is confirmed, what the event says about the sale (buyer, lines, amounts) and
   about refunds. It is pure: no I/O, no database.

Everything after that (one invoice per payment, stornos, failures) is the bridge service's job and is
the same for every provider, so adding a provider is one module registered in :mod:`punte.providers`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, ClassVar


class InvalidDelivery(Exception):  # noqa: N818 - the word the routes use
    """A delivery that is not trusted: bad or missing signature, stale timestamp, malformed body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifyContext:
    """What verification may use besides the body and headers.

    ``options`` are the company's provider options (PayPal's webhook id, allowed certificate hosts...);
    ``fetch`` downloads a URL and returns its bytes (PayPal's certificate; injectable for tests);
    ``trust_roots`` are PEM certificates trusted as roots (PayPal's chain; default: the system's).
    """

    now: float
    options: Mapping[str, Any] = field(default_factory=dict)
    fetch: Callable[[str], bytes] | None = None
    trust_roots: bytes | None = None


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str


BUYER_FIELDS = (
    "name", "business_name", "email", "phone", "line1", "line2", "city", "state", "postal_code", "country",
    "cif", "reg_com", "vat_id", "tin",
)


@dataclass(frozen=True)
class BuyerInfo:
    """Billing data as the provider gave it (every field optional, texts as written).

    ``cif`` is a Romanian CUI/CIF written by the customer; ``vat_id`` an EU VAT number (``eu_vat``);
    ``tin`` a Romanian tax id that may be a CNP (``ro_tin``); ``state`` the county as written.
    """

    name: str | None = None
    business_name: str | None = None
    email: str | None = None
    phone: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    cif: str | None = None
    reg_com: str | None = None
    vat_id: str | None = None
    tin: str | None = None

    def filled_from(self, other: BuyerInfo) -> BuyerInfo:
        """These fields, with the empty ones taken from ``other``."""
        taken = {f: getattr(other, f) for f in BUYER_FIELDS if not getattr(self, f) and getattr(other, f)}
        return replace(self, **taken)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f) for f in BUYER_FIELDS)

    @property
    def has_address(self) -> bool:
        return bool(self.line1 or self.city or self.country)


def buyer_from(candidates: Sequence[Mapping[str, Any] | BuyerInfo]) -> BuyerInfo:
    """Merge candidate field maps in order: a field's first non-empty value wins.

    An address is taken whole from the first candidate that has one, so a street from one source is
    never paired with another source's city.
    """
    merged: dict[str, str] = {}
    address_taken = False
    address_keys = ("line1", "line2", "city", "state", "postal_code", "country")
    for candidate in candidates:
        data = asdict(candidate) if isinstance(candidate, BuyerInfo) else dict(candidate)
        clean = {k: _text(v) for k, v in data.items() if k in BUYER_FIELDS}
        clean = {k: v for k, v in clean.items() if v}
        has_address = any(clean.get(k) for k in ("line1", "city"))
        for key, value in clean.items():
            if key in address_keys:
                continue
            merged.setdefault(key, value)
        if has_address and not address_taken:
            address_taken = True
            for key in address_keys:
                if clean.get(key):
                    merged[key] = clean[key]
        elif not address_taken:
            # a lone country or county without a street still helps (a county given apart, say)
            for key in ("state", "country", "postal_code"):
                if clean.get(key):
                    merged.setdefault(key, clean[key])
    return BuyerInfo(**merged)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = " ".join(str(value).split())
    return text or None


@dataclass(frozen=True)
class SaleLine:
    """A line as the customer paid it: ``amount`` is the line's total with VAT, after its discounts.

    ``vat_percentage`` comes from the provider's tax data when it has any (None: the company's
    configured default); ``reverse_charge`` when the provider says the line was reverse charged.
    """

    name: str
    quantity: Decimal
    amount: Decimal
    vat_percentage: Decimal | None = None
    reverse_charge: bool = False
    code: str | None = None
    unit: str = "buc"
    is_service: bool = False


@dataclass(frozen=True)
class Sale:
    """What one event says about the sale behind a payment.

    ``total`` is what the invoice must add up to, ``paid`` what was collected (a Stripe invoice paid
    partly from the customer's balance has ``paid < total``). ``lines_rule`` names the rule that
    produced the lines (``description``, ``lines``, ``line_items``, ``Order Item``...), for the event list.
    ``document_id``: the punte document this payment pays (invoice first, pay later).
    ``fetch_lines``: a provider object whose lines need an API call (a Checkout Session's line items).
    """

    currency: str | None = None
    total: Decimal | None = None
    paid: Decimal | None = None
    lines: tuple[SaleLine, ...] | None = None
    lines_rule: str | None = None
    buyer: BuyerInfo = field(default_factory=BuyerInfo)
    payment_type: str = "Card online"
    document_id: int | None = None
    fetch_lines: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class RefundClaim:
    key: str
    amount: Decimal


@dataclass(frozen=True)
class Facts:
    """What one event says about one payment.

    ``keys``: every provider id naming the payment (the first is its main id). ``source`` is the kind
    of object the event carries and ``rank`` how rich its data is (lower is richer: merged first).
    ``strong``: the source carries the sale's full data (no need to wait for a sibling event).
    ``refunds``: refunds known by id; ``refunded_total``: the cumulative refunded amount when the event
    states one. ``note`` says why an event changes nothing (shown in the event list).
    """

    keys: tuple[str, ...]
    source: str
    rank: int
    confirmed: bool = False
    strong: bool = False
    occurred_at: int = 0
    sale: Sale | None = None
    refunds: tuple[RefundClaim, ...] = ()
    refunded_total: Decimal | None = None
    currency: str | None = None
    failed: bool = False
    note: str = ""


@dataclass(frozen=True)
class Interpretation:
    """An event's meaning: facts about a payment, or ``None`` with the reason it is ignored."""

    facts: Facts | None
    ignored: str = ""


class Provider(ABC):
    """A payment provider. Subclasses are stateless; one instance serves every company."""

    name: ClassVar[str]
    #: Default payment type recorded on the invoice's receipt (SmartBill's names).
    payment_type: ClassVar[str] = "Card online"

    @abstractmethod
    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], ctx: VerifyContext) -> None:
        """Raise :class:`InvalidDelivery` unless the delivery is signed with one of ``secrets`` and fresh."""

    @abstractmethod
    def envelope(self, body: bytes, headers: Mapping[str, str]) -> Envelope:
        """The event's id and type; :class:`InvalidDelivery` when the body is not a well-formed event."""

    @abstractmethod
    def interpret(self, event: Mapping[str, Any], headers: Mapping[str, str]) -> Interpretation:
        """Map a stored event to neutral facts (pure)."""

    #: Headers kept with the stored event (lower case): the ones :meth:`interpret` reads.
    kept_headers: ClassVar[tuple[str, ...]] = ()


def load_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`InvalidDelivery`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDelivery(f"corpul cererii nu este JSON valid: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidDelivery("corpul cererii nu este un obiect JSON")
    return data


def decimal_text(value: Any) -> Decimal | None:
    """A provider's decimal written as text or number ("10.00", 10.5), exactly; None when absent or bad."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return result if result.is_finite() else None


# -- (de)serialising facts: the payment row keeps each source's sale as JSON ---------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def sale_to_json(sale: Sale) -> dict[str, Any]:
    return {k: _plain(v) for k, v in asdict(sale).items()}


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def sale_from_json(data: Mapping[str, Any]) -> Sale:
    lines = data.get("lines")
    known = {f.name for f in fields(SaleLine)}
    return Sale(
        currency=data.get("currency"),
        total=_dec(data.get("total")),
        paid=_dec(data.get("paid")),
        lines=None if lines is None else tuple(
            SaleLine(**{
                **{k: v for k, v in ln.items() if k in known},
                "quantity": Decimal(str(ln["quantity"])),
                "amount": Decimal(str(ln["amount"])),
                "vat_percentage": _dec(ln.get("vat_percentage")),
            })
            for ln in lines
        ),
        lines_rule=data.get("lines_rule"),
        buyer=BuyerInfo(**{k: v for k, v in (data.get("buyer") or {}).items() if k in BUYER_FIELDS}),
        payment_type=data.get("payment_type") or "Card online",
        document_id=data.get("document_id"),
        fetch_lines=data.get("fetch_lines"),
        reference=data.get("reference"),
    )


__all__ = [
    "BUYER_FIELDS", "BuyerInfo", "Envelope", "Facts", "Interpretation", "InvalidDelivery", "Provider", "RefundClaim",
    "Sale", "SaleLine", "VerifyContext", "buyer_from", "decimal_text", "load_json_object", "sale_from_json",
    "sale_to_json",
]
