"""ncedu under hostile input, ``train`` and ``experiments``: models, data, settings and resuming.

A correct result, a warning with NaN, or an error naming the argument, before any work is done.
Inputs are built here (``tests/bad_input_data.py``) independently of the code under test; errors
are checked for their exact class and for naming the argument, silent wrong results against an
independent float64 computation (``tests/reference.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import ncedu

from .bad_input_data import mixture, small_mlp, torch_data


def test_batch_size_one_trains_on_every_sample_without_batch_norm():
    model = small_mlp(batch_norm=False)
    before = [p.detach().clone() for p in model.parameters()]
    h = ncedu.train(model, torch_data(), epochs=2, batch_size=1, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert h["train_loss"][-1] < h["train_loss"][0] or h["train_acc"][-1] >= h["train_acc"][0]


def test_batch_size_one_with_batch_norm_is_refused_before_training():
    with pytest.raises(ValueError, match="batch_size=1 with a batch-norm model"):
        ncedu.train(small_mlp(batch_norm=True), torch_data(), epochs=2, batch_size=1, progress=False)


def test_a_checkpoint_is_not_resumed_on_other_data_of_the_same_size(tmp_path):
    ckpt = tmp_path / "run.pt"
    ncedu.train(small_mlp(), torch_data(seed=0), epochs=2, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match=r"training data differ.*data_fingerprint"):
        ncedu.train(small_mlp(), torch_data(seed=1), epochs=4, checkpoint=ckpt, progress=False)


def test_a_checkpoint_is_not_resumed_with_another_measurement_schedule(tmp_path):
    ckpt = tmp_path / "run.pt"
    ncedu.train(small_mlp(), torch_data(), epochs=4, measure_epochs=[2, 4], checkpoint=ckpt, checkpoint_every=2,
                progress=False)
    with pytest.raises(ValueError, match="measure_epochs"):
        ncedu.train(small_mlp(), torch_data(), epochs=4, measure_epochs=[1, 3, 4], checkpoint=ckpt, progress=False)


def test_a_gaussian_experiment_with_classes_is_refused_not_dropped():
    with pytest.raises(ValueError, match="classes"):
        ncedu.experiments.run({"dataset": "gaussian", "classes": [0, 1], "num_classes": 3, "dim": 8, "epochs": 1},
                              cache=False, progress=False)


def test_samples_per_class_must_be_positive():
    with pytest.raises(ValueError, match="samples_per_class must be at least 1"):
        ncedu.train(small_mlp(), torch_data(), epochs=1, samples_per_class=-1, progress=False)


def test_float64_arrays_train_and_run_through_the_models():
    x, y = mixture()
    h = ncedu.train(small_mlp(), (x.astype(np.float64), y), epochs=1, progress=False)
    assert len(h) == 1
    out = small_mlp()(torch.from_numpy(x.astype(np.float64)))
    assert out.dtype == torch.float32
    loader = DataLoader(TensorDataset(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y)), batch_size=32)
    assert np.isfinite(ncedu.measure_model(small_mlp().eval(), loader).nc1)


def test_numpy_scalars_are_accepted_as_settings():
    h = ncedu.train(small_mlp(), torch_data(), epochs=np.int64(1), lr=np.float32(0.05), batch_size=np.int64(32),
                    weight_decay=np.float64(5e-3), progress=False)
    assert len(h) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 32.5}, TypeError, "batch_size must be an integer"),
        ({"momentum": "0.9"}, TypeError, "momentum must be a real number"),
        ({"weight_decay": float("nan")}, ValueError, "weight_decay must be finite"),
        ({"checkpoint_every": 0}, ValueError, "checkpoint_every must be at least 1"),
        ({"lr_milestones": [0]}, ValueError, "lr_milestones entries must be at least 1"),
        ({"device": "not-a-device"}, ValueError, "device must be a torch device"),
        ({"seed": -3}, ValueError, "seed must be at least 0"),
        ({"num_threads": 0}, ValueError, "num_threads must be at least 1"),
    ],
)
def test_bad_settings_are_refused_before_training(kwargs, error, match):
    model = small_mlp()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(error, match=match):
        ncedu.train(model, torch_data(), epochs=2, progress=False, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing was trained


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused_with_a_message():
    with pytest.raises(ValueError, match="no CUDA device"):
        ncedu.train(small_mlp(), torch_data(), epochs=1, device="cuda", progress=False)
    x, y = torch_data()
    with pytest.raises(ValueError, match="no CUDA device"):
        ncedu.measure_model(small_mlp(), DataLoader(TensorDataset(x, y), batch_size=16), device="cuda")


def test_test_labels_beyond_the_classifier_are_refused_before_training():
    x, y = torch_data()
    with pytest.raises(ValueError, match="test labels reach class 5"):
        ncedu.train(small_mlp(), (x, y), test=(x, torch.full_like(y, 5)), epochs=1, progress=False)


def test_a_one_output_model_is_refused_before_training():
    class One(nn.Module):
        def __init__(self):
            super().__init__()
            self.classifier = nn.Linear(6, 1)

        def forward(self, x):
            return self.classifier(x)

    x, _ = torch_data()
    with pytest.raises(ValueError, match="classifier has 1 output"):
        ncedu.train(One(), (x, torch.zeros(len(x), dtype=torch.int64)), epochs=1, progress=False)
