"""Streaming accumulation, merging across workers and torch.distributed ranks, and measure_model."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import ncedu

from .reference import reference_metrics
from .test_metrics import CLASSIFIER_SCALARS, SCALARS, gaussian_classes

STREAMED = SCALARS + CLASSIFIER_SCALARS[:-1]  # everything but NC4, which takes a second pass


def stream(H, y, sizes, C, acc=None):
    acc = acc or ncedu.NCAccumulator(C)
    start = 0
    for size in sizes:
        if start >= len(y):
            break
        acc.update(H[start : start + size], y[start : start + size])
        start += size
    if start < len(y):
        acc.update(H[start:], y[start:])
    return acc


@pytest.mark.parametrize("sizes", [[1] * 7 + [500], [64] * 20, [3, 200, 17, 1, 1000]])
def test_streaming_in_any_batches_matches_the_reference(sizes):
    rng = np.random.default_rng(20)
    H, y = gaussian_classes(rng, C=5, p=9, n=[30, 60, 45, 80, 20], offset=50.0)
    W, b = rng.standard_normal((5, 9)), rng.standard_normal(5)
    acc = stream(H, y, sizes, 5)
    ref = reference_metrics(H, y, W, b)
    m = acc.compute(W, b)
    for key in STREAMED:
        assert getattr(m, key) == pytest.approx(ref[key], rel=1e-9), key
    assert m.nc4 is None
    counter = ncedu.NearestCentreMismatch(acc.class_means, W, b)
    for start in range(0, len(y), 50):
        counter.update(H[start : start + 50])
    assert counter.rate() == pytest.approx(ref["nc4"])
    np.testing.assert_allclose(acc.within_class_covariance().numpy(), ncedu.within_class_covariance(H, y), atol=1e-10)


def test_batches_missing_whole_classes_are_fine():
    rng = np.random.default_rng(21)
    H, y = gaussian_classes(rng, C=4, p=3, n=25)
    order = np.argsort(y, kind="stable")  # batches of 10 sorted by class: most hold one class only
    acc = stream(H[order], y[order], [10] * 10, 4)
    assert acc.compute().nc1 == pytest.approx(reference_metrics(H, y)["nc1"], rel=1e-10)


def test_merging_workers_equals_one_pass():
    rng = np.random.default_rng(22)
    H, y = gaussian_classes(rng, C=6, p=7, n=40, offset=-20.0)
    parts = np.array_split(np.arange(len(y)), 3)
    workers = [stream(H[idx], y[idx], [16] * 100, 6) for idx in parts]
    merged = ncedu.NCAccumulator(6)
    for w in workers:
        merged.merge(w)
    one = stream(H, y, [len(y)], 6)
    for key in SCALARS:
        assert getattr(merged.compute(), key) == pytest.approx(getattr(one.compute(), key), rel=1e-10), key


def test_accumulator_errors_are_clear():
    acc = ncedu.NCAccumulator(3)
    with pytest.raises(RuntimeError, match="call update"):
        acc.compute()
    acc.update(np.ones((2, 4)), [0, 1])
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] received no samples"):
        acc.compute()
    with pytest.raises(ValueError, match="features has 5 columns but earlier batches had 4"):
        acc.update(np.ones((2, 5)), [0, 2])
    with pytest.raises(ValueError, match="contains class 3 but num_classes=3"):
        acc.update(np.ones((2, 4)), [0, 3])
    with pytest.raises(ValueError, match="cannot merge accumulators with 4 and 3 classes"):
        acc.merge(ncedu.NCAccumulator(4))
    with pytest.raises(RuntimeError, match="initialised torch.distributed"):
        acc.all_reduce()
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        ncedu.NCAccumulator(1)


# ----------------------------------------------------------------- torch.distributed (gloo, 2 ranks)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, H, y, W, b, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        # Uneven shards with different class mixes: rank 0 gets mostly low classes.
        order = np.argsort(y + 0.5 * np.random.default_rng(0).random(len(y)), kind="stable")
        shard = order[: len(y) // 3] if rank == 0 else order[len(y) // 3 :]
        acc = ncedu.NCAccumulator(int(y.max()) + 1)
        for start in range(0, len(shard), 32):
            idx = shard[start : start + 32]
            acc.update(torch.from_numpy(H[idx]), torch.from_numpy(y[idx]))
        acc.all_reduce()
        counter = ncedu.NearestCentreMismatch(acc.class_means, W, b)
        counter.update(H[shard]).all_reduce()
        m = acc.compute(W, b, nc4=counter.rate())
        out[rank] = m.as_dict()
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_over_two_gloo_ranks_matches_the_whole_data():
    rng = np.random.default_rng(23)
    H, y = gaussian_classes(rng, C=4, p=6, n=[50, 30, 70, 40], offset=5.0)
    W, b = rng.standard_normal((4, 6)), rng.standard_normal(4)
    ref = reference_metrics(H, y, W, b)
    with mp.Manager() as manager:
        out = manager.dict()
        mp.start_processes(
            _rank_main, args=(2, _free_port(), H, y, W, b, out), nprocs=2, join=True, start_method="spawn"
        )
        results = dict(out)
    assert set(results) == {0, 1}
    for rank in (0, 1):
        for key in SCALARS + CLASSIFIER_SCALARS:
            assert results[rank][key] == pytest.approx(ref[key], rel=1e-9), (rank, key)


# ----------------------------------------------------------------- measuring a torch model
class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 6), nn.ReLU())
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.body(x))


def _loader(seed=30, n=90):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = torch.arange(n) % 3
    return x, y, DataLoader(TensorDataset(x, y), batch_size=16, shuffle=False)


def test_measure_model_takes_the_classifier_input_and_weights():
    torch.manual_seed(0)
    model = TwoLayer().train()
    x, y, loader = _loader()
    m = ncedu.measure_model(model, loader)
    assert model.training, "measure_model must restore the training mode"
    with torch.no_grad():
        model.eval()
        h = model.body(x)
    ref = reference_metrics(h.double().numpy(), y.numpy(), model.head.weight.detach().double().numpy(),
                            model.head.bias.detach().double().numpy())
    for key in SCALARS + CLASSIFIER_SCALARS:
        assert getattr(m, key) == pytest.approx(ref[key], rel=1e-5), key


def test_measure_model_with_a_named_feature_layer_and_classifier():
    torch.manual_seed(1)
    model = TwoLayer()
    x, y, loader = _loader(31)
    a = ncedu.measure_model(model, loader, feature_layer="body", classifier="head", nc4=False)
    b = ncedu.measure_model(model, loader)
    # one pass (float32 second moment) and two passes (projections) agree to float32 rounding
    assert a.nc1 == pytest.approx(b.nc1, rel=1e-6) and a.nc4 is None and b.nc4 is not None


def test_measure_model_errors_are_clear():
    x, y, loader = _loader()
    with pytest.raises(ValueError, match="no nn.Linear"):
        ncedu.measure_model(nn.Sequential(nn.Tanh()), loader)
    with pytest.raises(ValueError, match="'nope' is not a submodule"):
        ncedu.measure_model(TwoLayer(), loader, feature_layer="nope")
    with pytest.raises(ValueError, match="features have 8 dimensions but the classifier expects 6"):
        ncedu.measure_model(TwoLayer(), loader, feature_layer="body.1")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        ncedu.measure_model("model", loader)


def test_streaming_float32_batches_agree_with_float64_reference_on_the_same_values():
    rng = np.random.default_rng(24)
    H, y = gaussian_classes(rng, C=5, p=16, n=60, offset=30.0, spread=0.5)
    H32 = H.astype(np.float32)
    acc = stream(torch.from_numpy(H32), torch.from_numpy(y), [100] * 10, 5)
    ref = reference_metrics(H32.astype(np.float64), y)
    for key in SCALARS:
        assert getattr(acc.compute(), key) == pytest.approx(ref[key], rel=1e-5), key


def test_a_batch_with_nan_is_refused_and_leaves_the_state_unchanged():
    acc = ncedu.NCAccumulator(2)
    acc.update(np.array([[0.0, 1.0], [1.0, 0.0]]), [0, 1])
    before = acc.means.clone()
    with pytest.raises(ValueError, match="features contains 1 NaN"):
        acc.update(np.array([[np.nan, 1.0], [1.0, 0.0]]), [0, 1])
    assert torch.equal(acc.means, before) and acc.num_samples == 2
