"""A fixed last layer (models.fix_classifier) and the fixed simplex-ETF classifier of experiments (classifier="etf")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ncedu
from ncedu import etf_gram, experiments
from ncedu.models import MLP, ConvNet, count_parameters, fix_classifier

TINY = {"dataset": "gaussian", "num_classes": 4, "dim": 8, "per_class": 15, "test_per_class": 0, "width": 16,
        "depth": 2, "epochs": 6, "num_measurements": 3, "batch_size": 20}


def test_fix_classifier_sets_the_weights_and_bias_and_freezes_them():
    model = MLP(6, 3, width=5, depth=1)
    W = np.arange(15.0).reshape(3, 5) / 10
    fix_classifier(model, W, b=[1.0, -1.0, 0.5])
    assert torch.equal(model.classifier.weight, torch.tensor(W, dtype=torch.float32))
    assert model.classifier.bias.tolist() == [1.0, -1.0, 0.5]
    assert not model.classifier.weight.requires_grad and not model.classifier.bias.requires_grad
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - 18
    h = torch.randn(4, 5)
    torch.testing.assert_close(model.classifier(h), h @ torch.tensor(W, dtype=torch.float32).T
                               + torch.tensor([1.0, -1.0, 0.5]))


def test_the_bias_defaults_to_zero():
    model = fix_classifier(ConvNet(width=4, feature_dim=6, image_size=8), np.ones((10, 6)))
    assert model.classifier.bias.abs().sum() == 0


def test_training_with_weight_decay_moves_the_body_but_never_the_fixed_classifier():
    torch.manual_seed(0)
    y = torch.arange(60) % 3
    x = 3 * torch.eye(3, 8)[y] + torch.randn(60, 8)
    model = MLP(8, 3, width=6, depth=2)
    V = ncedu.simplex_etf(3, 6, seed=2)
    fix_classifier(model, V)
    body_before = [p.detach().clone() for p in model.body.parameters()]
    history = ncedu.train(model, (x, y), epochs=5, weight_decay=0.1, batch_size=20, num_measurements=5, progress=False)
    np.testing.assert_allclose(history["W"], np.broadcast_to(V.astype(np.float32), history["W"].shape), atol=1e-7)
    assert np.all(history["b"] == 0)
    assert any(not torch.equal(a, b) for a, b in zip(body_before, model.body.parameters()))


@pytest.mark.parametrize("W,b,error,match", [
    (np.ones((3, 4)), None, ValueError, r"W must have shape \(3, 5\)"),
    (np.full((3, 5), np.nan), None, ValueError, "W contains NaN"),
    ("weights", None, TypeError, "W must hold real numbers"),
    (np.ones((3, 5), dtype=bool), None, TypeError, "W must hold real numbers"),
    (np.ones((3, 5)), np.ones(2), ValueError, r"b must have shape \(3,\)"),
    (np.ones((3, 5)), [np.inf, 0, 0], ValueError, "b contains NaN"),
])
def test_bad_weights_are_refused_by_name(W, b, error, match):
    with pytest.raises(error, match=match):
        fix_classifier(MLP(6, 3, width=5, depth=1), W, b)


def test_a_model_without_a_linear_classifier_is_refused():
    with pytest.raises(TypeError, match="classifier"):
        fix_classifier(torch.nn.Linear(3, 2), np.ones((2, 3)))


def test_the_etf_setting_trains_with_a_fixed_simplex_etf_classifier():
    history = experiments.run({**TINY, "classifier": "etf"}, cache=False, progress=False)
    W = history["W"]
    assert np.allclose(W, W[0], atol=0)                                       # never trained
    np.testing.assert_allclose(W[0] @ W[0].T, etf_gram(4), atol=1e-6)         # unit rows, cosines -1/(C-1)
    assert np.all(history["b"] == 0)
    assert history["nc2_equiangular_classifiers"][-1] < 1e-5


def test_the_etf_setting_has_its_own_cache_key_and_the_same_body_initialisation():
    cfg = {**experiments.FLAGSHIP, **TINY}
    assert experiments.cache_path({**cfg, "classifier": "etf"}) != experiments.cache_path(cfg)
    (x, y), _ = experiments._load_data(cfg)
    learned = experiments._build_model(cfg, x.shape, 4)
    fixed = experiments._build_model({**cfg, "classifier": "etf"}, x.shape, 4)
    for a, b in zip(learned.body.parameters(), fixed.body.parameters()):
        assert torch.equal(a, b)


def test_an_unknown_classifier_setting_is_refused():
    with pytest.raises(ValueError, match="classifier"):
        experiments.run({**TINY, "classifier": "frozen"}, cache=False, progress=False)
