#!/usr/bin/env python3
"""Chart and tabulate the criterion medians of `cargo bench --bench compare`.

Reads `<criterion dir>/<group>/<contestant>/new/estimates.json` (criterion's bootstrap median of
the time per iteration) and `benchmark.json` (the throughput, i.e. calls per iteration), then

- writes `docs/bench.svg`: a horizontal grouped bar chart, one block of bars per group, one bar
  per contestant, in ns per call on a log axis (so the sub-nanosecond rows stay visible);
- prints markdown tables of the medians (every contestant, ours over the floor, the fastest
  peer's time divided by ours, what each opt-in option and each kind of name costs, 2-thread
  scaling), then, apart, a check of the project's current targets (for the maintainers, not
  for the docs).

`floor` is the least work the hardware asks of each path (see benches/compare.rs); where a
group has no `floor` row, `bare` (a load and the call) is the floor.

ns per call = median ns per iteration / calls per iteration. In the two-thread groups an
iteration is one call on each thread, so ns per call there is the *aggregate* cost: perfect
scaling halves it against the one-thread group.

Usage: python3 scripts/bench_chart.py [--criterion DIR] [--svg PATH] [--machine TEXT]
Default DIR: $CARGO_TARGET_DIR/criterion if set, else target/bench/criterion, else
target/criterion. Python 3 standard library only.
"""

import argparse
import json
import math
import os
import pathlib
import sys
from xml.sax.saxutils import escape

REPO = pathlib.Path(__file__).resolve().parent.parent

OURS = "async-breaker"
PEERS = ["failsafe", "recloser", "circuitbreaker-rs", "tower-resilience"]
# Our opt-in variants (each in only some groups): what enabling the option costs.
VARIANTS = [
    f"{OURS}+metrics",
    f"{OURS}+facade",
    f"{OURS}+rate",
    f"{OURS}+rate100",
    f"{OURS}+rate1000",
    f"{OURS}+slow",
    f"{OURS}+coarse-clock",
]
# Our breaker named at run time (the default contestant has a `&'static str` name).
NAMES = [f"{OURS}+string-name", f"{OURS}+cow-name"]
# The floors of the options that need more work than a plain breaker (see benches/compare.rs).
OPTION_FLOORS = ["floor+window", "floor+timed"]
CONTESTANTS = [OURS, *NAMES, *VARIANTS, *PEERS, "bare", "floor", *OPTION_FLOORS]
COLORS = {
    OURS: "#1f77b4",
    f"{OURS}+metrics": "#6baed6",
    f"{OURS}+facade": "#08519c",
    f"{OURS}+rate": "#9467bd",
    f"{OURS}+rate100": "#c5b0d5",
    f"{OURS}+rate1000": "#8c564b",
    f"{OURS}+coarse-clock": "#17becf",
    "failsafe": "#ff7f0e",
    "recloser": "#2ca02c",
    "circuitbreaker-rs": "#d62728",
    "tower-resilience": "#e377c2",
    f"{OURS}+string-name": "#3182bd",
    f"{OURS}+cow-name": "#9ecae1",
    "bare": "#7f7f7f",
    "floor": "#252525",
    "floor+window": "#525252",
    "floor+timed": "#969696",
    f"{OURS}+slow": "#bcbddc",
}
# Short labels for table headers.
SHORT = {
    OURS: "ours",
    f"{OURS}+metrics": "ours+metrics",
    f"{OURS}+facade": "ours+facade",
    f"{OURS}+rate": "ours+rate",
    f"{OURS}+rate100": "ours+rate100",
    f"{OURS}+rate1000": "ours+rate1000",
    f"{OURS}+slow": "ours+slow",
    f"{OURS}+coarse-clock": "ours+coarse-clock",
    f"{OURS}+string-name": "ours, String name",
    f"{OURS}+cow-name": "ours, Cow name",
    "circuitbreaker-rs": "circuitbreaker-rs",
    "tower-resilience": "tower-resilience",
}
GROUPS = [
    ("closed_success_sync", "closed, success (sync)"),
    ("closed_failure_sync", "closed, failure + reset (sync)"),
    ("open_reject", "open, rejected"),
    ("half_open_probe_in_flight_reject", "half-open, probe in flight, rejected"),
    ("future_closed_success", "closed, success (future, no-op waker)"),
    ("one_thread_closed_success", "1 thread, closed, success"),
    ("two_threads_closed_success", "2 threads, closed, success (aggregate)"),
    ("one_thread_closed_failure", "1 thread, closed, failure + reset"),
    ("two_threads_closed_failure", "2 threads, failure storm (aggregate)"),
    ("one_thread_open_reject", "1 thread, open, rejected"),
    ("two_threads_open_reject", "2 threads, open, rejected (aggregate)"),
]


def default_root():
    env = os.environ.get("CARGO_TARGET_DIR")
    candidates = [pathlib.Path(env) / "criterion"] if env else []
    candidates += [REPO / "target" / "bench" / "criterion", REPO / "target" / "criterion"]
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[0]


def load(root):
    """{group: {contestant: (median ns/iter, calls/iter)}}"""
    data = {}
    for est_path in sorted(root.glob("*/*/new/estimates.json")):
        bench_dir = est_path.parent
        meta = json.loads((bench_dir / "benchmark.json").read_text())
        est = json.loads(est_path.read_text())
        median = est["median"]["point_estimate"]
        calls = (meta.get("throughput") or {}).get("Elements") or 1
        data.setdefault(meta["group_id"], {})[meta["function_id"]] = (median, calls)
    return data


def per_call(data, group, who):
    entry = data.get(group, {}).get(who)
    return None if entry is None else entry[0] / entry[1]


def floor_of(data, group):
    """The group's floor: its `floor` row, else `bare`."""
    floor = per_call(data, group, "floor")
    return floor if floor is not None else per_call(data, group, "bare")


def fmt_ns(ns):
    if ns is None:
        return "—"
    if ns < 10:
        return f"{ns:.2f}"
    if ns < 100:
        return f"{ns:.1f}"
    return f"{ns:.0f}"


def machine_text():
    model = "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs"


def svg_chart(data, machine):
    rows = [(g, label) for g, label in GROUPS if g in data]
    bar_h, bar_gap, group_gap = 16, 3, 22
    left, right, top, bottom = 300, 70, 86, 52
    plot_w = 560
    width = left + plot_w + right
    # Legend entries, wrapped into rows that fit the chart's width.
    present = [c for c in CONTESTANTS if any(c in data[g] for g, _ in rows)]
    legend, lx, ly = [], left, 54
    for c in present:
        w = 17 + 7 * len(c) + 18
        if lx + w > width - 10 and lx > left:
            lx, ly = left, ly + 18
        legend.append((c, lx, ly))
        lx += w
    top += ly - 54
    lo_exp, hi_exp = -1, 3  # axis 0.1 ns .. 1000 ns
    values = [per_call(data, g, c) for g, _ in rows for c in CONTESTANTS]
    values = [v for v in values if v]
    if values:
        lo_exp = min(lo_exp, math.floor(math.log10(min(values))))
        hi_exp = max(hi_exp - 1, math.ceil(math.log10(max(values))))

    def x(ns):
        ns = max(ns, 10.0**lo_exp)
        return left + plot_w * (math.log10(ns) - lo_exp) / (hi_exp - lo_exp)

    heights = []
    for g, _ in rows:
        n = sum(1 for c in CONTESTANTS if c in data[g])
        heights.append(n * bar_h + (n - 1) * bar_gap)
    plot_h = sum(heights) + group_gap * (len(rows) - 1) if rows else 0
    height = top + plot_h + bottom

    out = []
    add = out.append
    add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="12">'
    )
    add(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    add(
        f'<text x="{left}" y="24" font-size="16" font-weight="bold">'
        "Circuit breaker cost per call (criterion median, lower is better)</text>"
    )
    add(
        f'<text x="{left}" y="42" fill="#555">ns per call, log scale. '
        f"{escape(machine)}. Two-thread rows: aggregate ns per call.</text>"
    )
    # Legend.
    for c, lx, ly in legend:
        add(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{COLORS[c]}"/>')
        add(f'<text x="{lx + 17}" y="{ly + 10}">{escape(c)}</text>')
    # Grid and axis labels.
    axis_y = top + plot_h
    for e in range(lo_exp, hi_exp + 1):
        for m in range(1, 10):
            v = m * 10.0**e
            if e == hi_exp and m > 1:
                break
            gx = x(v)
            major = m == 1
            add(
                f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{axis_y}" '
                f'stroke="{"#bbbbbb" if major else "#eeeeee"}" stroke-width="1"/>'
            )
            if major:
                label = f"{v:g} ns"
                add(
                    f'<text x="{gx:.1f}" y="{axis_y + 18}" text-anchor="middle" '
                    f'fill="#333">{label}</text>'
                )
    add(
        f'<line x1="{left}" y1="{top - 6}" x2="{left}" y2="{axis_y}" stroke="#333" '
        'stroke-width="1"/>'
    )
    # Bars.
    y = top
    for (g, label), h in zip(rows, heights):
        mid = y + h / 2
        add(
            f'<text x="{left - 10}" y="{mid + 4:.1f}" text-anchor="end" '
            f'font-weight="bold" fill="#222">{escape(label)}</text>'
        )
        for c in CONTESTANTS:
            if c not in data[g]:
                continue
            v = per_call(data, g, c)
            w = max(x(v) - left, 1.0)
            add(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{COLORS[c]}"><title>{escape(g)}/{escape(c)}: '
                f"{fmt_ns(v)} ns per call</title></rect>"
            )
            # Variants share our blue family, so their bars also say which option they are.
            tag = f" ({c[len(OURS):]})" if c in VARIANTS or c in NAMES else ""
            add(
                f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}" fill="#222">'
                f"{fmt_ns(v)} ns{escape(tag)}</text>"
            )
            y += bar_h + bar_gap
        y += group_gap - bar_gap
    add(
        # From the left edge: the note is wider than the plot area.
        f'<text x="10" y="{height - 10}" fill="#777" font-size="11">'
        "cargo bench --bench compare; python3 scripts/bench_chart.py. "
        "Peers without a probe-in-flight state are not in that group; "
        "tower-resilience only in one-thread groups (see benches/compare.rs).</text>"
    )
    add("</svg>")
    return "\n".join(out) + "\n"


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_ratio(r):
    return "—" if r is None else f"{r:.1f}x"


def markdown(data):
    lines = [
        "| group | "
        + " | ".join(SHORT.get(c, c) for c in CONTESTANTS)
        + " | ours ÷ floor | fastest peer ÷ ours |",
        "|---|" + "---:|" * (len(CONTESTANTS) + 2),
    ]
    for g, _ in GROUPS:
        if g not in data:
            continue
        ours = per_call(data, g, OURS)
        peers = [per_call(data, g, p) for p in PEERS]
        peers = [p for p in peers if p is not None]
        best = min(peers) if peers else None
        cells = [fmt_ns(per_call(data, g, c)) for c in CONTESTANTS]
        lines.append(
            f"| `{g}` | "
            + " | ".join(cells)
            + f" | {fmt_ratio(ratio(ours, floor_of(data, g)))} | {fmt_ratio(ratio(best, ours))} |"
        )
    lines.append("")
    lines.append("ns per call, criterion median; — = not measured in that group.")
    lines.append("")
    lines.append("What each opt-in option costs, ns per call over the default `async-breaker`:")
    lines.append("")
    lines.append("| group | " + " | ".join(SHORT[v] for v in VARIANTS) + " |")
    lines.append("|---|" + "---:|" * len(VARIANTS))
    for g, _ in GROUPS:
        ours = per_call(data, g, OURS)
        cells = []
        for v in VARIANTS:
            var = per_call(data, g, v)
            cells.append("—" if None in (ours, var) else f"{var - ours:+.2f}")
        if any(c != "—" for c in cells):
            lines.append(f"| `{g}` | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("What a rejection costs with each kind of name, ns per call:")
    lines.append("")
    kinds = [(OURS, "`&'static str`"), (NAMES[0], "`String`"), (NAMES[1], "`Cow::Owned`")]
    rej = [
        ("open_reject", "open, 1 call"),
        ("half_open_probe_in_flight_reject", "half-open, probe in flight"),
        ("one_thread_open_reject", "open, 1 thread"),
        ("two_threads_open_reject", "open, 2 threads (aggregate)"),
    ]
    lines.append("| path | " + " | ".join(k for _, k in kinds) + " |")
    lines.append("|---|" + "---:|" * len(kinds))
    for g, label in rej:
        lines.append(f"| {label} | " + " | ".join(fmt_ns(per_call(data, g, c)) for c, _ in kinds) + " |")
    lines.append("")
    lines.append("Scaling, aggregate calls/s of 2 threads ÷ 1 thread (2.0x = perfect):")
    lines.append("")
    scaled = [c for c in CONTESTANTS if per_call(data, "two_threads_open_reject", c) or per_call(data, "two_threads_closed_success", c)]
    lines.append("| path | " + " | ".join(SHORT.get(c, c) for c in scaled) + " |")
    lines.append("|---|" + "---:|" * len(scaled))
    for path, one, two in [
        ("closed, success", "one_thread_closed_success", "two_threads_closed_success"),
        ("closed, failure + reset", "one_thread_closed_failure", "two_threads_closed_failure"),
        ("open, rejected", "one_thread_open_reject", "two_threads_open_reject"),
    ]:
        cells = [fmt_ratio(ratio(per_call(data, one, c), per_call(data, two, c))) for c in scaled]
        lines.append(f"| {path} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(data):
    """The project's current targets, checked against this run (for maintainers)."""
    res = []

    def check(name, ok, detail):
        res.append(f"- [{'x' if ok else ' '}] {name}: {detail}")

    def fastest_peer(g):
        peers = [per_call(data, g, p) for p in PEERS]
        peers = [p for p in peers if p is not None]
        return min(peers) if peers else None

    g = "closed_success_sync"
    ours, floor, best = per_call(data, g, OURS), floor_of(data, g), fastest_peer(g)
    if None not in (ours, floor, best):
        over = ours - floor
        check("closed success overhead over the floor <= 1 ns", over <= 1.0, f"{over:.2f} ns")
        r = (best - floor) / over if over > 0 else math.inf
        check("closed success: >= 4x less overhead than the fastest peer", r >= 4, f"{r:.1f}x")
    for g, want in [("closed_failure_sync", 1.6), ("one_thread_closed_failure", 1.6)]:
        ours, floor = per_call(data, g, OURS), floor_of(data, g)
        if None not in (ours, floor):
            r = ours / floor
            check(f"{g} within {want}x of the floor", r <= want, f"{r:.2f}x")
    for g, want, name in [
        ("open_reject", 3.0, "open reject"),
        ("closed_failure_sync", 1.5, "closed failure + reset"),
    ]:
        ours, best = per_call(data, g, OURS), fastest_peer(g)
        if None not in (ours, best):
            r = best / ours
            check(f"{name} >= {want}x faster than the fastest peer", r >= want, f"{r:.2f}x")
    coarse, best = per_call(data, "open_reject", f"{OURS}+coarse-clock"), fastest_peer("open_reject")
    if None not in (coarse, best):
        r = best / coarse
        check("open reject >= 3x faster than the fastest peer, opt-in coarse clock", r >= 3, f"{r:.2f}x")
    for c, want, path, one, two in [
        (OURS, 1.8, "closed success", "one_thread_closed_success", "two_threads_closed_success"),
        (OURS, 1.9, "open reject, static name", "one_thread_open_reject", "two_threads_open_reject"),
        (NAMES[0], 1.9, "open reject, String name", "one_thread_open_reject", "two_threads_open_reject"),
        (NAMES[1], 1.9, "open reject, Cow name", "one_thread_open_reject", "two_threads_open_reject"),
    ]:
        a, b = per_call(data, one, c), per_call(data, two, c)
        if None not in (a, b):
            r = a / b
            check(f"2 threads {path} >= {want}x one thread (aggregate)", r >= want, f"{r:.2f}x")
    return "\n".join(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--criterion", type=pathlib.Path, default=None)
    ap.add_argument("--svg", type=pathlib.Path, default=REPO / "docs" / "bench.svg")
    ap.add_argument("--machine", default=None, help="machine description for the chart")
    args = ap.parse_args()
    root = args.criterion or default_root()
    data = load(root)
    if not data:
        sys.exit(f"no criterion results under {root}; run `cargo bench --bench compare` first")
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    args.svg.write_text(svg_chart(data, args.machine or machine_text()))
    print(f"<!-- from {root}; chart written to {args.svg} -->")
    print(markdown(data))
    print()
    print(targets(data))


if __name__ == "__main__":
    main()
