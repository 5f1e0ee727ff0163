"""Payment providers behind one interface (:class:`punte.providers.base.Provider`).

Adding a provider is one module: implement ``verify``, ``envelope`` and ``interpret`` and register an
instance in :data:`PROVIDERS`. The webhook route, the inbox, the worker and the bridge service take it
from there.
"""

from __future__ import annotations

from .base import Provider
from .paypal import PayPalProvider
from .shopify import ShopifyProvider
from .stripe import StripeProvider

PROVIDERS: dict[str, Provider] = {p.name: p for p in (StripeProvider(), ShopifyProvider(), PayPalProvider())}


def get_provider(name: str) -> Provider:
    """The provider registered as ``name``; KeyError when there is none."""
    return PROVIDERS[name]


__all__ = ["PROVIDERS", "Provider", "get_provider"]
