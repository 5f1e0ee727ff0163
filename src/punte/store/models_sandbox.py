"""Tables of the offline ANAF sandbox (imported by ``punte.store.models`` so they join ``Base.metadata``)."""

from __future__ import annotations

from .models import Base  # noqa: F401
