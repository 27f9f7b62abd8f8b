"""``report.html`` for a simulation: policies compared in inline SVG charts and a table; one printable file.

The page opens with the verdict a council committee reads (:func:`verdict_html`):
predictive's km, crew-days, lifts, CO2 and overflowing bin-days against the
best fixed timetable at the same service (:mod:`.verdict`) and, for a log,
the real service; then the assumptions the figures rest on. km and hours
estimated without a road network are labelled "(estimate)" wherever they
appear. No script and nothing fetched: the charts are SVG written here, so
the page works offline and prints as it shows. The page around them is
``templates/simulation_report.html``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

from .._pages import render_page
from .policies import AS_LOGGED, PREDICTIVE
from .verdict import VERDICT_FIGURES, best_timetable, closest_timetable, fewer

#: Line colours per policy, in order (colour-blind safe).
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
W, H, PAD = 640, 220, 44

#: The charts: title, figure per day, cumulative or not.
CHARTS = (
    ("Cumulative km", "km", True),
    ("Cumulative kg CO2", "kg_co2", True),
    ("Overflowing bins per day", "overflow_bin_days", False),
    ("Crews per day", "crews_used", False),
    ("Cumulative cost", "cost", True),
)
#: The table's rows: label and key of a policy's totals.
TABLE = (
    ("crew-days", "crew_days"),
    ("hours worked", "hours"),
    ("hours paid", "paid_hours"),
    ("utilisation", "utilisation"),
    ("km", "km"),
    ("diesel, litres", "fuel_l"),
    ("electricity, kWh", "kwh"),
    ("kg CO2", "kg_co2"),
    ("lifts", "lifts"),
    ("wasted lifts (below half full)", "wasted_lifts"),
    ("tonnes", "tonnes"),
    ("cost", "cost"),
    ("overflowing bin-days", "overflow_bin_days"),
    ("waste spilled, litres", "overflow_l"),
    ("bins at risk (bin-days)", "bins_at_risk"),
    ("due but not fitted in (bin-days)", "due_not_served"),
)


def line_chart(title: str, series: Mapping[str, Sequence[float]], labels: Sequence[str]) -> str:
    """An SVG line chart of one value per day for each policy, with axes, ticks and a legend."""
    top = max([max(v, default=0.0) for v in series.values()] + [1e-9])
    n = max(len(labels), 2)

    def x(i: int) -> float:
        return PAD + i * (W - 2 * PAD) / (n - 1)

    def y(v: float) -> float:
        return H - PAD + -v / top * (H - 2 * PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{PAD}" y="16" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#000"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#000"/>',
    ]
    for frac in (0, 0.5, 1):
        parts.append(
            f'<text x="{PAD - 4}" y="{y(top * frac) + 4:.1f}" text-anchor="end" font-size="10">{top * frac:,.0f}</text>'
        )
    for i in sorted({0, len(labels) // 2, len(labels) - 1}):
        if 0 <= i < len(labels):
            parts.append(
                f'<text x="{x(i):.1f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">{labels[i]}</text>'
            )
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        label = html.escape(name)
        parts.append(f'<text x="{W - PAD - 116}" y="{PAD + 14 * k}" fill="{colour}" font-size="11">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{value:,.0f}"


#: Figures that are estimates without a road network (their labels get "(estimate)").
ESTIMATED_KEYS = frozenset({"km", "kg_co2", "fuel_l", "kwh", "hours", "paid_hours", "utilisation", "cost"})
ESTIMATE_LABEL = " (estimate)"


def _label(label: str, key: str, estimated: bool) -> str:
    return html.escape(label + (ESTIMATE_LABEL if estimated and key in ESTIMATED_KEYS else ""))


def verdict_html(result: Mapping[str, Any]) -> str:
    """The report's opening: predictive against the best fixed timetable at the same service, in a sentence and a table.

    Columns: predictive, the best timetable (or the closest, said so, when
    none overflows as little), and ``as-logged`` when it was run.
    """
    totals = {name: data["totals"] for name, data in result["policies"].items()}
    estimated = result.get("distances") == "estimate"
    if PREDICTIVE not in totals:
        return "<p>No verdict: predictive was not among the policies simulated.</p>"
    ours = totals[PREDICTIVE]
    best = best_timetable(totals)
    compared = best or closest_timetable(totals)
    km = "km" + (ESTIMATE_LABEL if estimated else "")
    if best is not None:
        theirs = totals[best]
        text = (
            f"Predictive collection needs {fewer(ours['km'], theirs['km'], km)}, "
            f"{fewer(ours['crew_days'], theirs['crew_days'], 'crew-days')} and "
            f"{fewer(ours['lifts'], theirs['lifts'], 'lifts')} than the best fixed timetable at the same "
            f"service ({best}: the fewest km among timetables whose overflowing bin-days are at most predictive's; "
            f"{theirs['overflow_bin_days']:g} against predictive's {ours['overflow_bin_days']:g})."
        )
    elif compared is not None:
        text = (
            f"No fixed timetable run overflows as little as predictive ({ours['overflow_bin_days']:g} overflowing "
            f"bin-days); the closest, {compared}, lets {totals[compared]['overflow_bin_days']:g} overflow."
        )
    else:
        text = "No fixed timetable was simulated to compare predictive with."
    columns = [PREDICTIVE] + ([compared] if compared else []) + ([AS_LOGGED] if AS_LOGGED in totals else [])
    heads = {PREDICTIVE: "predictive", AS_LOGGED: "real service (as logged)"}
    if compared:
        heads[compared] = f"{'best' if best else 'closest'} timetable: {compared}"
    head = "".join(f"<th>{html.escape(heads[c])}</th>" for c in columns)
    rows = _figure_rows(VERDICT_FIGURES, [totals[c] for c in columns], estimated)
    if AS_LOGGED in totals:
        real = totals[AS_LOGGED]
        text += (
            f" Against the real service as logged: {fewer(ours['lifts'], real['lifts'], 'lifts')}, "
            f"{ours['overflow_bin_days']:g} overflowing bin-days against {real['overflow_bin_days']:g}."
        )
    return f'<p class="verdict">{html.escape(text)}</p><table><tr><th></th>{head}</tr>{rows}</table>'


def _figure_rows(figures: Sequence[tuple[str, str]], totals: Sequence[Mapping[str, Any]], estimated: bool) -> str:
    """Table rows, one per ``(label, key)`` figure, with its value in each of ``totals`` (a column each)."""
    return "".join(
        f"<tr><td>{_label(label, key, estimated)}</td>"
        + "".join(f"<td>{_cell(t.get(key))}</td>" for t in totals)
        + "</tr>"
        for label, key in figures
    )


def simulation_html(result: Mapping[str, Any]) -> str:
    """The whole report page for ``simulation.json``'s content."""
    policies = result["policies"]
    estimated = result.get("distances") == "estimate"
    names = list(policies)
    labels = [d["date"][5:] for d in next(iter(policies.values()))["days"]] if policies else []
    charts = []
    for title, key, cumulative in CHARTS:
        title = title + (ESTIMATE_LABEL if estimated and key in ESTIMATED_KEYS else "")
        series = {}
        for name in names:
            values = [float(d[key]) for d in policies[name]["days"]]
            series[name] = list(accumulate(values)) if cumulative else values
        charts.append(f"<figure>{line_chart(title, series, labels)}</figure>")
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = _figure_rows(TABLE, [policies[n]["totals"] for n in names], estimated)
    title = f"binroute simulation — {result['scenario']}, {result['from']} to {result['to']}"
    solver = result.get("solver", {})
    return render_page(
        "simulation_report.html",
        {
            "__TITLE__": html.escape(title),
            "__VERDICT__": verdict_html(result),
            "__ASSUMPTIONS__": "".join(f"<li>{html.escape(a)}</li>" for a in result.get("assumptions", [])),
            "__HEAD__": head,
            "__ROWS__": rows,
            "__CHARTS__": "".join(charts),
            "__ENGINE__": html.escape(str(solver.get("engine"))),
            "__SOLUTION_LIMIT__": html.escape(str(solver.get("solution_limit"))),
        },
    )
