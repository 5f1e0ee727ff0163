"""Wire format of ``POST /document/send`` (and the base64 texts of the ``email`` object on issue).

SmartBill sends ``subject`` and ``bodyText`` base64-encoded (RFC 2045 alphabet), UTF-8 inside;
the answer is ``{"status": {"code": 0|1|2, "message": "..."}}`` (0 sent, 1 data error, 2 server
error). The models carry the same field names and shapes as ``punte.smartbill._common`` so the
client can import them from here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import Field

from .wire import WireModel

DOCUMENT_TYPES = ("factura", "proforma")
CODE_SENT, CODE_DATA_ERROR, CODE_SERVER_ERROR = 0, 1, 2


class SendDocumentRequest(WireModel):
    """Body of ``POST /document/send``; ``subject`` and ``bodyText`` are base64."""

    companyVatCode: str | None = None
    seriesName: str | None = None
    number: str | None = None
    type: str | None = None  # "factura" or "proforma"
    subject: str | None = None
    to: str | None = None
    cc: str | None = None
    bcc: str | None = None
    bodyText: str | None = None


class SendStatus(WireModel):
    """``code``: 0 sent (punte: accepted and queued for sending), 1 data error, 2 server error."""

    code: int = CODE_SENT
    message: str = ""


class SendAnswer(WireModel):
    """Answer of ``POST /document/send``."""

    errorText: str = ""
    message: str = ""
    status: SendStatus = Field(default_factory=SendStatus)


def send_answer(code: int, text: str) -> dict[str, Any]:
    """The JSON of an answer; on an error ``errorText`` repeats the status message."""
    return SendAnswer(
        errorText="" if code == CODE_SENT else text, status=SendStatus(code=code, message=text)
    ).model_dump(mode="json")


class Base64TextError(ValueError):
    """A field that must be base64 text is not."""

    def __init__(self, field: str) -> None:
        super().__init__(f"Campul {field} trebuie sa fie text codat Base64 (UTF-8).")
        self.field = field
        self.text = str(self)


def decode_base64_text(value: str | None, field: str) -> str | None:
    """``None`` or blank stays ``None``; otherwise the decoded UTF-8 text, or :class:`Base64TextError`.

    Whitespace and line breaks inside the value are ignored (RFC 2045 wraps lines); missing ``=``
    padding is tolerated.
    """
    if value is None:
        return None
    compact = "".join(value.split())
    if not compact:
        return None
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Base64TextError(field) from exc


def encode_base64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


__all__ = [
    "CODE_DATA_ERROR", "CODE_SENT", "CODE_SERVER_ERROR", "DOCUMENT_TYPES", "Base64TextError", "SendAnswer",
    "SendDocumentRequest", "SendStatus", "decode_base64_text", "encode_base64_text", "send_answer",
]
