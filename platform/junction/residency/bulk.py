"""Many region rows in one statement: COPY (or one multi-row INSERT) on PostgreSQL, bulk_create
elsewhere; and a named lock in a region's database.

Region writes are governed here, beside the router: count data (junction.traffic) and rollups
(junction.analytics) both write through it. The ORM's bulk_create spent most of an ingest
request's CPU preparing values one by one; COPY streams them. Residency still holds: the
database is the region's own (checked like every write), and the `region` column of every row
is written here, from the same region, never by the caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connections, models, transaction

from junction.residency.base import RegionModel, guard_region_alias
from junction.residency.errors import ResidencyViolation
from junction.residency.planes import served_alias


def _region_connection(model: type[RegionModel], region: str):
    alias = served_alias(region)
    if guard_region_alias(model, alias) != region:
        raise ResidencyViolation(f"{model._meta.label} rows of {region!r} cannot go to {alias!r}")
    return connections[alias]


def _columns(model: type[RegionModel], fields: Sequence[str]) -> list[str]:
    """The table columns of `region` and `fields`, in that order."""
    columns = []
    for name in ("region", *fields):
        field = model._meta.get_field(name)
        # A reverse relation or a many-to-many field has no column of this table to write.
        if not isinstance(field, models.Field) or field.column is None:
            raise TypeError(f"{model._meta.label}.{name} is not a column")
        columns.append(field.column)
    return columns


def region_rows_insert_returning(
    model: type[RegionModel], *, region: str, fields: Sequence[str], rows: Sequence[Sequence]
) -> list[int]:
    """Insert a few rows (every non-null field given) and return their new primary keys."""
    connection = _region_connection(model, region)
    if connection.vendor != "postgresql":
        objs = [model(region=region, **dict(zip(fields, row, strict=True))) for row in rows]
        model.objects.in_region(region).bulk_create(objs)
        return [obj.pk for obj in objs]
    meta = model._meta
    quote = connection.ops.quote_name
    columns = _columns(model, fields)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES {', '.join([one] * len(rows))} RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in (region, *row)])
        return [pk for (pk,) in cursor.fetchall()]


def region_rows_insert(
    model: type[RegionModel], *, region: str, fields: Sequence[str], rows: Iterable[Sequence]
) -> None:
    """Insert `rows` (values in the order of `fields`) into `region`'s database."""
    connection = _region_connection(model, region)
    if connection.vendor != "postgresql":
        model.objects.in_region(region).bulk_create(
            [model(region=region, **dict(zip(fields, row, strict=True))) for row in rows]
        )
        return
    from psycopg.types.json import Jsonb

    meta = model._meta
    columns = _columns(model, fields)
    as_json = [isinstance(meta.get_field(f), models.JSONField) for f in fields]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        if any(as_json):
            for row in rows:
                copy.write_row(
                    (region, *(Jsonb(v) if j else v for v, j in zip(row, as_json, strict=True)))
                )
        else:
            for row in rows:
                copy.write_row((region, *row))


def region_rows_delete_before(
    model: type[RegionModel], *, region: str, before: datetime, field: str = "start", batch: int
) -> int:
    """Delete `region`'s rows of `model` whose `field` is before `before`, `batch` rows per
    transaction (short locks; a crash loses at most one batch of work). Returns the rows deleted.
    """
    alias = served_alias(region)
    rows = model.objects.in_region(region)
    total = 0
    while True:
        old = rows.filter(**{f"{field}__lt": before})
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic(using=alias):
            total += rows.filter(pk__in=ids)._raw_delete(alias)


def region_write_lock(region: str, name: str) -> None:
    """Hold a named lock in `region`'s database until the current transaction ends.

    On PostgreSQL, a transaction-level advisory lock: another transaction taking the same name
    waits for this one to commit or roll back. SQLite transactions here start IMMEDIATE
    (settings), so they already hold the database's only write lock from their first statement.
    """
    connection = connections[served_alias(region)]
    if not connection.in_atomic_block:
        raise RuntimeError("region_write_lock is only meaningful inside a transaction")
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
