"""Benchmark: in-memory and streaming NC1–NC4 against the floor of two plain passes, in one run.

For each size (N, p, C) it times, on the same float32 features near a simplex ETF:

* the floor: two plain passes over the features, ``H.sum(0)`` and ``H @ W.T``;
* ``ncedu.measure``;
* streaming, two passes (``NCAccumulator(second_moment=False)`` over 128-row batches, then
  ``second_pass`` over the same batches: NC1–NC4);
* streaming, one pass (``NCAccumulator()`` with its (p, p) second moment over 128-row batches,
  ``compute``) plus the ``NearestCentreMismatch`` pass for NC4;
* a plain vectorised torch implementation (forms Sigma_W and Sigma_B, eigendecomposition, cdist);

and prints seconds (best of ``--repeats``), the ratio to ``measure`` and to the floor, and the
machine's load average when each row was measured. Then how ``measure`` scales with N, p and C,
the extra peak memory of ``measure`` (measured in a fresh process, as a fraction of the input's
size), and ``measure_model`` against the model's own forward passes over a DataLoader.

The "best public streaming library" of the issue is not installable here (not on PyPI), so it is
not in the table; its figures from the issue are printed for reference, clearly labelled.

Run:  python benchmarks/bench_streaming.py [--device cpu|cuda] [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import torch

import ncedu

BATCH = 128
#: The issue's measurements of the best public streaming library on this kind of machine (seconds).
PUBLIC_LIBRARY = {(10_000, 512, 10): 0.081, (50_000, 512, 10): 0.33, (50_000, 2048, 100): 4.8}


def features(N: int, p: int, C: int, device: str, seed: int = 0):
    """Float32 features near a simplex ETF, far from the origin: offset 100, within-class noise 1e-4."""
    g = torch.Generator().manual_seed(seed)
    means = torch.from_numpy(ncedu.simplex_etf(C, p, seed=seed)).float() + 100.0
    y = torch.arange(N) % C
    H = torch.empty(N, p)
    for start in range(0, N, 4096):  # no (N, p) temporary beside H
        rows = slice(start, min(N, start + 4096))
        H[rows] = means[y[rows]] + 1e-4 * torch.randn(rows.stop - rows.start, p, generator=g)
    W = torch.from_numpy(ncedu.simplex_etf(C, p, seed=seed)).float() + 1e-3 * torch.randn(C, p, generator=g)
    b = 1e-3 * torch.randn(C, generator=g)
    return H.to(device), y.to(device), W.to(device), b.to(device)


def floor(H, y, W, b):
    H.sum(0)
    H @ W.T


def streaming_two_pass(H, y, W, b):
    acc = ncedu.NCAccumulator(W.shape[0], second_moment=False)
    for start in range(0, H.shape[0], BATCH):
        acc.update(H[start : start + BATCH], y[start : start + BATCH])
    second = acc.second_pass(W, b)
    for start in range(0, H.shape[0], BATCH):
        second.update(H[start : start + BATCH], y[start : start + BATCH])
    return second.compute()


def streaming_one_pass(H, y, W, b):
    acc = ncedu.NCAccumulator(W.shape[0])
    for start in range(0, H.shape[0], BATCH):
        acc.update(H[start : start + BATCH], y[start : start + BATCH])
    counter = ncedu.NearestCentreMismatch(acc.class_means, W, b)
    for start in range(0, H.shape[0], BATCH):
        counter.update(H[start : start + BATCH])
    return acc.compute(W, b, nc4=counter.rate())


def plain_torch(H, y, W, b):
    """Textbook vectorised NC1–NC4: (p, p) covariances, eigendecomposition pseudo-inverse, cdist."""
    C = W.shape[0]
    mu_G = H.mean(0)
    mu = torch.stack([H[y == c].mean(0) for c in range(C)])
    M = mu - mu_G
    R = H - mu[y]
    Sw = R.T @ R / H.shape[0]
    Sb = M.T @ M / C
    lam, V = torch.linalg.eigh(Sb.double())
    lam, V = lam[-(C - 1):], V[:, -(C - 1):]
    torch.trace(Sw.double() @ (V / lam) @ V.T)
    ((H @ W.T + b).argmax(1) != torch.cdist(H, mu).argmin(1)).float().mean()


def best_time(fn, args, repeats: int, min_total_s: float = 0.5) -> float:
    """The fastest of at least ``repeats`` runs, and of as many more as fit in ``min_total_s`` (fast
    methods are timed often, so one disturbed run does not decide a ratio)."""
    fn(*args)  # warm-up
    if args[0].is_cuda:
        torch.cuda.synchronize()
    times = []
    while len(times) < repeats or (sum(times) < min_total_s and len(times) < 200):
        t0 = time.perf_counter()
        fn(*args)
        if args[0].is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times)


def table(sizes, device: str, repeats: int) -> None:
    methods = [("two plain passes (floor)", floor), ("ncedu.measure", ncedu.measure),
               ("streaming, two passes (128-row batches)", streaming_two_pass),
               ("streaming, one pass + NC4 pass (128-row)", streaming_one_pass),
               ("plain vectorised torch", plain_torch)]
    print(f"{'N, p, C':>18s}  {'method':42s} {'seconds':>9s} {'/ measure':>9s} {'/ floor':>8s} {'load':>5s}")
    for N, p, C in sizes:
        args = features(N, p, C, device)
        times = {}
        for name, fn in methods:
            slow = name.startswith("plain") and p * p * N > 5e10 or name.startswith("streaming, one") and p > 1024
            reps = 1 if slow else repeats
            times[name] = best_time(fn, args, reps)
            print(f"{f'{N:,}, {p:,}, {C}':>18s}  {name:42s} {times[name]:9.4f} {times[name] / times['ncedu.measure'] if 'ncedu.measure' in times else float('nan'):9.2f} "
                  f"{times[name] / times['two plain passes (floor)']:8.2f} {os.getloadavg()[0]:5.2f}", flush=True)
        if (N, p, C) in PUBLIC_LIBRARY:
            t = PUBLIC_LIBRARY[(N, p, C)]
            print(f"{'':18s}  {'(best public streaming library, from the issue)':42s} {t:9.4f} "
                  f"{t / times['ncedu.measure']:9.2f} {t / times['two plain passes (floor)']:8.2f}   (not run here)")
        print()


def scaling(device: str, repeats: int) -> None:
    print("how ncedu.measure scales (each row changes one size; seconds per N p (C + k) in ps):")
    base = (20_000, 256, 10)
    for label, (N, p, C) in [("base", base), ("N x4", (80_000, 256, 10)), ("p x4", (20_000, 1024, 10)),
                             ("C x4", (20_000, 256, 40))]:
        args = features(N, p, C, device)
        t = best_time(ncedu.measure, args, repeats)
        print(f"  {label:6s} N={N:>7,} p={p:>5,} C={C:>3}: {t:8.4f} s   {1e12 * t / (N * p * (2 * C - 1)):6.1f} ps")
    print()


_MEMORY_SCRIPT = r"""
import ctypes, sys, torch
sys.path.insert(0, {here!r})
from bench_streaming import features
import ncedu
torch.set_num_threads({threads})
N, p, C = {size}
args = features(N, p, C, "cpu")
ncedu.measure(*[a[:4096] for a in args[:2]], *args[2:])  # load code paths
ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed temporaries back, so reusing them cannot hide new memory

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current resident size
before = status("VmRSS")
ncedu.measure(*args)
print(status("VmHWM") - before, args[0].numel() * 4)
"""


def memory(threads: int) -> None:
    print("extra peak memory of ncedu.measure, in a fresh process (target: at most half the input's size):")
    here = os.path.dirname(os.path.abspath(__file__))
    for size in [(50_000, 512, 10), (50_000, 2048, 100)]:
        code = _MEMORY_SCRIPT.format(here=here, threads=threads, size=size)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        extra, data = int(out[0]), int(out[1])
        print(f"  N={size[0]:,} p={size[1]:,} C={size[2]}: input {data / 2**20:6.0f} MiB, extra peak "
              f"{extra / 2**20:6.1f} MiB = {extra / data:.2f} of the input")
    print()


def model_overhead(device: str, repeats: int) -> None:
    from torch.utils.data import DataLoader, TensorDataset

    print("measure_model over a DataLoader against the model's own forward passes (target <= 1.2x):")
    x, y = ncedu.data.load("fashion-mnist", per_class=1000, flatten=False)
    for name, model, inputs in [
        ("MLP 784-256x3-10", ncedu.models.MLP(784, 10), x.reshape(len(x), -1)),
        ("ConvNet", ncedu.models.ConvNet(1, 10), x),
    ]:
        model = model.to(device).eval()
        loader = DataLoader(TensorDataset(inputs, y), batch_size=256)

        @torch.no_grad()
        def forward_passes(n=2):
            for _ in range(n):
                for xb, _ in loader:
                    model(xb.to(device))

        t_model = best_time(lambda *_: forward_passes(), (inputs,), repeats)
        t_measure = best_time(lambda *_: ncedu.measure_model(model, loader, device=device), (inputs,), repeats)
        print(f"  {name:18s} two forward passes {t_model:7.3f} s, measure_model {t_measure:7.3f} s "
              f"-> {t_measure / t_model:.2f}x")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes only, no memory or model rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
    sizes = [(10_000, 512, 10), (50_000, 512, 10)] + ([] if args.quick else [(50_000, 2048, 100)])
    table(sizes, args.device, args.repeats)
    if not args.quick:
        scaling(args.device, args.repeats)
        if args.device == "cpu":
            memory(args.threads)
        model_overhead(args.device, args.repeats)


if __name__ == "__main__":
    main()
