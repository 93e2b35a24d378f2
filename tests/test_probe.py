"""Probes on frozen features (ncedu.probe) against hand-written loops and an independent optimiser."""

from __future__ import annotations

import numpy as np
import pytest

from ncedu.probe import few_shot_split, linear_probe, ncc_probe


def clusters(rng, classes=(5, 6, 7, 8), per_class=12, p=6, sep=2.0):
    centres = sep * rng.standard_normal((len(classes), p))
    y = np.repeat(np.asarray(classes), per_class)
    H = centres[np.repeat(np.arange(len(classes)), per_class)] + rng.standard_normal((len(y), p))
    return H, y


# ----------------------------------------------------------------- few_shot_split
def test_few_shot_split_takes_shots_of_every_class_by_the_seed():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat([2, 4, 9], [7, 5, 9]))
    chosen, rest = few_shot_split(y, shots=3, seed=11)
    assert [int((y[chosen] == c).sum()) for c in (2, 4, 9)] == [3, 3, 3]
    assert y[chosen].tolist() == [2] * 3 + [4] * 3 + [9] * 3  # grouped by class
    assert sorted(chosen.tolist() + rest.tolist()) == list(range(len(y)))  # a partition
    again, _ = few_shot_split(y, shots=3, seed=11)
    other, _ = few_shot_split(y, shots=3, seed=12)
    assert np.array_equal(chosen, again) and not np.array_equal(chosen, other)
    everything, nothing = few_shot_split(y, shots=5, seed=0)  # as many as the smallest class has
    assert np.array_equal(np.sort(everything[y[everything] == 4]), np.flatnonzero(y == 4)) and len(nothing) == 6


def test_few_shot_split_refuses_too_few_examples_and_bad_settings():
    y = np.array([0, 0, 0, 1, 3, 3])
    with pytest.raises(ValueError, match=r"shots=2 examples per class, but labels has fewer for some classes \(class 1 has 1\)"):
        few_shot_split(y, shots=2)
    with pytest.raises(ValueError, match="shots must be at least 1, got 0"):
        few_shot_split(y, shots=0)
    with pytest.raises(TypeError, match="shots must be an integer"):
        few_shot_split(y, shots=1.5)
    with pytest.raises(ValueError, match="seed must be at least 0"):
        few_shot_split(y, shots=1, seed=-1)
    with pytest.raises(ValueError, match="labels must be a 1-D array"):
        few_shot_split(y.reshape(2, 3), shots=1)
    with pytest.raises(ValueError, match="labels is empty"):
        few_shot_split(np.array([], dtype=int), shots=1)


# ----------------------------------------------------------------- the nearest-class-centre probe
def test_ncc_probe_equals_a_hand_written_loop():
    rng = np.random.default_rng(1)
    H, y = clusters(rng, sep=0.8)  # overlapping: some test points are misclassified
    chosen, rest = few_shot_split(y, shots=3, seed=2)
    result = ncc_probe(H[chosen], y[chosen], H[rest], y[rest])
    classes = sorted(set(y[chosen].tolist()))
    means = {c: [sum(H[i][j] for i in chosen if y[i] == c) / 3 for j in range(H.shape[1])] for c in classes}
    predictions = []
    for i in rest:
        best, best_d = None, float("inf")
        for c in classes:
            d = sum((H[i][j] - means[c][j]) ** 2 for j in range(H.shape[1]))
            if d < best_d:
                best, best_d = c, d
        predictions.append(best)
    assert result.predictions.tolist() == predictions
    assert result.accuracy == pytest.approx(np.mean(np.array(predictions) == y[rest]))
    assert 0 < result.accuracy < 1
    np.testing.assert_allclose(result.means, [means[c] for c in classes], rtol=1e-12)
    assert result.classes.tolist() == classes and result.W is None


# ----------------------------------------------------------------- the linear (logistic) probe
def gradient_descent(H, idx, K, lam, steps=60000):
    """Plain full-batch gradient descent on the same objective, in numpy: an independent optimiser."""
    n, p = H.shape
    W, b = np.zeros((K, p)), np.zeros(K)
    Y = np.eye(K)[idx]
    step = 1.0 / (0.5 * np.linalg.norm(H, 2) ** 2 / n + 0.5 + lam)  # 1 / (a bound on the curvature)
    for _ in range(steps):
        Z = H @ W.T + b
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        W -= step * ((P - Y).T @ H / n + lam * W)
        b -= step * (P - Y).mean(0)
    return W, b


def objective_gradient(H, idx, K, lam, W, b):
    Z = H @ W.T + b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    Y = np.eye(K)[idx]
    return (P - Y).T @ H / len(idx) + lam * W, (P - Y).mean(0)


def test_linear_probe_reaches_the_optimum_an_independent_optimiser_finds():
    rng = np.random.default_rng(3)
    H, y = clusters(rng, classes=(1, 4, 6), per_class=8, p=4, sep=1.5)
    chosen, rest = few_shot_split(y, shots=4, seed=0)
    lam = 0.05
    result = linear_probe(H[chosen], y[chosen], H[rest], y[rest], weight_decay=lam, tol=1e-9)
    assert result.converged
    idx = np.searchsorted([1, 4, 6], y[chosen])
    W, b = gradient_descent(H[chosen], idx, 3, lam)
    np.testing.assert_allclose(result.W, W, atol=1e-6)
    np.testing.assert_allclose(result.b - result.b.mean(), b - b.mean(), atol=1e-6)  # b is defined up to a constant
    gW, gb = objective_gradient(H[chosen], idx, 3, lam, result.W, result.b)
    assert np.abs(gW).max() < 1e-7 and np.abs(gb).max() < 1e-7  # stationary for the uncentred features too
    predictions = np.array([1, 4, 6])[np.argmax(H[rest] @ result.W.T + result.b, axis=1)]
    assert result.predictions.tolist() == predictions.tolist()
    assert result.accuracy == pytest.approx(np.mean(predictions == y[rest]))


def test_linear_probe_is_deterministic_and_finite_on_separable_few_shot_data():
    rng = np.random.default_rng(4)
    H, y = clusters(rng, per_class=10, p=30)  # p > n: separable, the penalty keeps the optimum finite
    chosen, rest = few_shot_split(y, shots=2, seed=5)
    a = linear_probe(H[chosen], y[chosen], H[rest], y[rest], weight_decay=1e-3)
    b = linear_probe(H[chosen], y[chosen], H[rest], y[rest], weight_decay=1e-3)
    assert np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b) and a.converged
    assert np.all(np.isfinite(a.W)) and set(a.predictions.tolist()) <= {5, 6, 7, 8}


def test_a_probe_that_does_not_converge_says_so():
    rng = np.random.default_rng(6)
    H, y = clusters(rng, per_class=5)
    with pytest.warns(RuntimeWarning, match="linear_probe stopped after max_iter=1 iterations"):
        result = linear_probe(H, y, H, y, max_iter=1)
    assert result.converged is False


@pytest.mark.parametrize("probe", [ncc_probe, linear_probe], ids=["ncc", "linear"])
def test_probes_refuse_classes_without_training_examples_and_mismatched_features(probe):
    rng = np.random.default_rng(7)
    H, y = clusters(rng, per_class=4)
    with pytest.raises(ValueError, match=r"test_labels contain class\(es\) \[3\] with no example in train_labels: a "
                                         "probe needs at least 1 training example of every class"):
        probe(H, y, H[:2], [5, 3])
    with pytest.raises(ValueError, match=r"train_labels hold only class \[5\]: a probe needs at least 2 classes"):
        probe(H[y == 5], y[y == 5], H, y)
    with pytest.raises(ValueError, match="test_features has 5 columns but train_features has 6"):
        probe(H, y, H[:, :5], y)
    with pytest.raises(ValueError, match="train_labels has length 15 but features has 16 rows"):
        probe(H, y[:15], H, y)
    with pytest.raises(ValueError, match="train_features contains 1 NaN"):
        probe(np.where(np.arange(H.size).reshape(H.shape) == 0, np.nan, H), y, H, y)


def test_linear_probe_settings_are_checked():
    H, y = clusters(np.random.default_rng(8), per_class=3)
    with pytest.raises(ValueError, match="weight_decay must be greater than 0"):
        linear_probe(H, y, H, y, weight_decay=0.0)
    with pytest.raises(ValueError, match="max_iter must be at least 1"):
        linear_probe(H, y, H, y, max_iter=0)
    with pytest.raises(TypeError, match="tol must be a real number"):
        linear_probe(H, y, H, y, tol="small")
