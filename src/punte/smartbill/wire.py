"""SmartBill Cloud API wire format: one pydantic model per request and answer.

The same models serve punte's SmartBill-compatible server and the Python client, so the two can
never drift apart. Field names are SmartBill's (camelCase). Booleans accept true/false and 1/0;
numbers arrive as JSON numbers or strings and become ``Decimal`` without binary noise. Unknown fields
are ignored, as SmartBill ignores them; a known field of the wrong type is a 400.
"""

from __future__ import annotations

import builtins
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PrivateAttr


def _decimal(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("trebuie sa fie un numar")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, (int, str, Decimal)):
        try:
            result = Decimal(str(value).strip())
        except ArithmeticError as exc:
            raise ValueError("trebuie sa fie un numar") from exc
        if not result.is_finite():
            raise ValueError("trebuie sa fie un numar finit")
        return result
    raise ValueError("trebuie sa fie un numar")


def _number_out(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


Num = Annotated[Decimal, BeforeValidator(_decimal), PlainSerializer(_number_out, when_used="json")]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready dict without unset fields (what the client sends)."""
        return self.model_dump(mode="json", exclude_none=True)


class ClientData(WireModel):
    name: str | None = None
    vatCode: str | None = None
    code: str | None = None
    address: str | None = None
    regCom: str | None = None
    isTaxPayer: bool = False
    contact: str | None = None
    phone: str | None = None
    city: str | None = None
    county: str | None = None
    country: str | None = None
    email: str | None = None
    bank: str | None = None
    iban: str | None = None
    saveToDb: bool = True


class ProductData(WireModel):
    """A product, service or discount entry (``isDiscount``)."""

    name: str | None = None
    code: str | None = None
    productDescription: str | None = None
    translatedName: str | None = None
    translatedMeasuringUnit: str | None = None
    isDiscount: bool = False
    measuringUnitName: str | None = None
    currency: str | None = None
    quantity: Num | None = None
    price: Num | None = None
    isTaxIncluded: bool = False
    taxName: str | None = None
    taxPercentage: Num | None = None
    exchangeRate: Num | None = None
    saveToDb: bool = False
    warehouseName: str | None = None
    isService: bool = False
    numberOfItems: int | None = None
    discountType: int | None = None
    discountPercentage: Num | None = None
    discountValue: Num | None = None


class PaymentData(WireModel):
    value: Num | None = None
    paymentSeries: str | None = None
    type: str | None = None
    isCash: bool | None = None


class EstimateRef(WireModel):
    seriesName: str | None = None
    number: str | None = None
    useStock: bool = False
    paymentUrl: str | None = None


class EmailData(WireModel):
    to: str | None = None
    cc: str | None = None
    bcc: str | None = None
    subject: str | None = None
    bodyText: str | None = None


class DocumentRequest(WireModel):
    """Common body of ``POST /invoice`` and ``POST /estimate``."""

    companyVatCode: str | None = None
    client: ClientData | None = None
    isDraft: bool = False
    issueDate: str | None = None
    seriesName: str | None = None
    currency: str | None = None
    exchangeRate: Num | None = None
    language: str | None = None
    precision: int | None = None
    issuerCnp: str | None = None
    issuerName: str | None = None
    aviz: str | None = None
    dueDate: str | None = None
    mentions: str | None = None
    observations: str | None = None
    delegateName: str | None = None
    delegateIdentityCard: str | None = None
    delegateAuto: str | None = None
    deliveryDate: str | None = None
    paymentDate: str | None = None
    useStock: bool = False
    useIntraCif: bool = False
    usePaymentTax: bool = False
    paymentBase: Num | None = None
    colectedTax: Num | None = None
    paymentTotal: Num | None = None
    paymentUrl: str | None = None
    products: list[ProductData] | None = None
    sendEmail: bool = False
    email: EmailData | None = None


class InvoiceRequest(DocumentRequest):
    _estimate_id: int | None = PrivateAttr(default=None)  # set by the server when copying a proforma
    useEstimateDetails: bool = False
    estimate: EstimateRef | None = None
    payment: PaymentData | None = None


class EstimateRequest(DocumentRequest):
    pass


class ReverseRequest(WireModel):
    companyVatCode: str | None = None
    seriesName: str | None = None
    number: str | None = None
    issueDate: str | None = None


class DocumentAnswer(WireModel):
    """``{"errorText":"","message":"","number":"0001","series":"FCT","url":""}``."""

    errorText: str = ""
    message: str = ""
    number: str = ""
    series: str = ""
    url: str = ""


class DocumentAnswerV2(DocumentAnswer):
    documentId: int = -1
    documentUrl: str = ""
    documentViewUrl: str = ""


class PaymentStatusAnswer(WireModel):
    errorText: str = ""
    message: str = ""
    number: str = ""
    series: str = ""
    invoiceTotalAmount: Num = Decimal(0)
    paidAmount: Num = Decimal(0)
    unpaidAmount: Num = Decimal(0)
    paid: bool = False


class SeriesItem(WireModel):
    name: str
    nextNumber: str
    type: str


class SeriesAnswer(WireModel):
    errorText: str = ""
    message: str = ""
    list: builtins.list[SeriesItem] = Field(default_factory=builtins.list)


class TaxItem(WireModel):
    name: str
    percentage: Num


class TaxAnswer(WireModel):
    errorText: str = ""
    message: str = ""
    taxes: list[TaxItem] = Field(default_factory=list)


class MeasuringUnitsAnswer(WireModel):
    errorText: str = ""
    message: str = ""
    mu: list[str] = Field(default_factory=list)


# ---- payments (Incasari) and proforma -> invoices ------------------------------------------------------


class InvoiceRef(WireModel):
    """One invoice a payment is for (``invoicesList`` item)."""

    seriesName: str | None = None
    number: str | None = None


def _one_or_many(value: Any) -> Any:
    """``invoicesList`` is a list in most examples and a single object with ``useInvoiceDetails``."""
    if isinstance(value, dict):
        return [value]
    return value


class PaymentRequest(WireModel):
    """Body of ``POST /payment``: receipt (Chitanta), fiscal receipt (Bon) or another payment type.

    ``received*`` split a fiscal receipt's total over the means of payment (cash, card, meal tickets...).
    """

    companyVatCode: str | None = None
    client: ClientData | None = None
    issueDate: str | None = None
    currency: str | None = None
    language: str | None = None
    seriesName: str | None = None
    exchangeRate: Num | None = None
    precision: int | None = None
    value: Num | None = None
    text: str | None = None
    translatedText: str | None = None
    isDraft: bool | None = None
    type: str | None = None
    isCash: bool | None = None
    observation: str | None = None
    useInvoiceDetails: bool | None = None
    invoicesList: Annotated[list[InvoiceRef] | None, BeforeValidator(_one_or_many)] = None
    returnFiscalPrinterText: bool | None = None
    useStock: bool | None = None
    products: list[ProductData] | None = None
    receivedCash: Num | None = None
    receivedCard: Num | None = None
    receivedTicheteMasa: Num | None = None
    receivedTicheteCadou: Num | None = None
    receivedOrdinDePlata: Num | None = None
    receivedCec: Num | None = None
    receivedCredit: Num | None = None
    receivedCupon: Num | None = None
    receivedPuncteDeFidelitate: Num | None = None
    receivedBonuriValoareFixa: Num | None = None
    receivedMonedaAlternativa: Num | None = None


class PaymentAnswer(WireModel):
    """Answer of ``POST /payment``. A receipt gives its ``series``/``number``; a fiscal receipt its
    ``number``, its ``id`` (for ``GET /payment/text``) and, with ``returnFiscalPrinterText``, the text for
    the cash register in ``message`` (base64)."""

    errorText: str = ""
    message: str = ""
    number: str = ""
    series: str = ""
    url: str = ""
    id: str = ""


class PaymentTextAnswer(WireModel):
    """Answer of ``GET /payment/text``: ``message`` is the fiscal receipt text, base64."""

    errorText: str = ""
    message: str = ""


class InvoiceNumber(WireModel):
    """An invoice issued from a proforma."""

    series: str = ""
    number: str = ""


class EstimateInvoicesAnswer(WireModel):
    """Answer of ``GET /estimate/invoices``. A proforma not invoiced yet gives ``areInvoicesCreated=False``
    and the ``errorText`` ``Proforma cu seria si numarul x nu a fost facturata.``"""

    errorText: str = ""
    message: str = ""
    areInvoicesCreated: bool = False
    invoices: list[InvoiceNumber] = Field(default_factory=list)


class CashOperationRequest(WireModel):
    """punte extension, body of ``POST /cash/operation``: a manual cash operation correcting the register.

    ``type``: ``incasare`` (money put in, e.g. "Alta incasare") or ``plata`` (money taken out, "Alta plata").
    """

    companyVatCode: str | None = None
    type: str | None = None
    value: Num | None = None
    currency: str | None = None
    issueDate: str | None = None
    text: str | None = None


class CashMovementItem(WireModel):
    """One line of the cash register: signed ``value`` (+ in, - out) and the balance after it."""

    id: int
    date: str
    kind: str
    value: Num
    balance: Num
    document: str = ""
    text: str = ""


class CashOperationAnswer(WireModel):
    """Answer of ``POST /cash/operation``: the movement written and the register's balance after it."""

    errorText: str = ""
    message: str = ""
    currency: str = "RON"
    movement: CashMovementItem | None = None
    balance: Num = Decimal(0)


class CashBalanceAnswer(WireModel):
    """Answer of ``GET /cash/balance``: the balance at the end of ``date`` (today by default)."""

    errorText: str = ""
    message: str = ""
    currency: str = "RON"
    date: str = ""
    balance: Num = Decimal(0)


class CashRegisterAnswer(WireModel):
    """Answer of ``GET /cash/movements``: the cash register between two dates."""

    errorText: str = ""
    message: str = ""
    currency: str = "RON"
    dateFrom: str = ""
    dateTo: str = ""
    openingBalance: Num = Decimal(0)
    closingBalance: Num = Decimal(0)
    movements: list[CashMovementItem] = Field(default_factory=list)


class ErrorAnswer(WireModel):
    errorText: str
    message: str = ""
    number: str = ""
    series: str = ""
