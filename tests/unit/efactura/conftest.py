"""Fixtures for the e-Factura validator tests.

ANAF's bundle, the UBL 2.1 XSDs and the sample files live in ``<repo>/../shared/efactura``.
When that directory is missing the tests that need it skip; with ``CI=true`` they fail.
The bundle is compiled once per test session into a session-scoped cache directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from punte.efactura.validator import Validator

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO / ".." / "shared"
EFACTURA = SHARED / "efactura"
BUNDLE_NAME = "ro16931-ubl-1.0.9.zip"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
CIUS_OLD = b"CIUS-RO:1.0.0"
CIUS_NEW = b"CIUS-RO:1.0.1"


def shared_missing_reason() -> str | None:
    """Why the shared e-Factura material cannot be used, or None when it is all there."""
    needed = [EFACTURA / BUNDLE_NAME, EFACTURA / "ubl-2.1" / "maindoc", EFACTURA / "examples"]
    missing = [str(p.resolve()) for p in needed if not p.exists()]
    return f"shared e-Factura material not found: {', '.join(missing)}" if missing else None


def require_shared() -> None:
    """Skip (locally) or fail (CI=true) when the shared material is missing."""
    reason = shared_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def efactura_dir() -> Path:
    require_shared()
    return EFACTURA.resolve()


@pytest.fixture(scope="session")
def bundle_path(efactura_dir: Path) -> Path:
    return efactura_dir / BUNDLE_NAME


@pytest.fixture(scope="session")
def xsd_dir(efactura_dir: Path) -> Path:
    return efactura_dir / "ubl-2.1"


@pytest.fixture(scope="session")
def examples_dir(efactura_dir: Path) -> Path:
    return efactura_dir / "examples"


@pytest.fixture(scope="session")
def xslt_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xslt-cache")


@pytest.fixture(scope="session")
def validator(bundle_path: Path, xsd_dir: Path, xslt_cache_dir: Path) -> Validator:
    """The one Validator of the session: the bundle is compiled here, once."""
    return Validator(bundle_path, xsd_dir, xslt_cache_dir)


@pytest.fixture
def sample(examples_dir: Path) -> Callable[..., etree._Element]:
    """Load a sample as a fresh lxml tree; ANAF's samples are patched to CIUS-RO 1.0.1 unless told not to."""

    def load(relative: str, patch: bool = True) -> etree._Element:
        data = (examples_dir / relative).read_bytes()
        if patch:
            data = data.replace(CIUS_OLD, CIUS_NEW)
        return etree.fromstring(data)

    return load


def _shift(element: etree._Element, delta: str) -> None:
    element.text = f"{Decimal(element.text or '0') + Decimal(delta):.2f}"


@pytest.fixture
def ten_line_invoice(sample: Callable[..., etree._Element]) -> bytes:
    """A valid 10-line invoice: ro-adapted example 10 with its 10% line repeated nine times in all."""
    root = sample("ro-adapted/ubl_b2g_example10.xml")
    line = root.xpath("cac:InvoiceLine[2]", namespaces=NS)[0]
    for n in range(3, 11):
        copy = etree.fromstring(etree.tostring(line))
        copy.find("cbc:ID", NS).text = str(n)
        root.append(copy)
    extra = Decimal("800.00") * 8
    subtotal = root.xpath("cac:TaxTotal[1]/cac:TaxSubtotal[cac:TaxCategory/cbc:Percent='10']", namespaces=NS)[0]
    _shift(subtotal.find("cbc:TaxableAmount", NS), str(extra))
    _shift(subtotal.find("cbc:TaxAmount", NS), str(extra / 10))
    _shift(root.xpath("cac:TaxTotal[1]/cbc:TaxAmount", namespaces=NS)[0], str(extra / 10))
    totals = root.find("cac:LegalMonetaryTotal", NS)
    _shift(totals.find("cbc:LineExtensionAmount", NS), str(extra))
    _shift(totals.find("cbc:TaxExclusiveAmount", NS), str(extra))
    for name in ("TaxInclusiveAmount", "PayableAmount"):
        _shift(totals.find(f"cbc:{name}", NS), str(extra * Decimal("1.1")))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
