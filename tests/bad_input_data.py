"""Inputs shared by the hostile-input tests (``tests/test_bad_input_*.py``), built independently of ncedu's code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ncedu


SCALARS = ["nc1", "nc2_equinorm_means", "nc2_equiangular_means", "nc2_maxangle_means", "nc1_trace_ratio", "cdnv"]


def mixture(n=30, C=3, p=6, seed=0):
    rng = np.random.default_rng(seed)
    means = 4.0 * rng.standard_normal((C, p))
    y = np.arange(n * C) % C
    return (means[y] + rng.standard_normal((n * C, p))).astype(np.float32), y


def small_mlp(p=6, C=3, batch_norm=True, seed=0):
    torch.manual_seed(seed)
    return ncedu.models.MLP(in_features=p, num_classes=C, width=16, depth=1, batch_norm=batch_norm)


def torch_data(seed=0):
    x, y = mixture(seed=seed)
    return torch.from_numpy(x), torch.from_numpy(y)


def near_collapse(N=4096, p=16, C=4, offset=100.0, spread=1e-3, seed=0, dtype=np.float32):
    """Features near a simplex ETF, far from the origin, as float32 values (the reference uses the same values)."""
    rng = np.random.default_rng(seed)
    means = ncedu.simplex_etf(C, p, seed=seed) + offset
    y = rng.permutation(np.arange(N) % C)
    H = (means[y] + spread * rng.standard_normal((N, p))).astype(dtype)
    W = ncedu.simplex_etf(C, p, seed=seed) + 0.01 * rng.standard_normal((C, p))
    return H, y, W


def assert_close_to_reference(m, ref, keys, rtol):
    for key in keys:
        assert getattr(m, key) == pytest.approx(ref[key], rel=rtol), (key, getattr(m, key), ref[key])
