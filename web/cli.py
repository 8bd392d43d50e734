"""`fazhi`: index, search, find-similar and serve from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from indexer.backend import BACKENDS
from indexer.model import RUNTIME_ENV, RUNTIMES

from . import default_index_dir


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fazhi", description="法治检索: search Chinese rule-of-law reports")
    parser.add_argument("--index", default=default_index_dir(), help="index directory (default ./index or FAZHI_INDEX)")
    parser.add_argument("--model", default=None, help="embedding model: hub id or local folder (default FAZHI_MODEL or intfloat/multilingual-e5-small)")
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="encoder runtime: onnx-int8 (default; int8 ONNX build of the model) or torch (fp32); "
                             "also FAZHI_RUNTIME")
    parser.add_argument("--backend", choices=BACKENDS, default=os.environ.get("FAZHI_BACKEND") or "embedded",
                        help="embedded (default: FAISS + bm25s + SQLite in --index) or milvus; also FAZHI_BACKEND")
    parser.add_argument("--milvus-uri", default=os.environ.get("FAZHI_MILVUS_URI", ""),
                        help="Milvus Lite .db path or server URI such as http://host:19530 (FAZHI_MILVUS_URI)")
    parser.add_argument("--milvus-token", default=os.environ.get("FAZHI_MILVUS_TOKEN", ""),
                        help="Milvus token, user:password or an API key (FAZHI_MILVUS_TOKEN)")
    parser.add_argument("--milvus-collection", default=os.environ.get("FAZHI_MILVUS_COLLECTION", ""),
                        help="name of the index's collections in Milvus (default fazhi)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="add or update documents from files and folders")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")

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
    p.add_argument("--threads", type=int, default=8)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.runtime:
        os.environ[RUNTIME_ENV] = args.runtime  # every encoder this process makes, the web app's included
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure ends as one clear line
        from indexer.model import ModelError
        from indexer.pipeline import ModelMismatchError
        from indexer.store import IndexNotFoundError
        from search.engine import NotFoundError

        if isinstance(exc, (ModelError, ModelMismatchError, IndexNotFoundError, NotFoundError, ValueError, RuntimeError)):
            print(f"fazhi: error: {exc}", file=sys.stderr)
            return 2
        raise


def _storage(args):
    """The index the options name: the --index folder, or collections in Milvus."""
    from indexer.backend import open_storage

    return open_storage(args.index, args.backend, args.milvus_uri, args.milvus_token, args.milvus_collection)


def _index(args) -> int:
    from indexer.pipeline import index_paths

    interactive = not args.quiet and sys.stderr.isatty()
    say = (lambda m: print(m, file=sys.stderr)) if interactive else (lambda _m: None)
    summary = index_paths(
        args.paths, _storage(args), model_name=args.model, progress=say, prune=args.prune,
        show_progress=interactive,
    )
    print("\n".join(summary.lines()))
    return 0 if summary.documents else 1


def _delete(args) -> int:
    from indexer.pipeline import delete_documents

    try:
        removed = delete_documents(_storage(args), args.doc_ids)
    except KeyError as exc:
        print(f"fazhi: error: {exc.args[0]}", file=sys.stderr)
        return 2
    print("\n".join(f"removed: {source}" for source in removed))
    return 0


def _list(args) -> int:
    from dataclasses import asdict

    from indexer.pipeline import list_documents

    docs = list_documents(_storage(args))
    if args.json:
        print(json.dumps([{k: v for k, v in asdict(d).items() if k != "text"} for d in docs], ensure_ascii=False, indent=1))
        return 0
    for d in docs:
        print(f"{d.doc_id}  {d.year or '----'}  {d.n_passages:>4} passages  {d.display_title}  ({d.name})")
    print(f"{len(docs)} documents")
    return 0


def _engine(args):
    from search.engine import SearchEngine

    return SearchEngine(_storage(args), model_name=args.model)


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


def _search(args) -> int:
    _print_result(_engine(args).search(args.query, k=args.k, per_doc=args.per_doc), args.json)
    return 0


def _similar(args) -> int:
    result = _engine(args).similar(passage_id=args.passage, text=args.text, k=args.k, per_doc=args.per_doc or None)
    _print_result(result, args.json)
    return 0


def _serve(args) -> int:
    from . import create_app
    from .server import serve

    app = create_app({"INDEX_DIR": args.index, "STORAGE": _storage(args), "MODEL": args.model})
    with app.app_context():
        from . import get_engine

        engine = get_engine()  # load index and model before the first request
        engine.encoder  # noqa: B018 - warm the model
        engine.search("法治政府建设", k=1)  # the first search loads jieba's dictionary (~1.5 s): before any client
    print(f"fazhi: serving {args.index} on http://{args.host}:{args.port}/", file=sys.stderr)
    serve(app, args.host, args.port, threads=args.threads)  # waitress with header/body deadlines and limits
    return 0


COMMANDS = {
    "index": _index, "delete": _delete, "list": _list, "search": _search, "similar": _similar, "serve": _serve,
}

if __name__ == "__main__":
    sys.exit(main())
