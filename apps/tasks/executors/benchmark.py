"""Loopback throughput of the HTTP transports, to choose ``make_http_transport``'s default.

    .venv/bin/python -m apps.tasks.executors.benchmark [--seconds 3] [--concurrency 1,10,50]

A small aiohttp server runs in a *separate process* on 127.0.0.1 (so it does not share the GIL with
the client under test); each case runs N coroutines that issue GET requests in a loop for a fixed
time and reads every body. Cases: httpx native pool, httpx over httpx-aiohttp (what the executor
uses, through the same :func:`make_http_transport` and egress check), plain aiohttp as a ceiling, and
the whole executor path (:func:`apps.tasks.executors.execute`) with ``httpWorkers`` = N.
Bounded: every case stops after ``--seconds``; nothing leaves loopback.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable

BODY = b'{"ok":true}'


def _serve(port: int, ready) -> None:  # runs in the child process
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _drive(call: Callable[[], Awaitable[None]], concurrency: int, seconds: float) -> float:
    done = 0
    stop_at = 0.0

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            await call()
            done += 1

    stop_at = time.monotonic() + min(0.5, seconds / 4)  # warm-up: open the pool's connections
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done = 0
    started = time.monotonic()
    stop_at = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - started)


async def _run_case(name: str, url: str, concurrency: int, seconds: float) -> float:
    import httpx

    from apps.tasks.egress import EgressPolicy
    from apps.tasks.executors import ExecutionSpec, Executors, execute
    from apps.tasks.executors.transport import make_http_transport

    policy = EgressPolicy(allow_cidrs=["127.0.0.0/8"])
    if name == "aiohttp (reference)":
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            async def call() -> None:
                async with session.get(url) as resp:
                    await resp.read()
            return await _drive(call, concurrency, seconds)
    if name.startswith("executor"):
        executors = Executors(http_workers=concurrency, grpc_workers=1, egress=policy)
        await executors.start()
        spec = ExecutionSpec(task_id=1, task_type="HTTP", url=url, http_method="GET", headers={}, body=None,
                             fallback_url=None, grpc_service=None, grpc_method=None, grpc_params=None,
                             fallback_grpc_service=None, fallback_grpc_method=None, timeout=10,
                             max_retry=0, retry_interval=0, idempotency_key="djs-1-0")
        try:
            async def call() -> None:
                outcome = await execute(spec, executors)
                assert outcome.success, outcome.error
            return await _drive(call, concurrency, seconds)
        finally:
            await executors.close()
    kind = "native" if name.startswith("httpx native") else "aiohttp"
    transport = make_http_transport(policy=policy, max_connections=concurrency, kind=kind)
    async with httpx.AsyncClient(transport=transport) as client:
        async def call() -> None:
            resp = await client.get(url)
            resp.raise_for_status()
        return await _drive(call, concurrency, seconds)


CASES = ("httpx native", "httpx + httpx-aiohttp", "aiohttp (reference)", "executor (httpx-aiohttp)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,10,50")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]

    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(15):
            raise SystemExit("benchmark target did not start")
        url = f"http://127.0.0.1:{port}/bench"
        print(f"| transport | {' | '.join(f'c={c}' for c in levels)} |")
        print(f"|---|{'---|' * len(levels)}")
        for name in CASES:
            rates = [asyncio.run(_run_case(name, url, c, args.seconds)) for c in levels]
            print(f"| {name} | {' | '.join(f'{r:,.0f} req/s' for r in rates)} |", flush=True)
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
