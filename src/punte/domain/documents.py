"""Documents and their arithmetic.

Order of rounding (EN 16931): each line's net amount is rounded to the currency's places first,
then the VAT of each VAT category is computed once on the category's taxable amount, then the
totals are sums of rounded figures. So, for every document:

    sum(product line nets) - sum(discounts) == net total
    VAT of a category == round(category taxable amount x rate)
    gross total == net total + VAT total

Prices entered with VAT included are converted to net amounts per VAT category, choosing the net
amount whose VAT brings the category back to the gross the user entered whenever such an amount
exists, and spreading it over the lines so that they add up exactly. When no such net amount exists
(10.00 at 21%: 8.26 + 1.73 = 9.99, 8.27 + 1.74 = 10.01), the category's VAT is gross - net, one cent
from round(net x rate): the total stays what the customer paid, and ANAF's rules (BR-CO-17, BR-S-09)
accept VAT amounts within 1.00 of the product. See docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from .errors import DomainError
from .money import CENT, ZERO, places, round_to, split_proportionally
from .vat import NOT_SUBJECT, VatRate

MAX_LINES = 400

INVOICE = "invoice"
PROFORMA = "proforma"
RECEIPT = "receipt"

KIND_LABEL = {INVOICE: "Factura", PROFORMA: "Proforma", RECEIPT: "Chitanta"}


@dataclass(frozen=True)
class Party:
    """Seller or buyer data as copied onto a document when it is issued."""

    name: str
    cif: str | None = None  # as written (may carry RO/other prefix) or a CNP for individuals
    reg_com: str | None = None
    address: str | None = None
    city: str | None = None
    county: str | None = None
    country: str | None = None
    email: str | None = None
    phone: str | None = None
    contact: str | None = None
    iban: str | None = None
    bank: str | None = None
    is_tax_payer: bool = False
    code: str | None = None


@dataclass(frozen=True)
class ProductInput:
    """A product or service line as the user asked for it."""

    name: str
    quantity: Decimal
    price: Decimal
    unit: str
    rate: VatRate | None  # None when the seller is not a VAT payer
    tax_included: bool = False
    code: str | None = None
    description: str | None = None
    is_service: bool = False
    currency: str | None = None  # reference currency of the price; None = document currency
    exchange_rate: Decimal | None = None  # reference currency -> document currency
    translated_name: str | None = None
    translated_unit: str | None = None
    warehouse: str | None = None


@dataclass(frozen=True)
class DiscountInput:
    """A discount applying to the ``number_of_items`` entries just above it."""

    name: str
    number_of_items: int | None
    percentage: Decimal | None = None  # set for a percentage discount
    value: Decimal | None = None  # magnitude of a value discount
    tax_included: bool = False
    rate: VatRate | None = None  # explicit rate, required over mixed rates
    translated_name: str | None = None
    translated_unit: str | None = None
    unit: str = "buc"


@dataclass(frozen=True)
class Line:
    """A computed line. Discount lines carry a negative net amount (positive in a storno)."""

    position: int
    name: str
    quantity: Decimal
    unit_price: Decimal  # net unit price in the document currency
    net_amount: Decimal
    unit: str
    vat_name: str | None
    vat_percentage: Decimal | None
    vat_category: str
    vat_exemption_reason: str | None = None
    is_discount: bool = False
    tax_included: bool = False
    entered_price: Decimal | None = None  # the price as the user wrote it
    entered_currency: str | None = None
    entered_exchange_rate: Decimal | None = None
    code: str | None = None
    description: str | None = None
    is_service: bool = False
    translated_name: str | None = None
    translated_unit: str | None = None
    warehouse: str | None = None
    discount_items: int | None = None
    discount_percentage: Decimal | None = None
    gross_amount: Decimal | None = None  # the VAT-included amount the user entered, when there is one

    @property
    def vat_amount(self) -> Decimal:
        """Informative per-line VAT (the document's VAT is computed per category)."""
        if not self.vat_percentage:
            return ZERO
        return round_to(self.net_amount * self.vat_percentage / 100, 2)

    @property
    def vat_key(self) -> tuple[str, Decimal]:
        return (self.vat_category, self.vat_percentage or ZERO)


@dataclass(frozen=True)
class VatSubtotal:
    category: str
    percentage: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal
    name: str | None = None
    exemption_reason: str | None = None


@dataclass(frozen=True)
class Totals:
    line_total: Decimal  # BT-106: sum of product line nets
    allowance_total: Decimal  # BT-107: sum of discounts (positive on an invoice)
    net_total: Decimal  # BT-109
    vat_total: Decimal  # BT-110
    gross_total: Decimal  # BT-112
    vat_breakdown: tuple[VatSubtotal, ...]
    vat_total_ron: Decimal | None = None  # BT-111 when the document currency is not RON
    gross_total_ron: Decimal | None = None


RateLookup = Callable[[str], Decimal]


def _fit_net_to_gross(gross: Decimal, fraction: Decimal, n: int) -> Decimal:
    """The net amount N (n places) with N + round(N*r) == gross, or the closest one."""
    if fraction == 0:
        return gross
    step = Decimal(1).scaleb(-n)
    first = round_to(gross / (1 + fraction), n)
    best = first
    for k in (0, -1, 1, -2, 2):
        candidate = first + step * k
        if candidate + round_to(candidate * fraction, n) == gross:
            return candidate
    return best


def compute_lines(
    items: list[ProductInput | DiscountInput],
    *,
    currency: str,
    precision: int,
    vat_payer: bool,
    rate_for_currency: RateLookup | None = None,
) -> list[Line]:
    """Turn what the user asked for into priced lines, rounding line amounts first."""
    if len(items) > MAX_LINES:
        raise DomainError("Numarul maxim acceptat de 400 intrari pe document a fost depasit.")
    products = [i for i in items if isinstance(i, ProductInput)]
    if not items:
        raise DomainError("Factura nu contine produse!")
    if not products:
        raise DomainError(
            "Nu poti sa emiti un document care contine doar un discount. "
            "Trebuie sa ai si produse / servicii adaugate."
        )
    n = places(currency)
    precision = max(2, min(4, precision))

    # 1. unit prices in the document currency, at the document's precision
    priced: list[tuple[ProductInput, Decimal, Decimal | None]] = []
    for item in products:
        price = item.price
        rate_used: Decimal | None = None
        if item.currency and item.currency.upper() != currency.upper():
            if currency.upper() != "RON":
                raise DomainError(
                    f"Nu puteti emite documente in {currency.upper()} cu moneda de referinta "
                    f"a produselor in {item.currency.upper()} !"
                )
            rate_used = item.exchange_rate
            if rate_used is None:
                if rate_for_currency is None:
                    raise DomainError("Aveti produse care au pretul in alta moneda decat cea a facturii.")
                rate_used = rate_for_currency(item.currency.upper())
            price = price * rate_used
        priced.append((item, round_to(price, precision), rate_used))

    # 2. net amounts: tax-excluded lines directly, tax-included lines per VAT group
    nets: dict[int, Decimal] = {}
    included_groups: dict[tuple[str, Decimal], list[int]] = {}
    for idx, (item, price, _) in enumerate(priced):
        if item.tax_included and vat_payer and item.rate is not None and item.rate.percentage:
            key = (item.rate.category, item.rate.percentage)
            included_groups.setdefault(key, []).append(idx)
        else:
            nets[idx] = round_to(item.quantity * price, n)
    line_gross: dict[int, Decimal] = {}
    for (_, pct), members in included_groups.items():
        grosses = [round_to(priced[i][0].quantity * priced[i][1], n) for i in members]
        group_net = _fit_net_to_gross(sum(grosses, ZERO), pct / 100, n)
        for i, part, gross in zip(members, split_proportionally(group_net, grosses, n), grosses, strict=True):
            nets[i] = part
            line_gross[i] = gross

    # 3. assemble in the user's order, applying discounts to the entries above them
    lines: list[Line] = []
    product_iter = iter(range(len(priced)))
    for position, item in enumerate(items, start=1):
        if isinstance(item, ProductInput):
            idx = next(product_iter)
            _, price, rate_used = priced[idx]
            net = nets[idx]
            unit_price = price
            if item.tax_included and vat_payer and item.rate is not None and item.rate.percentage:
                unit_price = round_to(net / item.quantity, max(precision, 4)) if item.quantity else price
            lines.append(
                Line(
                    position=position,
                    name=item.name,
                    quantity=item.quantity,
                    unit_price=unit_price,
                    net_amount=net,
                    unit=item.unit,
                    vat_name=item.rate.name if (vat_payer and item.rate) else None,
                    vat_percentage=item.rate.percentage if (vat_payer and item.rate) else None,
                    vat_category=item.rate.category if (vat_payer and item.rate) else NOT_SUBJECT,
                    vat_exemption_reason=item.rate.exemption_reason if (vat_payer and item.rate) else None,
                    tax_included=item.tax_included,
                    entered_price=item.price,
                    entered_currency=(item.currency or currency).upper(),
                    entered_exchange_rate=rate_used,
                    code=item.code,
                    description=item.description,
                    is_service=item.is_service,
                    translated_name=item.translated_name,
                    translated_unit=item.translated_unit,
                    warehouse=item.warehouse,
                    gross_amount=line_gross.get(idx),
                )
            )
        else:
            lines.append(_discount_line(item, position, lines, n=n, vat_payer=vat_payer))
    return lines


def _discount_line(item: DiscountInput, position: int, above: list[Line], *, n: int, vat_payer: bool) -> Line:
    count = item.number_of_items if item.number_of_items is not None else len(above)
    if count < 1 or count > len(above):
        raise DomainError(
            f"Discountul '{item.name}' se aplica pe {count} produse, dar inaintea lui sunt {len(above)}."
        )
    covered = above[-count:]
    base = sum((line.net_amount for line in covered), ZERO)
    rate: VatRate | None = None
    category, pct, vat_name, reason = NOT_SUBJECT, None, None, None
    if vat_payer:
        keys = {line.vat_key for line in covered}
        if len(keys) == 1:
            ref = covered[-1]
            category, pct, vat_name, reason = ref.vat_category, ref.vat_percentage, ref.vat_name, ref.vat_exemption_reason
        elif item.rate is None:
            raise DomainError(
                "La aplicarea unui discount pentru produse cu cote tva diferite, "
                "trebuie sa specifici si cota tva a discountului."
            )
        else:
            rate = item.rate
            category, pct, vat_name, reason = rate.category, rate.percentage, rate.name, rate.exemption_reason
    if item.percentage is not None:
        if item.percentage <= 0 or item.percentage > 100:
            raise DomainError(f"Procentul discountului '{item.name}' trebuie sa fie intre 0 si 100.")
        amount = round_to(base * item.percentage / 100, n)
    else:
        magnitude = abs(item.value or ZERO)
        if magnitude == 0:
            raise DomainError("discountValue trebuie specificat pentru fiecare produs de tip discount")
        if item.tax_included and pct:
            amount = round_to(magnitude / (1 + pct / 100), n)
            gross = -round_to(magnitude, n)
        else:
            amount = round_to(magnitude, n)
    if not (item.percentage is None and item.tax_included and pct):
        gross = None
    if amount > base:
        raise DomainError(f"Discountul '{item.name}' depaseste valoarea produselor la care se aplica.")
    return Line(
        position=position,
        name=item.name,
        quantity=Decimal(1),
        unit_price=amount,
        net_amount=-amount,
        unit=item.unit,
        vat_name=vat_name,
        vat_percentage=pct,
        vat_category=category,
        vat_exemption_reason=reason,
        is_discount=True,
        tax_included=item.tax_included,
        entered_price=item.value,
        translated_name=item.translated_name,
        translated_unit=item.translated_unit,
        discount_items=count,
        discount_percentage=item.percentage,
        gross_amount=gross,
    )


def summarize(lines: list[Line], *, currency: str, exchange_rate: Decimal | None = None) -> Totals:
    """Totals of computed lines: VAT once per category, then sums of rounded figures."""
    n = places(currency)
    groups: dict[tuple[str, Decimal, str | None], list[Line]] = {}
    for line in lines:
        key = (line.vat_category, line.vat_percentage or ZERO, line.vat_exemption_reason)
        groups.setdefault(key, []).append(line)
    breakdown = []
    for (category, pct, reason), members in groups.items():
        taxable = sum((m.net_amount for m in members), ZERO)
        tax = round_to(taxable * pct / 100, n)
        if pct and all(m.gross_amount is not None for m in members):
            # VAT-included prices: keep the gross the customer pays when the strict VAT misses it by a
            # cent (no net amount reproduces it); ANAF's BR-CO-17/BR-S-09 accept up to 1.00 off.
            kept = sum((m.gross_amount for m in members), ZERO) - taxable  # type: ignore[misc]
            if abs(kept - tax) <= Decimal(1).scaleb(-n):
                tax = kept
        breakdown.append(
            VatSubtotal(
                category=category,
                percentage=pct,
                taxable_amount=round_to(taxable, n),
                tax_amount=tax,
                name=members[0].vat_name,
                exemption_reason=reason,
            )
        )
    line_total = round_to(sum((ln.net_amount for ln in lines if not ln.is_discount), ZERO), n)
    allowance_total = round_to(-sum((ln.net_amount for ln in lines if ln.is_discount), ZERO), n)
    net_total = line_total - allowance_total
    vat_total = sum((b.tax_amount for b in breakdown), ZERO)
    gross_total = net_total + vat_total
    vat_ron = gross_ron = None
    if currency.upper() != "RON" and exchange_rate is not None:
        vat_ron = round_to(vat_total * exchange_rate, 2)
        gross_ron = round_to(gross_total * exchange_rate, 2)
    return Totals(
        line_total=round_to(line_total, n),
        allowance_total=allowance_total,
        net_total=round_to(net_total, n),
        vat_total=round_to(vat_total, n),
        gross_total=round_to(gross_total, n),
        vat_breakdown=tuple(breakdown),
        vat_total_ron=vat_ron,
        gross_total_ron=gross_ron,
    )


def negate(lines: list[Line]) -> list[Line]:
    """The lines of a storno: quantities and amounts negated, unit prices kept positive."""
    return [
        replace(
            ln,
            quantity=-ln.quantity,
            net_amount=-ln.net_amount,
            gross_amount=None if ln.gross_amount is None else -ln.gross_amount,
        )
        for ln in lines
    ]


@dataclass(frozen=True)
class DocumentRef:
    series: str
    number: str
    issue_date: date


@dataclass
class IssuedDocument:
    """Read model of an issued (or draft) document, handed to UBL and PDF rendering."""

    id: int
    kind: str
    series: str
    number: str | None  # zero-padded as printed; None for a draft
    issue_date: date
    currency: str
    seller: Party
    buyer: Party
    lines: list[Line]
    totals: Totals
    seller_vat_payer: bool
    status: str = "issued"
    due_date: date | None = None
    delivery_date: date | None = None
    exchange_rate: Decimal | None = None
    language: str = "RO"
    precision: int = 2
    vat_on_collection: bool = False
    use_intra_cif: bool = False
    mentions: str | None = None
    observations: str | None = None
    payment_url: str | None = None
    issuer_name: str | None = None
    issuer_cnp: str | None = None
    delegate_name: str | None = None
    delegate_identity_card: str | None = None
    delegate_auto: str | None = None
    aviz: str | None = None
    reverses: DocumentRef | None = None
    paid_amount: Decimal = ZERO
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def is_storno(self) -> bool:
        return self.reverses is not None

    @property
    def full_number(self) -> str:
        return f"{self.series}{self.number or ''}"


def check_positive_quantity(item: ProductInput) -> None:
    if item.quantity <= 0:
        raise DomainError(f"Cantitatea produsului '{item.name}' trebuie sa fie mai mare decat 0.")
    if item.price < 0:
        raise DomainError(f"Pretul produsului '{item.name}' nu poate fi negativ.")


__all__ = [
    "CENT",
    "DiscountInput",
    "DocumentRef",
    "INVOICE",
    "IssuedDocument",
    "Line",
    "MAX_LINES",
    "PROFORMA",
    "Party",
    "ProductInput",
    "RECEIPT",
    "Totals",
    "VatSubtotal",
    "check_positive_quantity",
    "compute_lines",
    "negate",
    "summarize",
]
