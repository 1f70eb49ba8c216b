"""Abstract bases every Junction model inherits: each declares its plane.

Region models carry their region code, and every public write path (pre_save, which Django
sends for every save, create and fixture load; bulk_create, bulk_update, update, delete; reads)
goes through `guard_region_write`/`guard_region_alias`, so a row can only ever land in its own
region's database. Django's `using=` bypasses the router; these guards do not. Control models
that belong to a region get `restrict` (junction.residency.scoping).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models.signals import pre_save
from django.dispatch import receiver

from junction.residency.errors import ResidencyViolation
from junction.residency.planes import Plane, region_of_alias, served_alias
from junction.residency.scoping import ScopedQuerySet


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

    def delete(self):
        self._guard()
        return super().delete()


class ControlModel(models.Model):
    residency_plane: ClassVar[Plane] = Plane.CONTROL
    # How a record reaches its region's code (e.g. "site__region__code"); models that belong
    # to a region set it, and only they can be `restrict`ed to a user's regions.
    region_path: ClassVar[str] = ""

    objects = ScopedQuerySet.as_manager()

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

    def delete(self, using: str | None = None, keep_parents: bool = False):
        from django.db import router

        alias = using or router.db_for_write(type(self), instance=self)
        guard_region_write(self, alias)
        return super().delete(using=alias, keep_parents=keep_parents)


@receiver(pre_save, dispatch_uid="junction.residency.region_write_guard")
def region_save_guard(
    sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any
) -> None:
    """Django sends pre_save from every single-row write, with the database it is about to
    write to: save(), create(), and a fixture's raw load, which skips save() and save_base
    overrides. So this one receiver guards them all, before anything is written."""
    if isinstance(instance, RegionModel):
        guard_region_write(instance, using)
