"""The database router: control models go to `default`, region models to their region only.

Migrations follow the same rule, so region tables exist only in region databases and control
tables only in `default`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models

from junction.residency.errors import ResidencyViolation
from junction.residency.planes import Plane, plane_of, region_of_alias, served_alias


class ResidencyRouter:
    def _region_alias(self, model: type[models.Model], hints: dict[str, Any]) -> str:
        instance = hints.get("instance")
        region = getattr(instance, "region", None)
        if region:
            return served_alias(region)
        if instance is not None and instance._state.db and region_of_alias(instance._state.db):
            return instance._state.db
        raise ResidencyViolation(
            f"{model._meta.label} is region data: name its region "
            f"(`{model.__name__}.objects.in_region(code)`)"
        )

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        if plane_of(model) is Plane.REGION:
            return self._region_alias(model, hints)
        return "default"

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # Foreign keys never cross planes, and region rows only relate within one region.
        if plane_of(type(obj1)) is not plane_of(type(obj2)):
            return False
        return obj1._state.db == obj2._state.db

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        model = self._model(app_label, model_name, hints)
        if model is None:
            return None
        if plane_of(model) is Plane.REGION:
            return region_of_alias(db) is not None
        return db == "default"

    @staticmethod
    def _model(app_label: str, model_name: str | None, hints: dict[str, Any]) -> type | None:
        if model_name is None:
            return None
        try:
            # The live model, not the migration's historical one: only it carries its plane.
            return apps.get_model(app_label, model_name)
        except LookupError:
            # Not a live model (Django's cache table, a deleted model): judge the hinted class.
            return hints.get("model")
