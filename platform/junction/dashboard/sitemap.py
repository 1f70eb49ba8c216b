"""A region's sites on a map, drawn as inline SVG from their coordinates: no script, no tiles
and no internet needed. Positions use the Web Mercator projection (the one every tile server
uses), so an operator's tile layer, once configured, lines up with the same coordinates.

An operator may name a tile server (settings.MAP_TILE_URL); then its tiles lie under the dots.
Without tiles the map is a plain projected outline: the frame of the sites' extent with its
graticule (lines of latitude and longitude, labelled), and each site as a labelled dot that
links to its page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from junction.sites.models import Site

WIDTH, HEIGHT = 480, 300  # drawn at up to 640 px wide; on a phone it scales down by 3/4
MARGIN = 36  # room for the graticule's labels and the dots' own labels
# A region of one site, or of sites a few metres apart, still gets a map of a town's width.
MIN_SPAN_DEGREES = 0.05


@dataclass(frozen=True)
class MapSite:
    site: Site
    x: float
    y: float


@dataclass(frozen=True)
class GridLine:
    value: float  # degrees
    label: str
    at: float  # x of a meridian, y of a parallel


@dataclass(frozen=True)
class Tile:
    href: str
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class SiteMap:
    sites: list[MapSite]
    meridians: list[GridLine]
    parallels: list[GridLine]
    unplaced: list[Site]  # sites without coordinates, listed under the map
    tiles: list[Tile]  # empty unless an operator configured a tile server
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def label(self) -> str:
        placed = "; ".join(
            f"{s.site.name} at {s.site.latitude:.4f}, {s.site.longitude:.4f}" for s in self.sites
        )
        return f"Map of {len(self.sites)} site(s): {placed}"


def _mercator(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator in units of the world's width (x east, y south), as tile servers count."""
    lat = max(min(lat, 85.0511), -85.0511)
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    return (lon + 180.0) / 360.0, (1 - y / math.pi) / 2


def site_map(sites: Iterable[Site], tile_url: str = "") -> SiteMap | None:
    """The map of these sites, or None when none of them has coordinates. With `tile_url` (an
    XYZ template), the tiles of the zoom nearest the map's scale lie under it."""
    sites = list(sites)
    placed = [(site, at) for site in sites if (at := _position(site)) is not None]
    if not placed:
        return None
    lats = [lat for _, (lat, _) in placed]
    lons = [lon for _, (_, lon) in placed]
    south, north = _widened(min(lats), max(lats))
    west, east = _widened(min(lons), max(lons))
    x0, y0 = _mercator(north, west)
    x1, y1 = _mercator(south, east)
    # One scale for both axes (a map must not stretch), fitted to the frame inside the margins.
    scale = min((WIDTH - 2 * MARGIN) / (x1 - x0), (HEIGHT - 2 * MARGIN) / (y1 - y0))
    left = (WIDTH - (x1 - x0) * scale) / 2
    top = (HEIGHT - (y1 - y0) * scale) / 2

    def project(lat: float, lon: float) -> tuple[float, float]:
        x, y = _mercator(lat, lon)
        return left + (x - x0) * scale, top + (y - y0) * scale

    step = _grid_step(max(north - south, east - west))
    meridians = [
        GridLine(v, _degrees(v, "E", "W"), project(north, v)[0]) for v in _ticks(west, east, step)
    ]
    parallels = [
        GridLine(v, _degrees(v, "N", "S"), project(v, west)[1]) for v in _ticks(south, north, step)
    ]
    return SiteMap(
        sites=[MapSite(site, *project(*at)) for site, at in placed],
        meridians=meridians,
        parallels=parallels,
        unplaced=[site for site in sites if _position(site) is None],
        tiles=_tiles(tile_url, scale, x0 - left / scale, y0 - top / scale) if tile_url else [],
    )


def _tiles(url: str, scale: float, west: float, north: float) -> list[Tile]:
    """The tiles covering the drawing; `west`/`north` are its top left corner in world units.

    The zoom is the one whose 256 px tiles come nearest the map's scale; each tile is drawn at
    the map's own scale, so tiles and dots share one projection exactly.
    """
    zoom = min(max(round(math.log2(scale / 256)), 0), 19)
    n = 2**zoom
    size = scale / n  # a tile's width on the drawing
    first_x, first_y = math.floor(west * n), math.floor(north * n)
    last_x = math.floor((west + WIDTH / scale) * n)
    last_y = math.floor((north + HEIGHT / scale) * n)
    return [
        Tile(
            href=url.format(z=zoom, x=tx % n, y=ty),
            x=(tx / n - west) * scale,
            y=(ty / n - north) * scale,
            size=size,
        )
        for ty in range(max(first_y, 0), min(last_y, n - 1) + 1)
        for tx in range(first_x, last_x + 1)
    ]


def tile_origin(url: str) -> str:
    """scheme://host[:port] of a tile URL: what the page's Content-Security-Policy must allow."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _position(site: Site) -> tuple[float, float] | None:
    if site.latitude is None or site.longitude is None:
        return None
    return site.latitude, site.longitude


def _widened(low: float, high: float) -> tuple[float, float]:
    middle, half = (low + high) / 2, max(high - low, MIN_SPAN_DEGREES) / 2
    return middle - half * 1.1, middle + half * 1.1


def _grid_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving 2 to 5 lines over the span."""
    for power in range(-4, 3):
        for unit in (1, 2, 5):
            step = unit * 10.0**power
            if span / step <= 5:
                return step
    return 100.0


def _ticks(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step)
    return [round(k * step, 6) for k in range(first, math.floor(high / step) + 1)]


def _degrees(value: float, positive: str, negative: str) -> str:
    text = f"{abs(value):.4f}".rstrip("0").rstrip(".")
    return f"{text}°{positive if value >= 0 else negative}"
