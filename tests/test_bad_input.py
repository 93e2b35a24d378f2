"""ncedu under hostile input: a correct result, a warning with NaN, or an error naming the argument.

Every case of the hostile-input review, one test each, with inputs built here independently of the
code under test. Errors are checked for their exact class and for naming the argument; silent wrong
results are checked against an independent float64 computation (``tests/reference.py``).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import ncedu
from ncedu import exercises
from ncedu.history import History, HistoryFormatError

from .reference import reference_metrics

torch.set_num_threads(1)
SCALARS = ["nc1", "nc2_equinorm_means", "nc2_equiangular_means", "nc2_maxangle_means", "nc1_trace_ratio", "cdnv"]


def mixture(n=30, C=3, p=6, seed=0):
    rng = np.random.default_rng(seed)
    means = 4.0 * rng.standard_normal((C, p))
    y = np.arange(n * C) % C
    return (means[y] + rng.standard_normal((n * C, p))).astype(np.float32), y


def small_mlp(p=6, C=3, batch_norm=True, seed=0):
    torch.manual_seed(seed)
    return ncedu.models.MLP(in_features=p, num_classes=C, width=16, depth=1, batch_norm=batch_norm)


def torch_data(seed=0):
    x, y = mixture(seed=seed)
    return torch.from_numpy(x), torch.from_numpy(y)


def near_collapse(N=4096, p=16, C=4, offset=100.0, spread=1e-3, seed=0, dtype=np.float32):
    """Features near a simplex ETF, far from the origin, as float32 values (the reference uses the same values)."""
    rng = np.random.default_rng(seed)
    means = ncedu.simplex_etf(C, p, seed=seed) + offset
    y = rng.permutation(np.arange(N) % C)
    H = (means[y] + spread * rng.standard_normal((N, p))).astype(dtype)
    W = ncedu.simplex_etf(C, p, seed=seed) + 0.01 * rng.standard_normal((C, p))
    return H, y, W


def assert_close_to_reference(m, ref, keys, rtol):
    for key in keys:
        assert getattr(m, key) == pytest.approx(ref[key], rel=rtol), (key, getattr(m, key), ref[key])


# ================================================================ silent wrong results, now right
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


def test_a_gaussian_experiment_with_classes_is_refused_not_dropped():
    with pytest.raises(ValueError, match="classes"):
        ncedu.experiments.run({"dataset": "gaussian", "classes": [0, 1], "num_classes": 3, "dim": 8, "epochs": 1},
                              cache=False, progress=False)


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


def test_samples_per_class_must_be_positive():
    with pytest.raises(ValueError, match="samples_per_class must be at least 1"):
        ncedu.train(small_mlp(), torch_data(), epochs=1, samples_per_class=-1, progress=False)


def test_a_mismatch_rate_outside_zero_one_is_refused():
    H, y = mixture()
    with pytest.raises(ValueError, match="nc4 must be at most 1"):
        ncedu.NCAccumulator(3).update(H, y).compute(nc4=1.7)


def test_a_history_file_with_decreasing_epochs_is_refused(tmp_path):
    h = History(config={})
    for e in (1, 2, 3):
        h.append(epoch=e, nc1=1.0 / e)
    path = h.save(tmp_path / "run.npz")
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    data["epoch"] = np.array([3, 2, 1])
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(HistoryFormatError, match="do not increase"):
        History.load(tmp_path / "bad.npz")


# ================================================================ files
def test_saved_files_get_the_mode_of_an_ordinary_file(tmp_path):
    old = os.umask(0o022)
    try:
        h = History(config={})
        h.append(epoch=1, nc1=1.0)
        path = h.save(tmp_path / "run.npz")
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644


_KILLED_WRITER = """
import sys, time
from ncedu._io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    open(tmp, "wb").write(b"x" * 1_000_000)
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_writer_killed_mid_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "run.npz"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".run.npz.")]
    assert leftovers and not target.exists()
    h = History(config={})
    h.append(epoch=1, nc1=1.0)
    h.save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


# ================================================================ hangs
def test_a_student_function_that_never_returns_is_stopped_and_reported(monkeypatch):
    monkeypatch.setattr(exercises._engine, "CASE_TIME_LIMIT_S", 0.5)

    def endless(H, y):
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # a student's catch-all cannot swallow the time limit
                pass

    start = time.perf_counter()
    result = exercises.check("class_means", endless, quiet=True)
    assert result.status == "error" and result.mistake == "time_limit"
    assert time.perf_counter() - start < 5


def test_a_student_function_that_exits_is_reported_not_the_end_of_the_kernel():
    result = exercises.check("class_means", lambda H, y: sys.exit(1), quiet=True)
    assert result.status == "error" and result.mistake == "exit"


# ================================================================ clear errors
def test_raw_class_ids_get_a_short_message_before_any_allocation():
    H = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels reach class 10000000.*relabel") as info:
        ncedu.measure(H, [0, 1, 10**7])
    assert len(str(info.value)) < 400


def test_numpy_string_labels_are_refused_with_advice():
    with pytest.raises(TypeError, match=r"labels must be a numeric array.*np.unique"):
        ncedu.measure(np.zeros((3, 2)), np.array(["cat", "dog", "cat"]))


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


def _checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"
    ncedu.train(small_mlp(), torch_data(), epochs=2, checkpoint=ckpt, progress=False)
    return ckpt


def test_a_truncated_checkpoint_is_named_with_what_is_wrong(tmp_path):
    ckpt = _checkpoint(tmp_path)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"checkpoint {ckpt} cannot be read .*truncated"):
        ncedu.train(small_mlp(), torch_data(), epochs=4, checkpoint=ckpt, progress=False)


def test_a_plain_state_dict_is_not_taken_for_a_checkpoint(tmp_path):
    ckpt = tmp_path / "weights.pt"
    torch.save(small_mlp().state_dict(), ckpt)
    with pytest.raises(ValueError, match="is not an ncedu.train checkpoint"):
        ncedu.train(small_mlp(), torch_data(), epochs=2, checkpoint=ckpt, progress=False)


def test_a_checkpoint_of_another_width_is_refused_clearly(tmp_path):
    ckpt = _checkpoint(tmp_path)
    torch.manual_seed(0)
    wider = ncedu.models.MLP(in_features=6, num_classes=3, width=32, depth=1)
    with pytest.raises(ValueError, match="does not fit this model|different run"):
        ncedu.train(wider, torch_data(), epochs=4, checkpoint=ckpt, progress=False)


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_malicious_checkpoint_never_runs_and_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "evil.pt"
    torch.save({"epoch": 1, "payload": _Payload()}, ckpt)
    with pytest.raises(ValueError, match="cannot be read as an ncedu.train checkpoint"):
        ncedu.train(small_mlp(), torch_data(), epochs=2, checkpoint=ckpt, progress=False)
    assert not (tmp_path / "PWNED").exists()


def test_loading_a_csv_as_a_history_never_suggests_unpickling(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("epoch,nc1\n1,0.5\n")
    with pytest.raises(HistoryFormatError) as info:
        History.load(path)
    assert "allow_pickle" not in str(info.value) and "never unpickles" in str(info.value)
