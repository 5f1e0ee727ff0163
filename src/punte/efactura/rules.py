"""Where ANAF's validation rules and the UBL 2.1 schemas live, and how they get there.

Layout under the data directory::

    <data_dir>/rules/ro16931-ubl-1.0.9.zip   ANAF's Schematron bundle, checked against ANAF_BUNDLE_SHA256
    <data_dir>/rules/ubl-2.1/maindoc/...      the OASIS UBL 2.1 schemas (maindoc/ and common/)
    <data_dir>/rules/cache/                   the compiled XSLT (see punte.efactura.schematron)

The Schematron bundle comes from ANAF (``punte rules install`` downloads it from
:data:`ANAF_BUNDLE_URL`; ``punte rules install --from PATH`` copies a file already
downloaded). Either way a file whose sha256 is not :data:`ANAF_BUNDLE_SHA256` is refused.

The UBL 2.1 XSD is not part of ANAF's bundle. OASIS publishes it in the UBL 2.1 package
(``http://docs.oasis-open.org/ubl/os-UBL-2.1/UBL-2.1.zip``, folder ``xsd/``). punte does not
download it on its own (there is no published checksum to pin); the operator points at a copy
once with ``punte rules install --xsd-from PATH``, where PATH is the OASIS zip itself, its
``xsd/`` folder, or any directory holding ``maindoc/`` and ``common/``. The ``.xsd`` files are
copied to ``<data_dir>/rules/ubl-2.1`` (see :func:`ubl_xsd_dir`) and must load with lxml
before they replace a previous copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path, PurePosixPath

import httpx
from lxml import etree

from punte.efactura.validator import Validator

ANAF_BUNDLE_URL = "https://mfinante.gov.ro/static/10/eFactura/ro16931-ubl-1.0.9.zip"
ANAF_BUNDLE_SHA256 = "818e7dd77e429f5dbde7c60b43dddbdf1a9a82a1773c359caa80a36ef89ea7f2"
BUNDLE_FILENAME = "ro16931-ubl-1.0.9.zip"
XSD_DIRNAME = "ubl-2.1"
_REQUIRED_XSD = ("maindoc/UBL-Invoice-2.1.xsd", "maindoc/UBL-CreditNote-2.1.xsd")
_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


class RulesInstallError(Exception):
    """Installing the rules or the schemas failed."""


class BundleChecksumError(RulesInstallError):
    """The bundle's sha256 is not the one ANAF published."""


class RulesNotInstalled(Exception):
    """The rules or the UBL schemas are missing from the data directory."""

    def __init__(self, data_dir: Path, missing: str) -> None:
        super().__init__(
            f"{missing} not installed under {Path(data_dir) / 'rules'}. "
            "Run `punte rules install` to download ANAF's validation rules "
            "(or `punte rules install --from PATH` with a copy of "
            f"{BUNDLE_FILENAME}), adding `--xsd-from PATH` to point at the UBL 2.1 schemas "
            "(the OASIS UBL-2.1.zip or its xsd/ folder)."
        )


def rules_dir(data_dir: Path) -> Path:
    """``<data_dir>/rules``."""
    return Path(data_dir) / "rules"


def installed_bundle(data_dir: Path) -> Path | None:
    """The installed ANAF bundle, or None when it has not been installed."""
    path = rules_dir(data_dir) / BUNDLE_FILENAME
    return path if path.is_file() else None


def ubl_xsd_dir(data_dir: Path) -> Path:
    """Where the UBL 2.1 schemas live (``maindoc/`` and ``common/``); it may not exist yet."""
    return rules_dir(data_dir) / XSD_DIRNAME


def _xsd_installed(directory: Path) -> bool:
    return all((directory / rel).is_file() for rel in _REQUIRED_XSD)


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(url: str, transport: httpx.BaseTransport | None, timeout: float) -> bytes:
    try:
        with httpx.Client(transport=transport, timeout=httpx.Timeout(timeout, connect=15.0), follow_redirects=True) as client:
            with client.stream("GET", url) as response:
                response.raise_for_status()
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > _MAX_DOWNLOAD_BYTES:
                        raise RulesInstallError(f"{url} is larger than {_MAX_DOWNLOAD_BYTES} bytes; refusing it")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise RulesInstallError(
            f"could not download {url}: {exc}. Download it by hand and run `punte rules install --from PATH`."
        ) from exc


def _copy_xsd_tree(source: Path, staging: Path) -> None:
    """Copy the .xsd files of a UBL 2.1 schema set (directory or OASIS zip) into ``staging``."""
    if source.is_dir():
        base = next((b for b in (source, source / "xsd") if _xsd_installed(b)), None)
        if base is None:
            raise RulesInstallError(f"{source} holds no {_REQUIRED_XSD[0]} (nor xsd/{_REQUIRED_XSD[0]})")
        for path in base.rglob("*.xsd"):
            target = staging / path.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return
    if not zipfile.is_zipfile(source):
        raise RulesInstallError(f"{source} is neither a directory nor a zip file")
    with zipfile.ZipFile(source) as zf:
        anchor = next((n for n in zf.namelist() if n.endswith(_REQUIRED_XSD[0])), None)
        if anchor is None:
            raise RulesInstallError(f"{source} holds no {_REQUIRED_XSD[0]}")
        prefix = anchor[: -len(_REQUIRED_XSD[0])]
        for name in zf.namelist():
            if not name.startswith(prefix) or not name.endswith(".xsd"):
                continue
            relative = PurePosixPath(name[len(prefix) :])
            if relative.is_absolute() or ".." in relative.parts:
                raise RulesInstallError(f"{source}: unsafe member name {name!r}")
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(name))


def install_xsd(data_dir: Path, source: Path) -> Path:
    """Install the UBL 2.1 schemas from ``source`` (see the module docstring); return their directory."""
    target = ubl_xsd_dir(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-xsd-"))
    try:
        _copy_xsd_tree(Path(source), staging)
        for rel in _REQUIRED_XSD:
            try:
                etree.XMLSchema(etree.parse(str(staging / rel)))
            except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
                raise RulesInstallError(f"{source}: {rel} does not load as an XML schema: {exc}") from exc
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _forget_validator(data_dir)
    return target


def install_bundle(
    data_dir: Path,
    source_path: Path | None = None,
    transport: httpx.BaseTransport | None = None,
    *,
    xsd_source: Path | None = None,
    url: str = ANAF_BUNDLE_URL,
    timeout: float = 60.0,
) -> Path:
    """Install ANAF's Schematron bundle under ``<data_dir>/rules/`` and return its path.

    The bundle is copied from ``source_path`` or, when that is None, downloaded from ``url``
    with httpx (``transport`` lets tests inject an ``httpx.MockTransport``; ``timeout`` is in
    seconds). A file whose sha256 differs from :data:`ANAF_BUNDLE_SHA256` raises
    :class:`BundleChecksumError` and nothing is written. ``xsd_source``, when given, also
    installs the UBL 2.1 schemas (see :func:`install_xsd`).
    """
    data = Path(source_path).read_bytes() if source_path is not None else _download(url, transport, timeout)
    actual = hashlib.sha256(data).hexdigest()
    if actual != ANAF_BUNDLE_SHA256:
        origin = source_path if source_path is not None else url
        raise BundleChecksumError(
            f"{origin} has sha256 {actual}, but ANAF's {BUNDLE_FILENAME} has sha256 {ANAF_BUNDLE_SHA256}; "
            "refusing it (wrong, truncated or altered file)."
        )
    target = rules_dir(data_dir) / BUNDLE_FILENAME
    _atomic_write(target, data)
    if xsd_source is not None:
        install_xsd(data_dir, xsd_source)
    _forget_validator(data_dir)
    return target


_validators: dict[str, Validator] = {}
_validators_lock = threading.Lock()


def _forget_validator(data_dir: Path) -> None:
    with _validators_lock:
        _validators.pop(str(Path(data_dir).resolve()), None)


def default_validator(data_dir: Path) -> Validator:
    """The process-wide :class:`Validator` for ``data_dir``, built on first use.

    Raises :class:`RulesNotInstalled` when the bundle or the UBL schemas are missing.
    The compiled XSLT is cached in ``<data_dir>/rules/cache``.
    """
    key = str(Path(data_dir).resolve())
    with _validators_lock:
        validator = _validators.get(key)
        if validator is not None:
            return validator
        bundle = installed_bundle(data_dir)
        if bundle is None:
            raise RulesNotInstalled(data_dir, f"ANAF's validation rules ({BUNDLE_FILENAME}) are")
        if not _xsd_installed(ubl_xsd_dir(data_dir)):
            raise RulesNotInstalled(data_dir, "The UBL 2.1 schemas are")
        validator = Validator(bundle, ubl_xsd_dir(data_dir), rules_dir(data_dir) / "cache")
        _validators[key] = validator
        return validator
