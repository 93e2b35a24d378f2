"""experiments.run_model: a cached run together with its trained network, for features of new inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ncedu
from ncedu import experiments

torch.set_num_threads(1)

TINY = dict(dataset="gaussian", num_classes=3, dim=6, separation=3.0, per_class=30, test_per_class=10,
            width=16, depth=2, epochs=8, batch_size=32, num_measurements=4)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NCEDU_CACHE", str(tmp_path / "runs"))


def tiny_data():
    """The training data of TINY, loaded here the way a reader would (not through experiments)."""
    return ncedu.data.load("gaussian", "train", per_class=30, seed=0, num_classes=3, dim=6, separation=3.0)


def count_trainings(monkeypatch) -> list:
    calls = []
    real = experiments.train

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(experiments, "train", counted)
    return calls


def test_a_run_and_its_network_are_trained_once_then_loaded(monkeypatch):
    first_history, first_model = experiments.run_model(TINY, progress=False)
    weights = experiments.cache_path({**experiments.FLAGSHIP, **TINY}).with_suffix(".pt")
    assert weights.exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run must not be retrained")

    monkeypatch.setattr(experiments, "train", no_training)
    history, model = experiments.run_model(TINY, progress=False)
    assert not model.training and next(model.parameters()).device.type == "cpu"
    first_state, state = first_model.state_dict(), model.state_dict()
    assert first_state.keys() == state.keys()
    for key in state:
        assert torch.equal(first_state[key], state[key]), key
    for key in ("epoch", "nc1", "W", "class_means"):
        np.testing.assert_array_equal(first_history[key], history[key])


def test_the_network_is_the_one_the_history_measured_at_the_last_epoch():
    history, model = experiments.run_model(TINY, progress=False)
    x, y = tiny_data()
    with torch.no_grad():
        H = model.features(x).double().numpy()
    means = np.stack([H[y.numpy() == c].mean(axis=0) for c in range(3)])   # plain numpy, not ncedu.measure
    np.testing.assert_allclose(means, history["class_means"][-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.classifier.weight.detach().double().numpy(), history["W"][-1])
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).double().mean())
    assert accuracy == pytest.approx(history["train_acc"][-1])


def test_run_afterwards_reads_the_same_history_without_training(monkeypatch):
    history, _ = experiments.run_model(TINY, progress=False)
    calls = count_trainings(monkeypatch)
    again = experiments.run(TINY, progress=False)
    assert calls == []
    np.testing.assert_array_equal(again["nc1"], history["nc1"])


def test_a_run_cached_without_its_network_is_trained_again(monkeypatch):
    experiments.run(TINY, progress=False)
    calls = count_trainings(monkeypatch)
    history, model = experiments.run_model(TINY, progress=False)
    assert calls == [1]
    assert experiments.cache_path({**experiments.FLAGSHIP, **TINY}).with_suffix(".pt").exists()
    experiments.run_model(TINY, progress=False)
    assert calls == [1]


def test_an_unreadable_network_file_is_regenerated_with_a_warning(monkeypatch):
    experiments.run_model(TINY, progress=False)
    weights = experiments.cache_path({**experiments.FLAGSHIP, **TINY}).with_suffix(".pt")
    weights.write_bytes(b"not a state dict")
    calls = count_trainings(monkeypatch)
    with pytest.warns(RuntimeWarning, match="regenerating the cached run and its network"):
        history, model = experiments.run_model(TINY, progress=False)
    assert calls == [1]
    state = torch.load(weights, map_location="cpu", weights_only=True)
    assert set(state) == set(model.state_dict())


def test_a_network_of_another_shape_is_regenerated_with_a_warning(monkeypatch):
    experiments.run_model(TINY, progress=False)
    weights = experiments.cache_path({**experiments.FLAGSHIP, **TINY}).with_suffix(".pt")
    torch.save(ncedu.models.MLP(6, 3, width=8, depth=2).state_dict(), weights)   # width 8, not 16
    with pytest.warns(RuntimeWarning, match="regenerating"):
        _, model = experiments.run_model(TINY, progress=False)
    assert model.classifier.weight.shape == (3, 16)


def test_without_the_cache_nothing_is_written():
    experiments.run_model(TINY, cache=False, progress=False)
    assert not experiments.cache_path({**experiments.FLAGSHIP, **TINY}).parent.exists()


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['widht'\]"):
        experiments.run_model({**TINY, "widht": 3})
