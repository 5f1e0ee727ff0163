"""Measuring units: the names users write and their UN/ECE Recommendation 20 codes."""

from __future__ import annotations

# name -> UN/ECE rec 20 code; the names are the usual ones on Romanian invoices.
DEFAULT_UNITS: dict[str, str] = {
    "buc": "H87",
    "bucata": "H87",
    "set": "SET",
    "pereche": "PR",
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    "l": "LTR",
    "ml": "MLT",
    "m": "MTR",
    "m2": "MTK",
    "m3": "MTQ",
    "km": "KMT",
    "ora": "HUR",
    "zi": "DAY",
    "luna": "MON",
    "an": "ANN",
    "serviciu": "C62",
    "kwh": "KWH",
    "pachet": "PK",
    "cutie": "BX",
    "rola": "RO",
}

GENERIC_UNIT = "H87"


def unit_code(name: str) -> str:
    """UN/ECE code for a unit name; an unknown name becomes 'piece' (H87), which ANAF accepts."""
    key = name.strip().casefold().replace(".", "")
    if key in DEFAULT_UNITS:
        return DEFAULT_UNITS[key]
    upper = name.strip().upper()
    if upper in set(DEFAULT_UNITS.values()):
        return upper
    return GENERIC_UNIT
