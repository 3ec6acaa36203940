"""Benchmark: reply latency and throughput of the assistant through the REST channel, next to a
stock `rasa init` assistant answering "hello" on the same machine, with memory, start-up and
training times. Prints the figures and writes reports/benchmark.md.

    .venv/bin/python scripts/benchmark.py            (about 10 minutes: two trainings, two servers)

The assistant runs as in production on one machine (README: Scale-out): a Redis lock store (a
throwaway one, scripts/redis.sh) and one Rasa server with a worker process per core
(SANIC_WORKERS), beside one action server; conversations in SQLite. The reference runs as `rasa
init` made it. The workload is a mixed multilingual one: every conversation, in one of the 14
languages, verifies and tracks an order, asks to cancel it and to return it (the track and cancel
phrases are the flow tests', tests/test_flows_e2e.py). Each reply's latency is measured from
sending the message to the whole REST answer.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV = ROOT / ".venv" / "bin"
TARGETS = {"p50_vs_reference": 1.2, "p95_ms": 250, "replies_per_s_at_50": 30, "rasa_rss_gb": 1.5}
LEVELS = (1, 10, 50)
MESSAGES_PER_LEVEL = {1: 60, 10: 300, 50: 600}


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, payload: dict, timeout: float = 120) -> list:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def wait_for(url: str, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited while starting ({url})")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"no answer from {url}")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (Linux VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time the process and its children (a server's workers) have used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(map(cpu_seconds, children(pid)))


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Server:
    def __init__(self, command: list[str], cwd: Path, env: dict, health: str, log: Path):
        started = time.time()
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        wait_for(health, self.process)
        self.startup_s = time.time() - started

    def stop(self) -> list[float]:
        """Peak memory of each serving process: the server, or each of its workers."""
        workers = children(self.process.pid)
        peaks = [peak_rss_mb(pid) for pid in workers] or [peak_rss_mb(self.process.pid)]
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return peaks


def train(project: Path, out: Path, env: dict, log: Path) -> float:
    started = time.time()
    subprocess.run([str(VENV / "rasa"), "train", "--out", str(out), "--fixed-model-name", "model"], cwd=project,
                   env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, check=True)
    return time.time() - started


RETURN = {"en": "I'd like to return something", "es": "quiero devolver una cosa", "fr": "je voudrais retourner un article",
          "de": "ich möchte etwas zurückschicken", "it": "vorrei fare un reso", "pt": "quero devolver um produto",
          "nl": "ik wil iets retourneren", "pl": "chcę zwrócić towar", "ru": "хочу вернуть товар",
          "tr": "ürünü iade etmek istiyorum", "ar": "أبغى أرجع المنتج", "ja": "返品したいです", "ko": "반품하고 싶어요",
          "zh": "我想退货"}


def conversation(language: str) -> list[str]:
    """Verify and track a parcel on its way, ask to cancel it (declined: shipped), ask to return it
    (declined: not delivered yet): every step runs the policy, and the shop stays as it was."""
    from tests.test_flows_e2e import SMOKE
    track, cancel, _ = SMOKE[language]
    return [f"{track} SH-10018", "liam.tremblay@example.com", cancel, RETURN[language]]


def load(url: str, concurrency: int, messages: int, languages: list[str]) -> dict:
    """`concurrency` shoppers at once, each running conversations, until `messages` replies."""
    latencies: list[float] = []
    lock = threading.Lock()
    sent = [0]

    def shopper(n: int) -> None:
        round_ = 0
        while True:
            sender = f"bench-{concurrency}-{n}-{round_}"
            for text in conversation(languages[(n + round_) % len(languages)]):
                with lock:
                    if sent[0] >= messages:
                        return
                    sent[0] += 1
                started = time.perf_counter()
                post(f"{url}/webhooks/rest/webhook", {"sender": sender, "message": text})
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
            round_ += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(shopper, n) for n in range(concurrency)]:
            future.result()
    elapsed = time.perf_counter() - started
    return {"concurrency": concurrency, "replies": len(latencies), "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "p99_ms": percentile(latencies, 99),
            "replies_per_s": len(latencies) / elapsed}


def hello(url: str, count: int = 100) -> dict:
    latencies = []
    for n in range(count):
        started = time.perf_counter()
        post(f"{url}/webhooks/rest/webhook", {"sender": f"ref-{n}", "message": "hello"})
        latencies.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99)}


def main() -> int:
    from bot.db import Database
    from bot.demo import load_demo
    from bot.language import SUPPORTED
    from bot.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="shop-benchmark-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TRANSLATION_BACKEND": "none"}
    results: dict = {"machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        print("training the reference (rasa init) and the assistant...", flush=True)
        reference_dir = work / "reference"
        reference_dir.mkdir()
        # `rasa init --no-prompt` writes the moodbot and trains it: timed, it is the reference's training.
        started = time.time()
        subprocess.run([str(VENV / "rasa"), "init", "--no-prompt", "--init-dir", str(reference_dir)], cwd=work,
                       env=env, stdout=open(work / "init.log", "w"), stderr=subprocess.STDOUT, check=True)
        results["reference_training_s"] = time.time() - started
        reference_model = next((reference_dir / "models").glob("*.tar.gz"))
        results["training_s"] = train(ROOT, work / "models", env, work / "train.log")

        url = f"sqlite:///{work / 'shop.db'}"
        upgrade(url)
        db = Database(url)
        load_demo(db)
        db.dispose()
        action_port, rasa_port, reference_port = free_port(), free_port(), free_port()
        redis_url = subprocess.run([str(ROOT / "scripts" / "redis.sh"), "start", str(work / "redis")], check=True,
                                   capture_output=True, text=True).stdout.strip()
        results["workers"] = os.cpu_count() or 1
        ours = {**env, "DATABASE_URL": url, "TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}",
                "ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}/webhook", "REDIS_URL": redis_url,
                "SANIC_WORKERS": str(results["workers"])}

        print("starting the servers...", flush=True)
        reference = Server([str(VENV / "rasa"), "run", "--model", str(reference_model),
                            "--port", str(reference_port), "--interface", "127.0.0.1"], reference_dir, env,
                           f"http://127.0.0.1:{reference_port}/", work / "reference.log")
        results["reference_startup_s"] = reference.startup_s
        print("reference: 100 x hello...", flush=True)
        results["reference"] = hello(f"http://127.0.0.1:{reference_port}")
        results["reference_rss_mb"] = reference.stop()

        actions = Server([str(VENV / "rasa"), "run", "actions", "--actions", "actions", "--port", str(action_port)],
                         ROOT, ours, f"http://127.0.0.1:{action_port}/health", work / "actions.log")
        rasa = Server([str(VENV / "rasa"), "run", "--model", str(work / "models" / "model.tar.gz"), "--port",
                       str(rasa_port), "--interface", "127.0.0.1", "--endpoints", "endpoints.yml", "--credentials",
                       "credentials.yml"], ROOT, ours, f"http://127.0.0.1:{rasa_port}/", work / "rasa.log")
        results["startup_s"] = rasa.startup_s
        results["actions_startup_s"] = actions.startup_s
        base = f"http://127.0.0.1:{rasa_port}"
        results["hello"] = hello(base)
        results["levels"] = []
        for level in LEVELS:
            print(f"mixed workload, {level} concurrent conversations...", flush=True)
            used = cpu_seconds(rasa.process.pid), cpu_seconds(actions.process.pid)
            measured = load(base, level, MESSAGES_PER_LEVEL[level], list(SUPPORTED))
            measured["rasa_cpu_ms"], measured["actions_cpu_ms"] = (
                (cpu_seconds(server.process.pid) - before) * 1000 / measured["replies"]
                for server, before in zip((rasa, actions), used))
            results["levels"].append(measured)
        results["rasa_rss_mb"] = rasa.stop()
        results["actions_rss_mb"] = actions.stop()
    finally:
        subprocess.run([str(ROOT / "scripts" / "redis.sh"), "stop", str(work / "redis")], check=False)
        shutil.rmtree(work, ignore_errors=True)

    report = render(results)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "benchmark.md").write_text(report, encoding="utf-8")
    print(report)
    return 0


def render(r: dict) -> str:
    ref, levels = r["reference"], {lv["concurrency"]: lv for lv in r["levels"]}
    one, fifty = levels[1], levels[50]
    rss, workers = max(r["rasa_rss_mb"]), len(r["rasa_rss_mb"])
    checks = [
        ("p50 at 1 conversation ≤ 1.2 × the reference's p50", f"{one['p50_ms']:.0f} ms vs {ref['p50_ms']:.0f} ms "
         f"(× {one['p50_ms'] / ref['p50_ms']:.1f})", one["p50_ms"] <= TARGETS["p50_vs_reference"] * ref["p50_ms"]),
        ("the same, like for like: \"hello\"", f"{r['hello']['p50_ms']:.0f} ms vs {ref['p50_ms']:.0f} ms "
         f"(× {r['hello']['p50_ms'] / ref['p50_ms']:.1f})",
         r["hello"]["p50_ms"] <= TARGETS["p50_vs_reference"] * ref["p50_ms"]),
        ("p95 at 1 conversation ≤ 250 ms", f"{one['p95_ms']:.0f} ms", one["p95_ms"] <= TARGETS["p95_ms"]),
        ("≥ 30 replies/s with 50 concurrent conversations", f"{fifty['replies_per_s']:.1f}/s",
         fifty["replies_per_s"] >= TARGETS["replies_per_s_at_50"]),
        ("Rasa server peak RSS ≤ 1.5 GB (each worker process)", f"{rss / 1024:.2f} GB", rss / 1024 <= TARGETS["rasa_rss_gb"]),
    ]
    lines = [f"# Benchmark ({r['date']}, {r['machine']})", "",
             f"Ours: one Rasa server with {workers} worker processes and a Redis lock store, one action server, "
             "SQLite. Reference: `rasa init`'s assistant, one process.", "",
             "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if ok else 'no'} |" for name, value, ok in checks]
    lines += ["", "| workload | replies | p50 ms | p95 ms | p99 ms | replies/s | CPU ms per reply: Rasa + actions |",
              "|---|---|---|---|---|---|---|",
              f"| reference (`rasa init`), \"hello\", sequential | 100 | {ref['p50_ms']:.0f} | {ref['p95_ms']:.0f} | "
              f"{ref['p99_ms']:.0f} | | |",
              f"| ours, \"hello\", sequential | 100 | {r['hello']['p50_ms']:.0f} | {r['hello']['p95_ms']:.0f} | "
              f"{r['hello']['p99_ms']:.0f} | | |"]
    lines += [f"| ours, mixed, {lv['concurrency']} concurrent | {lv['replies']} | {lv['p50_ms']:.0f} | {lv['p95_ms']:.0f} | "
              f"{lv['p99_ms']:.0f} | {lv['replies_per_s']:.1f} | {lv['rasa_cpu_ms']:.0f} + {lv['actions_cpu_ms']:.0f} |"
              for lv in r["levels"]]
    lines += ["", "| | ours | reference |", "|---|---|---|",
              f"| training | {r['training_s']:.0f} s | {r['reference_training_s']:.0f} s |",
              f"| Rasa server start-up (to first answer) | {r['startup_s']:.0f} s | {r['reference_startup_s']:.0f} s |",
              f"| Rasa server peak RSS | {' + '.join(f'{m:.0f}' for m in r['rasa_rss_mb'])} MB | "
              f"{r['reference_rss_mb'][0]:.0f} MB |",
              f"| action server start-up, peak RSS | {r['actions_startup_s']:.0f} s, {r['actions_rss_mb'][0]:.0f} MB | |",
              ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
