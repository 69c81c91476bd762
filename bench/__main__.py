"""`python -m bench ingest [--ct-slices N] [--dr-images N] [--skip-orthanc]` (also `make bench`),
`python -m bench worklist [--orders N] [--stations N] [--repeat N]`,
`python -m bench send [--ct-slices N]`,
`python -m bench dicomweb [--ct-slices N] [--studies N] [--repeat N] [--skip-orthanc]`,
`python -m bench viewer [--ct-slices N]`,
`python -m bench share-zip [--ct-slices N] [--size PX]`,
`python -m bench query [--studies N] [--repeat N] [--skip-orthanc]`,
`python -m bench retrieve [--ct-slices N] [--rounds N]`.

Runs on the embedded defaults, or on PostgreSQL and Celery when DATABASE_URL / REDIS_URL are
set: the run creates and drops a database of its own on that PostgreSQL server, but uses the
Redis database as given and empties its queue, so give it one no running portal uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmarks of the portal."
    )
    commands = parser.add_subparsers(dest="benchmark", required=True)
    ingest = commands.add_parser(
        "ingest",
        help="storescu sends a CT and a DR set to the portal, Orthanc and storescp; prints the figures",
    )
    ingest.add_argument(
        "--ct-slices",
        type=_count,
        default=500,
        help="slices of the 512×512 CT (default 500; 0 skips)",
    )
    ingest.add_argument(
        "--dr-images", type=_count, default=4, help="3000×2500 DR views (default 4; 0 skips)"
    )
    ingest.add_argument("--skip-orthanc", action="store_true", help="do not compare with Orthanc")
    ingest.add_argument(
        "--skip-storescp", action="store_true", help="do not measure DCMTK storescp"
    )
    ingest.add_argument(
        "--data-dir",
        type=Path,
        default=BASE_DIR / "bench-data",
        help="cache of generated data sets (default ./bench-data)",
    )
    ingest.add_argument(
        "--keep", action="store_true", help="keep the run's temporary folder (logs, stored files)"
    )
    worklist = commands.add_parser(
        "worklist",
        help="Modality Worklist C-FIND times with thousands of booked orders; prints the figures",
    )
    worklist.add_argument("--orders", type=_count, default=5000, help="orders (default 5000)")
    worklist.add_argument("--stations", type=_count, default=10, help="stations (default 10)")
    worklist.add_argument("--repeat", type=_count, default=50, help="queries each (default 50)")
    send = commands.add_parser(
        "send",
        help="the portal's send next to storescu, to Orthanc and storescp; prints the figures",
    )
    send.add_argument("--ct-slices", type=_count, default=500, help="slices (default 500)")
    send.add_argument("--data-dir", type=Path, default=BASE_DIR / "bench-data")
    send.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    dicomweb = commands.add_parser(
        "dicomweb", help="WADO-RS frames, rendered and QIDO next to Orthanc's DICOMweb plugin"
    )
    dicomweb.add_argument("--ct-slices", type=_count, default=500, help="slices (default 500)")
    dicomweb.add_argument("--studies", type=_count, default=10000, help="for QIDO (default 10000)")
    dicomweb.add_argument("--repeat", type=_count, default=20, help="requests each (default 20)")
    dicomweb.add_argument("--concurrency", type=_count, default=4, help="frame fetch threads")
    dicomweb.add_argument("--skip-orthanc", action="store_true", help="measure the portal only")
    dicomweb.add_argument("--data-dir", type=Path, default=BASE_DIR / "bench-data")
    dicomweb.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    viewer = commands.add_parser(
        "viewer", help="the viewer in headless Chromium: first image, stack load, scrolling"
    )
    viewer.add_argument("--ct-slices", type=_count, default=500, help="slices (default 500)")
    viewer.add_argument("--data-dir", type=Path, default=BASE_DIR / "bench-data")
    viewer.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    share_zip = commands.add_parser(
        "share-zip", help="peak memory while a share's ZIP of a 1 GiB study is produced"
    )
    share_zip.add_argument("--ct-slices", type=_count, default=500, help="slices (default 500)")
    share_zip.add_argument("--size", type=_count, default=1024, help="rows = columns (1024)")
    share_zip.add_argument("--data-dir", type=Path, default=BASE_DIR / "bench-data")
    share_zip.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    query = commands.add_parser(
        "query", help="C-FIND study searches (findscu) with 10,000 studies, next to Orthanc"
    )
    query.add_argument("--studies", type=_count, default=10000, help="studies (default 10000)")
    query.add_argument("--repeat", type=_count, default=10, help="searches each (default 10)")
    query.add_argument("--skip-orthanc", action="store_true", help="measure the portal only")
    query.add_argument("--data-dir", type=Path, default=BASE_DIR / "bench-data")
    query.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    retrieve = commands.add_parser(
        "retrieve", help="C-MOVE of a CT (movescu to storescp) from the portal and from Orthanc"
    )
    retrieve.add_argument("--ct-slices", type=_count, default=500, help="slices (default 500)")
    retrieve.add_argument("--rounds", type=_count, default=2, help="moves each (best; default 2)")
    retrieve.add_argument("--data-dir", type=Path, default=BASE_DIR / "bench-data")
    retrieve.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    args = parser.parse_args(argv)
    if args.benchmark == "retrieve":
        from bench import retrieve as retrieve_benchmark

        return retrieve_benchmark.run(
            slices=max(args.ct_slices, 1), rounds=max(args.rounds, 1), data_dir=args.data_dir,
            keep=args.keep,
        )  # fmt: skip
    if args.benchmark == "query":
        from bench import query as query_benchmark

        return query_benchmark.run(
            studies=max(args.studies, 1), repeat=max(args.repeat, 1),
            skip_orthanc=args.skip_orthanc, data_dir=args.data_dir, keep=args.keep,
        )  # fmt: skip
    if args.benchmark == "share-zip":
        from bench import share_zip as share_zip_benchmark

        return share_zip_benchmark.run(
            ct_slices=max(args.ct_slices, 1), size=max(args.size, 16), data_dir=args.data_dir,
            keep=args.keep,
        )  # fmt: skip
    if args.benchmark == "viewer":
        from bench import viewer as viewer_benchmark

        return viewer_benchmark.run(
            ct_slices=max(args.ct_slices, 1), data_dir=args.data_dir, keep=args.keep
        )
    if args.benchmark == "dicomweb":
        from bench import dicomweb as dicomweb_benchmark

        return dicomweb_benchmark.run(
            ct_slices=max(args.ct_slices, 1), studies=max(args.studies, 1),
            repeat=max(args.repeat, 1), concurrency=max(args.concurrency, 1),
            skip_orthanc=args.skip_orthanc, data_dir=args.data_dir, keep=args.keep,
        )  # fmt: skip
    if args.benchmark == "send":
        from bench import send as send_benchmark

        return send_benchmark.run(
            slices=max(args.ct_slices, 1), data_dir=args.data_dir, keep=args.keep
        )
    if args.benchmark == "worklist":
        from bench import worklist as worklist_benchmark

        return worklist_benchmark.run(
            orders=args.orders, stations=max(args.stations, 1), repeat=max(args.repeat, 1)
        )
    return run_ingest(args)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def run_ingest(args: argparse.Namespace) -> int:
    from bench import data, peers

    missing = [tool for tool in ("storescu", "echoscu", "storescp") if not shutil.which(tool)]
    if missing:
        print(
            f"DCMTK is needed ({', '.join(missing)} not found): apt-get install dcmtk",
            file=sys.stderr,
        )
        return 2
    datasets = []
    if args.ct_slices:
        datasets.append(data.ct_series(args.data_dir, slices=args.ct_slices))
    if args.dr_images:
        datasets.append(data.dr_views(args.data_dir, images=args.dr_images))
    if not datasets:
        print("Nothing to send (--ct-slices 0 and --dr-images 0).", file=sys.stderr)
        return 2
    compare_orthanc = not args.skip_orthanc and peers.orthanc_available()
    work = Path(tempfile.mkdtemp(prefix="vetportal-bench-"))
    (work / "logs").mkdir()
    failed = False
    try:
        results, context = _measure(args, datasets, work, compare_orthanc=compare_orthanc)
        from bench.report import render

        print()
        print(render(results, datasets, context=context))
        failed = any(f.error for per in results.values() for f in per.values())
        return 0
    except KeyboardInterrupt:
        print(
            "\nInterrupted; every process the benchmark started has been stopped.", file=sys.stderr
        )
        return 130
    except Exception as exc:
        failed = True
        print(f"\nThe benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        _clean_up(work, keep=args.keep, keep_logs=failed)


def _measure(args, datasets, work: Path, *, compare_orthanc: bool):
    from bench import ingest, peers
    from bench.database import scratch_database
    from bench.processes import Processes

    redis_url = os.environ.get("REDIS_URL") or None
    with scratch_database(os.environ.get("DATABASE_URL") or None) as database_url:
        env = ingest.environment(
            data_dir=work / "portal-data", database_url=database_url, redis_url=redis_url
        )
        # This process reads the portal's database through the ORM: same settings as its processes.
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        try:
            with Processes(work / "logs", env, BASE_DIR) as procs:
                results = {}
                if not args.skip_storescp:
                    print("Sending to DCMTK storescp …", flush=True)
                    results["storescp"] = ingest.run_storescp(procs, datasets, work)
                if compare_orthanc:
                    print("Sending to Orthanc …", flush=True)
                    results["orthanc"] = ingest.run_orthanc(procs, datasets, work)
                print("Sending to the portal …", flush=True)
                results["portal"] = ingest.run_portal(procs, datasets, redis_url=redis_url)
        finally:
            from django.db import connections

            connections.close_all()
    context = [
        f"Ingest benchmark on {os.cpu_count()} cores: DCMTK storescu -R, one association per data set, TCP_NODELAY=1.",
        "Portal: "
        + (
            "PostgreSQL (scratch database on DATABASE_URL's server)"
            if database_url
            else "SQLite (the embedded default) in a temporary folder"
        )
        + "; thumbnails "
        + (
            "by a Celery worker on REDIS_URL."
            if redis_url
            else "rendered inside the listener process (embedded mode)."
        ),
    ]
    if compare_orthanc:
        context.append(
            f"{peers.orthanc_version()}: SQLite index, SyncStorageArea on (fsync), its default 16 KiB PDU."
        )
    elif not args.skip_orthanc:
        context.append("Orthanc is not installed (Debian package `orthanc`): no comparison.")
    return results, context


def _clean_up(work: Path, *, keep: bool, keep_logs: bool) -> None:
    if keep:
        print(f"Kept: {work}", file=sys.stderr)
        return
    if keep_logs:
        for child in work.iterdir():
            if child.name != "logs":
                shutil.rmtree(child, ignore_errors=True)
        print(f"Logs kept in {work / 'logs'}", file=sys.stderr)
        return
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
