"""The one verb for "what may this user see": `Model.objects.restrict(user, action)`.

After NetBox's restricted querysets: a control-plane model that belongs to a region declares
how it reaches the region's code (`region_path`), and every list the API, the dashboard and the
admin show is narrowed by `restrict`; one record is fetched by `scoped_get` (404 when it does
not exist, 403 with the reason when it is not the user's). Which regions a user may read or
write is not decided here: the accounts app registers that rule at start-up
(`scope_rule_register`), so residency, the bottom layer, imports no app above it.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Any, Protocol, Self, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.http import Http404

AnyUser = AbstractBaseUser | AnonymousUser
M = TypeVar("M", bound=models.Model)


class Action(StrEnum):
    READ = "read"  # see a region's records and data
    WRITE = "write"  # change them: triage, configuration


class ScopeRule(Protocol):
    """Who may do what in which region; implemented by junction.accounts."""

    def regions(self, user: AnyUser, action: Action) -> Collection[str] | None:
        """The codes of the regions `user` may act in; None: every region (administrators)."""
        ...

    def denial(self, user: AnyUser, region: str, action: Action) -> str | None:
        """None when `user` may act in `region`; otherwise the reason, said to the user."""
        ...


_rule: ScopeRule | None = None


def scope_rule_register(rule: ScopeRule) -> None:
    global _rule
    _rule = rule


def scope_rule() -> ScopeRule:
    if _rule is None:
        # Failing closed: without a rule nobody could be told what they may see.
        raise ImproperlyConfigured(
            "no region scope rule registered (junction.accounts does it in its AppConfig.ready)"
        )
    return _rule


def region_path(model: type[models.Model]) -> str:
    """The lookup from `model` to its region's code, e.g. "site__region__code"."""
    path = getattr(model, "region_path", None)
    if not path:
        raise TypeError(f"{model._meta.label} has no region scope (declare region_path)")
    return str(path)


def is_scoped(model: type[models.Model]) -> bool:
    return bool(getattr(model, "region_path", None))


def region_code_of(record: models.Model) -> str:
    """The code of the region a scoped record belongs to."""
    value: object = record
    for part in region_path(type(record)).split("__"):
        value = getattr(value, part)
    return str(value)


def may(user: AnyUser, region: str, action: Action = Action.READ) -> bool:
    return scope_rule().denial(user, region, action) is None


class ScopedQuerySet(models.QuerySet[M]):
    def restrict(self, user: AnyUser, action: Action = Action.READ) -> Self:
        """Only the rows of the regions where `user` may take `action`."""
        path = region_path(self.model)
        regions = scope_rule().regions(user, action)
        if regions is None:
            return self
        return self.filter(**{f"{path}__in": list(regions)})


def as_scoped(queryset: models.QuerySet[M]) -> ScopedQuerySet[M]:
    """`queryset` as the scoped queryset its model's manager gives (TypeError for a model that
    does not belong to a region), for code that receives a queryset from a framework."""
    if not isinstance(queryset, ScopedQuerySet) or not is_scoped(queryset.model):
        raise TypeError(f"{queryset.model._meta.label} has no region scope")
    return queryset


def record_or_404(queryset: models.QuerySet[M], **lookup: Any) -> M:
    """The one record matching `lookup`, or 404 naming what was asked for."""
    record = queryset.filter(**lookup).first()
    if record is None:
        asked = ", ".join(f"{value!r}" for value in lookup.values())
        raise Http404(f"no {queryset.model._meta.verbose_name} {asked}")
    return record


def scoped_get(
    queryset: models.QuerySet[M], user: AnyUser, action: Action = Action.READ, **lookup: Any
) -> M:
    """One record for `user`: 404 when it does not exist, 403 with the reason when it is of a
    region where `user` may not take `action`. Refused rather than hidden: a member of staff
    learns why and whom to ask, and a record's existence is no secret among staff."""
    record = record_or_404(queryset, **lookup)
    reason = scope_rule().denial(user, region_code_of(record), action)
    if reason:
        raise PermissionDenied(reason)
    return record
