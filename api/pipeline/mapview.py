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

DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>__LEAFLET_CSS__</style>
<style>__CLUSTER_CSS__</style>
<style>
html, body, #map { height: 100%; margin: 0; font-family: system-ui, sans-serif; }
.stop-icon { background: #fff; border: 2px solid; border-radius: 50%; text-align: center; font: bold 10px/16px sans-serif; }
.legend { background: rgba(255,255,255,0.95); padding: 8px 10px; border-radius: 4px; font-size: 12px; max-height: 60vh; overflow: auto; }
.legend table { border-collapse: collapse; }
.legend td, .legend th { padding: 1px 6px; text-align: right; }
.legend td:first-child, .legend th:first-child { text-align: left; }
.cluster-icon { background: rgba(255,255,255,0.9); border: 3px solid; border-radius: 50%; text-align: center; font: bold 11px/24px sans-serif; }
.swatch { display: inline-block; width: 12px; height: 4px; margin-right: 4px; vertical-align: middle; }
</style>
</head>
<body>
<div id="map"></div>
<script>__LEAFLET_JS__</script>
<script>__CLUSTER_JS__</script>
<script>
"use strict";
const plan = __PLAN__;
const summary = __SUMMARY__;
const tiles = __TILES__;
const palette = __PALETTE__;
const attribution = __ATTRIBUTION__;
const map = L.map("map", {preferCanvas: true, maxZoom: 19});
if (tiles) { L.tileLayer(tiles, {maxZoom: 19, attribution: attribution}).addTo(map); }
else { map.attributionControl.addAttribution(attribution); }
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const time = (iso) => iso ? iso.slice(11, 16) : "";
const vehicles = [...new Set(plan.features.map((f) => f.properties.vehicle_id).filter(Boolean))];
const colour = Object.fromEntries(vehicles.map((v, i) => [v, palette[i % palette.length]]));
const layers = Object.fromEntries(vehicles.map((v) => [v, L.layerGroup()]));
// Each crew's numbered stops in a cluster group of its own, so a crew's layer toggles its stops too.
const stopMarkers = Object.fromEntries(vehicles.map((v) => [v, []]));
const clusterIcon = (v) => (cluster) => L.divIcon({
  className: "",
  html: `<div class="cluster-icon" style="border-color:${colour[v]}">${cluster.getChildCount()}</div>`,
  iconSize: [30, 30],
});
const skipped = L.layerGroup();
const sites = L.layerGroup();
for (const f of plan.features) {
  const p = f.properties, g = f.geometry;
  if (g.type === "LineString") {
    const line = L.polyline(g.coordinates.map(([x, y]) => [y, x]), {color: colour[p.vehicle_id], weight: 4, opacity: 0.8});
    line.bindPopup(`<b>${esc(p.vehicle_id)}</b> trip ${esc(p.trip)}: ${esc(p.from)} → ${esc(p.to)}<br>${time(p.depart)}–${time(p.arrive)}, ${esc(p.bins)} bins`);
    layers[p.vehicle_id].addLayer(line);
    continue;
  }
  const at = [g.coordinates[1], g.coordinates[0]];
  if (p.kind === "stop") {
    const icon = L.divIcon({className: "", html: `<div class="stop-icon" style="border-color:${colour[p.vehicle_id]}">${p.sequence}</div>`, iconSize: [18, 18]});
    stopMarkers[p.vehicle_id].push(L.marker(at, {icon}).bindPopup(
      `<b>${esc(p.bin_id)}</b> (${esc(p.vehicle_id)} #${p.sequence})<br>${esc(p.street)}<br>ETA ${time(p.eta)}` +
      `<br>predicted fill ${p.predicted_fill_pct ?? "?"}%<br>load after ${p.load_kg} kg, ${p.load_l} L`
    ));
  } else if (p.kind === "tip") {
    L.circleMarker(at, {radius: 7, color: colour[p.vehicle_id], fillColor: "#000", fillOpacity: 0.8})
      .bindPopup(`<b>tip</b> at ${esc(p.facility_id)} (${esc(p.vehicle_id)} #${p.sequence})<br>ETA ${time(p.eta)}`)
      .addTo(layers[p.vehicle_id]);
  } else if (p.kind === "skipped") {
    L.circleMarker(at, {radius: 4, color: "#888", fillColor: "#bbb", fillOpacity: 0.7, weight: 1})
      .bindPopup(`<b>${esc(p.bin_id)}</b> not collected (${esc(p.decision)})<br>${esc(p.reason)}`).addTo(skipped);
  } else if (p.kind === "depot" || p.kind === "facility") {
    const label = p.kind === "depot" ? "D" : "T";
    const icon = L.divIcon({className: "", html: `<div class="stop-icon" style="border-color:#000;background:#ffd">${label}</div>`, iconSize: [20, 20]});
    L.marker(at, {icon}).bindPopup(`<b>${esc(p.id)}</b> (${p.kind === "depot" ? "depot" : "disposal site"})`).addTo(sites);
  }
}
for (const v of vehicles) {
  if (!stopMarkers[v].length) { continue; }
  const clusters = L.markerClusterGroup({
    chunkedLoading: true, disableClusteringAtZoom: 17, showCoverageOnHover: false,
    iconCreateFunction: clusterIcon(v),
  });
  clusters.addLayers(stopMarkers[v]);
  layers[v].addLayer(clusters);
}
const overlays = {};
for (const v of vehicles) { layers[v].addTo(map); overlays[`<span class="swatch" style="background:${colour[v]}"></span>${esc(v)}`] = layers[v]; }
skipped.addTo(map); sites.addTo(map);
overlays["Skipped bins"] = skipped;
overlays["Depots and sites"] = sites;
L.control.layers(null, overlays, {collapsed: false}).addTo(map);
const legend = L.control({position: "bottomleft"});
const num = (x, d) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(100 * x)}%`);
legend.onAdd = () => {
  const div = L.DomUtil.create("div", "legend");
  const rows = summary.vehicles.filter((v) => v.used).map((v) =>
    `<tr><td><span class="swatch" style="background:${colour[v.vehicle_id] || "#000"}"></span>${esc(v.vehicle_id)}</td>` +
    `<td>${v.km.toFixed(1)}</td><td>${v.hours.toFixed(1)}</td><td>${num(v.paid_hours, 1)}</td><td>${pct(v.utilisation)}</td><td>${v.bins}</td><td>${(v.kg / 1000).toFixed(1)}</td><td>${v.tips}</td><td>${num(v.kg_co2, 0)}</td><td>${num(v.cost, 0)}</td></tr>`).join("");
  const t = summary.totals || {};
  const total = t.crews_used === undefined ? "" :
    `<tr><th>${t.crews_used} crew(s)</th><th>${num(t.km, 1)}</th><th>${num(t.hours, 1)}</th><th>${num(t.paid_hours, 1)}</th><th>${pct(t.utilisation)}</th><th>${t.lifts}</th><th>${num(t.tonnes, 1)}</th><th></th><th>${num(t.kg_co2, 0)}</th><th>${num(t.cost, 0)}</th></tr>` +
    `<tr><td colspan="10">${num(t.fuel_l, 0)} l diesel, ${num(t.kwh, 0)} kWh; ${t.bins_left} bin(s) left, ${t.bins_left_at_risk} at risk of overflowing</td></tr>`;
  div.innerHTML = `<b>${esc(summary.title)}</b><table><tr><th>crew</th><th>km</th><th>h worked</th><th>h paid</th><th>use</th><th>bins</th><th>t</th><th>tips</th><th>kg CO2</th><th>cost</th></tr>${rows}${total}</table>`;
  return div;
};
legend.addTo(map);
const bounds = L.latLngBounds([]);
for (const f of plan.features) {
  const c = f.geometry.type === "LineString" ? f.geometry.coordinates : [f.geometry.coordinates];
  for (const [x, y] of c) { bounds.extend([y, x]); }
}
if (bounds.isValid()) { map.fitBounds(bounds, {padding: [20, 20]}); } else { map.setView([0, 0], 2); }
const shown = vehicles.filter((v) => map.hasLayer(layers[v]) && layers[v].getLayers().length > 0);
window.binroute = {vehicleLayers: shown.length, vehicles: shown};
document.documentElement.dataset.vehicleLayers = String(shown.length);
</script>
</body>
</html>
"""


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
    summary = {
        "title": f"binroute — {plan.get('scenario', '')} {plan.get('date', '')}",
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
    return re.sub(r"__[A-Z_]+__", lambda m: values.get(m.group(0), m.group(0)), _PAGE)
