"""NC1–NC4 agree with the paper's definitions, computed independently (tests/reference.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ncedu
from ncedu.geometry import random_orthogonal

from .reference import reference_metrics

SCALARS = [
    "nc1",
    "nc2_equinorm_means",
    "nc2_equiangular_means",
    "nc2_maxangle_means",
    "nc1_trace_ratio",
    "cdnv",
]
CLASSIFIER_SCALARS = [
    "nc2_equinorm_classifiers",
    "nc2_equiangular_classifiers",
    "nc2_maxangle_classifiers",
    "nc3",
    "nc4",
]


def gaussian_classes(rng, C=5, p=12, n=None, spread=1.0, offset=0.0, sep=3.0):
    """Features of C Gaussian classes; n is a per-class count or a list of counts."""
    counts = [n or 40] * C if not isinstance(n, (list, tuple)) else list(n)
    centres = sep * rng.standard_normal((C, p)) + offset
    H = np.concatenate([centres[c] + spread * rng.standard_normal((counts[c], p)) for c in range(C)])
    y = np.concatenate([np.full(counts[c], c) for c in range(C)])
    perm = rng.permutation(len(y))
    return H[perm], y[perm]


def assert_matches_reference(m, ref, rtol, keys):
    for key in keys:
        got, want = getattr(m, key), ref[key]
        assert got == pytest.approx(want, rel=rtol, abs=1e-300, nan_ok=True), f"{key}: {got} vs reference {want}"


# ----------------------------------------------------------------- agreement with the reference
@pytest.mark.parametrize("counts", [None, [10, 50, 30, 80, 25]], ids=["balanced", "imbalanced"])
def test_measure_matches_independent_float64_computation(counts):
    rng = np.random.default_rng(1)
    H, y = gaussian_classes(rng, C=5, p=12, n=counts, spread=2.0)
    W, b = rng.standard_normal((5, 12)), rng.standard_normal(5)
    m = ncedu.measure(H, y, W, b)
    ref = reference_metrics(H, y, W, b)
    assert_matches_reference(m, ref, 1e-9, SCALARS + CLASSIFIER_SCALARS)
    np.testing.assert_allclose(m.class_means, ref["class_means"], rtol=1e-12)
    np.testing.assert_allclose(m.global_mean, ref["global_mean"], rtol=1e-12, atol=1e-14)


def test_global_mean_is_the_sample_mean_not_the_mean_of_class_means():
    rng = np.random.default_rng(2)
    H, y = gaussian_classes(rng, C=3, p=4, n=[5, 50, 20])
    m = ncedu.measure(H, y)
    np.testing.assert_allclose(m.global_mean, H.mean(0), rtol=1e-12, atol=1e-14)
    assert not np.allclose(m.global_mean, m.class_means.mean(0))


def test_nearly_collapsed_features_keep_six_digits():
    # Means far from the origin and within-class spread 1e-4 of the between-class one: NC1 ~ 1e-8.
    rng = np.random.default_rng(3)
    C, p, n = 10, 64, 50
    means = 10 * ncedu.simplex_etf(C, p, seed=3) + 1e3
    H = np.repeat(means, n, axis=0) + 1e-3 * rng.standard_normal((C * n, p))
    y = np.repeat(np.arange(C), n)
    W = ncedu.simplex_etf(C, p, seed=3) + 1e-3 * rng.standard_normal((C, p))
    ref = reference_metrics(H, y, W)
    assert 1e-10 < ref["nc1"] < 1e-6
    m = ncedu.measure(H, y, W)
    assert_matches_reference(m, ref, 1e-6, SCALARS + CLASSIFIER_SCALARS)
    acc = ncedu.NCAccumulator(C)
    for start in range(0, C * n, 77):
        acc.update(H[start : start + 77], y[start : start + 77])
    assert_matches_reference(acc.compute(W), ref, 1e-6, SCALARS + CLASSIFIER_SCALARS[:-1])


def test_float32_features_agree_with_float64_reference_on_the_same_values():
    rng = np.random.default_rng(4)
    H, y = gaussian_classes(rng, C=10, p=32, n=100, spread=1.5)
    H32 = H.astype(np.float32)
    W = rng.standard_normal((10, 32)).astype(np.float32)
    ref = reference_metrics(H32.astype(np.float64), y, W)
    m = ncedu.measure(torch.from_numpy(H32), torch.from_numpy(y), torch.from_numpy(W))
    assert_matches_reference(m, ref, 1e-5, SCALARS + CLASSIFIER_SCALARS[:-1])
    assert m.nc4 == pytest.approx(ref["nc4"], abs=2.0 / len(y))  # at most a tie or two may flip


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_and_high_precision_tensors_are_accepted(dtype):
    rng = np.random.default_rng(5)
    H, y = gaussian_classes(rng, C=4, p=8, n=30)
    Ht = torch.from_numpy(H).to(dtype)
    ref = reference_metrics(Ht.double().numpy(), y)
    m = ncedu.measure(Ht, torch.from_numpy(y))
    assert m.nc1 == pytest.approx(ref["nc1"], rel=1e-5)


def test_numpy_integer_and_float_labels_give_the_same_result():
    rng = np.random.default_rng(6)
    H, y = gaussian_classes(rng, C=3, p=5)
    a = ncedu.measure(H, y.astype(np.int32)).nc1
    b = ncedu.measure(H, y.astype(np.float64)).nc1
    c = ncedu.measure(torch.from_numpy(H), torch.from_numpy(y)).nc1
    assert a == b == c


# ----------------------------------------------------------------- closed forms and exact ETFs
def test_nc1_closed_form_two_classes_on_a_line():
    # Class 0 at -1 +- a, class 1 at +1 +- a: Sigma_W = a^2, Sigma_B = 1, so NC1 = a^2 / C = a^2 / 2.
    a = 0.3
    H = np.array([[-1 - a], [-1 + a], [1 - a], [1 + a]])
    y = np.array([0, 0, 1, 1])
    assert ncedu.measure(H, y).nc1 == pytest.approx(a**2 / 2, rel=1e-14)
    assert ncedu.measure(H, y).nc1_trace_ratio == pytest.approx(a**2, rel=1e-14)


def test_nc2_closed_form_equinorm_and_angles():
    # Centred means of norms 1, 1, 2 along known directions.
    M = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]) * np.array([[1.0], [1.0], [1.0]])
    H = np.repeat(M, 3, axis=0)
    y = np.repeat(np.arange(3), 3)
    m = ncedu.measure(H, y)
    norms = np.array([1.0, 1.0, math.sqrt(2.0)])
    assert m.nc2_equinorm_means == pytest.approx(norms.std(ddof=1) / norms.mean(), rel=1e-12)
    cos = np.array([0.0, -1 / math.sqrt(2), -1 / math.sqrt(2)])
    assert m.nc2_equiangular_means == pytest.approx(cos.std(ddof=1), rel=1e-12)
    assert m.nc2_maxangle_means == pytest.approx(np.mean(np.abs(cos + 0.5)), rel=1e-12)


@pytest.mark.parametrize("C,p", [(2, 1), (3, 2), (4, 7), (10, 9), (10, 64)])
def test_exact_simplex_etf_gives_zero_nc1_nc2_nc3_nc4(C, p):
    V = ncedu.simplex_etf(C, p, seed=C + p)
    offset = np.full(p, 2.0)  # a global mean away from the origin, absorbed by the bias
    H = np.repeat(5.0 * V + offset, 3, axis=0)
    y = np.repeat(np.arange(C), 3)
    m = ncedu.measure(H, y, W=0.7 * V, b=-0.7 * V @ offset)
    for key in SCALARS[:4] + CLASSIFIER_SCALARS:
        if C == 2 and "equiangular" in key:
            assert math.isnan(getattr(m, key)), key  # one pair: no standard deviation
        else:
            assert abs(getattr(m, key)) < 1e-10, key


def test_ncc_equivalent_classifier_gives_zero_nc4_on_any_data():
    # argmin_c ||h - mu_c|| = argmax_c (mu_c . h - ||mu_c||^2 / 2): W = class means, b = -||mu_c||^2 / 2.
    rng = np.random.default_rng(7)
    H, y = gaussian_classes(rng, C=6, p=10, spread=4.0)
    mu = reference_metrics(H, y)["class_means"]
    m = ncedu.measure(H, y, W=mu, b=-0.5 * (mu**2).sum(1))
    assert m.nc4 == 0.0
    assert ncedu.measure(H, y, W=mu).nc4 > 0  # without the bias the rules differ on this data


def test_nc3_is_squared_and_ignores_rescaling():
    rng = np.random.default_rng(8)
    H, y = gaussian_classes(rng, C=4, p=6)
    M = reference_metrics(H, y)["class_means"] - H.mean(0)
    E = rng.standard_normal(M.shape)
    W = M + 0.1 * np.linalg.norm(M) * E
    d = W / np.linalg.norm(W) - M / np.linalg.norm(M)
    assert ncedu.measure(H, y, W=W).nc3 == pytest.approx(np.sum(d**2), rel=1e-12)
    assert ncedu.measure(H, y, W=42.0 * W).nc3 == pytest.approx(np.sum(d**2), rel=1e-12)


def test_two_classes_have_no_equiangularity_a_single_pair_has_no_standard_deviation():
    rng = np.random.default_rng(9)
    H, y = gaussian_classes(rng, C=2, p=3)
    m = ncedu.measure(H, y, W=rng.standard_normal((2, 3)))
    assert math.isnan(m.nc2_equiangular_means) and math.isnan(m.nc2_equiangular_classifiers)
    assert m.nc2_maxangle_means == pytest.approx(0.0, abs=1e-12)  # two centred means are always antipodal


def test_all_class_means_equal_gives_nan_with_a_warning_not_zero():
    H = np.array([[1.0, 2.0], [3.0, 4.0], [3.0, 4.0], [1.0, 2.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(RuntimeWarning, match="class means coincide"):
        m = ncedu.measure(H, y)
    assert math.isnan(m.nc1)


def test_as_dict_lists_every_metric_and_arrays_on_request():
    rng = np.random.default_rng(10)
    H, y = gaussian_classes(rng, C=3, p=4)
    d = ncedu.measure(H, y).as_dict()
    assert set(d) == set(ncedu.METRIC_NAMES)
    assert d["nc3"] is None and d["nc4"] is None
    d = ncedu.measure(H, y, W=np.ones((3, 4)) + np.eye(3, 4)).as_dict(arrays=True)
    assert d["class_means"].shape == (3, 4) and d["nc4"] is not None


# ----------------------------------------------------------------- invariances (property-based)
def _random_problem(seed, C, p, imbalanced):
    rng = np.random.default_rng(seed)
    counts = list(rng.integers(3, 30, size=C)) if imbalanced else None
    H, y = gaussian_classes(rng, C=C, p=p, n=counts, spread=1.0 + rng.random())
    return rng, H, y, rng.standard_normal((C, p)), rng.standard_normal(C)


problems = st.tuples(
    st.integers(0, 2**31 - 1), st.integers(2, 8), st.integers(1, 12), st.booleans()
).filter(lambda t: t[2] >= t[1] - 1)

ALL = SCALARS + CLASSIFIER_SCALARS


@settings(max_examples=25, deadline=None)
@given(problems)
def test_metrics_are_invariant_to_rotations(problem):
    rng, H, y, W, b = _random_problem(*problem)
    Q = random_orthogonal(H.shape[1], rng)
    a, r = ncedu.measure(H, y, W, b), ncedu.measure(H @ Q, y, W @ Q, b)
    for key in ALL:
        assert getattr(r, key) == pytest.approx(getattr(a, key), rel=1e-7, abs=1e-9, nan_ok=True), key


@settings(max_examples=25, deadline=None)
@given(problems)
def test_metrics_are_invariant_to_translations_with_the_bias_following(problem):
    rng, H, y, W, b = _random_problem(*problem)
    t = 10 * rng.standard_normal(H.shape[1])
    a, r = ncedu.measure(H, y, W, b), ncedu.measure(H + t, y, W, b - W @ t)
    for key in ALL:
        assert getattr(r, key) == pytest.approx(getattr(a, key), rel=1e-6, abs=1e-8, nan_ok=True), key


@settings(max_examples=25, deadline=None)
@given(problems, st.floats(1e-3, 1e3))
def test_metrics_are_invariant_to_global_rescaling(problem, s):
    rng, H, y, W, _ = _random_problem(*problem)
    a, r = ncedu.measure(H, y, W), ncedu.measure(s * H, y, W)
    for key in ALL:
        assert getattr(r, key) == pytest.approx(getattr(a, key), rel=1e-7, abs=1e-9, nan_ok=True), key


@settings(max_examples=25, deadline=None)
@given(problems)
def test_metrics_are_invariant_to_relabelling_classes(problem):
    rng, H, y, W, b = _random_problem(*problem)
    perm = rng.permutation(W.shape[0])  # class c becomes perm[c]
    inv = np.argsort(perm)
    a, r = ncedu.measure(H, y, W, b), ncedu.measure(H, perm[y], W[inv], b[inv])
    for key in ALL:
        assert getattr(r, key) == pytest.approx(getattr(a, key), rel=1e-7, abs=1e-9, nan_ok=True), key
    np.testing.assert_allclose(r.class_means[perm], a.class_means)


@settings(max_examples=25, deadline=None)
@given(problems)
def test_nc1_never_negative_and_matches_reference(problem):
    _, H, y, W, b = _random_problem(*problem)
    m, ref = ncedu.measure(H, y, W, b), reference_metrics(H, y, W, b)
    assert m.nc1 >= 0
    assert m.nc1 == pytest.approx(ref["nc1"], rel=1e-7)
    assert m.nc4 == pytest.approx(ref["nc4"])


# ----------------------------------------------------------------- covariance helpers
def test_total_covariance_splits_into_within_and_between_for_balanced_classes():
    rng = np.random.default_rng(11)
    H, y = gaussian_classes(rng, C=4, p=5, n=25)
    St, Sw, Sb = ncedu.total_covariance(H), ncedu.within_class_covariance(H, y), ncedu.between_class_covariance(H, y)
    np.testing.assert_allclose(St, Sw + Sb, atol=1e-12)
    np.testing.assert_allclose(St, np.cov(H.T, bias=True), atol=1e-12)


def test_total_covariance_splits_with_class_frequencies_when_imbalanced():
    rng = np.random.default_rng(12)
    H, y = gaussian_classes(rng, C=3, p=4, n=[5, 30, 12])
    mu = ncedu.class_means(H, y)
    M = mu - ncedu.global_mean(H)
    freq = np.bincount(y) / len(y)
    St, Sw = ncedu.total_covariance(H), ncedu.within_class_covariance(H, y)
    np.testing.assert_allclose(St, Sw + (M.T * freq) @ M, atol=1e-12)
    assert not np.allclose(St, Sw + ncedu.between_class_covariance(H, y), atol=1e-6)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "features,labels,kwargs,match",
    [
        (np.ones(5), np.zeros(5), {}, "features must be a 2-D"),
        (np.ones((4, 2)), np.zeros((4, 1)), {}, "labels must be a 1-D"),
        (np.ones((4, 2)), np.array([0, 1, 0]), {}, "labels has length 3 but features has 4"),
        (np.ones((4, 2)), np.array([0, 1.5, 0, 1]), {}, "non-integer"),
        (np.ones((4, 2)), np.array([0, -1, 0, 1]), {}, "non-negative"),
        (np.ones((4, 2)), np.array([0, 2, 0, 2]), {}, r"class\(es\) \[1\] have no samples"),
        (np.ones((4, 2)), np.zeros(4, dtype=int), {}, "at least 2 classes"),
        (np.array([[1.0, np.nan], [0, 1], [1, 1], [2, 2]]), np.array([0, 1, 0, 1]), {}, "features contains 1 NaN"),
        (np.array([[1.0, np.inf], [0, 1], [1, 1], [2, 2]]), np.array([0, 1, 0, 1]), {}, "features contains 1 NaN or inf"),
        (np.eye(4), np.array([0, 1, 0, 1]), {"W": np.ones((4, 2))}, "looks transposed"),
        (np.eye(4), np.array([0, 1, 0, 1]), {"W": np.ones((3, 4))}, r"W must have shape"),
        (np.eye(4), np.array([0, 1, 0, 1]), {"W": np.ones((2, 4)), "b": np.ones(3)}, r"b must have shape \(num_classes,\)"),
        (np.eye(4), np.array([0, 1, 0, 1]), {"W": np.array([[1.0, 0, 0, np.nan], [0, 1, 0, 0]])}, "W contains 1 NaN"),
        (np.eye(4), np.array([0, 1, 0, 1]), {"b": np.ones(2)}, "b was given without W"),
        ("abc", np.array([0, 1]), {}, "features must be a numpy array or a torch tensor"),
    ],
)
def test_bad_input_gets_a_clear_error(features, labels, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ncedu.measure(features, labels, **kwargs)


def test_num_classes_larger_than_labels_names_the_empty_class():
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have no samples"):
        ncedu.measure(np.eye(4), np.array([0, 1, 0, 1]), num_classes=3)


def test_no_warning_on_ordinary_input():
    rng = np.random.default_rng(13)
    H, y = gaussian_classes(rng, C=3, p=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ncedu.measure(H, y, W=rng.standard_normal((3, 4)))


def test_self_duality_is_the_squared_distance_of_the_normalised_matrices_and_validates():
    rng = np.random.default_rng(40)
    M = rng.standard_normal((4, 6))
    W = M + 0.3 * rng.standard_normal((4, 6))
    expected = np.sum((W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)
    assert ncedu.self_duality(W, M) == pytest.approx(expected, rel=1e-12)
    assert ncedu.self_duality(np.eye(3), np.eye(3)) == 0.0
    assert ncedu.self_duality(-2 * M, M) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="W must have shape"):
        ncedu.self_duality(W.T, M)
    with pytest.warns(RuntimeWarning, match="undefined"):
        assert math.isnan(ncedu.self_duality(np.zeros((4, 6)), M))


def test_nearest_centre_is_the_brute_force_argmin_of_distances():
    rng = np.random.default_rng(41)
    mu = 50.0 + rng.standard_normal((5, 7))
    H = mu[rng.integers(0, 5, 3000)] + 0.8 * rng.standard_normal((3000, 7))
    brute = np.argmin(np.linalg.norm(H[:, None, :] - mu[None], axis=2), axis=1)
    np.testing.assert_array_equal(ncedu.nearest_centre(H, mu), brute)
    with pytest.raises(ValueError, match="features has 7 columns but class_means has 3"):
        ncedu.nearest_centre(H, mu[:, :3])


def test_minority_collapse_is_the_mean_cosine_of_the_minority_rows():
    rng = np.random.default_rng(42)
    W = rng.standard_normal((6, 5))
    minority = [1, 3, 4]
    U = W[minority] / np.linalg.norm(W[minority], axis=1, keepdims=True)
    expected = np.mean([U[a] @ U[b] for a in range(3) for b in range(a + 1, 3)])
    assert ncedu.metrics.minority_collapse(W, minority) == pytest.approx(expected, rel=1e-12)
    assert ncedu.metrics.minority_collapse(ncedu.simplex_etf(6, 5), [0, 5]) == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="at least two distinct"):
        ncedu.metrics.minority_collapse(W, [2, 2])
    with pytest.raises(ValueError, match="minority entries must be at most 5"):
        ncedu.metrics.minority_collapse(W, [1, 9])
