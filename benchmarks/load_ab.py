"""Server CPU per request, two builds side by side: two `fazhi serve` processes over one index answer the
same requests alternately (one client), so load on the machine falls on both alike.

    python benchmarks/load_ab.py OTHER_CHECKOUT [--requests 120] [--kind search|similar|page|health|mix]
        [--index DIR]

OTHER_CHECKOUT is another working tree of this repository (e.g. `git worktree add /tmp/base <commit>`).
CPU is read from /proc for each server around each of its requests. Never asserts. Last line:
`load_ab kind=… cpu_ms_other=… cpu_ms_this=… p50_ms_other=… p50_ms_this=…`
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402

KINDS = ["search"] * 6 + ["similar"] * 3 + ["page"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path)
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--kind", default="mix", choices=["mix", "search", "similar", "page", "health"])
    parser.add_argument("--index", type=Path, default=None, help="an existing index (default: index data/ now)")
    args = parser.parse_args()
    roots = {"other": args.other.resolve(), "this": load.ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "index"
        if args.index is None:
            subprocess.run([sys.executable, "-m", "cli.main", "--index", str(index), "index", "--quiet",
                            str(load.ROOT / "data")], check=True, cwd=load.ROOT, stdout=subprocess.DEVNULL)
        servers, bases = {}, {}
        for name, root in roots.items():
            port = load.free_port()
            servers[name] = subprocess.Popen([sys.executable, "-m", "cli.main", "--index", str(index), "serve",
                                              "--port", str(port)], cwd=root, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
            bases[name] = f"http://127.0.0.1:{port}"
        try:
            for base in bases.values():
                load.wait_until_ready(base)
            queries = load.query_pool(load.ROOT.parent / "shared")
            passage_ids = load.index_passage_ids(index)
            cpu = {name: 0.0 for name in roots}
            seconds: dict[str, list[float]] = {name: [] for name in roots}
            for i in range(args.requests):
                kind = KINDS[i % len(KINDS)] if args.kind == "mix" else args.kind
                order = list(roots) if i % 2 == 0 else list(roots)[::-1]
                for name in order:
                    before = load.cpu_seconds(servers[name].pid)
                    if kind == "health":
                        started = time.perf_counter()
                        urllib.request.urlopen(bases[name] + "/api/health").read()
                        took = time.perf_counter() - started
                    else:
                        took, _ = load.request(bases[name], kind, passage_ids, queries, random.Random(i))
                    time.sleep(0.002)  # let the server finish its bookkeeping before its CPU is read
                    cpu[name] += load.cpu_seconds(servers[name].pid) - before
                    seconds[name].append(took)
        finally:
            for server in servers.values():
                server.terminate()
                server.wait(timeout=30)
    print(f"{args.requests} {args.kind} requests to each server, alternately; other = {roots['other']}")
    print("| build | server CPU ms / request | p50 ms |")
    print("|---|---|---|")
    for name in roots:
        print(f"| {name} | {1000 * cpu[name] / args.requests:.1f} | {1000 * statistics.median(seconds[name]):.1f} |")
    print(f"load_ab kind={args.kind} " + " ".join(
        f"cpu_ms_{n}={1000 * cpu[n] / args.requests:.1f} p50_ms_{n}={1000 * statistics.median(seconds[n]):.1f}"
        for n in roots))


if __name__ == "__main__":
    main()
