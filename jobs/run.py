"""The whole run: curate → train tokenizer → tokenize, pack and shard (``corpusmill run``).

``--until PASS`` stops after that pass, bringing the passes before it up to date (each skipped when
its marker matches the settings), so a pass can be rerun or submitted on its own. A *pass* is one of
PASSES, over the whole corpus; a *stage* is a step inside curation (pipeline/stages.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Literal, get_args

from jobs.config import RunConfig, load_config
from jobs.curate import run_curate
from jobs.markers import write_json_atomic
from jobs.output_dir import check_output_dir, locked
from jobs.pack import run_pack
from jobs.progress import Progress
from jobs.ray_session import start_ray
from jobs.report import write_report
from jobs.stats_schema import SCHEMA_VERSION, check_stats
from jobs.train_tokenizer import run_train_tokenizer
from jobs.usage import UsageError, exit_on_usage_error

log = logging.getLogger("corpusmill")


Pass = Literal["curate", "tokenizer", "pack"]
PASSES: tuple[Pass, ...] = get_args(Pass)  # in the order they run
EXIT_QUARANTINED = 3  # the run finished and wrote its outputs, but quarantined more than the config allows


def run(
    cfg: RunConfig, out_dir: str, address: str | None = None, force: bool = False, until: Pass = "pack"
) -> dict[str, Any]:
    """Run the passes up to ``until`` (each skipped when its outputs exist with the same settings;
    ``force`` reruns them); write ``stats.json`` with those that ran."""
    check_output_dir(out_dir, cfg.sources, cfg.base_dir)
    with locked(out_dir):
        cpus = start_ray(cfg.ray, address)
        log.info("curate: reading %d source(s) with %d CPU(s)", len(cfg.sources), cpus)
        progress = Progress(cfg.progress_interval_s)
        try:
            stats: dict[str, Any] = {"curate": run_curate(cfg, out_dir, progress, force, cpus)}
            if PASSES.index(until) >= PASSES.index("tokenizer"):
                log.info("tokenizer: training")
                stats["tokenizer"] = run_train_tokenizer(cfg, out_dir, stats["curate"], progress, force)
            if PASSES.index(until) >= PASSES.index("pack"):
                log.info("pack: tokenizing and packing")
                stats["pack"] = run_pack(cfg, out_dir, stats["tokenizer"], cpus, progress, force)
        finally:
            progress.close()
        stats["timings"] = {k: v for s in stats.values() for k, v in s.get("timings", {}).items()}
        stats = {"schema_version": SCHEMA_VERSION, **stats}
        for problem in check_stats(stats):  # a bug in corpusmill, not in the data: the outputs stand
            log.error("stats.json does not follow its schema (jobs/stats_schema.py): %s", problem)
        write_json_atomic(os.path.join(out_dir, "stats.json"), stats)
        log.info("report: %s", write_report(out_dir))
    return stats


def quarantined_share(stats: dict[str, Any]) -> float:
    totals = stats["curate"]["totals"]
    return totals["quarantined"] / max(1, totals["in"])


def _language_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per source, kept/dropped by language and the language's main drop reason: one line per source."""
    out = []
    for src in dict.fromkeys(r["source"] for r in rows):
        mine = sorted(
            (r for r in rows if r["source"] == src and r["kept"] + r["dropped"]),
            key=lambda r: -(r["kept"] + r["dropped"]),
        )
        parts = [
            f"{r['language'] or '-'} {r['kept']}/{r['dropped']}"
            + (f" ({r['reasons'][0]['stage']}:{r['reasons'][0]['reason']})" if r["reasons"] and r["dropped"] else "")
            for r in mine
        ]
        if parts:
            out.append(f"  languages   {src:<11} kept/dropped: " + ", ".join(parts))
    return out


def _decontam_line(d: dict[str, Any]) -> str:
    tasks = ", ".join(
        f"{name} {t['items_found']}/{t['items']} items found"
        + (f" in {', '.join(f'{n} {src}' for src, n in t['documents'].items())} documents" if t["documents"] else "")
        for name, t in d["tasks"].items()
    )
    verb = "redacted" if d["mode"] == "redact" else "dropped"
    docs = ", ".join(f"{src} {n}" for src, n in d["documents"].items() if n) or "none"
    common = f"; {d['common_ngrams']} common n-grams ignored" if d.get("common_ngrams") else ""
    return f"decontam ({d['rule']}, {d['n']}-grams): {tasks}; documents {verb}: {docs}{common}"


def _quality_line(q: dict[str, Any]) -> str:
    tr = q.get("training") or {}
    model = (
        f"trained on {tr['examples_per_class']} examples per class, held out: ROC AUC {tr['holdout_roc_auc']}, "
        f"accuracy {tr['holdout_accuracy']}"
        if q["trained"]
        else f"model {q['model_sha256'][:12]}"
    )
    return (
        f"quality: {model}; {q['scored']} documents scored, {q['dropped']} dropped ({q['select']}); "
        f"model loaded {q['model_loads']}x by {q['worker_processes']} worker process(es)"
    )


def summary(stats: dict[str, Any]) -> str:
    c = stats["curate"]
    t = c["totals"]
    lines = [
        f"records: {t['in']} read -> {t['kept']} kept, {t['dropped']} dropped, "
        f"{t['quarantined']} quarantined ({'reconciled' if c['reconciled'] else 'NOT RECONCILED'})"
    ]
    if t.get("merged"):
        lines[0] += f"; {t['merged']} merged into {t['created']} built documents"
    for src, s in c["sources"].items():
        built = f"  merged {s['merged']} -> {s['created']} documents" if s.get("merged") else ""
        lines.append(
            f"  {src:<11} in {s['in']:>6}  kept {s['kept']:>6}  dropped {s['dropped']:>5}  "
            f"quarantined {s['quarantined']:>4}{built}"
        )
    if nd := c.get("near_dedup"):
        lines.append(
            f"near dedup: {nd['documents']} documents signed, {nd['checked']} candidate pairs checked, "
            f"{nd['confirmed']} confirmed, {nd['dropped']} dropped, {nd.get('chain_dropped', 0)} of them "
            f"through a chain ({nd['rounds']} component rounds)"
        )
    if im := c.get("image_dedup"):
        lines.append(
            f"image dedup: {im['images']} images, {im['distinct']} distinct ({im['exact_duplicates']} exact "
            f"copies stored once), {im['near_duplicates']} near copies "
            f"({im.get('edges_refused', 0)} hash matches refused by the pixel check); "
            f"{im['frequent_images']} frequent "
            f"images removed from {im['images_removed']} places; documents dropped: "
            f"{im['dropped_near_duplicate_image']} near duplicates, {im['dropped_frequent_image']} "
            "left without images"
        )
    if dc := c.get("decontam"):
        lines.append(_decontam_line(dc))
    if q := c.get("quality"):
        lines.append(_quality_line(q))
    for r in c["reasons"]:
        lines.append(f"  {r['status']:<11} {r['source']:<11} {r['stage']}:{r['reason']} x{r['docs']}")
    lines += _language_lines(c.get("languages", []))
    share = quarantined_share(stats)
    if t["quarantined"]:
        lines.append(
            f"quarantined: {t['quarantined']} of {t['in']} records ({share:.2%}); reasons above, "
            "the records with their errors under rejects/"
        )
    if "tokenizer" in stats:
        tok = stats["tokenizer"]
        lines.append(f"tokenizer: vocab {tok['vocab_size']}, sha256 {tok['sha256'][:12]}")
    if "pack" not in stats:
        return "\n".join(lines)
    p = stats["pack"]
    lines.append(
        f"shards: {p['shards']} files, {p['rows']} rows, {p['tokens']} tokens, fill {p['fill']:.1%} -> {p['shard_dir']}"
    )
    lines.append("tokens by source: " + ", ".join(f"{k} {v}" for k, v in p["source_tokens"].items()))
    mix = p["mix"]
    lines.append(
        f"mix ({mix.get('policy', 'exact')}) achieved: "
        + ", ".join(f"{k} {v:.1%}" for k, v in mix["achieved"].items())
        + " (target "
        + ", ".join(f"{k} {v:.0%}" for k, v in mix["target"].items())
        + ")"
    )
    for source, gap in mix.get("off_target_pts", {}).items():
        lines.append(f"  warning: {source} {gap:+.1f} points from target ({mix['binding'].get(source, 'no weight')})")
    return "\n".join(lines)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="run config YAML (default: the bundled sample)")
    parser.add_argument("--config", dest="config_opt", help=argparse.SUPPRESS)
    parser.add_argument("--output", help="output directory (overrides the config's output_dir)")
    parser.add_argument("--address", help="Ray cluster address to attach to (default: local Ray, or RAY_ADDRESS)")
    parser.add_argument("--num-cpus", type=int, help="CPUs for a local Ray (overrides ray.num_cpus)")
    parser.add_argument("--force", action="store_true", help="rerun every pass even if its outputs exist")
    parser.add_argument(
        "--until",
        choices=PASSES,
        default=PASSES[-1],
        help="stop after this pass (the passes before it run when not done yet)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run as the command line asked; a mistake in the config or paths is one line and exit code 2."""
    return exit_on_usage_error(lambda: _run_from_args(args))


def _check_bundled_sample(cfg: RunConfig) -> None:
    """The bundled config reads data/sample/, which a checkout has and an installed wheel does not."""
    sample = os.path.normpath(os.path.join(cfg.base_dir, "..", "..", "data", "sample"))
    if not os.path.isdir(sample):
        raise UsageError(
            f"the bundled sample ({sample}) comes with a checkout of corpusmill, not with the installed package: "
            "pass a config of your own, `corpusmill run my.yaml` (README: Your own data)"
        )


def _run_from_args(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s corpusmill %(message)s", stream=sys.stderr)
    cfg = load_config(args.config_opt or args.config)
    if not (args.config_opt or args.config):
        _check_bundled_sample(cfg)
    if args.num_cpus:
        cfg.ray.num_cpus = args.num_cpus
    out_dir = os.path.abspath(args.output or cfg.output_dir)
    stats = run(cfg, out_dir, args.address, args.force, args.until)
    print(summary(stats))
    print(f"report: {os.path.join(out_dir, 'report', 'report.html')}")
    if quarantined_share(stats) > cfg.max_quarantined_share:
        print(
            f"FAILED: {stats['curate']['totals']['quarantined']} records quarantined, "
            f"{quarantined_share(stats):.2%} of those read, over max_quarantined_share "
            f"{cfg.max_quarantined_share:.2%} (exit code {EXIT_QUARANTINED})"
        )
        return EXIT_QUARANTINED
    return 0
