"""The core against Flink SQL on the same events, for `./scripts/bench flink`.

    python flink.py FROM_FILE_BINARY WORKDIR EVENTS ROUNDS

Writes EVENTS generated stock ticks to a file (the core's `from_file` example), then, ROUNDS
times in turn, runs the file through the core (one partition, one thread) and through Flink SQL
(PyFlink on the machine's Java, a local MiniCluster at parallelism 1): a filesystem source with
the JSON format, an event-time TUMBLE of one minute, the processor's allowed lateness (10 s) as
the watermark delay, and the spec's aggregates. Flink's JVM is started, and warmed on a small
file, before anything is timed; each side's figure is its CPU time over the job alone (the
JVM's, or the core process's, user + system). Then compares the windows both wrote.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from decimal import Decimal

from pyflink.java_gateway import get_gateway
from pyflink.table import EnvironmentSettings, TableEnvironment


def jvm_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Flink:
    def __init__(self):
        self.env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        config = self.env.get_config()
        config.set("parallelism.default", "1")
        config.set("table.local-time-zone", "UTC")
        self.pid = get_gateway().jvm.ProcessHandle.current().pid()
        self.jobs = 0

    def run(self, events_path, out_path):
        """Runs the candles job over one file; returns (CPU seconds, wall seconds)."""
        self.jobs += 1
        source, sink = f"ticks_{self.jobs}", f"candles_{self.jobs}"
        out_dir = out_path + ".d"
        shutil.rmtree(out_dir, ignore_errors=True)  # the filesystem sink adds to what is there
        self.env.execute_sql(f"""
            CREATE TABLE {source} (
                event_id STRING, ticker STRING, price DECIMAL(18, 4), volume BIGINT,
                event_time BIGINT, `exchange` STRING,
                ts AS TO_TIMESTAMP_LTZ(event_time, 3),
                WATERMARK FOR ts AS ts - INTERVAL '10' SECOND
            ) WITH ('connector' = 'filesystem', 'path' = '{events_path}', 'format' = 'json')""")
        self.env.execute_sql(f"""
            CREATE TABLE {sink} (
                ticker STRING, window_start TIMESTAMP(3), `count` BIGINT, volume BIGINT,
                `open` DECIMAL(18, 4), high DECIMAL(18, 4), low DECIMAL(18, 4),
                `close` DECIMAL(18, 4), vwap DECIMAL(38, 6), avg_price DECIMAL(38, 6),
                notional DECIMAL(38, 4)
            ) WITH ('connector' = 'filesystem', 'path' = '{out_dir}', 'format' = 'json')""")
        started, cpu = time.monotonic(), jvm_cpu_seconds(self.pid)
        self.env.execute_sql(f"""
            INSERT INTO {sink}
            SELECT ticker, window_start, COUNT(*), SUM(volume),
                   FIRST_VALUE(price), MAX(price), MIN(price), LAST_VALUE(price),
                   CAST(SUM(price * volume) / SUM(volume) AS DECIMAL(38, 6)),
                   CAST(AVG(price) AS DECIMAL(38, 6)),
                   SUM(price * volume)
            FROM TABLE(TUMBLE(TABLE {source}, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
            GROUP BY ticker, window_start, window_end""").wait()
        cpu, wall = jvm_cpu_seconds(self.pid) - cpu, time.monotonic() - started
        with open(out_path, "w") as out:
            for root, _, files in os.walk(out_dir):
                for name in sorted(files):
                    if not name.startswith("."):
                        with open(os.path.join(root, name)) as part:
                            out.writelines(part)
        return cpu, wall


def core(binary, events_path, end_ms, out_path):
    line = subprocess.run([binary, "read", events_path, end_ms, out_path], check=True,
                          capture_output=True, text=True).stdout.split()
    figures = dict(zip(line[::2], line[1::2]))
    return float(figures["cpu_s"]), float(figures["wall_s"])


def windows(path, flink):
    """(ticker, window start) -> the window's figures, as exact decimals."""
    found = {}
    with open(path) as lines:
        for line in lines:
            row = json.loads(line, parse_float=Decimal)
            start = row["window_start"].replace(" ", "T").replace("Z", "")[:19]
            found[(row["ticker"], start)] = row
    return found


def compare(core_path, flink_path):
    ours, theirs = windows(core_path, False), windows(flink_path, True)
    same_keys = ours.keys() & theirs.keys()
    columns = ["count", "volume", "high", "low", "notional", "vwap", "avg_price", "open", "close"]
    differ = {c: 0 for c in columns}
    for key in same_keys:
        for column in columns:
            if Decimal(str(ours[key][column])) != Decimal(str(theirs[key][column])):
                differ[column] += 1
    return len(ours), len(theirs), len(same_keys), differ


def main(binary, workdir, events, rounds):
    os.makedirs(workdir, exist_ok=True)
    events_path = os.path.join(workdir, "ticks.jsonl")
    end_ms = subprocess.run([binary, "write", events_path, str(events), "1000", "0.05"],
                            check=True, capture_output=True, text=True).stdout.strip()
    # Flink's JIT warms up over the first hundreds of thousands of events: a quarter of the
    # file first, untimed.
    warm_path = os.path.join(workdir, "warm.jsonl")
    with open(events_path) as source, open(warm_path, "w") as warm:
        for _ in range(events // 4):
            warm.write(source.readline())
    flink = Flink()
    flink.run(warm_path, os.path.join(workdir, "warm-out.jsonl"))

    # In order, both must agree on every column, first and last included.
    ordered_path = os.path.join(workdir, "ordered.jsonl")
    ordered_end = subprocess.run([binary, "write", ordered_path, "200000", "1000", "0"],
                                 check=True, capture_output=True, text=True).stdout.strip()
    core(binary, ordered_path, ordered_end, ordered_path + ".core")
    flink.run(ordered_path, ordered_path + ".flink")
    ours, theirs, both, differ = compare(ordered_path + ".core", ordered_path + ".flink")
    print(f"in order (200,000 ticks): windows core {ours}, Flink {theirs}, in both {both}; "
          f"columns that differ: {sum(differ.values())}")

    rates = {"core": [], "flink": []}
    for round_ in range(rounds):
        core_out = os.path.join(workdir, f"core-{round_}.jsonl")
        flink_out = os.path.join(workdir, f"flink-{round_}.jsonl")
        for side, run in (("core", lambda: core(binary, events_path, end_ms, core_out)),
                          ("flink", lambda: flink.run(events_path, flink_out))):
            cpu, wall = run()
            rates[side].append(events / cpu)
            print(f"round {round_}: {side:<5} {events} events, {cpu:6.2f} CPU-s, {wall:6.2f} s:"
                  f" {events / cpu:>12,.0f} events per CPU-second")

    print(f"\n{events:,} stock ticks (5 % up to 5 s out of order), one-minute tumbling windows, "
          f"{rounds} rounds, median (min–max), events per CPU-second:")
    for side, name in (("core", "core (one partition, one thread)"),
                       ("flink", "Flink SQL 2.3 (parallelism 1)")):
        values = rates[side]
        print(f"{name:<34} {statistics.median(values):>12,.0f} "
              f"({min(values):,.0f}–{max(values):,.0f})")
    print(f"core / Flink: {statistics.median(rates['core']) / statistics.median(rates['flink']):.1f}x")

    ours, theirs, both, differ = compare(core_out, flink_out)
    print(f"\n5 % out of order: windows core {ours}, Flink {theirs}, in both {both}")
    for column, count in differ.items():
        print(f"  {column:<10} differs in {count} of {both}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
