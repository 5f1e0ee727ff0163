"""Money: Decimal only, explicit ROUND_HALF_UP to the currency's places."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal("0")
CENT = Decimal("0.01")

# ISO 4217 minor units for the currencies BNR publishes plus the usual ones; default is 2.
_PLACES: dict[str, int] = {c: 0 for c in ("JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF", "PYG", "UGX")}
_PLACES.update({c: 3 for c in ("BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD")})

# Currencies punte accepts on documents (BNR's list plus RON).
CURRENCIES = frozenset(
    """RON EUR USD GBP CHF AED AUD BGN BRL CAD CNY CZK DKK EGP HUF INR JPY KRW MDL MXN NOK NZD PLN
    RSD RUB SEK THB TRY UAH XAU XDR ZAR HKD IDR ILS ISK MYR PHP SGD""".split()
)


def places(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 unless ISO 4217 says otherwise)."""
    return _PLACES.get(currency.upper(), 2)


def quantum(n: int) -> Decimal:
    return Decimal(1).scaleb(-n)


def round_to(amount: Decimal, n: int) -> Decimal:
    """ROUND_HALF_UP to ``n`` places, never returning negative zero."""
    value = amount.quantize(quantum(n), rounding=ROUND_HALF_UP)
    if value == 0:
        value = abs(value)
    return value


def round_money(amount: Decimal, currency: str = "RON") -> Decimal:
    return round_to(amount, places(currency))


def to_decimal(value: object) -> Decimal:
    """Convert wire numbers (int, str, float as printed) to Decimal without binary noise."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("boolean is not a number")
    if isinstance(value, (int, str)):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise TypeError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def split_proportionally(total: Decimal, weights: list[Decimal], n: int) -> list[Decimal]:
    """Split ``total`` into parts proportional to ``weights`` that sum exactly to ``total``.

    Largest-remainder method on units of 10^-n; used to spread a rounded group amount over lines.
    """
    if not weights:
        return []
    q = quantum(n)
    weight_sum = sum(weights, ZERO)
    if weight_sum == 0:
        parts = [ZERO for _ in weights]
        parts[0] = total
        return parts
    raw = [total * w / weight_sum for w in weights]
    floors = [r.quantize(q, rounding="ROUND_FLOOR") for r in raw]
    remainder = int(((total - sum(floors, ZERO)) / q).to_integral_value())
    order = sorted(range(len(raw)), key=lambda i: raw[i] - floors[i], reverse=True)
    step = q if remainder >= 0 else -q
    for i in order[: abs(remainder)]:
        floors[i] += step
    return floors
