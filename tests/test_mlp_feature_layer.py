"""The MLP's feature layer: a narrower last hidden block (feature_dim) and features without an activation
(feature_activation=False), as the chapter "More classes than dimensions" trains them, and the
experiments settings that build them.

The reference networks are built here from torch.nn layers directly, not through ncedu.models.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ncedu import experiments
from ncedu.models import MLP


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _reference(in_features, num_classes, width, depth, p, activation_last, batch_norm=True):
    """The same network from torch.nn layers, created in the same order (hence the same initial weights)."""
    layers, n_in = [], in_features
    for k in range(depth):
        n_out = p if k == depth - 1 else width
        layers.append(nn.Linear(n_in, n_out, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
        if activation_last or k < depth - 1:
            layers.append(nn.ReLU())
        n_in = n_out
    return nn.Sequential(*layers), nn.Linear(p, num_classes)


@pytest.mark.parametrize("p,activation_last,batch_norm", [(2, False, True), (3, True, True), (5, False, False)])
def test_the_feature_layer_is_the_reference_network(p, activation_last, batch_norm):
    torch.manual_seed(0)
    model = MLP(12, 7, width=16, depth=3, batch_norm=batch_norm, feature_dim=p, feature_activation=activation_last).eval()
    torch.manual_seed(0)
    body, head = _reference(12, 7, 16, 3, p, activation_last, batch_norm)
    body.eval()
    x = torch.randn(9, 12)
    with torch.no_grad():
        assert torch.equal(model.features(x), body(x))
        assert torch.equal(model(x), head(body(x)))
    assert model.feature_dim == p and tuple(model.classifier.weight.shape) == (7, p)


def test_without_the_activation_the_features_take_both_signs_and_with_it_they_do_not():
    torch.manual_seed(1)
    x = torch.randn(64, 20)
    linear = MLP(20, 4, width=8, depth=2, feature_dim=2, feature_activation=False).eval()
    relu = MLP(20, 4, width=8, depth=2, feature_dim=2).eval()
    with torch.no_grad():
        assert (linear.features(x) < 0).any() and (linear.features(x) > 0).any()
        assert (relu.features(x) >= 0).all()


def test_the_defaults_build_the_same_network_as_before():
    # no feature_dim: every hidden block has the width, and the ReLU follows each (the flagship's network)
    torch.manual_seed(3)
    model = MLP(10, 3, width=6, depth=2)
    torch.manual_seed(3)
    body, head = _reference(10, 3, 6, 2, 6, True)
    assert [type(m) for m in model.body] == [type(m) for m in body]
    for a, b in zip(model.state_dict().values(), list(body.state_dict().values()) + list(head.state_dict().values())):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kwargs,error,words", [
    ({"feature_dim": 0}, ValueError, "feature_dim"),
    ({"feature_dim": 2.5}, TypeError, "feature_dim"),
    ({"feature_activation": "no"}, TypeError, "feature_activation"),
])
def test_bad_feature_settings_name_the_argument(kwargs, error, words):
    with pytest.raises(error, match=words):
        MLP(8, 3, width=4, depth=1, **kwargs)


def test_experiments_build_the_narrow_network_from_the_config():
    cfg = {**experiments.FLAGSHIP, "width": 16, "feature_dim": 2, "feature_activation": False}
    model = experiments._build_model(cfg, torch.Size([5, 784]), 10)
    assert model.feature_dim == 2 and not isinstance(model.body[-1], nn.ReLU)
    plain = experiments._build_model({**experiments.FLAGSHIP, "width": 16}, torch.Size([5, 784]), 10)
    assert plain.feature_dim == 16 and isinstance(plain.body[-1], nn.ReLU)


def test_the_new_settings_are_accepted_and_change_the_cache_key_only_when_given():
    assert experiments.cache_path({**experiments.FLAGSHIP, "feature_dim": 2, "feature_activation": False}) != \
        experiments.cache_path(experiments.FLAGSHIP)
    with pytest.raises(ValueError, match="unknown config key"):
        experiments.run({"feature_activations": False})
