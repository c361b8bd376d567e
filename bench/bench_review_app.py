"""The review workspace's server time: the queue page with 10,000 queued items (target <= 300 ms) and a 500-row
bulk decision (target <= 2 s), through the app itself (routing, session, SQL, template) on a fresh embedded
PostgreSQL seeded like the workspace's tests, without the network or a browser.

    .venv/bin/python bench/bench_review_app.py [--items 10000] [--bulk 500] [--repeat 15]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from harness import Bench

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.review_app.seed: the tests' warehouse


def timed(call, repeat: int) -> list[float]:  # noqa: ANN001 - a callable
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def show(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"{label:<52} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   ({len(ms)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    bench = Bench(prefix="finflow-bench-review-")
    try:
        from starlette.testclient import TestClient

        from finflow_assets.review_app.app import create_app
        from finflow_assets.warehouse import connect
        from tests.review_app.seed import PASSWORD, seed

        with connect(autocommit=True) as conn:
            counts = seed(conn, filler=args.items)
        print(f"queued: {sum(counts.values()):,} items {counts}")
        client = TestClient(create_app(), follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"csrf": token, "username": "rita", "password": PASSWORD})
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
        for label, path in (
            ("queue page 1 (queue order)", "/"),
            ("queue page 100 (queue order)", "/?page=100"),
            ("queue sorted by amount", "/?sort=amount"),
            ("queue filtered: source + text + amount range", "/?source=stripe&q=FILLER&min=100&max=300"),
        ):
            assert client.get(path).status_code == 200
            show(label, timed(lambda path=path: client.get(path), args.repeat))
        items = [f"category:tx-{10_001 + i}" for i in range(args.bulk)]
        started = time.perf_counter()
        response = client.post(
            "/decide",
            data={"csrf": token, "item": items, "decision": "recategorize", "category": "software_saas"},
        )
        bulk = time.perf_counter() - started
        assert response.status_code == 303
        with connect() as conn:
            recorded = conn.execute("select count(*) from review.review_decisions").fetchone()[0]
        assert recorded == args.bulk, recorded
        print(f"bulk decision of {args.bulk} items (one transaction):      {bulk * 1000:7.1f} ms  ({recorded} rows)")
        show("queue page 1 after the bulk decision", timed(lambda: client.get("/"), args.repeat))
    finally:
        bench.close()


if __name__ == "__main__":
    main()
