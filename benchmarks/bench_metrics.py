"""Benchmark: all of NC1–NC4 on N = 50,000 features of p = 512 in C = 10 classes (float32, CPU).

Prints ncedu.measure's median time against two baselines measured in the same run:

* a straightforward vectorised torch implementation (forms Sigma_W and Sigma_B as (p, p)
  matrices, pseudo-inverts with an eigendecomposition, NC4 with torch.cdist): what a careful
  person writes first;
* the algorithm of the authors' public notebook (per-class loops over batches of 128 with a
  per-sample outer product for Sigma_W and a per-sample loop for the nearest class centre),
  re-implemented here; timed on a tenth of the samples and scaled linearly (it is linear in N).

and then how ncedu.measure's time grows with N, p and C, and the streaming accumulator's time.

Run:  python benchmarks/bench_metrics.py            (about a minute)
      python benchmarks/bench_metrics.py --quick    (smaller, for a smoke test)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import ncedu


def make_features(N: int, p: int, C: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    means = 3.0 * torch.randn(C, p, generator=g)
    y = torch.arange(N) % C
    H = (means[y] + torch.randn(N, p, generator=g)).float()
    W = torch.randn(C, p, generator=g)
    b = torch.randn(C, generator=g)
    return H, y, W, b


def straightforward(H, y, W, b):
    """Textbook vectorised NC1–NC4: (p, p) covariances, eigendecomposition pseudo-inverse, cdist."""
    C = W.shape[0]
    mu_G = H.mean(0)
    mu = torch.stack([H[y == c].mean(0) for c in range(C)])
    M = mu - mu_G
    R = H - mu[y]
    Sw = R.T @ R / H.shape[0]
    Sb = M.T @ M / C
    lam, V = torch.linalg.eigh(Sb.double())
    lam, V = lam[-(C - 1) :], V[:, -(C - 1) :]
    nc1 = float(torch.trace(Sw.double() @ (V / lam) @ V.T)) / C
    out = {"nc1": nc1}
    for name, rows in (("means", M), ("classifiers", W)):
        norms = rows.norm(dim=1)
        U = rows / norms[:, None]
        cos = (U @ U.T)[torch.triu_indices(C, C, 1).unbind()]
        out[f"nc2_equinorm_{name}"] = float(norms.std() / norms.mean())
        out[f"nc2_equiangular_{name}"] = float(cos.std())
        out[f"nc2_maxangle_{name}"] = float((cos + 1 / (C - 1)).abs().mean())
    out["nc3"] = float((W / W.norm() - M / M.norm()).pow(2).sum())
    net = (H @ W.T + b).argmax(1)
    ncc = torch.cdist(H, mu).argmin(1)
    out["nc4"] = float((net != ncc).float().mean())
    return out


def authors_notebook_algorithm(H, y, W, b, batch=128):
    """The loops of the authors' notebook (two passes, per-class, per-sample outer products)."""
    C, p = W.shape
    N = [0] * C
    mean = [torch.zeros(p) for _ in range(C)]
    Sw = torch.zeros(p, p)
    mismatch = 0
    for computation in ("Mean", "Cov"):
        for start in range(0, H.shape[0], batch):
            h, target = H[start : start + batch], y[start : start + batch]
            output = h @ W.T + b
            for c in range(C):
                idxs = (target == c).nonzero(as_tuple=True)[0]
                if len(idxs) == 0:
                    continue
                h_c = h[idxs, :]
                if computation == "Mean":
                    mean[c] += h_c.sum(0)
                    N[c] += h_c.shape[0]
                else:
                    z = h_c - mean[c].unsqueeze(0)
                    Sw += torch.matmul(z.unsqueeze(-1), z.unsqueeze(1)).sum(0)
                    net_pred = output[idxs, :].argmax(1)
                    scores = torch.stack([torch.norm(h_c[i, :] - Mt, dim=1) for i in range(h_c.shape[0])])
                    mismatch += int((scores.argmin(1) != net_pred).sum())
        if computation == "Mean":
            for c in range(C):
                mean[c] /= N[c]
            Mt = torch.stack(mean)
    Sw /= sum(N)
    muG = Mt.mean(0)
    M_ = Mt - muG
    Sb = M_.T @ M_ / C
    lam, V = torch.linalg.eigh(Sb.double())
    nc1 = float(torch.trace(Sw.double() @ (V[:, -(C - 1) :] / lam[-(C - 1) :]) @ V[:, -(C - 1) :].T))
    return nc1, mismatch / sum(N)


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    N, p, C = (10_000, 256, 10) if args.quick else (50_000, 512, 10)
    repeats = 3 if args.quick else 9
    H, y, W, b = make_features(N, p, C)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; N={N}, p={p}, C={C}, float32\n")

    ours = ncedu.measure(H, y, W, b)
    base = straightforward(H, y, W, b)
    worst = max(abs(getattr(ours, k) - v) / max(abs(v), 1e-12) for k, v in base.items() if k != "nc4")
    flips = round(abs(ours.nc4 - base["nc4"]) * N)
    print(f"agreement with the straightforward implementation: max relative difference {worst:.1e}; "
          f"NC4 decisions differing: {flips} of {N}\n")

    t_ours = median_time(lambda: ncedu.measure(H, y, W, b), repeats)
    t_base = median_time(lambda: straightforward(H, y, W, b), max(3, repeats // 3))
    sub = N // 10
    t0 = time.perf_counter()
    authors_notebook_algorithm(H[:sub], y[:sub], W, b)
    t_auth = (time.perf_counter() - t0) * (N / sub)

    def stream():
        acc = ncedu.NCAccumulator(C)
        for s in range(0, N, 4096):
            acc.update(H[s : s + 4096], y[s : s + 4096])
        acc.compute(W, b)

    t_stream = median_time(stream, max(3, repeats // 3))
    print(f"{'implementation':48s} {'median time':>12s} {'ncedu.measure is':>18s}")
    print(f"{'ncedu.measure (NC1-NC4, one shot)':48s} {t_ours * 1e3:10.1f} ms {'':>18s}")
    print(f"{'straightforward vectorised (same run)':48s} {t_base * 1e3:10.1f} ms {t_base / t_ours:15.1f} x faster")
    print(f"{'authors-notebook loops (N/10, scaled to N)':48s} {t_auth * 1e3:10.1f} ms {t_auth / t_ours:15.1f} x faster")
    print(f"{'ncedu.NCAccumulator (NC1-NC3, batches of 4096)':48s} {t_stream * 1e3:10.1f} ms")
    print(f"\nbudget: ncedu.measure <= 60 ms at N=50,000, p=512, C=10 -> {'MET' if t_ours <= 0.060 else 'NOT MET'}"
          + (" (quick run: sizes differ)" if args.quick else ""))

    print("\nscaling of ncedu.measure (median ms):")
    grid = [(N // 4, p, C), (N // 2, p, C), (N, p, C), (N, p // 2, C), (N, 2 * p, C), (N, p, 2 * C), (N, p, 5 * C)]
    for n_, p_, c_ in grid:
        H2, y2, W2, b2 = make_features(n_, p_, c_, seed=1)
        t = median_time(lambda: ncedu.measure(H2, y2, W2, b2), max(3, repeats // 3))
        print(f"  N={n_:7d} p={p_:5d} C={c_:4d}: {t * 1e3:8.1f} ms   ({t / (n_ * p_ * c_) * 1e12:6.2f} ps per N*p*C)")


if __name__ == "__main__":
    main()
