"""Cached experiments: trained once per configuration, reloaded after, regenerated when stale."""

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


def test_a_run_is_trained_once_then_loaded_from_the_cache(monkeypatch):
    first = experiments.run(TINY, progress=False)
    assert experiments.cache_path({**experiments.FLAGSHIP, **TINY}).exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run must not be retrained")

    monkeypatch.setattr(experiments, "train", no_training)
    second = experiments.run(TINY, progress=False)
    for key in ("epoch", "nc1", "W", "sample_features"):
        np.testing.assert_array_equal(first[key], second[key])
    assert second.config["experiment"]["dim"] == 6


def test_changing_any_setting_changes_the_cache_key():
    base = experiments.cache_path({**experiments.FLAGSHIP, **TINY})
    assert experiments.cache_path({**experiments.FLAGSHIP, **TINY, "weight_decay": 1e-3}) != base
    assert experiments.cache_path({**experiments.FLAGSHIP, **TINY, "seed": 1}) != base


def test_a_stale_cache_file_is_regenerated_with_a_warning():
    path = experiments.cache_path({**experiments.FLAGSHIP, **TINY})
    path.parent.mkdir(parents=True)
    path.write_bytes(b"old junk")
    with pytest.warns(RuntimeWarning, match="regenerating the cached run"):
        h = experiments.run(TINY, progress=False)
    assert len(h) == 4 and ncedu.History.load(path)["epoch"].tolist() == h["epoch"].tolist()


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['widht'\]"):
        experiments.run({**TINY, "widht": 3})


def test_the_flagship_configuration_uses_the_papers_dataset_and_recipe():
    f = experiments.FLAGSHIP
    assert f["dataset"] == "fashion-mnist" and f["momentum"] == 0.9 and f["batch_size"] == 128
    assert experiments.cache_path(f).name.startswith("fashion-mnist-mlp-")


def test_samples_per_class_equal_to_per_class_records_every_training_feature():
    h = experiments.run({**TINY, "samples_per_class": 30}, progress=False)
    assert h["sample_features"].shape[1:] == (90, 16)
    assert np.bincount(h.sample_labels).tolist() == [30, 30, 30]
    # the default keeps 20 per class, and the extra key leaves the default run's cache name alone
    assert experiments.run(TINY, progress=False)["sample_features"].shape[1] == 60
    assert experiments.cache_path({**experiments.FLAGSHIP, **TINY}) != experiments.cache_path(
        {**experiments.FLAGSHIP, **TINY, "samples_per_class": 30})
