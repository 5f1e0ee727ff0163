"""Wire models of punte's operations extensions (quota, recurring invoices) under ``/SBORO/api``.

SmartBill has no such endpoints; these follow its conventions: camelCase fields, dates
``yyyy-MM-dd``, and ``errorText``/``message`` on every answer.
"""

from __future__ import annotations

import builtins
from typing import Any

from pydantic import Field

from .wire import WireModel


class QuotaAnswer(WireModel):
    """``GET /quota?cif=``: the plan and the use of the current subscription period."""

    errorText: str = ""
    message: str = ""
    plan: str | None = Field(default=None, description="The plan's name (Basic, Silver...), if set.")
    unlimited: bool = True
    limit: int | None = Field(default=None, description="Documents per period; null when unlimited.")
    used: int | None = Field(default=None, description="Documents issued in the current period; null without a plan.")
    remaining: int | None = None
    activated: str | None = Field(default=None, description="Activation date: the periods' anniversary anchor.")
    periodStart: str | None = None
    periodEnd: str | None = Field(default=None, description="Last day of the current period (inclusive).")
    nextPeriodStart: str | None = Field(default=None, description="The day the count resets.")
    byKind: dict[str, int] = Field(default_factory=dict, description="invoice, proforma, receipt, payment.")


class RecurringRequest(WireModel):
    """``POST /recurring``: a schedule and its template (a SmartBill ``POST /invoice`` body)."""

    companyVatCode: str | None = None
    name: str | None = None
    every: int = Field(default=1, description="Repeat every N units.")
    unit: str = Field(default="month", description="day | week | month | year")
    dayOfMonth: int | None = Field(default=None, description="Monthly/yearly: day of the month (31 = month end).")
    startDate: str | None = Field(default=None, description="First possible occurrence (default today).")
    endDate: str | None = Field(default=None, description="Last possible occurrence (inclusive).")
    dueDays: int | None = Field(default=None, description="Due date = issue date + dueDays.")
    invoice: dict[str, Any] | None = Field(
        default=None, description="The SmartBill invoice body; issueDate/dueDate/deliveryDate are set at each issue."
    )


class OccurrenceItem(WireModel):
    date: str
    status: str = Field(description="queued | issued | failed | skipped")
    series: str | None = None
    number: str | None = None
    documentId: int | None = None
    error: str | None = None


class RecurringItem(WireModel):
    id: int
    name: str | None = None
    client: str
    every: int
    unit: str
    dayOfMonth: int | None = None
    startDate: str
    endDate: str | None = None
    dueDays: int | None = None
    status: str = Field(description="active | paused | stopped | finished")
    nextOccurrence: str | None = None
    stoppedReason: str | None = None
    history: list[OccurrenceItem] | None = None


class RecurringAnswer(RecurringItem):
    errorText: str = ""
    message: str = ""


class RecurringListAnswer(WireModel):
    errorText: str = ""
    message: str = ""
    list: builtins.list[RecurringItem] = Field(default_factory=builtins.list)


__all__ = ["OccurrenceItem", "QuotaAnswer", "RecurringAnswer", "RecurringItem", "RecurringListAnswer",
           "RecurringRequest"]
