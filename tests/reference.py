"""A plain float64 numpy implementation of the paper's definitions, written for checking.

Deliberately naive: it forms every (p, p) matrix, uses numpy's eigendecomposition for the
pseudo-inverse and brute-force distances for NC4. Used by the tests as the independent
computation and by ``benchmarks/`` as the "straightforward vectorised" baseline.
"""

from __future__ import annotations

import numpy as np


def reference_metrics(H, y, W=None, b=None):
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y)
    N, p = H.shape
    C = int(y.max()) + 1
    mu_G = H.mean(0)
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    M = mu - mu_G
    R = H - mu[y]
    Sw = R.T @ R / N
    Sb = M.T @ M / C
    lam, V = np.linalg.eigh(Sb)
    order = np.argsort(lam)[::-1][: C - 1]
    lam, V = lam[order], V[:, order]
    keep = lam > lam[0] * 1e-12
    Sb_pinv = (V[:, keep] / lam[keep]) @ V[:, keep].T
    out = {"nc1": np.trace(Sw @ Sb_pinv) / C}

    def nc2(rows):
        norms = np.linalg.norm(rows, axis=1)
        U = rows / norms[:, None]
        G = U @ U.T
        pairs = np.array([G[i, j] for i in range(C) for j in range(i + 1, C)])
        return (
            np.std(norms, ddof=1) / np.mean(norms),
            np.std(pairs, ddof=1) if len(pairs) > 1 else np.nan,
            np.mean(np.abs(pairs + 1.0 / (C - 1))),
        )

    out["nc2_equinorm_means"], out["nc2_equiangular_means"], out["nc2_maxangle_means"] = nc2(M)
    out["nc1_trace_ratio"] = np.trace(Sw) / np.trace(Sb)
    var = np.array([np.mean(np.sum((H[y == c] - mu[c]) ** 2, axis=1)) for c in range(C)])
    out["cdnv"] = np.mean(
        [(var[i] + var[j]) / (2 * np.sum((mu[i] - mu[j]) ** 2)) for i in range(C) for j in range(i + 1, C)]
    )
    if W is not None:
        W = np.asarray(W, dtype=np.float64)
        bb = np.zeros(C) if b is None else np.asarray(b, dtype=np.float64)
        out["nc2_equinorm_classifiers"], out["nc2_equiangular_classifiers"], out["nc2_maxangle_classifiers"] = nc2(W)
        out["nc3"] = np.sum((W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)
        net = np.argmax(H @ W.T + bb, axis=1)
        dist = np.linalg.norm(H[:, None, :] - mu[None, :, :], axis=2)
        ncc = np.argmin(dist, axis=1)
        out["nc4"] = np.mean(net != ncc)
    out["class_means"] = mu
    out["global_mean"] = mu_G
    return out
