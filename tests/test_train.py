"""Training reaches the terminal phase, records NC faithfully, is deterministic and resumable."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

import ncedu
from ncedu.history import FORMAT_VERSION, History, HistoryFormatError
from ncedu.training import TrainingDivergedError, log_spaced_epochs

from .reference import reference_metrics

torch.set_num_threads(1)


def mixture(per_class=40, seed=0, split="train"):
    return ncedu.data.gaussian_mixture(num_classes=3, dim=8, per_class=per_class, separation=3.0, seed=seed, split=split)


def small_mlp(seed=0):
    torch.manual_seed(seed)
    return ncedu.models.MLP(in_features=8, num_classes=3, width=32, depth=2)


def quick_train(epochs=40, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("weight_decay", 5e-3)
    kw.setdefault("batch_size", 32)
    return ncedu.train(small_mlp(), mixture(), epochs=epochs, **kw)


def test_training_reaches_zero_error_and_nc1_falls():
    h = quick_train(epochs=200, weight_decay=1e-2, test=mixture(split="test"))
    assert h["train_acc"][-1] == 1.0
    tpt = h.terminal_phase_start()
    assert tpt is not None and np.all(h["train_acc"][h["epoch"] > 2 * 200 // 3] == 1.0)  # after the last lr drop
    assert h["nc1"][-1] < h["nc1"][0] / 5
    assert np.all(np.isfinite(h["test_acc"]))
    assert h["lr"][0] == pytest.approx(0.05) and h["lr"][-1] == pytest.approx(0.05 * 0.01)


def test_recorded_metrics_equal_a_fresh_measurement_of_the_final_model():
    x, y = mixture()
    model = small_mlp()
    h = ncedu.train(model, (x, y), epochs=15, measure_epochs=[15], progress=False)
    model.eval()
    with torch.no_grad():
        feats, logits = model.features(x), model(x)
    m = ncedu.measure(feats, y, model.classifier.weight, model.classifier.bias)
    for key in ncedu.METRIC_NAMES:
        assert h[key][-1] == pytest.approx(getattr(m, key), rel=1e-6), key
    assert h["train_acc"][-1] == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    assert h["train_loss"][-1] == pytest.approx(float(nn.functional.cross_entropy(logits, y)), rel=1e-5)
    np.testing.assert_allclose(h["W"][-1], model.classifier.weight.detach().double().numpy())
    sample = h["sample_features"][-1]
    assert sample.shape == (3 * 20, 32)
    assert np.bincount(h.sample_labels).tolist() == [20, 20, 20]


def test_same_seed_gives_identical_numbers():
    a, b = quick_train(epochs=10), quick_train(epochs=10)
    for key in ("train_loss", "nc1", "nc3", "class_means", "sample_features"):
        np.testing.assert_array_equal(a[key], b[key])
    c = quick_train(epochs=10, seed=1)
    assert not np.array_equal(a["train_loss"], c["train_loss"])


class Interruptible(nn.Module):
    """Wraps a model; raises KeyboardInterrupt on the n-th training forward pass (n=None: never)."""

    def __init__(self, inner, stop_after=None):
        super().__init__()
        self.inner, self.classifier, self.stop_after, self.calls = inner, inner.classifier, stop_after, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.stop_after is not None and self.calls > self.stop_after:
                raise KeyboardInterrupt
        return self.inner(x)


def test_resuming_from_a_checkpoint_gives_the_uninterrupted_history(tmp_path):
    kw = dict(epochs=12, progress=False, batch_size=32, checkpoint_every=4, measure_epochs=[1, 3, 5, 8, 12])
    full = ncedu.train(Interruptible(small_mlp()), mixture(), **kw)
    ckpt = tmp_path / "run.pt"
    steps_per_epoch = 120 // 32 + 1
    with pytest.raises(KeyboardInterrupt):
        ncedu.train(Interruptible(small_mlp(), stop_after=6 * steps_per_epoch + 2), mixture(), checkpoint=ckpt, **kw)
    assert ckpt.exists() and not list(tmp_path.glob("*.tmp"))
    resumed = ncedu.train(Interruptible(small_mlp(seed=99)), mixture(), checkpoint=ckpt, **kw)
    for key in ("epoch", "train_loss", "nc1", "nc4", "W", "class_means"):
        np.testing.assert_array_equal(resumed[key], full[key])


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    quick_train(epochs=4, checkpoint=ckpt)
    with pytest.raises(ValueError, match=r"different run \(settings \['weight_decay'\]"):
        quick_train(epochs=4, checkpoint=ckpt, weight_decay=1e-4)


def test_the_history_records_where_its_numbers_came_from_and_resuming_elsewhere_is_allowed(tmp_path):
    ckpt = tmp_path / "run.pt"
    h = quick_train(epochs=4, checkpoint=ckpt)
    assert h.config["provenance"] == {"torch": torch.__version__, "device": "cpu", "threads": torch.get_num_threads()}
    threads = torch.get_num_threads()
    try:  # a checkpoint written with another thread count still resumes (only rounding differs)
        torch.set_num_threads(threads + 1)
        resumed = quick_train(epochs=4, checkpoint=ckpt)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(resumed["nc1"], h["nc1"])


def test_divergence_stops_with_a_clear_error():
    with pytest.raises(TrainingDivergedError, match=r"at epoch \d+ .*try a smaller lr"):
        ncedu.train(small_mlp(), mixture(), epochs=20, lr=1e12, progress=False, loss="mse")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"epochs": 3, "loss": "hinge"}, r"loss must be one of \('cross_entropy', 'mse'\)"),
        ({"epochs": 3, "lr": -1.0}, "lr must be greater than 0"),
        ({"epochs": 3, "measure_epochs": [0, 2]}, r"measure_epochs must be epochs in 1..3"),
        ({"epochs": 3, "momentum": 1.5}, r"momentum must be less than 1"),
    ],
)
def test_bad_training_arguments_get_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ncedu.train(small_mlp(), mixture(), progress=False, **kwargs)


def test_labels_beyond_the_classifier_are_refused():
    x, y = mixture()
    with pytest.raises(ValueError, match="labels reach class 3 but the model's classifier has 3 outputs"):
        ncedu.train(small_mlp(), (x, y + 1), epochs=1, progress=False)


def test_mse_loss_trains_too():
    h = quick_train(epochs=30, loss="mse", lr=0.1)
    assert h["train_acc"][-1] > 0.9 and h.config["loss"] == "mse"


def test_log_spaced_epochs_are_dense_early_and_include_the_ends():
    e = log_spaced_epochs(350, 50)
    assert e[0] == 1 and e[-1] == 350 and len(e) == 50 and e == sorted(set(e))
    assert e[:10] == list(range(1, 11))
    assert log_spaced_epochs(5, 30) == [1, 2, 3, 4, 5]


# ----------------------------------------------------------------- History files
def test_history_round_trips_through_npz(tmp_path):
    h = quick_train(epochs=6)
    path = h.save(tmp_path / "h.npz")
    g = History.load(path)
    assert g.config == json.loads(json.dumps(h.config))
    for key in h.keys():
        np.testing.assert_array_equal(g[key], h[key])
    np.testing.assert_array_equal(g.sample_labels, h.sample_labels)
    assert not list(tmp_path.glob("*.tmp"))


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    data.update(changes)
    np.savez(path, **data)


def test_an_old_format_version_is_refused_clearly(tmp_path):
    path = quick_train(epochs=3).save(tmp_path / "h.npz")
    _rewrite(path, format_version=np.array(FORMAT_VERSION - 1))
    with pytest.raises(HistoryFormatError, match=f"format version {FORMAT_VERSION - 1}.*re-run"):
        History.load(path)


def test_tampered_files_are_refused(tmp_path):
    path = quick_train(epochs=3).save(tmp_path / "h.npz")
    _rewrite(path, nc1=np.zeros(1))
    with pytest.raises(HistoryFormatError, match="inconsistent"):
        History.load(path)
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(HistoryFormatError, match="not a readable ncedu History"):
        History.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.ones(3))
    with pytest.raises(HistoryFormatError, match="no 'format' marker"):
        History.load(other)


def test_a_pickled_payload_is_never_unpickled(tmp_path):
    path = quick_train(epochs=3).save(tmp_path / "h.npz")
    _rewrite(path, config_json=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(HistoryFormatError, match="not a readable"):
        History.load(path)
    assert zipfile.is_zipfile(path)


def test_history_errors_name_the_field():
    h = History()
    with pytest.raises(KeyError, match="unknown History field 'ncl'"):
        h["ncl"]
    h.append(epoch=1, nc1=0.5)
    with pytest.raises(ValueError, match="epochs must increase"):
        h.append(epoch=1)
    with pytest.raises(KeyError, match="no 'W' at every epoch"):
        h["W"]


def test_no_progress_bar_in_a_static_page_build(monkeypatch, capsys):
    monkeypatch.setenv("NCEDU_STATIC_WIDGETS", "1")
    quick_train(epochs=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    monkeypatch.delenv("NCEDU_STATIC_WIDGETS")
    quick_train(epochs=2, progress=True)
    assert "training" in capsys.readouterr().err  # tqdm writes its bar to stderr in a terminal


def test_training_leaves_a_core_free_by_default_records_the_count_and_restores_it(monkeypatch):
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr("os.cpu_count", lambda: 2)
        from ncedu.training import default_num_threads

        assert default_num_threads() == 1
        monkeypatch.setattr("os.cpu_count", lambda: 16)
        assert default_num_threads() == 2  # never more than torch would use
        seen = []

        class Spy(nn.Module):  # records the thread count in force while training runs
            def __init__(self):
                super().__init__()
                self.classifier = nn.Linear(8, 3)

            def forward(self, x):
                seen.append(torch.get_num_threads())
                return self.classifier(x)

        monkeypatch.setattr("os.cpu_count", lambda: 2)
        h = ncedu.train(Spy(), mixture(), epochs=2, progress=False)
        assert set(seen) == {1} and h.config["provenance"]["threads"] == 1
        h = ncedu.train(Spy(), mixture(), epochs=2, progress=False, num_threads=2)
        assert h.config["provenance"]["threads"] == 2
        assert torch.get_num_threads() == 2  # restored after training
        with pytest.raises(ValueError, match="num_threads"):
            ncedu.train(Spy(), mixture(), epochs=2, progress=False, num_threads=0)
    finally:
        torch.set_num_threads(1)


def test_the_training_module_is_not_shadowed_by_the_function():
    import importlib
    import types

    module = importlib.import_module("ncedu.training")
    assert isinstance(module, types.ModuleType) and ncedu.train is module.train
    assert callable(ncedu.train)


# ----------------------------------------------------------------- test-set metrics
def test_test_set_metrics_are_those_of_the_test_features_with_nc4_against_the_training_means():
    x, y = mixture()
    xt, yt = mixture(per_class=25, split="test")
    model = small_mlp()
    h = ncedu.train(model, (x, y), test=(xt, yt), epochs=10, measure_epochs=[4, 10], progress=False, batch_size=32)
    model.eval()
    with torch.no_grad():
        feats = model.features(xt).double().numpy()
    W, b = model.classifier.weight.detach().double().numpy(), model.classifier.bias.detach().double().numpy()
    ref = reference_metrics(feats, yt.numpy(), W, b)  # the test set's own class means and sample mean
    for key in ("nc1", "nc2_equinorm_means", "nc2_equiangular_means", "nc2_maxangle_means", "nc3",
                "nc1_trace_ratio", "cdnv"):
        assert h[f"test_{key}"][-1] == pytest.approx(ref[key], rel=1e-5), key
    train_means = h["class_means"][-1]
    nearest_train = np.argmin(((feats[:, None, :] - train_means[None]) ** 2).sum(2), axis=1)
    network = np.argmax(feats @ W.T + b, axis=1)
    assert h["test_nc4"][-1] == pytest.approx(np.mean(network != nearest_train))
    nearest_test = np.argmin(((feats[:, None, :] - ref["class_means"][None]) ** 2).sum(2), axis=1)
    assert np.any(nearest_test != nearest_train)  # the two centres differ here, so the choice is tested
    assert h["test_nc1"][-1] > h["nc1"][-1]  # held-out features are spread more than the training ones


def test_without_test_data_the_test_set_metrics_are_nan():
    h = quick_train(epochs=3)
    for key in ("test_nc1", "test_nc3", "test_nc4", "test_cdnv"):
        assert np.all(np.isnan(h[key])), key


def test_test_data_missing_a_class_warns_and_records_nan_but_keeps_loss_and_accuracy():
    xt, yt = mixture(per_class=10, split="test")
    keep = yt != 2
    with pytest.warns(RuntimeWarning, match=r"test labels have no samples of class\(es\) \[2\]: the test-set metrics"):
        h = quick_train(epochs=3, test=(xt[keep], yt[keep]))
    assert np.all(np.isnan(h["test_nc1"])) and np.all(np.isfinite(h["test_acc"]))


def test_test_data_with_classes_unseen_in_training_is_refused_before_training():
    x, y = mixture()
    with pytest.raises(ValueError, match=r"test labels reach class 3 .* test data must hold only classes seen in training"):
        ncedu.train(small_mlp(), (x, y), test=(x, y + 1), epochs=1, progress=False)


def test_a_checkpoint_state_from_before_the_test_set_fields_reads_them_as_not_measured():
    h = quick_train(epochs=3)
    state = h.state()
    for row in state["rows"]:
        for key in [k for k in row if k.startswith("test_nc")]:
            del row[key]
    again = History.from_state(state)
    assert np.all(np.isnan(again["test_nc1"])) and np.array_equal(again["nc1"], h["nc1"])
