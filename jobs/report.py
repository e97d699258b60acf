"""``report/report.html``: a run's ``stats.json`` as one page that a person reads without tools.

stats.json is exact but long and nested; the page shows the same numbers as charts, each followed by a table
of them, so a run's outcome (where documents went, why they were dropped, what the mix and the packing came to,
where the time went) is read at a glance and checked to the unit. It is one self-contained file (inline CSS and
SVG; no script, and no font, image or stylesheet fetched), so it opens offline, from a copied or archived run.
Every section is optional: a partial run (curate only, or curate + tokenizer) or an older stats.json renders
what it has.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from typing import Any

PALETTE = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"]  # Paul Tol's bright
DROPPED, QUARANTINED = "#4477aa", "#ee7733"
NOT_RECORDED = "Not recorded in this stats.json (written before the report had this section)."
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;margin-top:2em}h3{margin:1em 0 .3em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}th{background:#f4f4f4}.l{text-align:left}
svg{display:block;font:11px sans-serif;max-width:100%;height:auto;margin-top:.5em}
.bad{color:#c00;font-weight:bold}.none{color:#888;font-style:italic}.sub{color:#666;margin-top:0}
.multi{display:flex;flex-wrap:wrap;gap:0 2em}.key{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _n(value: float) -> str:
    """``1,178,171``; a fractional number keeps two decimals."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def fmt_count(value: float) -> str:
    """A power-of-two bin edge as an axis label: ``512``, ``1K``, ``2K``, ``1M`` (binary prefixes)."""
    for power, suffix in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if value >= 2**power:
            return f"{value / 2**power:g}{suffix}"
    return f"{value:g}"


def _none(text: str) -> str:
    return f'<p class="none">{_e(text)}</p>'


def _table(headers: list[str], rows: list[list[Any]], text_cols: int = 1) -> str:
    """An HTML table of ``rows`` (cells escaped here); the first ``text_cols`` columns align left."""

    def cells(tag: str, row: list[Any]) -> str:
        return "".join(f"<{tag}{' class=l' if i < text_cols else ''}>{_e(c)}</{tag}>" for i, c in enumerate(row))

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><tr>{cells('th', headers)}</tr>{body}</table>"


def _kv_table(values: dict[str, Any]) -> str:
    return _table(
        ["", "value"], [[k.replace("_", " "), _n(v) if isinstance(v, (int, float)) else v] for k, v in values.items()]
    )


def _legend(names: list[str], colors: list[str]) -> str:
    return (
        "<div>"
        + "".join(f'<span class="key" style="background:{c}"></span>{_e(n)}' for n, c in zip(names, colors))
        + "</div>"
    )


def _svg(width: float, height: float, parts: list[str]) -> str:
    return (
        f'<svg width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img">'
        + "".join(parts)
        + "</svg>"
    )


def _bars_svg(
    labels: list[str],
    values: list[float],
    colors: list[str] | None = None,
    fmt: Callable[[float], str] = _n,
    label_w: int = 300,
    bar_w: int = 400,
) -> str:
    """Horizontal bars, one per label, the longest one ``bar_w`` wide, each followed by its value."""
    top, row_h, parts = max(values, default=0) or 1, 18, []
    for i, (label, value) in enumerate(zip(labels, values)):
        y, w = i * row_h, bar_w * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{colors[i] if colors else PALETTE[0]}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{_e(fmt(value))}</text>'
        )
    return _svg(label_w + bar_w + 80, len(labels) * row_h, parts)


def _columns_svg(
    groups: list[str],
    series: dict[str, list[float]],
    colors: list[str],
    fmt: Callable[[float], str] = _n,
    ticks: list[str] | None = None,
    height: int = 160,
) -> str:
    """Vertical bars: a group per label, a coloured bar per series in it (hover a bar for its value); the
    axis is labelled under each group, or with ``ticks`` at the group boundaries (a histogram's edges)."""
    names, left, top = list(series), 70, max((v for vs in series.values() for v in vs), default=0) or 1
    group_w = max(24, min(100, 700 // max(1, len(groups))))
    bar_w, base, right = group_w * 0.8 / max(1, len(names)), height + 8, left + len(groups) * group_w
    parts = [
        f'<text x="{left - 4}" y="14" text-anchor="end">{_e(fmt(top))}</text>',
        f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#888"/>',
    ]
    for g, label in enumerate(groups):
        for s, name in enumerate(names):
            v = series[name][g]
            h = height * v / top
            parts.append(
                f'<rect x="{left + (g + 0.1) * group_w + s * bar_w:.1f}" y="{base - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{colors[s]}">'
                f"<title>{_e(name)}, {_e(label)}: {_e(fmt(v))}</title></rect>"
            )
    at = list(enumerate(ticks)) if ticks else [(g + 0.5, label) for g, label in enumerate(groups)]
    parts += [f'<text x="{left + x * group_w:.1f}" y="{base + 14}" text-anchor="middle">{_e(t)}</text>' for x, t in at]
    return _legend(names, colors) + _svg(right + 20, base + 20, parts)


def _histogram_svg(
    edges: list[float], counts_by_series: dict[str, list[int]], label: Callable[[float], str] = fmt_count
) -> str:
    """A coloured bar series per source over the bins of ``edges`` (as trimmed), edges labelled on the axis."""
    return _columns_svg(
        [f"{label(a)} – {label(b)}" for a, b in zip(edges, edges[1:])],
        counts_by_series,
        (PALETTE * len(counts_by_series))[: len(counts_by_series)],
        ticks=[label(x) for x in edges],
    )


def _histogram(h: dict[str, Any], label: Callable[[float], str] = fmt_count) -> str:
    """Chart and table of one histogram; the empty bins before the first and after the last value are left out."""
    edges, counts = h["edges"], h["counts"]
    used = [i for i in range(len(edges) - 1) if any(c[i] for c in counts.values())]
    if not used:
        return _none("No values.")
    lo, hi = used[0], used[-1] + 1
    trimmed = {s: c[lo:hi] for s, c in counts.items()}
    rows = [
        [f"{label(edges[i])} – {label(edges[i + 1])}", *(_n(c[i - lo]) for c in trimmed.values())]
        for i in range(lo, hi)
    ]
    return (
        f"<p>{_e(h.get('unit', ''))}; bin [a, b) counts values from a up to b.</p>"
        + _histogram_svg(edges[lo : hi + 1], trimmed, label)
        + _table([h.get("unit", "bin"), *trimmed], rows)
    )


def _header(stats: dict[str, Any], name: str | None) -> str:
    out = ["<h1>corpusmill run report</h1>"] + ([f'<p class="sub">{_e(name)}</p>'] if name else [])
    c, tok, pack = stats.get("curate"), stats.get("tokenizer"), stats.get("pack")
    if c:
        t = c["totals"]
        ok = "reconciled" if c.get("reconciled") else '<span class="bad">NOT RECONCILED</span>'
        merged = f"; {_n(t['merged'])} merged into {_n(t['created'])} built documents" if t.get("merged") else ""
        out.append(
            f"<p>Records: {_n(t['in'])} read → {_n(t['kept'])} kept, {_n(t['dropped'])} dropped, "
            f"{_n(t['quarantined'])} quarantined{merged} ({ok}).</p>"
        )
    else:
        out.append("<p>Records: the curate pass was not run.</p>")
    out.append(
        f"<p>Tokenizer: vocabulary {_n(tok['vocab_size'])}, {len(tok.get('special_tokens', {}))} special "
        f"tokens, sha256 {_e(tok.get('sha256', '')[:16])}…, {_e(tok.get('path', ''))}.</p>"
        if tok
        else "<p>Tokenizer: the tokenizer pass was not run.</p>"
    )
    out.append(
        f"<p>Shards: {_n(pack['shards'])} shards, {_n(pack['rows'])} rows, {_n(pack['tokens'])} tokens, "
        f"{_pct(pack['fill'])} fill, in {_e(pack.get('shard_dir', ''))}.</p>"
        if pack
        else "<p>Shards: the pack pass was not run.</p>"
    )
    return "".join(out)


def _curate(c: dict[str, Any]) -> str:
    out = [
        "<h3>Sources</h3>",
        _table(
            ["source", "in", "kept", "dropped", "quarantined", "merged", "created", "kept chars", "reconciled"],
            [
                [
                    s,
                    *(
                        _n(v.get(k, 0))
                        for k in ("in", "kept", "dropped", "quarantined", "merged", "created", "kept_chars")
                    ),
                    "yes" if v.get("reconciled", True) else "NO",
                ]
                for s, v in c.get("sources", {}).items()
            ],
        ),
    ]
    if c.get("funnel"):
        sources = list(dict.fromkeys(r["source"] for r in c["funnel"]))
        out.append("<h3>Funnel: documents per stage and source</h3><div class=multi>")
        for src in sources:  # each source in the colour it has in the length histograms (sources sorted by name)
            rows = [r for r in c["funnel"] if r["source"] == src]
            keys = [
                k
                for k in ("in", "out", "dropped", "quarantined", "rewritten", "merged", "created", "chars_removed")
                if any(k in r for r in rows)
            ]
            color = PALETTE[sorted(sources).index(src) % len(PALETTE)]
            out.append(
                f"<div><h4>{_e(src)}</h4>"
                + _bars_svg(
                    [r["stage"] for r in rows], [r["out"] for r in rows], [color] * len(rows), label_w=130, bar_w=220
                )
                + _table(
                    ["stage", *(k.replace("_", " ") for k in keys)],
                    [[r["stage"], *(_n(r.get(k, 0)) for k in keys)] for r in rows],
                )
                + "</div>"
            )
        out.append("</div>")
    reasons = sorted(c.get("reasons", []), key=lambda r: (-r["docs"], r["stage"], r["reason"], r["source"]))
    if reasons:
        colors = [QUARANTINED if r["status"] == "quarantined" else DROPPED for r in reasons]
        out += [
            "<h3>Drop and quarantine reasons</h3>",
            _legend(["dropped", "quarantined"], [DROPPED, QUARANTINED]),
            _bars_svg(
                [f"{r['stage']}:{r['reason']} ({r['source']})" for r in reasons], [r["docs"] for r in reasons], colors
            ),
            _table(
                ["status", "source", "stage", "reason", "docs", "chars"],
                [
                    [r["status"], r["source"], r["stage"], r["reason"], _n(r["docs"]), _n(r.get("chars", 0))]
                    for r in reasons
                ],
                text_cols=4,
            ),
        ]
    out.append(_languages(c.get("languages", [])))
    if c.get("rewrite_events"):
        out += [
            "<h3>Rewrite events</h3>",
            _table(
                ["source", "stage", "type", "count"],
                [[r["source"], r["stage"], r["type"], _n(r["count"])] for r in c["rewrite_events"]],
                text_cols=3,
            ),
        ]
    for key, title in (("near_dedup", "Near dedup"), ("image_dedup", "Image dedup")):
        if c.get(key):
            out += [f"<h3>{title}</h3>", _kv_table(c[key])]
    if c.get("decontam"):
        out.append(_decontam(c["decontam"]))
    if c.get("quality"):
        out.append(_quality(c["quality"], c.get("quality_examples") or {}))
    return "".join(out)


def _decontam(d: dict[str, Any]) -> str:
    """Per evaluation set, the items found and where; per source, the documents taken out."""
    sources = sorted({s for t in d["tasks"].values() for s in t["documents"]} | set(d["documents"]))
    verb = "redacted" if d["mode"] == "redact" else "dropped"
    return (
        f"<h3>Decontamination ({_e(d['rule'])}, {_e(d['n'])}-grams, {_e(d['indexed_ngrams'])} indexed)</h3>"
        + _table(
            ["evaluation set", "items", "indexed", "found in the corpus", *(f"documents: {s}" for s in sources)],
            [
                [
                    name,
                    _n(t["items"]),
                    _n(t["items_indexed"]),
                    _n(t["items_found"]),
                    *(_n(t["documents"].get(s, 0)) for s in sources),
                ]
                for name, t in d["tasks"].items()
            ],
        )
        + _table(["source", f"documents {verb}"], [[s, _n(n)] for s, n in d["documents"].items()])
        + _common_grams(d)
    )


def _common_grams(d: dict[str, Any]) -> str:
    """What GPT-3's rule left out: the n-grams too many documents share to count as contamination."""
    if d.get("common_documents") is None:
        return ""
    head = (
        f"<p>{_e(_n(d['common_ngrams']))} indexed n-grams were found in more than {_e(d['common_documents'])} "
        "documents each and ignored as common text (GPT-3's rule)"
    )
    if not d["common_examples"]:
        return head + ".</p>"
    rows = [[x["ngram"][:160], f"{x['task']} {x['item']}", _n(x["documents"])] for x in d["common_examples"]]
    return head + ":</p>" + _table(["n-gram", "item", "documents"], rows, text_cols=2)


KEPT_COLOR = "#228833"
QUALITY_GROUPS = 12  # charts for the largest groups; the table lists them all


def _score_histogram_svg(
    kept: list[int], dropped: list[int], cut: float | None, span: tuple[float, float] = (0.0, 1.0)
) -> str:
    """Documents per score bin of one group (over its span of scores), kept stacked on dropped, the group's
    cut as a dashed line."""
    lo, hi = span
    width = (hi - lo) or 1.0
    left, bin_w, height, base = 40, 14, 90, 98
    top = max((k + d for k, d in zip(kept, dropped)), default=0) or 1
    parts = [
        f'<text x="{left - 4}" y="12" text-anchor="end">{_e(_n(top))}</text>',
        f'<line x1="{left}" y1="{base}" x2="{left + bin_w * len(kept)}" y2="{base}" stroke="#888"/>',
    ]
    for i, (k, d) in enumerate(zip(kept, dropped)):
        for value, below, color, name in ((d, 0, DROPPED, "dropped"), (k, d, KEPT_COLOR, "kept")):
            if value:
                h, y0 = height * value / top, base - height * below / top
                parts.append(
                    f'<rect x="{left + i * bin_w + 1}" y="{y0 - h:.1f}" width="{bin_w - 2}" height="{h:.1f}" '
                    f'fill="{color}"><title>{name}, score {lo + width * i / len(kept):.4f}–'
                    f"{lo + width * (i + 1) / len(kept):.4f}: {value}</title></rect>"
                )
    for x in (0, 0.5, 1):
        label = f"{lo + x * width:.4g}"
        parts.append(
            f'<text x="{left + x * bin_w * len(kept):.0f}" y="{base + 14}" text-anchor="middle">{label}</text>'
        )
    if cut is not None and lo <= cut <= hi:
        x = left + (cut - lo) / width * bin_w * len(kept)
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{base}" stroke="#000" stroke-dasharray="3,2"/>')
    return _svg(left + bin_w * len(kept) + 30, base + 20, parts)


def _quality(q: dict[str, Any], examples: dict[str, Any]) -> str:
    """The classifier, each group's score histogram with its cut, and the documents on either side of it."""
    tr = q.get("training") or {}
    groups = sorted(q["groups"].items(), key=lambda g: (-g[1]["scored"], g[0]))
    out = [
        "<h3>Quality classifier</h3>",
        _kv_table({"model sha256": q["model_sha256"], "trained on this run": "yes" if q["trained"] else "no"} | tr),
        _legend(["kept", "dropped"], [KEPT_COLOR, DROPPED])
        + " <span>each group over its own span of scores; dashed: the group's cut</span>",
        "<div class=multi>",
        *(
            f"<div><h4>{_e(name)}</h4>"
            + _score_histogram_svg(
                g["kept_histogram"], g["dropped_histogram"], g.get("cut"), tuple(g.get("histogram_span", (0.0, 1.0)))
            )
            + "</div>"
            for name, g in groups[:QUALITY_GROUPS]
        ),
        "</div>",
        _table(
            ["group", "scored", "kept", "dropped", "cut"],
            [[n, _n(g["scored"]), _n(g["kept"]), _n(g["dropped"]), _none_or(g.get("cut"))] for n, g in groups],
        ),
    ]
    rows = [
        [name, side, f"{score:.6f}", text]
        for name, _ in groups
        for side, key in (("kept", "kept"), ("dropped", "dropped"))
        for score, text in examples.get(key, {}).get(name, [])
    ]
    if rows:
        out += [
            "<h4>Nearest the cut: the lowest-scored kept and highest-scored dropped documents"
            " (first 400 characters)</h4>",
            _table(["group", "", "score", "text"], rows, text_cols=4),
        ]
    return "".join(out)


def _none_or(value: float | None) -> str:
    return "–" if value is None else f"{value:.6f}"


def _stacked_bars_svg(labels: list[str], series: dict[str, list[float]], colors: list[str], label_w: int = 200) -> str:
    """Horizontal bars, one per label, each split into its series (kept, dropped...), then the total."""
    totals = [sum(vs) for vs in zip(*series.values())]
    top, row_h, bar_w, parts = max(totals, default=0) or 1, 18, 500, []
    for i, label in enumerate(labels):
        y, x = i * row_h, float(label_w)
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label)}</text>')
        for (name, values), color in zip(series.items(), colors):
            w = bar_w * values[i] / top
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}">'
                f"<title>{_e(label)}, {_e(name)}: {_e(_n(values[i]))}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{_e(_n(totals[i]))}</text>')
    return _legend(list(series), colors) + _svg(label_w + bar_w + 80, len(labels) * row_h, parts)


def _languages(rows: list[dict[str, Any]]) -> str:
    """Kept and dropped documents per source and language, and each language's main drop reasons."""
    if not rows:
        return ""
    labels = [f"{r['source']} · {r['language'] or 'before language ID'}" for r in rows]
    chart = _stacked_bars_svg(
        labels,
        {
            "kept": [r["kept"] for r in rows],
            "dropped": [r["dropped"] for r in rows],
            "quarantined": [r["quarantined"] for r in rows],
        },
        [PALETTE[2], DROPPED, QUARANTINED],
    )
    table = _table(
        ["source", "language", "main reasons", "kept", "dropped", "quarantined", "kept chars"],
        [
            [
                r["source"],
                r["language"] or "—",
                ", ".join(f"{x['stage']}:{x['reason']} {x['docs']}" for x in r["reasons"][:3]) or "—",
                _n(r["kept"]),
                _n(r["dropped"]),
                _n(r["quarantined"]),
                _n(r["kept_chars"]),
            ]
            for r in rows
        ],
        text_cols=3,
    )
    return "<h3>Languages (language ID's answer)</h3>" + chart + table


def _pack(p: dict[str, Any]) -> str:
    hists = p.get("histograms", {})
    keys = (
        "fill",
        "rows",
        "shards",
        "tokens",
        "documents",
        "pieces",
        "truncated_documents",
        "overlong_documents",
        "shard_dir",
    )
    out = ["<h3>Packing</h3>", _kv_table({k: _pct(p[k]) if k == "fill" else p[k] for k in keys if k in p})]
    out += [
        "<h3>Row fill</h3>",
        _histogram(hists["row_fill"], lambda x: f"{100 * x:.0f}%") if "row_fill" in hists else _none(NOT_RECORDED),
    ]
    mix = p.get("mix")
    if mix:
        target, achieved, rates = mix.get("target", {}), mix.get("achieved", {}), mix.get("rates", {})
        srcs = list(dict.fromkeys([*target, *achieved]))
        counts = [p.get("documents_before_mix", {}), mix.get("tokens_before_mix", {}), p.get("source_tokens", {})]
        out += [
            "<h3>Mix: achieved vs target</h3>",
            _columns_svg(
                srcs,
                {"target": [target.get(s, 0) for s in srcs], "achieved": [achieved.get(s, 0) for s in srcs]},
                PALETTE[:2],
                _pct,
            ),
            _table(
                [
                    "source",
                    "target",
                    "planned",
                    "achieved",
                    "bound by",
                    "rate",
                    "documents before mix",
                    "tokens before mix",
                    "packed tokens",
                ],
                [
                    [
                        s,
                        _pct(target.get(s, 0)),
                        _pct(mix.get("planned", {}).get(s, 0)),
                        _pct(achieved.get(s, 0)),
                        _e(mix.get("binding", {}).get(s, "")),
                        f"{rates.get(s, 0):.3f}",
                        *(_n(c.get(s, 0)) for c in counts),
                    ]
                    for s in srcs
                ],
            ),
            f"<p>Policy {_e(mix.get('policy', 'exact'))}, budget {_n(mix.get('budget', 0))} tokens. "
            f"Rate: how many times a source's tokens are used (below 1: sampled; above 1: repeated, "
            f"at most {_e(mix.get('max_repeat', '?'))}). Bound by: what decided the source's tokens.</p>",
        ]
    funnel = p.get("token_funnel")
    if funnel:
        keys = ["tokenized", "after_mix", "packed"]
        out += [
            "<h3>Token funnel</h3>",
            _columns_svg(
                list(funnel), {k.replace("_", " "): [funnel[s].get(k, 0) for s in funnel] for k in keys}, PALETTE[:3]
            ),
            _table(
                ["source", "tokenized", "after mix", "packed"],
                [[s, *(_n(v.get(k, 0)) for k in keys)] for s, v in funnel.items()],
            ),
        ]
    encoder = p.get("encoder")
    if encoder:
        why = f" ({_e(encoder['reason'])})" if encoder.get("reason") else ""
        out.append(f"<p>Encoded with {_e(encoder['engine'])}{why}: the trained tokenizer's exact ids either way.</p>")
    efficiency = p.get("token_efficiency")
    if efficiency:
        out += [
            "<h3>Text per token, by language</h3>",
            _table(
                ["language", "documents", "tokens", "characters per token", "UTF-8 bytes per token"],
                [
                    [
                        lang,
                        _n(e["documents"]),
                        _n(e["tokens"]),
                        f"{e['chars_per_token']:.2f}",
                        f"{e['bytes_per_token']:.2f}",
                    ]
                    for lang, e in efficiency.items()
                ],
            ),
        ]
    for key, title in (
        ("document_tokens", "Document length in tokens"),
        ("document_chars", "Document length in characters"),
    ):
        out += [f"<h3>{title}</h3>", _histogram(hists[key]) if key in hists else _none(NOT_RECORDED)]
    return "".join(out)


def _timings(stats: dict[str, Any]) -> str:
    timings = stats.get("timings") or {
        k: v for s in stats.values() if isinstance(s, dict) for k, v in s.get("timings", {}).items()
    }
    if not timings:
        return "<h2>Time per step</h2>" + _none(NOT_RECORDED)
    total = sum(timings.values()) or 1
    return (
        "<h2>Time per step</h2>"
        + _bars_svg(list(timings), list(timings.values()), fmt=lambda s: f"{s:,.1f} s")
        + _table(["step", "seconds", "share"], [[k, f"{v:,.2f}", _pct(v / total)] for k, v in timings.items()])
        + f"<p>Total: {total:,.1f} s.</p>"
    )


def render_report(stats: dict[str, Any], name: str | None = None) -> str:
    """The report page for ``stats`` (a stats.json); ``name`` (the run's directory) goes under the title."""
    body = [_header(stats, name)]
    for key, render in (("curate", _curate), ("pack", _pack)):
        body.append(
            f"<h2>{key.title()}</h2>"
            + (render(stats[key]) if stats.get(key) else _none(f"The {key} pass was not run."))
        )
    body.append(_timings(stats))
    title = "corpusmill run report" + (f" – {name}" if name else "")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(out_dir: str) -> str:
    """Render ``out_dir/stats.json`` into ``out_dir/report/report.html`` (atomically); return that path."""
    with open(os.path.join(out_dir, "stats.json"), encoding="utf-8") as f:
        stats = json.load(f)
    examples = os.path.join(out_dir, "quality", "examples.json")
    if stats.get("curate", {}).get("quality") and os.path.exists(examples):
        with open(examples, encoding="utf-8") as f:
            stats["curate"]["quality_examples"] = json.load(f)  # shown, not stored in stats.json
    path = os.path.join(out_dir, "report", "report.html")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(render_report(stats, os.path.basename(os.path.normpath(out_dir))))
    os.replace(path + ".tmp", path)
    return path
