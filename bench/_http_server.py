"""A local HTTP server for the outbound-call benchmark: aiohttp, answers every
request after ``--latency`` seconds (default 0.02) and counts requests per path,
which it writes to ``--log`` when stopped (SIGTERM).

    python bench/_http_server.py --port 8099 --log hits.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections import Counter

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    hits: Counter[str] = Counter()

    async def answer(request: web.Request) -> web.Response:
        hits[request.path_qs] += 1
        await asyncio.sleep(args.latency)
        return web.json_response({"ok": True, "path": request.path_qs})

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024).start()
        print(f"listening on 127.0.0.1:{args.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        await runner.cleanup()
        with open(args.log, "w", encoding="utf-8") as out:
            json.dump(hits, out)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
