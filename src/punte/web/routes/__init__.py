"""The dashboard's routes, one module per area; :data:`router` gathers them."""

from __future__ import annotations

from fastapi import APIRouter

from . import auth, bridge, documents, issue, overview, received, settings, settings_automation, settings_integrations

MODULES = (auth, overview, documents, issue, settings, settings_integrations, settings_automation, bridge, received)

router = APIRouter(include_in_schema=False)
for module in MODULES:
    router.include_router(module.router)
