"""Load on the real server: `fazhi serve` (waitress) on 127.0.0.1, N concurrent clients, a fixed request count.

Two phases in one run: cold, the first burst of N clients the moment the server says it is ready (a fresh
process; no request has warmed it), then warm, the same clients once that burst is over. Prints requests/s,
latency p50/p99 and errors of each side by side, and the server's memory across the run. Never asserts.

    python benchmarks/load.py [--clients 16] [--cold-requests 64] [--requests 800] [--index DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["法律顾问", "公平竞争审查", "行政执法全过程记录", "12345热线", "法律顧問", "合法性审查", "普法宣传",
           "重大行政决策", "行政复议", "规范性文件备案审查", "双随机一公开", "政务公开"]


def query_pool(shared: Path) -> list[str]:
    """The queries clients draw from: the topic list plus STARD's 1,215 real questions when ../shared is there.

    Mostly distinct queries, so the server's query-embedding cache does not flatter the figures.
    """
    pool = list(QUERIES)
    train = shared / "eval" / "stard-train.jsonl"
    if train.exists():
        pool += [json.loads(line)["query"] for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """A process and its children (fazhi serve's worker processes), from /proc."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid] + [int(c) for c in children]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its worker processes, from /proc (shared pages counted in each)."""
    total = 0.0
    for p in process_tree(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:")) / 1024
    return total


def request(base: str, kind: str, passage_ids: list[str], queries: list[str], rng: random.Random) -> tuple[float, int]:
    """One request of the given kind; (seconds, HTTP status or 0 for a connection error)."""
    if kind == "search":
        url = f"{base}/api/search?" + urllib.parse.urlencode({"q": rng.choice(queries), "k": 10, "per_doc": 1})
        req = urllib.request.Request(url)
    elif kind == "page":
        req = urllib.request.Request(f"{base}/?" + urllib.parse.urlencode({"q": rng.choice(queries)}))
    else:
        body = json.dumps({"passage_id": rng.choice(passage_ids), "k": 10}).encode()
        req = urllib.request.Request(f"{base}/api/similar", data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return time.perf_counter() - started, status


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its worker processes have used so far, from /proc
    (load-independent: what a request costs)."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def index_passage_ids(index: Path) -> list[str]:
    """Passage ids for find-similar requests, read from the index folder, so no request warms the server."""
    sys.path.insert(0, str(ROOT))
    from core.storage.embedded.store import current_version_dir, load_passages

    return [p.passage_id for p in load_passages(current_version_dir(index))]


def wait_until_ready(base: str) -> dict:
    """Poll /api/ready (where the server has it) and /api/health until both answer ok; the health answer."""
    ready_path: str | None = "/api/ready"
    for _ in range(600):
        try:
            if ready_path:
                with urllib.request.urlopen(base + ready_path, timeout=2):
                    pass
            with urllib.request.urlopen(base + "/api/health", timeout=2) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and ready_path:  # a server without /api/ready: its health answer is all there is
                ready_path = None
                continue
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not come up")


def run_phase(base: str, clients: int, requests: int, passage_ids: list[str], queries: list[str],
              on_progress=None) -> tuple[list[tuple[str, float, int]], float]:
    """`requests` requests from `clients` concurrent clients; (kind, seconds, status) of each, and the wall time."""
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    kinds = ["search"] * 6 + ["similar"] * 3 + ["page"]

    def client(seed: int) -> None:
        rng = random.Random(seed)
        for i in counter:
            kind = kinds[(i + seed) % len(kinds)]
            seconds, status = request(base, kind, passage_ids, queries, rng)
            with lock:
                results.append((kind, seconds, status))
                if on_progress:
                    on_progress(len(results))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=800, help="requests of the warm phase")
    parser.add_argument("--cold-requests", type=int, default=None,
                        help="requests of the cold phase, the first burst after start (default 4 per client)")
    parser.add_argument("--index", type=Path, default=None, help="an existing index (default: index data/ now)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--threads", type=int, default=0, help="the server's threads per worker (default: fazhi serve's)")
    parser.add_argument("--workers", type=int, default=0, help="the server's worker processes (default: fazhi serve's)")
    args = parser.parse_args()
    cold_requests = args.cold_requests if args.cold_requests is not None else 4 * args.clients

    queries = query_pool(args.shared)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    fazhi = [sys.executable, "-m", "cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "index"
        if args.index is None:
            subprocess.run(fazhi + ["--index", str(index), "index", "--quiet", str(ROOT / "data")], check=True,
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        passage_ids = index_passage_ids(index)
        port = free_port()
        server = subprocess.Popen(fazhi + ["--index", str(index), "serve", "--port", str(port)] + (["--threads", str(args.threads)] if args.threads else []) + (["--workers", str(args.workers)] if args.workers else []), cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            health = wait_until_ready(base)
            memory = [rss_mb(server.pid)]
            cpu = [cpu_seconds(server.pid)]
            client_cpu = [time.process_time()]
            cold, cold_elapsed = run_phase(base, args.clients, cold_requests, passage_ids, queries)
            memory.append(rss_mb(server.pid))
            cpu.append(cpu_seconds(server.pid))
            client_cpu.append(time.process_time())
            step = max(1, args.requests // 4)
            warm, warm_elapsed = run_phase(
                base, args.clients, args.requests, passage_ids, queries,
                on_progress=lambda n: memory.append(rss_mb(server.pid)) if n % step == 0 else None,
            )
            memory.append(rss_mb(server.pid))
            cpu.append(cpu_seconds(server.pid))
            client_cpu.append(time.process_time())
        finally:
            server.terminate()
            server.wait(timeout=30)

    def pct(values, q):
        return 1000 * values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    print(f"server: fazhi serve (waitress, {args.workers or 'default'} worker processes of {args.threads or 'default'} threads) on 127.0.0.1, index {health['documents']} documents / "
          f"{health['passages']} passages, {os.cpu_count()} CPU cores")
    print(f"{args.clients} concurrent clients (60% search, 30% find-similar, 10% search page); queries drawn from "
          f"{len(queries)} distinct ones. cold: the first {len(cold)} requests, sent the moment the server was "
          f"ready; warm: the next {len(warm)}\n")
    print("| phase | requests | req/s | p50 ms | p99 ms | errors | server CPU ms / request | client CPU ms / request |")
    print("|---|---|---|---|---|---|---|---|")
    phases = (("cold", cold, cold_elapsed, cpu[1] - cpu[0]), ("warm", warm, warm_elapsed, cpu[2] - cpu[1]))
    clients_used = (client_cpu[1] - client_cpu[0], client_cpu[2] - client_cpu[1])
    for (phase, results, elapsed, used), client_used in zip(phases, clients_used):
        latencies = sorted(s for _, s, _ in results)
        errors = sum(1 for _, _, status in results if status != 200)
        print(f"| {phase} | {len(results)} | {len(results) / elapsed:.1f} | {pct(latencies, 0.5):.0f} | "
              f"{pct(latencies, 0.99):.0f} | {errors} | {1000 * used / max(len(results), 1):.1f} | "
              f"{1000 * client_used / max(len(results), 1):.1f} |")
    print("\n| warm, by kind | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|")
    for kind in ("search", "similar", "page"):
        own = sorted(s for k, s, _ in warm if k == kind)
        if own:
            print(f"| {kind} | {pct(own, 0.5):.0f} | {pct(own, 0.99):.0f} | "
                  f"{sum(1 for k, _, st in warm if k == kind and st != 200)} |")
    all_latencies = sorted(s for _, s, _ in cold + warm)
    print(f"\nserver memory (RSS, MB) over the run: {', '.join(f'{m:.0f}' for m in memory)}; "
          f"median latency {statistics.median(all_latencies) * 1000:.0f} ms")
    line = [f"clients={args.clients}"]
    for phase, results, elapsed, used in phases:
        latencies = sorted(s for _, s, _ in results)
        line += [f"{phase}_rps={len(results) / elapsed:.1f}", f"{phase}_p50_ms={pct(latencies, 0.5):.0f}",
                 f"{phase}_p99_ms={pct(latencies, 0.99):.0f}",
                 f"{phase}_cpu_ms={1000 * used / max(len(results), 1):.1f}"]
    print("load " + " ".join(line))  # the last line, for scripts


if __name__ == "__main__":
    main()
