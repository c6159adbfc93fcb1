"""Throughput and latency of the patient's join page against a bare Starlette page.

The product runs as `sprechzimmer serve` in a subprocess (RunningServer); the
join link comes from the invitation in the outbox folder, for an appointment
starting in a few minutes, so GET /j/<token> renders the consent page. The
baseline is benchmarks.bare_app in a subprocess under the same uvicorn settings.

One load generator, the same for all, runs in this process; it sends no
cookies, so every request is a patient's first visit (a new session and CSRF
token each time). Both servers are up at once but loaded one at a time, in
alternating rounds, so that a change in the machine's background load hits
both alike. GET /technikcheck, a template page through the same middleware
without the event store, splits the gap into "web stack" and "event store
reads".

    .venv/bin/python -m benchmarks.join_page_load [--seconds 8] [--concurrency 16]
"""

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks import http_load
from benchmarks.common import (
    BareServer,
    goal_verdict,
    practice_on,
    print_table,
    schedule_join_paths,
    summary,
)
from benchmarks.http_load import LoadResult
from tests.support.server import RunningServer

GOAL = 0.5
ROUNDS = 4
WARMUP_SECONDS = 2.0
ROUND_WARMUP_SECONDS = 0.3
CONSENT_PAGE_MARK = "/einwilligung"


@dataclass
class Target:
    name: str
    port: int
    path: str
    result: LoadResult = field(default_factory=LoadResult)


def join_path_on(server: RunningServer) -> str:
    """Sets up the practice, schedules one appointment starting in a few
    minutes and returns the join path from its invitation."""
    practice = practice_on(server)
    (join_path,) = schedule_join_paths(practice, server.data_dir, count=1)
    practice.http.close()
    first = httpx.get(server.base_url + join_path, timeout=10, trust_env=False)
    assert first.status_code == 200, first.text
    assert CONSENT_PAGE_MARK in first.text, "the join page is not the consent page"
    return join_path


def _load(target: Target, concurrency: int, warmup: float, seconds: float) -> None:
    result: LoadResult = http_load.run(
        http_load.load(
            target.port,
            target.path,
            concurrency=concurrency,
            warmup=warmup,
            seconds=seconds,
        )
    )
    target.result.add(result)


def measure(targets: list[Target], concurrency: int, seconds: float) -> None:
    """Warms every target up, then loads each for seconds/ROUNDS per round."""
    for target in targets:
        http_load.run(
            http_load.load(
                target.port,
                target.path,
                concurrency=concurrency,
                warmup=WARMUP_SECONDS,
                seconds=0.1,
            )
        )
    for _ in range(ROUNDS):
        for target in targets:
            _load(target, concurrency, ROUND_WARMUP_SECONDS, seconds / ROUNDS)


def _row(target: Target) -> list[str]:
    result = target.result
    failed = sum(n for status, n in result.statuses.items() if status != 200)
    return [
        target.name,
        f"{result.requests:,}",
        f"{result.per_second:,.0f}",
        f"{result.percentile_ms(0.50):.1f}",
        f"{result.percentile_ms(0.99):.1f}",
        str(failed),
        f"{result.mean_body_bytes:,.0f}",
    ]


def report(join: Target, stack: Target, bare: Target, concurrency: int) -> None:
    print_table(
        f"Join page load: {concurrency} keep-alive connections, "
        f"{join.result.seconds:.0f} s per page in {ROUNDS} alternating rounds",
        ["page", "requests", "req/s", "p50 ms", "p99 ms", "non-200", "bytes"],
        [_row(join), _row(stack), _row(bare)],
    )
    base = bare.result
    ratio = join.result.per_second / base.per_second
    stack_ratio = stack.result.per_second / base.per_second
    p99_ratio = join.result.percentile_ms(0.99) / base.percentile_ms(0.99)
    print(f"join page / bare page, req/s: {ratio:.2f}  ({goal_verdict(ratio, GOAL)})")
    print(f"join page / bare page, p99 latency: {p99_ratio:.1f}x")
    print(f"technikcheck / bare page, req/s: {stack_ratio:.2f} (web stack alone)")
    summary(
        "join page req/s",
        f"{join.result.per_second:,.0f}",
        f"{base.per_second:,.0f}",
        f"{ratio:.2f}",
        f">= {GOAL} {'met' if ratio >= GOAL else 'NOT met'}",
    )
    summary(
        "join page p99 ms",
        f"{join.result.percentile_ms(0.99):.1f}",
        f"{base.percentile_ms(0.99):.1f}",
        f"{p99_ratio:.1f}x",
        "-",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Join page against a bare page.")
    parser.add_argument("--seconds", type=float, default=8.0, help="per page")
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sprechzimmer-bench-") as folder:
        product = RunningServer(Path(folder)).start()
        bare = BareServer()
        quiet: RunningServer | None = None
        try:
            join_path = join_path_on(product)
            # The same data served once more, without the per-request log line
            # (SPRECHZIMMER_ACCESS_LOG=0, for sites that log at their proxy).
            quiet = RunningServer(Path(folder), SPRECHZIMMER_ACCESS_LOG="0").start()
            bare.start()
            join = Target("GET /j/<token> (consent page)", product.port, join_path)
            unlogged = Target("GET /j/<token>, access log off", quiet.port, join_path)
            stack = Target(
                "GET /technikcheck (no event store)", product.port, "/technikcheck"
            )
            baseline = Target("bare Starlette page", bare.port, "/page")
            measure(
                [join, unlogged, stack, baseline],
                arguments.concurrency,
                arguments.seconds,
            )
        finally:
            bare.stop()
            product.stop()
            if quiet is not None:
                quiet.stop()
    report(join, stack, baseline, arguments.concurrency)
    ratio = unlogged.result.per_second / baseline.result.per_second
    print(f"join page, access log off / bare page, req/s: {ratio:.2f}")
    summary(
        "join page req/s, no access log",
        f"{unlogged.result.per_second:,.0f}",
        f"{baseline.result.per_second:,.0f}",
        f"{ratio:.2f}",
        f">= {GOAL} {'met' if ratio >= GOAL else 'NOT met'}",
    )


if __name__ == "__main__":
    main()
