"""The ``corpusmill`` command: ``run`` a config (the bundled sample by default), ``submit`` it to a
cluster, check or ``config --print`` a config, ``inspect`` and ``verify`` shards, rebuild a run's
``report``, print the near-dedup S-curve."""

from __future__ import annotations

import argparse
import sys

from jobs.run import PASSES, add_run_arguments, run_from_args
from jobs.usage import exit_on_usage_error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corpusmill", description="LLM pretraining data pipeline on Ray.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_arguments(sub.add_parser("run", help="run every pass of a config on local Ray or a cluster"))
    inspect = sub.add_parser("inspect", help="summarize a shard directory and decode one row")
    inspect.add_argument("dir", help="a run's output directory or its shards/ directory")
    inspect.add_argument("--shard", type=int, default=0, help="index of the shard in the manifest")
    inspect.add_argument("--row", type=int, default=0)
    inspect.add_argument(
        "--mask", type=int, metavar="N", help="write a PNG of row N's attention mask (N counts rows over all shards)"
    )
    inspect.add_argument("--png", help="where --mask writes (default: mask-row-N.png)")
    inspect.add_argument(
        "--quality", type=int, nargs="?", const=5, metavar="N", help="the N highest- and lowest-scored documents"
    )
    submit = sub.add_parser("submit", help="submit a run (or one pass) to a Ray cluster with `ray job submit`")
    submit.add_argument("config", help="run config YAML, relative to the working directory")
    submit.add_argument("--address", required=True, help="the cluster's dashboard, e.g. http://HEAD:8265")
    submit.add_argument(
        "--until",
        default=PASSES[-1],
        choices=PASSES,
        help="stop after this pass (default: the whole run; the passes before it run when not done)",
    )
    submit.add_argument("--working-dir", default=".", help="uploaded with the job (default: here)")
    submit.add_argument("--runtime-env", help="runtime_env YAML (default: jobs/runtime_env.yaml)")
    submit.add_argument("--no-wait", action="store_true", help="return once submitted; follow with `ray job logs`")
    submit.add_argument("--submission-id", help="a name for the job (default: Ray's)")
    submit.add_argument("--output", help="the job's output directory, as the cluster sees it (default: the config's)")
    submit.add_argument("--force", action="store_true", help="rerun every pass even if its outputs exist")
    config = sub.add_parser("config", help="check a config; --print shows it with every default filled in")
    config.add_argument("config", nargs="?", help="run config YAML (default: the bundled sample)")
    config.add_argument(
        "--print",
        dest="print_config",
        action="store_true",
        help="print the resolved config as YAML: every setting that will run",
    )
    report = sub.add_parser("report", help="rebuild report/report.html from a run's stats.json")
    report.add_argument("dir", help="a run's output directory")
    verify = sub.add_parser("verify", help="check every shard's checksum, size, schema and row count")
    verify.add_argument("dir", help="a run's output directory or its shards/ directory")
    curve = sub.add_parser("near-dedup-curve", help="print the chance near-dedup catches a pair at each Jaccard")
    curve.add_argument("config", nargs="?", help="run config YAML (default: the bundled sample)")
    curve.add_argument("--bands", type=int, help="override curate.near_dedup.minhash.bands")
    curve.add_argument("--rows", type=int, help="override curate.near_dedup.minhash.rows")
    args = parser.parse_args(argv)
    return exit_on_usage_error(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run_from_args(args)
    if args.command == "submit":
        from jobs.submit import submit as submit_job

        return submit_job(
            args.config,
            args.address,
            until=args.until,
            working_dir=args.working_dir,
            runtime_env=args.runtime_env,
            wait=not args.no_wait,
            submission_id=args.submission_id,
            extra=(["--output", args.output] if args.output else []) + ["--force"] * args.force,
        )
    if args.command == "near-dedup-curve":
        return _curve(args)
    if args.command == "config":
        return _config(args)
    if args.command == "verify":
        return _verify(args.dir)
    if args.command == "report":
        from jobs.report import write_report

        print(write_report(args.dir))
        return 0
    from jobs.inspect_shards import describe, write_mask_png

    if args.quality is not None:
        from jobs.inspect_quality import describe_quality

        print(describe_quality(args.dir, args.quality))
        return 0
    if args.mask is not None:
        print(write_mask_png(args.dir, args.mask, args.png or f"mask-row-{args.mask}.png"))
        return 0
    print(describe(args.dir, args.shard, args.row))
    return 0


def _curve(args: argparse.Namespace) -> int:
    from jobs.config import load_config
    from jobs.near_dedup import print_s_curve
    from pipeline.dedup.minhash import MinHashConfig
    from pipeline.dedup.near import NearDedupConfig

    cfg = load_config(args.config).curate.near_dedup or NearDedupConfig(enabled=False)
    bands, rows = args.bands or cfg.minhash.bands, args.rows or cfg.minhash.rows
    if (bands, rows) != (cfg.minhash.bands, cfg.minhash.rows):
        cfg = cfg.model_copy(update={"minhash": MinHashConfig(bands=bands, rows=rows)})
    print_s_curve(cfg)
    return 0


def _config(args: argparse.Namespace) -> int:
    import yaml

    from jobs.config import load_config

    cfg = load_config(args.config)  # a mistake ends here with the key's path and the nearest valid key
    if args.print_config:
        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")
    else:
        print(f"{args.config or 'the bundled sample config'}: valid")
    return 0


def _verify(path: str) -> int:
    from jobs.inspect_shards import shard_dir_of
    from tokenization.shards.shards import read_manifest, verify_shards

    shard_dir = shard_dir_of(path)
    problems = verify_shards(shard_dir)
    for problem in problems:
        print(f"BAD {problem}")
    shards = len(read_manifest(shard_dir)["shards"])
    print(f"{shard_dir}: {shards} shards, " + (f"{len(problems)} problem(s)" if problems else "all OK"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
