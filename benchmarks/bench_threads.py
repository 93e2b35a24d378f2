"""Benchmark: how many CPU threads should training use? One run, idle and beside a busy process.

Times epochs of the flagship's MLP (Fashion-MNIST, 200 images per class) and of the book's
ConvNet (50 images per class) at each thread count, first on an otherwise idle machine and then
beside one other CPU-bound process that the benchmark starts itself (``python -c "while True:
pass"``), as a laptop with a browser or a second notebook has. Prints milliseconds per epoch and
the ratio of each count to the fastest, in one table; ``ncedu.train`` leaves one core free by
default (``ncedu.training.default_num_threads``) because of what this table shows on 2 cores.

Run:  python benchmarks/bench_threads.py [--threads 1 2] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import torch

import ncedu
from ncedu.training import default_num_threads


def ms_per_epoch(model: str, threads: int, epochs: int) -> float:
    """Milliseconds per training epoch (one measurement at the end, as a chapter's run has)."""
    if model == "mlp":
        data = ncedu.data.load("fashion-mnist", per_class=200, flatten=True)
        make = lambda: ncedu.models.MLP(784, 10, width=256, depth=3)  # noqa: E731
    else:
        data = ncedu.data.load("fashion-mnist", per_class=50)
        make = lambda: ncedu.models.ConvNet(in_channels=1, num_classes=10, width=32)  # noqa: E731
        epochs = max(2, epochs // 10)
    torch.manual_seed(0)
    ncedu.train(make(), data, epochs=1, progress=False, num_threads=threads)  # warm-up
    torch.manual_seed(0)
    t0 = time.perf_counter()
    ncedu.train(make(), data, epochs=epochs, measure_epochs=[epochs], lr_milestones=[], progress=False,
                weight_decay=5e-3, num_threads=threads)
    return 1000 * (time.perf_counter() - t0) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, default_num_threads() = "
          f"{default_num_threads()}\n")
    rows = []
    for load in ("idle", "one busy process"):
        busy = None
        if load != "idle":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            for model in ("mlp", "convnet"):
                times = {t: ms_per_epoch(model, t, args.epochs) for t in args.threads}
                best = min(times.values())
                for t, ms in times.items():
                    rows.append((load, model, t, ms, ms / best, os.getloadavg()[0]))
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    print(f"{'machine':18s} {'model':8s} {'threads':>7s} {'ms/epoch':>9s} {'× fastest':>9s} {'load avg':>8s}")
    for load, model, t, ms, ratio, la in rows:
        print(f"{load:18s} {model:8s} {t:7d} {ms:9.1f} {ratio:9.2f} {la:8.2f}")


if __name__ == "__main__":
    main()
