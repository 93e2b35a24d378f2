"""Benchmark: the book's flagship run (ncedu.experiments.FLAGSHIP) from scratch on this machine.

Trains Fashion-MNIST, 200 images per class, a width-256 depth-3 MLP with batch norm, the
paper's SGD recipe with weight decay 5e-3, 300 epochs, measuring NC at 30 log-spaced epochs;
then the same run without any measurement, and the same recipe as a plain PyTorch loop written
here (no ncedu: SGD with momentum and weight decay, the learning-rate drops, shuffled batches of
128), to report the overhead of measuring against both (same run, same machine, same thread
count: ``ncedu.training.default_num_threads()`` unless ``--threads``). Prints the figures the
training issues ask for.

Run:  python benchmarks/bench_flagship.py [--threads N]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import ncedu
from ncedu.experiments import FLAGSHIP


def plain_loop(seed: int = 0) -> None:
    """The flagship's recipe with nothing but torch: what the training would cost without ncedu."""
    cfg = FLAGSHIP
    x, y = ncedu.data.load(cfg["dataset"], per_class=cfg["per_class"], seed=cfg["data_seed"], flatten=True)
    torch.manual_seed(cfg["init_seed"])
    model = ncedu.models.MLP(784, 10, width=cfg["width"], depth=cfg["depth"], batch_norm=cfg["batch_norm"])
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    epochs = cfg["epochs"]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[epochs // 3, 2 * epochs // 3], gamma=0.1)
    g = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(y), generator=g)
        for start in range(0, len(y), cfg["batch_size"]):
            idx = perm[start : start + cfg["batch_size"]]
            if len(idx) < 2:
                continue
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        sched.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="default: ncedu.training.default_num_threads()")
    args = parser.parse_args()
    from ncedu.training import default_num_threads

    threads = args.threads or default_num_threads()
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("config:", {k: v for k, v in FLAGSHIP.items()}, "\n")

    # Load (and parse) the data once, so that neither timed run pays for it; then alternate the
    # runs with and without measurement and keep the faster of two each, to damp machine noise.
    ncedu.experiments.flagship(cache=False, progress=False, epochs=1, num_measurements=1)
    times: dict[str, list[float]] = {"measured": [], "plain": [], "torch": []}
    for _ in range(2):
        for kind in ("measured", "plain", "torch"):
            t0 = time.perf_counter()
            if kind == "torch":
                plain_loop()
            else:
                result = ncedu.experiments.run(
                    {**FLAGSHIP, **({} if kind == "measured" else {"measure_epochs": []})},
                    cache=False, progress=False, num_threads=threads)
            times[kind].append(time.perf_counter() - t0)
            if kind == "measured":
                h = result
    t_measured, t_plain, t_torch = min(times["measured"]), min(times["plain"]), min(times["torch"])

    epochs, acc, nc1 = h["epoch"], h["train_acc"], h["nc1"]
    tpt = h.terminal_phase_start()
    after = acc[epochs >= tpt] if tpt else np.array([])
    nc1_tpt = nc1[epochs == tpt][0] if tpt else float("nan")
    fall = nc1[0] / nc1[-1]
    inside = math.log(nc1_tpt / nc1[-1]) / math.log(fall) if tpt else float("nan")
    rows = [
        ("wall time, 30 measurements (s)", f"{t_measured:.1f}", "<= 90"),
        ("  (each of two runs, s)", " / ".join(f"{t:.1f}" for t in times["measured"]), ""),
        ("wall time, no measurement (s)", f"{t_plain:.1f}", ""),
        ("measuring overhead", f"{100 * (t_measured - t_plain) / t_plain:.1f} %", "<= 10 %"),
        ("plain PyTorch loop of the same recipe (s)", f"{t_torch:.1f}", ""),
        ("measured ncedu run / plain PyTorch loop", f"{t_measured / t_torch:.2f} x", "<= 1.1 x"),
        ("terminal phase starts at epoch", str(tpt), ""),
        ("train accuracy stays 100% after it", str(bool(after.size and after.min() == 1.0)), "True"),
        ("final train / test accuracy", f"{acc[-1]:.4f} / {h['test_acc'][-1]:.4f}", ""),
        ("NC1 after epoch 1 -> final", f"{nc1[0]:.3g} -> {nc1[-1]:.3g}", ""),
        ("NC1 fall", f"{fall:.0f} x", ">= 10 x (aim 100 x)"),
        ("share of the (log) NC1 fall inside the terminal phase", f"{100 * inside:.0f} %", ""),
        ("NC3 final", f"{h['nc3'][-1]:.4f}", "<= 0.05"),
        ("NC4 final mismatch", f"{100 * h['nc4'][-1]:.2f} %", "<= 1 %"),
        ("NC2 max-angle (means) epoch 1 -> final", f"{h['nc2_maxangle_means'][0]:.3f} -> {h['nc2_maxangle_means'][-1]:.3f}", "decreasing"),
        ("NC2 equinorm (means) epoch 1 -> final", f"{h['nc2_equinorm_means'][0]:.3f} -> {h['nc2_equinorm_means'][-1]:.3f}", "decreasing"),
        ("NC2 equinorm (classifiers) epoch 1 -> final", f"{h['nc2_equinorm_classifiers'][0]:.3f} -> {h['nc2_equinorm_classifiers'][-1]:.3f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:{width}s}  {value:>18s}  {target}")


if __name__ == "__main__":
    main()
