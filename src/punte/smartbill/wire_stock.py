"""Wire models of the stock operations: SmartBill's ``GET /stocks`` and punte's ``POST /stocks/receive``.

``quantity`` travels as a string in SmartBill's answer (``"12.5"``); it is read from a string or a
number into ``Decimal`` and written back as a plain decimal string.
"""

from __future__ import annotations

import builtins
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

from .wire import Num, WireModel, _decimal


def _quantity_out(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


Quantity = Annotated[Decimal, BeforeValidator(_decimal), PlainSerializer(_quantity_out, when_used="json")]


class Warehouse(WireModel):
    """``warehouseType``: "en gros" (kept at purchase cost) or "en detail" (kept at sale price)."""

    warehouseName: str = ""
    warehouseType: str = ""


class StockProduct(WireModel):
    """One product in stock; ``productCode`` is empty unless the product has a code."""

    productName: str = ""
    productCode: str = ""
    measuringUnit: str = ""
    quantity: Quantity = Decimal(0)


class StockEntry(WireModel):
    """The products in stock in one warehouse (SmartBill lists the warehouse after its products)."""

    products: list[StockProduct] = Field(default_factory=list)
    warehouse: Warehouse = Field(default_factory=Warehouse)


class StocksAnswer(WireModel):
    """Answer of ``GET /stocks``: products per warehouse."""

    errorText: str = ""
    message: str = ""
    list: builtins.list[StockEntry] = Field(default_factory=builtins.list)


class ReceivedProduct(WireModel):
    """A product received into stock: SmartBill's product field names; ``price`` is the unit purchase cost."""

    name: str | None = None
    code: str | None = None
    measuringUnitName: str | None = None
    quantity: Num | None = None
    price: Num | None = None


class StockReceiveRequest(WireModel):
    """Body of ``POST /stocks/receive`` (punte extension: SmartBill receives goods in its web interface)."""

    companyVatCode: str | None = None
    warehouseName: str | None = None
    date: str | None = None
    note: str | None = None
    products: builtins.list[ReceivedProduct] | None = None
