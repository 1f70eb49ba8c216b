"""The open-data export: build a region's publication (one site or all of them) under the
region's k and epsilon, and write who exported what to the region's audit log."""

from __future__ import annotations

from datetime import date

import numpy as np
from django.core.exceptions import ValidationError

from junction.opendata.publication import PERIODS, Publication, site_table
from junction.residency.models import Region
from junction.residency.services import audit_record
from junction.sites.models import Site

# Longest range per period, in days: bounds one export's scan of the region database.
MAX_DAYS = {"day": 366, "hour": 93}


def opendata_export(
    *,
    region: Region,
    actor: str,
    start: date,
    end: date,
    period: str = "day",
    site: Site | None = None,
    rng: np.random.Generator | None = None,
) -> Publication:
    """Local days [start, end) of `site` (default: every site of the region) at `period`.

    `rng` is for tests; left out, each cell's noise comes from its own keyed generator, so
    the same data exported twice carries the same noise.
    """
    _validate(region=region, start=start, end=end, period=period, site=site)
    sites = (
        [site]
        if site is not None
        else list(Site.objects.filter(region=region).select_related("region").order_by("slug"))
    )
    epsilon = region.dp_epsilon
    publication = Publication(
        region=region.code,
        period=period,
        start=start,
        end=end,
        k=region.k_threshold,
        epsilon=epsilon,
        tables=[
            site_table(
                site=s,
                period=period,
                start=start,
                end=end,
                k=region.k_threshold,
                epsilon=epsilon,
                rng=rng,
            )
            for s in sites
        ],
    )
    # Written once the table exists: an export that failed to build published nothing.
    audit_record(
        region=region.code,
        actor=actor,
        action="export",
        detail={
            "kind": "opendata",
            "site": site.slug if site else None,
            "sites": [t.site for t in publication.tables],
            "period": period,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "k": region.k_threshold,
            "dp_epsilon": epsilon,
            "cells": sum(t.cells for t in publication.tables),
            "withheld": sum(t.withheld for t in publication.tables),
        },
    )
    return publication


def _validate(*, region: Region, start: date, end: date, period: str, site: Site | None) -> None:
    if period not in PERIODS:
        raise ValidationError({"period": f"one of {', '.join(PERIODS)}, not {period!r}"})
    if start >= end:
        raise ValidationError({"start": "must be before end (end is the day after the last)"})
    if (end - start).days > MAX_DAYS[period]:
        raise ValidationError(
            {"end": f"a range of at most {MAX_DAYS[period]} days for period {period!r}"}
        )
    if region.dp_epsilon is not None and not region.dp_epsilon > 0:
        raise ValidationError(
            {
                "dp_epsilon": f"region {region.code!r} sets epsilon "
                f"{region.dp_epsilon}; it must be positive"
            }
        )
    if site is not None and site.region_id != region.pk:
        raise ValidationError({"site": f"site {site.slug!r} is not in region {region.code!r}"})
