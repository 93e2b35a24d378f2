"""ncedu under hostile input, metrics, streaming and ``measure_model``: features, labels, classifiers and loaders.

A correct result, a warning with NaN, or an error naming the argument, before any work is done.
Inputs are built here (``tests/bad_input_data.py``) independently of the code under test; errors
are checked for their exact class and for naming the argument, silent wrong results against an
independent float64 computation (``tests/reference.py``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import ncedu

from .bad_input_data import SCALARS, assert_close_to_reference, mixture, near_collapse, small_mlp, torch_data
from .reference import reference_metrics


def test_constant_float32_features_give_nan_with_a_warning_not_perfect_collapse():
    H = np.full((30, 5), 0.7, dtype=np.float32)
    y = np.arange(30) % 3
    with pytest.warns(RuntimeWarning, match="coincide"):
        m = ncedu.measure(H, y, W=np.eye(3, 5))
    assert math.isnan(m.nc1) and math.isnan(m.nc2_equiangular_means) and math.isnan(m.nc4)
    acc = ncedu.NCAccumulator(3).update(H, y)
    with pytest.warns(RuntimeWarning, match="coincide"):
        assert math.isnan(acc.compute().nc1)


def test_identical_float64_points_in_three_classes_give_nan_not_a_huge_number():
    H = np.tile([[1.0 / 3, 2.0 / 7, 5.0]], (9, 1))
    y = np.arange(9) % 3
    with pytest.warns(RuntimeWarning, match="coincide"):
        m = ncedu.measure(H, y)
    assert math.isnan(m.nc1) and math.isnan(m.cdnv)


class DeadNetwork(nn.Module):
    """Its features are a constant (every ReLU is off, then a bias): a dead network."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 8)
        with torch.no_grad():
            self.body.weight.zero_()
            self.body.bias.fill_(-1.0)
        self.lift = nn.Linear(8, 8)
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(self.lift(torch.relu(self.body(x))))


def test_measure_model_on_a_dead_network_gives_nan_with_a_warning():
    x, y = torch_data()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    with pytest.warns(RuntimeWarning, match="coincide"):
        m = ncedu.measure_model(DeadNetwork(), loader)
    assert math.isnan(m.nc1)


class AuxiliaryHead(nn.Module):
    """``fc`` produces the output; an auxiliary head is registered after it and never used by forward."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
        self.fc = nn.Linear(8, 3)
        self.aux = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.body(x))


def test_measure_model_takes_the_layer_that_produces_the_output_not_the_last_registered():
    torch.manual_seed(0)
    model = AuxiliaryHead()
    x, y = torch_data()
    m = ncedu.measure_model(model, DataLoader(TensorDataset(x, y), batch_size=16))
    with torch.no_grad():
        h = model.body(x).double().numpy()
    ref = reference_metrics(h, y.numpy(), model.fc.weight.detach().double().numpy(), model.fc.bias.detach().double().numpy())
    assert m.nc3 == pytest.approx(ref["nc3"], rel=1e-5)


def test_an_ambiguous_classifier_is_refused_with_a_request_for_classifier():
    class TwoHeads(AuxiliaryHead):
        def forward(self, x):
            h = self.body(x)
            return self.fc(h) + self.aux(h)  # neither Linear's output is the model's output

    x, y = torch_data()
    with pytest.raises(ValueError, match="pass classifier="):
        ncedu.measure_model(TwoHeads(), DataLoader(TensorDataset(x, y), batch_size=16))


def imbalanced_subset(H, y, C):
    """The first half of the classes keeps every fifth sample (an imbalance ratio of five)."""
    keep = np.flatnonzero((y >= C // 2) | (np.arange(len(y)) % 5 == 0))
    return H[keep], y[keep]


@pytest.mark.parametrize("imbalanced", [False, True], ids=["balanced", "imbalanced"])
@pytest.mark.parametrize("batch", [1, 7, 128, 4096])
def test_streaming_far_from_the_origin_is_exact_at_any_batch_size(batch, imbalanced):
    H, y, W = near_collapse(N=4096, spread=1e-4 if imbalanced else 1e-3)
    if imbalanced:
        H, y = imbalanced_subset(H, y, 4)
    ref = reference_metrics(H.astype(np.float64), y, W)
    acc = ncedu.NCAccumulator(4)
    for start in range(0, len(y), batch):
        acc.update(H[start:start + batch], y[start:start + batch])
    assert_close_to_reference(acc.compute(W), ref, SCALARS + ["nc3"], 1e-5)
    fast = ncedu.NCAccumulator(4, second_moment=False)
    for start in range(0, len(y), batch):
        fast.update(H[start:start + batch], y[start:start + batch])
    second = fast.second_pass(W)
    for start in range(0, len(y), batch):
        second.update(H[start:start + batch], y[start:start + batch])
    assert_close_to_reference(second.compute(), ref, SCALARS + ["nc3", "nc4"], 1e-5)


@pytest.mark.parametrize("imbalanced", [False, True])
def test_measure_far_from_the_origin_is_exact_in_float32(imbalanced):
    H, y, W = near_collapse(N=20000, p=64, C=10, spread=1e-4)
    if imbalanced:
        H, y = imbalanced_subset(H, y, 10)
    ref = reference_metrics(H.astype(np.float64), y, W)
    m = ncedu.measure(torch.from_numpy(H), torch.from_numpy(y), W)
    assert_close_to_reference(m, ref, SCALARS + ["nc3", "nc4"], 1e-5)


@pytest.mark.parametrize(
    ("scale", "dtype"),
    [(1e19, np.float32), (1e-40, np.float32), (1e160, np.float64), (1e-300, np.float64)],
    ids=["float32-huge", "float32-subnormal", "float64-huge", "float64-tiny"],
)
def test_extreme_magnitudes_give_the_metrics_of_the_unscaled_features(scale, dtype):
    H, y, W = near_collapse(N=600, p=8, C=3, offset=0.0, spread=0.3, dtype=np.float64)
    ref = ncedu.measure(H, y, W)
    Hs = (H * scale).astype(dtype)
    assert np.all(np.isfinite(Hs)) and np.any(Hs != 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN-with-warning here: these are ordinary features, scaled
        m = ncedu.measure(Hs, y, W)
        acc = ncedu.NCAccumulator(3).update(Hs, y).compute(W)
    tol = 1e-4 if dtype == np.float32 and scale < 1 else 1e-5  # subnormals keep fewer digits
    for key in SCALARS + ["nc3", "nc4"]:
        assert getattr(m, key) == pytest.approx(getattr(ref, key), rel=tol, abs=1e-12), key
    for key in SCALARS + ["nc3"]:
        assert getattr(acc, key) == pytest.approx(getattr(ref, key), rel=tol, abs=1e-12), key


def test_a_mismatch_rate_outside_zero_one_is_refused():
    H, y = mixture()
    with pytest.raises(ValueError, match="nc4 must be at most 1"):
        ncedu.NCAccumulator(3).update(H, y).compute(nc4=1.7)


def test_raw_class_ids_get_a_short_message_before_any_allocation():
    H = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels reach class 10000000.*relabel") as info:
        ncedu.measure(H, [0, 1, 10**7])
    assert len(str(info.value)) < 400


def test_numpy_string_labels_are_refused_with_advice():
    with pytest.raises(TypeError, match=r"labels must be a numeric array.*np.unique"):
        ncedu.measure(np.zeros((3, 2)), np.array(["cat", "dog", "cat"]))


def test_a_one_shot_generator_is_refused_as_the_loader_of_measure_model():
    x, y = torch_data()
    batches = ((x[i:i + 16], y[i:i + 16]) for i in range(0, len(y), 16))
    with pytest.raises(TypeError, match="loader must be re-iterable"):
        ncedu.measure_model(small_mlp(), batches)


def test_a_model_whose_head_is_registered_first_is_measured_by_what_it_returns():
    class HeadFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.out = nn.Linear(8, 3)
            self.body = nn.Sequential(nn.Linear(6, 8), nn.Tanh())

        def forward(self, x):
            return self.out(self.body(x))

    torch.manual_seed(0)
    model = HeadFirst()
    x, y = torch_data()
    m = ncedu.measure_model(model, DataLoader(TensorDataset(x, y), batch_size=16))
    with torch.no_grad():
        h = model.body(x).double().numpy()
    assert m.nc1 == pytest.approx(reference_metrics(h, y.numpy())["nc1"], rel=1e-5)


def test_simplex_etf_names_a_bad_seed_and_dimension():
    with pytest.raises(ValueError, match="seed must be at least 0"):
        ncedu.simplex_etf(3, 2, seed=-1)
    with pytest.raises(TypeError, match="dim must be an integer"):
        ncedu.simplex_etf(3, 2.0)
