"""Measures how runs come through history outages of given lengths (issue 9): services as
separate processes, a run of delay nodes, and mid-run the history killed and restarted (`kill`)
or frozen and resumed (`stop`) after each outage length. Prints one line per trial.

    .venv/bin/python tests/faults/outage.py --lease 30 --outages 5 15 45 90 --kinds kill stop
    .venv/bin/python tests/faults/outage.py --database postgresql+asyncpg://postgres@127.0.0.1/db

Not a test: it takes minutes. SQLite (a fresh file per trial) unless --database is given.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from fault_lab import Lab, outcome, start_run

NODE_SECONDS = 0.5
LEAD = 5.0  # seconds the run executes before the outage
TAIL = 20.0  # seconds of nodes left after the outage, at the least


async def trial(kind: str, seconds: float, lease: float, database_url: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="resumeflow-outage-") as workdir:
        url = database_url or f"sqlite+aiosqlite:///{workdir}/history.db"
        lab = Lab(Path(workdir), url, lease_seconds=lease)
        try:
            await lab.start()
            workflow_id = f"outage-{kind}-{int(seconds)}-{int(time.time())}"
            await lab.put_chain(workflow_id, int((LEAD + seconds + TAIL) / NODE_SECONDS), NODE_SECONDS)
            reader = await start_run(lab, workflow_id)
            await asyncio.sleep(LEAD)
            seen = len(reader.node_events())
            down = time.monotonic()
            if kind == "kill":
                lab.history.kill()
                await asyncio.sleep(seconds)
                lab.history.start()
                await lab.history.wait_serving()
            else:
                lab.history.freeze()
                await asyncio.sleep(seconds)
                lab.history.thaw()
            back = time.monotonic()
            while len(reader.node_events()) == seen and not reader.task.done():  # noqa: ASYNC110 - a poll
                await asyncio.sleep(0.05)
            recovered = time.monotonic() - back
            await asyncio.wait_for(reader.task, LEAD + seconds + TAIL + 600)
            result = await outcome(lab, reader)
            return (
                f"{kind:4} history unreachable {back - down:5.1f}s (lease {lease:g}s): {result}; "
                f"stream moved again {recovered:.1f}s after history was back"
            )
        except BaseException:
            print(lab.logs())
            raise
        finally:
            await lab.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lease", type=float, default=30.0, help="the runner's --lease-seconds")
    parser.add_argument("--outages", type=float, nargs="+", default=[5, 15, 45, 90], help="seconds")
    parser.add_argument("--kinds", nargs="+", choices=["kill", "stop"], default=["kill", "stop"])
    parser.add_argument("--database", help="a database URL to use instead of a fresh SQLite file")
    args = parser.parse_args()
    for kind in args.kinds:
        for seconds in args.outages:
            print(await trial(kind, seconds, args.lease, args.database), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
