"""The HTTP service under load: ``POST /infer`` through a real uvicorn server on loopback, against
``numbdx.infer`` in process for the same evidence.

Run ``python benchmarks/bench_service.py [--quick]`` (needs the ``service`` extra and httpx). The script
starts ``uvicorn numbdx._service:create_app --factory`` on 127.0.0.1 at a free port (a subprocess;
nothing but loopback is contacted), waits for ``GET /health``, then drives ``POST /infer`` with one
typical patient (the k-sweep evidence with ``--k`` positive findings, 3 by default) from 1, 8 and 32
concurrent connections (an httpx ``AsyncClient``, one coroutine per connection, each sending its next
request when the answer to the last arrives), each level for ``--duration`` seconds or
``--max-requests`` requests, whichever comes first. Every answer is checked: a status other than 200,
a transport error, or a body that differs from the in-process answer (the first answer is compared as
JSON, every later one byte for byte with the first) counts as an error.

Placement: with two or more CPUs the server is pinned to the last one and this script (the client) to
the first, so that the client's own work does not take the server's core; the in-process reference is
timed on the server's core. ``--all-cores`` lifts the pins. Each row's ``p50 / in-process`` divides the
median latency by the in-process median measured in the same run: at one connection, the service's
overhead (HTTP, JSON parsing, schema validation, serialisation, the thread hand-off) per request.
Nothing is asserted; the figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import _common
from _common import fmt_count, fmt_ratio, fmt_seconds, fmt_times, markdown_table

DEFAULT_CONCURRENCY = (1, 8, 32)


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, workers: int, cpu: int | None) -> subprocess.Popen[bytes]:
    """uvicorn serving ``numbdx._service:create_app`` on 127.0.0.1:``port`` (access log off)."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "numbdx._service:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_common.REPO / "src"), os.environ.get("PYTHONPATH", "")])}

    def pin() -> None:  # runs in the child before exec
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return subprocess.Popen(command, env=env, preexec_fn=pin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    """Seconds from now until ``GET /health`` answers 200 (raises if the server dies or never answers)."""
    import httpx

    start = time.perf_counter()
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}): {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"the server did not answer /health within {timeout:g} s")
        time.sleep(0.05)


async def drive(
    base: str,
    path: str,
    body: dict[str, Any] | None,
    expected: bytes | None,
    connections: int,
    duration: float,
    cap: int,
) -> dict[str, Any]:
    """``connections`` clients in a closed loop for ``duration`` s (or ``cap`` requests in all)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + duration

        async def one_connection() -> None:
            nonlocal errors, sent
            while time.perf_counter() < deadline and sent < cap:
                sent += 1
                start = time.perf_counter()
                try:
                    if body is None:
                        response = await client.get(path)
                    else:
                        response = await client.post(path, json=body)
                    # bytes, not parsed JSON: the answer is deterministic, and parsing 30 KB per answer
                    # would put the client's work into every latency
                    ok = response.status_code == 200 and (expected is None or response.content == expected)
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "throughput": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="3 s per level instead of 10")
    p.add_argument("--duration", type=float, default=None, help="seconds per concurrency level (10; --quick 3)")
    p.add_argument("--max-requests", type=int, default=20000, help="cap on requests per level")
    p.add_argument("--concurrency", default=",".join(map(str, DEFAULT_CONCURRENCY)), help="comma-separated levels")
    p.add_argument("--k", type=int, default=3, help="positive findings in the evidence (k-sweep prefix)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--all-cores", action="store_true", help="do not pin the server and the client to separate CPUs")
    args = p.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinned = not args.all_cores and len(cpus) >= 2
    server_cpu = cpus[-1] if pinned else None
    _common.print_header("The HTTP service: POST /infer through uvicorn on loopback", args)
    started = time.perf_counter()
    _common.mark_steal()  # both CPUs: the server's and the client's

    import numbdx

    evidence = _common.k_evidence(args.k)
    body = {"evidence": evidence}
    expected = json.loads(json.dumps(numbdx.infer(evidence).to_dict()))

    # the reference, on the core the server will have
    if pinned:
        os.sched_setaffinity(0, {server_cpu})
    reference = _common.timed(lambda: numbdx.infer(evidence), repeats=2000, budget=3.0, min_repeats=20)
    if pinned:
        os.sched_setaffinity(0, {cpus[0]})
    in_process = reference.median

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, args.workers, server_cpu)
    try:
        startup = wait_until_healthy(base, server)
        print(
            f"server up in {startup:.2f} s (uvicorn, {args.workers} worker(s)); evidence: {json.dumps(evidence)}",
            file=sys.stderr,
        )
        import httpx

        first = httpx.post(f"{base}/infer", json=body, timeout=60)
        if first.status_code != 200 or first.json() != expected:
            raise RuntimeError(f"the service's answer differs from numbdx.infer's: {first.text[:500]}")
        answer = first.content  # every later answer must be these bytes
        asyncio.run(drive(base, "/infer", body, answer, 4, 1.0, 200))  # warm-up: connections, caches
        rows = []
        floor = asyncio.run(drive(base, "/health", None, None, 1, min(args.duration, 2.0), args.max_requests))
        rows.append(
            [
                "`GET /health` (floor)",
                1,
                fmt_count(floor["requests"]),
                f"{floor['throughput']:,.0f}",
                fmt_seconds(floor["p50"]),
                fmt_seconds(floor["p99"]),
                floor["errors"],
                "-",
            ]
        )
        for connections in levels:
            print(f"  {connections} connection(s) for {args.duration:g} s ...", file=sys.stderr, flush=True)
            r = asyncio.run(drive(base, "/infer", body, answer, connections, args.duration, args.max_requests))
            rows.append(
                [
                    "`POST /infer`",
                    connections,
                    fmt_count(r["requests"]),
                    f"{r['throughput']:,.0f}",
                    fmt_seconds(r["p50"]),
                    fmt_seconds(r["p99"]),
                    r["errors"],
                    fmt_ratio(r["p50"] / in_process),
                ]
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    headers = ["request", "connections", "requests", "throughput (req/s)", "p50", "p99", "errors", "p50 / in-process"]
    print(markdown_table(headers, rows))
    placement = f"server pinned to CPU {server_cpu}, client to CPU {cpus[0]}" if pinned else "unpinned"
    print(
        f"\nIn-process `numbdx.infer` on the same evidence ({args.k} positive findings), same run: "
        f"{fmt_times(reference.times)} (n={len(reference.times)}), i.e. {1 / in_process:,.0f} calls/s on one "
        f"thread. Placement: {placement}; {args.duration:g} s per level (or {args.max_requests:,} requests)."
    )
    print(f"\n{_common.took('bench_service', started)}")


if __name__ == "__main__":
    main()
