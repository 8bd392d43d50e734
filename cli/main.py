"""`fazhi`: index, search, find-similar, serve and show the effective configuration."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from core.errors import IndexBusyError, IndexUnavailableError, NotFoundError
from core.settings import OPTIONS, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fazhi", description="法治检索: search Chinese rule-of-law reports")
    parser.add_argument("--config", default=None, help="a TOML file of settings (also FAZHI_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the libraries' debug logs too")
    for option in OPTIONS:  # one table for flags, variables, the config file and `fazhi config`
        if option.flag:
            parser.add_argument(option.flag, dest=option.name, default=None, choices=option.choices or None,
                                help=f"{option.help} ({option.env})")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="add or update documents from files and folders")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument("--rebuild", action="store_true", help="clean and split unchanged documents again too (after "
                   "an upgrade); only passages whose text changed are embedded")

    p = sub.add_parser("delete", help="remove documents from the index by id")
    p.add_argument("doc_ids", nargs="+")

    p = sub.add_parser("list", help="list the indexed documents")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("search", help="hybrid search")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--per-doc", type=int, default=None, help="at most N passages per document")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("similar", help="passages similar to a passage id or a text")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--passage", help="passage id")
    src.add_argument("--text", help="a paragraph of text")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--per-doc", type=int, default=1)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", help="serve the web page and JSON API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--threads", type=int, default=None, help="threads per worker process (default: one per core)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes sharing the port (default: one per core, at most 2; each loads its own model and index)")

    p = sub.add_parser("config", help="print the effective settings and where each came from")
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def configure_logging(verbose: bool) -> None:
    """Our own notices (first-run builds) on stderr; the libraries' debug chatter only with -v.

    Libraries set their own loggers' levels when imported (bm25s logs each build at DEBUG), so the
    filter sits on the handler: below WARNING only the "fazhi" logger passes, unless -v.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(lambda r: r.levelno >= logging.WARNING or r.name.split(".")[0] == "fazhi")
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("fazhi").setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = Settings.load({o.name: getattr(args, o.name, None) for o in OPTIONS}, config_file=args.config)
        return COMMANDS[args.command](args, settings)
    except KeyboardInterrupt:
        return 130
    except KeyError as exc:
        print(f"fazhi: error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (IndexUnavailableError, IndexBusyError, NotFoundError, ValueError, OSError) as exc:
        print(f"fazhi: error: {exc}", file=sys.stderr)
        return 2


def _index(args, settings: Settings) -> int:
    from indexer.pipeline import index_paths

    interactive = not args.quiet and sys.stderr.isatty()
    say = (lambda m: print(m, file=sys.stderr)) if interactive else (lambda _m: None)
    summary = index_paths(args.paths, settings, settings=settings, progress=say, prune=args.prune,
                          show_progress=interactive, rebuild=args.rebuild)
    print("\n".join(summary.lines()))
    return 0 if summary.documents else 1


def _delete(args, settings: Settings) -> int:
    from indexer.pipeline import delete_documents

    removed = delete_documents(settings, args.doc_ids)
    print("\n".join(f"removed: {source}" for source in removed))
    return 0


def _list(args, settings: Settings) -> int:
    from indexer.pipeline import list_documents

    docs = list_documents(settings)
    if args.json:
        print(json.dumps([{k: v for k, v in asdict(d).items() if k != "text"} for d in docs], ensure_ascii=False, indent=1))
        return 0
    for d in docs:
        print(f"{d.doc_id}  {d.year or '----'}  {d.n_passages:>4} passages  {d.display_title}  ({d.name})")
    print(f"{len(docs)} documents")
    return 0


def _engine(settings: Settings):
    from search.engine import SearchEngine

    return SearchEngine(settings, settings=settings)


def _print_result(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
        return
    for rank, hit in enumerate(result.hits, 1):
        path = " › ".join(hit.heading_path)
        print(f"{rank:>2}. [{hit.score:.4f}] {hit.title}  ({hit.source})  {hit.passage_id}")
        if path:
            print(f"    {path}")
        print(f"    {hit.text[:160]}{'…' if len(hit.text) > 160 else ''}")


def _search(args, settings: Settings) -> int:
    _print_result(_engine(settings).search(args.query, k=args.k, per_doc=args.per_doc), args.json)
    return 0


def _similar(args, settings: Settings) -> int:
    result = _engine(settings).similar(passage_id=args.passage, text=args.text, k=args.k, per_doc=args.per_doc or None)
    _print_result(result, args.json)
    return 0


REMOTE_URI = ("http://", "https://", "tcp://", "unix:")  # a Milvus server, not a Lite file


def _serve(args, settings: Settings) -> int:
    from search.engine import WARM_QUERY
    from web import create_app
    from web.server import WORKERS, serve_workers

    def ready_app():
        try:
            engine = _engine(settings)
        except (IndexUnavailableError, IndexBusyError, ValueError, OSError) as exc:  # one line, as main() says it
            print(f"fazhi: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        app = create_app(settings, engine=engine)
        app.extensions["fazhi_engine"].warm()  # load the encoder and the index before answering /api/ready
        with app.test_client() as client:  # and compile the page's templates, so no first visitor waits for them
            client.get("/", query_string={"q": WARM_QUERY})
        return app

    workers = args.workers or WORKERS
    if settings.backend == "embedded":  # no index: say so once, here, rather than once from each worker
        from core.storage import open_storage

        open_storage(settings).manifest()
    if workers > 1 and settings.backend == "milvus" and not settings.milvus_uri.startswith(REMOTE_URI):
        # a Milvus Lite file is opened by one process at a time: its workers would fail to start
        if args.workers:
            print("fazhi: a Milvus Lite file serves one worker process; using 1", file=sys.stderr)
        workers = 1

    def announce(port: int) -> None:
        print(f"fazhi: serving {settings.index if settings.backend == 'embedded' else settings.milvus_uri} "
              f"on http://{args.host}:{port}/ ({workers} worker process{'es' if workers > 1 else ''})", file=sys.stderr)

    # waitress with header/body deadlines and limits, in one or more processes
    return serve_workers(ready_app, args.host, args.port, workers=workers, on_ready=announce, threads=args.threads)


def _config(args, settings: Settings) -> int:
    rows = settings.describe()
    if args.json:
        print(json.dumps({name: {"value": value, "source": source} for name, value, source in rows},
                         ensure_ascii=False, indent=1))
        return 0
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value or '(empty)'}  [{source}]")
    return 0


COMMANDS = {
    "index": _index, "delete": _delete, "list": _list, "search": _search, "similar": _similar, "serve": _serve,
    "config": _config,
}

if __name__ == "__main__":
    sys.exit(main())
