"""Abstract bases every Junction model inherits: each declares its plane.

Region models carry their region code, and every write path (save, create, bulk_create,
update, delete, raw reads) goes through `guard_region_write`/`guard_region_alias`, so a row can
only ever land in its own region's database. Django's `using=` bypasses the router; these
guards do not.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from junction.residency.errors import ResidencyViolation
from junction.residency.planes import Plane, region_of_alias, served_alias


def guard_region_alias(model: type[models.Model], alias: str) -> str:
    """Refuse any database for a region model other than a region database."""
    region = region_of_alias(alias)
    if region is None:
        raise ResidencyViolation(
            f"{model._meta.label} is region data and cannot use database {alias!r}"
        )
    return region


def guard_region_write(instance: RegionModel, alias: str) -> None:
    region = guard_region_alias(type(instance), alias)
    if not instance.region:
        raise ResidencyViolation(f"{instance._meta.label} row has no region")
    if instance.region != region:
        raise ResidencyViolation(
            f"{instance._meta.label} row of region {instance.region!r} cannot be written to "
            f"the database of region {region!r}"
        )


class RegionQuerySet(models.QuerySet):
    def in_region(self, code: str) -> RegionQuerySet:
        """The only way to read region data: name the region (MisdirectedRegion if not served)."""
        return self.using(served_alias(code))

    def _guard(self) -> None:
        guard_region_alias(self.model, self.db)

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._guard()
        super()._fetch_all()

    def iterator(self, *args: Any, **kwargs: Any):
        self._guard()
        return super().iterator(*args, **kwargs)

    def count(self) -> int:
        self._guard()
        return super().count()

    def exists(self) -> bool:
        self._guard()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict:
        self._guard()
        return super().aggregate(*args, **kwargs)

    def bulk_create(self, objs, *args: Any, **kwargs: Any):
        objs = list(objs)
        for obj in objs:
            guard_region_write(obj, self.db)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, *args: Any, **kwargs: Any):
        objs = list(objs)
        for obj in objs:
            guard_region_write(obj, self.db)
        return super().bulk_update(objs, *args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._guard()
        if "region" in kwargs and kwargs["region"] != region_of_alias(self.db):
            raise ResidencyViolation("region data cannot be moved to another region")
        return super().update(**kwargs)

    def _update(self, values):
        self._guard()
        return super()._update(values)

    def delete(self):
        self._guard()
        return super().delete()

    def _raw_delete(self, using):
        guard_region_alias(self.model, using)
        return super()._raw_delete(using)

    def _insert(self, objs, fields, *args: Any, using=None, **kwargs: Any):
        guard_region_alias(self.model, using or self.db)
        return super()._insert(objs, fields, *args, using=using, **kwargs)


class ControlModel(models.Model):
    residency_plane: ClassVar[Plane] = Plane.CONTROL

    class Meta:
        abstract = True


class RegionModel(models.Model):
    residency_plane: ClassVar[Plane] = Plane.REGION

    # Kept on every row (a database holds one region) so a write can be checked locally against
    # the database it is about to land in.
    region = models.CharField(max_length=32, db_index=False, editable=False)

    objects = RegionQuerySet.as_manager()

    class Meta:
        abstract = True
        base_manager_name = "objects"

    def save(self, *args: Any, using: str | None = None, **kwargs: Any) -> None:
        from django.db import router

        alias = using or router.db_for_write(type(self), instance=self)
        guard_region_write(self, alias)
        super().save(*args, using=alias, **kwargs)

    def delete(self, using: str | None = None, keep_parents: bool = False):
        from django.db import router

        alias = using or router.db_for_write(type(self), instance=self)
        guard_region_write(self, alias)
        return super().delete(using=alias, keep_parents=keep_parents)
