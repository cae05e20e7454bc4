"""`make bench`: run every scenario against services started as separate processes, print a table,
and rewrite bench/RESULTS.md. `--smoke` runs tiny sizes in seconds to keep the harness working."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness
import scenarios
from scenarios import Client, Figure

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).parent / "RESULTS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="run every scenario on this database URL instead of SQLite")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one repetition, RESULTS.md untouched"
    )
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip the PostgreSQL run of scenarios 0 and 1"
    )
    args = parser.parse_args()
    sizes = Sizes.smoke() if args.smoke else Sizes()
    repetitions = 1 if args.smoke else args.repetitions
    sections: list[tuple[str, list[Figure]]] = []
    backend = "PostgreSQL" if args.database else "SQLite"
    sections += asyncio.run(run_all(args.database, repetitions, sizes, backend))
    if not args.database and not args.no_postgres:
        sections += asyncio.run(postgres_overhead(repetitions, sizes))
    print(render_table(sections))
    problems = [f.name for _, figures in sections for f in figures if not f.samples]
    if problems:
        sys.exit(f"scenarios produced no numbers: {problems}")
    if not args.smoke:
        RESULTS.write_text(render_results(sections, repetitions))
        print(f"\nwrote {RESULTS}")


class Sizes:
    def __init__(self) -> None:
        self.nodes, self.watchers, self.depths, self.batches, self.layers = (
            1000,
            200,
            (1, 10, 50),
            (100, 1000),
            10,
        )
        self.fresh = (10, 100, 1000)

    @classmethod
    def smoke(cls) -> Sizes:
        sizes = cls()
        sizes.nodes, sizes.watchers, sizes.depths, sizes.batches, sizes.layers = 52, 10, (1, 3), (10,), 1
        sizes.fresh = (10, 52)
        return sizes


async def run_all(
    database: str | None, repetitions: int, sizes: Sizes, backend: str
) -> list[tuple[str, list[Figure]]]:
    sections = []
    with harness.services(database) as services:
        client = Client(services.runner_address, services.history_address)
        try:
            sections.append(await fresh_section(client, repetitions, sizes, backend))
            sections.append(
                (
                    f"1. Per-node overhead ({backend})",
                    await scenarios.per_node_overhead(client, repetitions, sizes.nodes),
                )
            )
            sections.append(
                (
                    f"2. Resume start ({backend})",
                    await scenarios.resume_start(client, repetitions, sizes.depths, sizes.layers),
                )
            )
            # One watcher first: the lag of the event pipeline alone, before any fan-out.
            alone = await scenarios.watch_fan_out(client, repetitions, 1, sizes.nodes)
            fanned = await scenarios.watch_fan_out(
                client, repetitions, sizes.watchers, sizes.nodes, services.cpu_seconds
            )
            # gRPC's own cost of one round of such a fan-out, as a yardstick.
            bare = await scenarios.bare_fan_out(repetitions, sizes.watchers, 64 * 1024)
            sections.append(
                (f"3. Watch fan-out: {sizes.watchers} watchers ({backend})", fanned + alone[:2] + bare)
            )
        finally:
            await client.close()
    # A service pair of its own, so its peak RSS is this scenario's.
    with harness.services(database) as services:
        client = Client(services.runner_address, services.history_address)
        try:
            figures = await scenarios.concurrent_runs(client, repetitions, sizes.batches)
        finally:
            await client.close()
        runner_rss, history_rss = services.peak_rss()
        figures.append(Figure("runner peak RSS", "MiB", [runner_rss], target="<= 150"))
        figures.append(Figure("history peak RSS", "MiB", [history_rss]))
        sections.append((f"4. Concurrent runs ({backend})", figures))
    return sections


async def postgres_overhead(repetitions: int, sizes: Sizes) -> list[tuple[str, list[Figure]]]:
    """Scenarios 0 and 1 on a fresh PostgreSQL database, dropped afterwards."""
    import asyncpg

    name = f"resumeflow_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        with harness.services(url) as services:
            client = Client(services.runner_address, services.history_address)
            try:
                fresh = await fresh_section(client, repetitions, sizes, "PostgreSQL")
                figures = await scenarios.per_node_overhead(client, repetitions, sizes.nodes)
            finally:
                await client.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return [fresh, ("5. Per-node overhead (PostgreSQL)", figures)]


async def fresh_section(
    client: Client, repetitions: int, sizes: Sizes, backend: str
) -> tuple[str, list[Figure]]:
    # Cheap per run, and the figure of issue 12: more samples than the longer scenarios.
    figures = await scenarios.fresh_run_start(client, repetitions * 4, sizes.fresh)
    return f"0. Fresh run start ({backend})", figures


def _stats(figure: Figure) -> tuple[str, str]:
    values = sorted(figure.samples)
    median = values[len(values) // 2]
    return _fmt(median), f"{_fmt(values[0])}–{_fmt(values[-1])}"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _verdict(figure: Figure) -> str:
    met = figure.meets()
    return "" if met is None else ("met" if met else "**missed**")


def render_table(sections: list[tuple[str, list[Figure]]]) -> str:
    lines = []
    for title, figures in sections:
        lines += ["", title, "-" * len(title)]
        for figure in figures:
            median, spread = _stats(figure) if figure.samples else ("-", "-")
            target = f"target {figure.target} {figure.unit}" if figure.target else ""
            lines.append(
                f"  {figure.name:<62} {median:>9} {figure.unit:<6} ({spread}) {target} {_verdict(figure)}"
            )
    return "\n".join(lines)


def render_results(sections: list[tuple[str, list[Figure]]], repetitions: int) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand. Services run as separate",
        "`resumeflow serve history` / `resumeflow serve runner` processes; the client drives them",
        "through the generated stubs. Each figure: median of the repetitions, with min–max.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Commit: {_commit()}",
        f"- Machine: {os.cpu_count()} cores, {_memory()}, {platform.machine()}, "
        f"{platform.system()} {platform.release()}",
        f"- Python: {platform.python_version()}",
        f"- Repetitions: {repetitions}",
    ]
    for title, figures in sections:
        lines += [
            "",
            f"## {title}",
            "",
            "| figure | median | min–max | unit | target | |",
            "|---|---:|---|---|---|---|",
        ]
        for figure in figures:
            median, spread = _stats(figure)
            cells = [figure.name, median, spread, figure.unit, figure.target, _verdict(figure)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()

    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return (git("rev-parse", "--short", "HEAD") or "unknown") + dirty


def _memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return "unknown memory"


if __name__ == "__main__":
    main()
