"""The depot supervisor's map page: one self-contained HTML file.

Leaflet's JavaScript and CSS come from the ``xstatic-leaflet`` package, and
Leaflet.markercluster's from ``xstatic-leaflet-markercluster``; both are
inlined, so the page works offline; the base-map tiles are optional and their
URL is configurable. Stops use ``divIcon``/circle markers only, so no image
files are needed either.

A big day has thousands of stops: lines and circles are drawn on a canvas
(``preferCanvas``) rather than as one SVG element each, and each crew's
numbered stops are clustered (one bubble with a count in the crew's colour,
split up as the map is zoomed in, every stop on its own from street level),
so the page opens and pans smoothly.

Each crew's district (``plan.json``'s ``districts``, see :mod:`.rounds`) is drawn
faintly under its crew's layer, and a fleet too small for the day's required
bins (``fleet_short``) is said under the legend's table.

The page itself is ``templates/map.html`` (package data); :func:`map_html` fills in its values.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xstatic.pkg.leaflet as leaflet
import xstatic.pkg.leaflet_markercluster as markercluster

from binroute.geo import OSM_ATTRIBUTION, PALETTE

from ._pages import render_page

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _js(value: Any) -> str:
    """JSON safe to inline in a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def _inline_js(path: Path) -> str:
    """A bundled script, safe inside a <script> element, without a link to a source map it cannot load."""
    text = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
    return re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)


def map_html(collection: Mapping[str, Any], plan: Mapping[str, Any], *, tiles: str | None = DEFAULT_TILES) -> str:
    """The map page for a plan (GeoJSON routes and the plan.json summary)."""
    base, cluster = Path(leaflet.BASE_DIR), Path(markercluster.BASE_DIR)
    summary: dict[str, Any] = {
        "title": f"binroute — {plan.get('scenario', '')} {plan.get('date', '')}"
        + (" (km and hours estimated: no road network)" if plan.get("distances") == "estimate" else ""),
        "vehicles": [
            {
                k: v.get(k)
                for k in (
                    "vehicle_id",
                    "used",
                    "km",
                    "hours",
                    "paid_hours",
                    "utilisation",
                    "bins",
                    "kg",
                    "tips",
                    "kg_co2",
                    "cost",
                )
            }
            for v in plan.get("vehicles", [])
        ],
        "totals": {
            k: plan.get("totals", {}).get(k)
            for k in (
                "crews_used",
                "km",
                "hours",
                "paid_hours",
                "utilisation",
                "lifts",
                "tonnes",
                "kg_co2",
                "cost",
                "fuel_l",
                "kwh",
                "bins_left",
                "bins_left_at_risk",
            )
        },
    }
    short, changes = plan.get("fleet_short"), plan.get("crew_changes")
    summary["districts"] = plan.get("districts", [])
    summary["fleet_short"] = short["message"] if short else None
    summary["crew_changes"] = (
        f"Usual crews ({changes['source']}): {changes['kept']} of {changes['bins_with_usual_crew']} bins kept "
        f"theirs, {changes['changed']} changed"
        if changes
        else None
    )
    values = {
        "__LEAFLET_CSS__": (base / "leaflet.css").read_text(encoding="utf-8"),
        "__LEAFLET_JS__": _inline_js(base / "leaflet.js"),
        "__CLUSTER_CSS__": (cluster / "MarkerCluster.css").read_text(encoding="utf-8"),
        "__CLUSTER_JS__": _inline_js(cluster / "leaflet.markercluster.js"),
        "__PLAN__": _js(collection),
        "__SUMMARY__": _js(summary),
        "__TILES__": _js(tiles or None),
        "__PALETTE__": _js(list(PALETTE)),
        "__ATTRIBUTION__": _js(OSM_ATTRIBUTION),
        "__TITLE__": html.escape(str(summary["title"])),
    }
    # One pass over the template: a placeholder-like text inside the plan's own data stays as it is.
    return render_page("map.html", values)
