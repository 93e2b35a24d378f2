"""Per-layer measurement (ncedu.measure_layers) and training that records chosen layers (record_layers).

Every expected value is computed independently: the layers' outputs by hand (explicit float64
matrix products and activations), the metrics by tests/reference.py, He & Su's separation
fuzziness by a pseudo-inverse written out here.
"""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import ncedu
from ncedu.history import LAYER_FIELDS, History, HistoryFormatError

from .reference import reference_metrics
from .test_metrics import CLASSIFIER_SCALARS, SCALARS

torch.set_num_threads(1)


class Net(nn.Module):
    """x -> tanh(A x + a) -> relu(B . + c) -> head; the hidden outputs are body.1 and body.3."""

    def __init__(self, seed=0, p_in=5, width=7, p=6, C=3):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(p_in, width), nn.Tanh(), nn.Linear(width, p), nn.ReLU())
        self.head = nn.Linear(p, C)

    def forward(self, x):
        return self.head(self.body(x))


def by_hand(net, x):
    """The outputs of body.1 and body.3, from the weights, in float64 numpy."""
    A, a = net.body[0].weight.detach().double().numpy(), net.body[0].bias.detach().double().numpy()
    B, c = net.body[2].weight.detach().double().numpy(), net.body[2].bias.detach().double().numpy()
    h1 = np.tanh(x @ A.T + a)
    h2 = np.maximum(h1 @ B.T + c, 0.0)
    return h1, h2


def data(n=[30, 45, 25], p_in=5, seed=1):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(k, c) for c, k in enumerate(n)])
    x = rng.standard_normal((len(y), p_in)) + 1.5 * np.eye(3, p_in)[y]
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def fuzziness_by_hand(H, y):
    """He & Su (2023): D = Tr(SS_w SS_b^+), SS_b weighted by n_c / N, with numpy's pinv."""
    H = np.asarray(H, dtype=np.float64)
    N, C = len(y), int(y.max()) + 1
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    n = np.bincount(y)
    M = mu - H.mean(0)
    SSb = (M * (n / N)[:, None]).T @ M
    R = H - mu[y]
    SSw = R.T @ R / N
    return float(np.trace(SSw @ np.linalg.pinv(SSb, rcond=1e-10)))


def loader_of(x, y, batch=16):
    return DataLoader(TensorDataset(torch.as_tensor(x), torch.as_tensor(y)), batch_size=batch, shuffle=False)


# ----------------------------------------------------------------- measure_layers
def test_each_layer_gets_the_metrics_of_its_features_computed_by_hand():
    net = Net().double()
    x, y = data()
    found = ncedu.measure_layers(net, loader_of(x, y), ["body.1", "body.3"])
    assert list(found) == ["body.1", "body.3"]
    h1, h2 = by_hand(net, x)
    W, b = net.head.weight.detach().double().numpy(), net.head.bias.detach().double().numpy()
    hidden, last = reference_metrics(h1, y), reference_metrics(h2, y, W, b)
    for key in SCALARS:
        assert getattr(found["body.1"], key) == pytest.approx(hidden[key], rel=1e-9), key
    for key in SCALARS + CLASSIFIER_SCALARS:
        assert getattr(found["body.3"], key) == pytest.approx(last[key], rel=1e-9, abs=1e-12), key
    for key in CLASSIFIER_SCALARS:  # a hidden layer has no classifier to compare with
        assert getattr(found["body.1"], key) is None, key
    np.testing.assert_allclose(found["body.1"].class_means, hidden["class_means"], rtol=1e-12)


def test_the_fuzziness_is_he_and_su_s_with_class_weights_and_c_times_nc1_when_balanced():
    net = Net().double()
    x, y = data(n=[10, 60, 30])  # imbalanced: He & Su's SS_b differs from the paper's Sigma_B
    found = ncedu.measure_layers(net, loader_of(x, y, 7), ["body.1", "body.3"])
    h1, h2 = by_hand(net, x)
    for name, h in (("body.1", h1), ("body.3", h2)):
        assert found[name].fuzziness == pytest.approx(fuzziness_by_hand(h, y), rel=1e-9)
        assert found[name].fuzziness != pytest.approx(3 * found[name].nc1, rel=1e-3)
    x, y = data(n=[40, 40, 40])
    found = ncedu.measure_layers(net, loader_of(x, y), ["body.1"])["body.1"]
    assert found.fuzziness == pytest.approx(3 * found.nc1, rel=1e-9)
    assert found.fuzziness == pytest.approx(fuzziness_by_hand(by_hand(net, x)[0], y), rel=1e-9)


def test_a_convolutional_map_is_flattened_per_sample():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).double()
    x = torch.randn(60, 1, 6, 6, dtype=torch.float64)
    y = torch.arange(60) % 3
    x = x + y.view(-1, 1, 1, 1)  # classes apart
    found = ncedu.measure_layers(net, loader_of(x, y, 25), ["1", "2"])
    conv = nn.functional.conv2d(x, net[0].weight, net[0].bias).clamp_min(0).detach().numpy()
    ref = reference_metrics(conv.reshape(60, -1), y.numpy(), net[3].weight.detach().numpy(), net[3].bias.detach().numpy())
    for key in SCALARS:
        assert getattr(found["1"], key) == pytest.approx(ref[key], rel=1e-9), key
    # the ReLU's map (N, 2, 4, 4) is not the classifier's input (N, 32) as a tensor, but its values are
    assert found["1"].nc4 == pytest.approx(ref["nc4"]) and found["2"].nc3 == pytest.approx(ref["nc3"], rel=1e-9)


def test_any_batching_and_modules_given_as_objects_give_the_same_numbers_and_the_mode_is_restored():
    net = Net().train()
    x, y = data()
    x32 = torch.as_tensor(x, dtype=torch.float32)
    a = ncedu.measure_layers(net, loader_of(x32, y, 100), ["body.1", "body.3"])
    batches = [{"input": x32[i:i + 9], "label": torch.as_tensor(y[i:i + 9])} for i in range(0, len(y), 9)]
    b = ncedu.measure_layers(net, batches, [net.body[1], "body.3"])
    assert net.training
    for name in ("body.1", "body.3"):
        for key in SCALARS + ["fuzziness"]:
            assert getattr(a[name], key) == pytest.approx(getattr(b[name], key), rel=1e-5), (name, key)
    assert ncedu.measure_layers(net, batches, "body.3")["body.3"].nc1 == pytest.approx(a["body.3"].nc1, rel=1e-5)


def test_the_layer_feeding_the_classifier_agrees_with_measure_model():
    torch.manual_seed(4)
    model = ncedu.models.MLP(5, 3, width=12, depth=2)
    x, y = data()
    loader = loader_of(torch.as_tensor(x, dtype=torch.float32), y)
    names = ncedu.hooks.module_names(model, nn.ReLU)
    assert names == ["body.2", "body.5"]
    found = ncedu.measure_layers(model, loader, names)
    whole = ncedu.measure_model(model, loader)
    for key in SCALARS + CLASSIFIER_SCALARS:
        assert getattr(found["body.5"], key) == pytest.approx(getattr(whole, key), rel=1e-6), key
    assert found["body.2"].nc4 is None


def test_without_a_classifier_every_layer_is_a_hidden_layer():
    net = Net().double()
    x, y = data()
    found = ncedu.measure_layers(net, loader_of(x, y), ["body.3"], classifier=False, num_classes=3)["body.3"]
    assert found.nc3 is None and found.nc4 is None
    assert found.nc1 == pytest.approx(reference_metrics(by_hand(net, x)[1], y)["nc1"], rel=1e-9)
    extractor = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Flatten())  # no nn.Linear at all
    xi = torch.randn(20, 1, 2, 2) + torch.arange(20).remainder(2).view(-1, 1, 1, 1)
    found = ncedu.measure_layers(extractor, [(xi, torch.arange(20) % 2)], ["1"], num_classes=2)
    assert found["1"].nc4 is None and np.isfinite(found["1"].nc1)


def test_module_names_lists_submodules_and_filters_by_kind():
    net = Net()
    assert ncedu.hooks.module_names(net) == ["body", "body.0", "body.1", "body.2", "body.3", "head"]
    assert ncedu.hooks.module_names(net, (nn.Tanh, nn.ReLU)) == ["body.1", "body.3"]
    with pytest.raises(TypeError, match="kind must be a module class"):
        ncedu.hooks.module_names(net, "ReLU")


# ----------------------------------------------------------------- bad input
class Odd(nn.Module):
    """Modules whose outputs are not one layer's (N, ...) features."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 4)
        self.shared = nn.ReLU()
        self.pair = PairOut()
        self.transpose = Transpose()
        self.total = Total()
        self.ints = Ints()
        self.unused = nn.Linear(4, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        h = self.shared(self.lin(x))
        h = self.shared(h)  # the same ReLU at two places
        self.pair(h), self.transpose(h), self.total(h), self.ints(h)
        return self.head(h)


class PairOut(nn.Module):
    def forward(self, h):
        return h, h


class Transpose(nn.Module):
    def forward(self, h):
        return h.T


class Total(nn.Module):
    def forward(self, h):
        return h.sum()


class Ints(nn.Module):
    def forward(self, h):
        return (h > 0).long()


@pytest.mark.parametrize(
    "layers,error,match",
    [
        (["nope"], ValueError, r"layers: 'nope' is not a module name of the Odd; its modules are 'lin', 'shared', "
                               r"'pair', 'transpose', 'total', 'ints', 'unused', 'head'$"),
        (["lin", "nope", "nada"], ValueError, r"'nope', 'nada' are not module names of the Odd"),
        ([], ValueError, "layers must name at least one module of the model, got an empty list"),
        (["lin", "lin"], ValueError, "layers names the layer 'lin' twice"),
        ([3], TypeError, "layers must hold module names"),
        ([nn.ReLU()], ValueError, r"layers\[0\] is a ReLU that is not a submodule of model"),
        ({"lin"}, TypeError, "a set has no order"),
        (["pair"], TypeError, r"the layer 'pair' returns a tuple, not a tensor of features of shape \(N, ...\)"),
        (["transpose"], ValueError, r"the layer 'transpose' returns shape \(4, 16\) for a batch of 16 samples; a "
                                    r"layer's output must be features of shape \(N, ...\)"),
        (["total"], ValueError, r"the layer 'total' returns shape \(\) for a batch of 16 samples"),
        (["ints"], TypeError, "the layer 'ints' returns torch.int64 values; features must be floating point"),
        (["shared"], ValueError, "the layer 'shared' ran 2 times in one forward pass"),
        (["unused"], ValueError, "the layer 'unused' did not run during the forward pass"),
    ],
)
def test_bad_layers_are_refused_with_the_argument_named(layers, error, match):
    x, y = data()
    loader = loader_of(torch.as_tensor(x, dtype=torch.float32), y)
    with pytest.raises(error, match=match):
        ncedu.measure_layers(Odd(), loader, layers, classifier="head")


def test_bad_arguments_of_measure_layers_get_clear_errors():
    x, y = data()
    x = torch.as_tensor(x, dtype=torch.float32)
    loader = loader_of(x, y)
    net = Net()
    with pytest.raises(TypeError, match="loader must be re-iterable"):
        ncedu.measure_layers(net, iter(loader), ["body.1"])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        ncedu.measure_layers("net", loader, ["body.1"])
    with pytest.raises(ValueError, match="without a classifier .* pass num_classes="):
        ncedu.measure_layers(net, loader, ["body.1"], classifier=False)
    with pytest.raises(ValueError, match="num_classes=4 but the classifier has 3 outputs"):
        ncedu.measure_layers(net, loader, ["body.1"], num_classes=4)
    with pytest.raises(TypeError, match="classifier must be an nn.Linear, its submodule name, None .* or False"):
        ncedu.measure_layers(net, loader, ["body.1"], classifier=True)
    with pytest.raises(TypeError, match="classifier must be an nn.Linear, got Sequential"):
        ncedu.measure_layers(net, loader, ["body.1"], classifier="body")
    with pytest.raises(ValueError, match="model has no nn.Linear classifier; pass num_classes="):
        ncedu.measure_layers(nn.Sequential(nn.Tanh()), loader, ["0"])
    with pytest.raises(ValueError, match="contains class 3 but num_classes=3"):
        ncedu.measure_layers(net, [(x, torch.as_tensor(y) + 1)], ["body.1"])
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] received no samples"):
        ncedu.measure_layers(net, [(x[y < 2], torch.as_tensor(y[y < 2]))], ["body.1"])
    with pytest.raises(ValueError, match="loader yielded no batches"):
        ncedu.measure_layers(net, [], ["body.1"], classifier="head")


# ----------------------------------------------------------------- torch.distributed (gloo, 2 ranks)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, x, y, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        shard = np.arange(len(y))[: len(y) // 3] if rank == 0 else np.arange(len(y))[len(y) // 3:]
        found = ncedu.measure_layers(Net().double(), loader_of(x[shard], y[shard], 8), ["body.1", "body.3"])
        out[rank] = {n: (m.nc1, m.fuzziness, m.nc4) for n, m in found.items()}
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ranks_measure_their_shards_and_agree_with_the_whole_data():
    x, y = data(n=[20, 35, 25])
    whole = ncedu.measure_layers(Net().double(), loader_of(x, y), ["body.1", "body.3"])
    with mp.Manager() as manager:
        out = manager.dict()
        mp.start_processes(_rank_main, args=(2, _free_port(), x, y, out), nprocs=2, join=True, start_method="spawn")
        results = dict(out)
    for rank in (0, 1):
        for name in ("body.1", "body.3"):
            nc1, fuzziness, nc4 = results[rank][name]
            assert nc1 == pytest.approx(whole[name].nc1, rel=1e-9)
            assert fuzziness == pytest.approx(whole[name].fuzziness, rel=1e-9)
            assert nc4 == whole[name].nc4


# ----------------------------------------------------------------- train(..., record_layers=...)
def mixture(per_class=40, seed=0, split="train"):
    return ncedu.data.gaussian_mixture(num_classes=3, dim=8, per_class=per_class, separation=3.0, seed=seed, split=split)


def mlp(seed=0, depth=3):
    torch.manual_seed(seed)
    return ncedu.models.MLP(in_features=8, num_classes=3, width=16, depth=depth)


HIDDEN = ["body.2", "body.5", "body.8"]


def test_recorded_layers_equal_a_fresh_measurement_of_the_final_model_s_layers():
    x, y = mixture()
    model = mlp()
    h = ncedu.train(model, (x, y), epochs=12, measure_epochs=[3, 12], record_layers=HIDDEN, progress=False,
                    batch_size=32)
    assert h.layers == tuple(HIDDEN) and h.config["record_layers"] == HIDDEN
    assert h["layer_nc1"].shape == (2, 3)
    model.eval()
    with torch.no_grad():  # each hidden block's output, by slicing the body: independent of the hooks
        outputs = [model.body[: i + 1](x).double().numpy() for i in (2, 5, 8)]
    for j, feats in enumerate(outputs):
        ref = reference_metrics(feats, y.numpy())
        for field in ("layer_nc1", "layer_nc2_equinorm_means", "layer_nc2_equiangular_means",
                      "layer_nc2_maxangle_means", "layer_nc1_trace_ratio", "layer_cdnv"):
            assert h[field][-1, j] == pytest.approx(ref[field[len("layer_"):]], rel=1e-5), (field, j)
        assert h["layer_fuzziness"][-1, j] == pytest.approx(fuzziness_by_hand(feats, y.numpy()), rel=1e-5)
    # the last hidden layer is the classifier's input: its NC1 is the run's NC1
    assert h["layer_nc1"][-1, 2] == pytest.approx(h["nc1"][-1], rel=1e-6)


def test_recording_layers_changes_no_number_of_the_run():
    kw = dict(epochs=8, test=mixture(split="test"), progress=False, batch_size=32)
    a = ncedu.train(mlp(), mixture(), **kw)
    b = ncedu.train(mlp(), mixture(), record_layers=HIDDEN[:2], **kw)
    for key in a.keys():
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert "layer_nc1" not in a and a.layers is None and "record_layers" not in a.config


def test_a_history_with_layers_survives_files_and_checkpoints(tmp_path):
    kw = dict(epochs=6, progress=False, batch_size=32, checkpoint_every=2, measure_epochs=[2, 4, 6],
              record_layers=["body.5"])
    full = ncedu.train(mlp(depth=2), mixture(), **kw)
    again = History.load(full.save(tmp_path / "h.npz"))
    assert again.layers == ("body.5",)
    for key in LAYER_FIELDS:
        np.testing.assert_array_equal(again[key], full[key])
    ckpt = tmp_path / "run.pt"
    ncedu.train(mlp(depth=2), mixture(), checkpoint=ckpt, **{**kw, "epochs": 6, "measure_epochs": [2, 4, 6]})
    resumed = ncedu.train(mlp(depth=2, seed=5), mixture(), checkpoint=ckpt, **kw)  # loaded from the checkpoint
    assert resumed.layers == ("body.5",)
    np.testing.assert_array_equal(resumed["layer_nc1"], full["layer_nc1"])
    with pytest.raises(ValueError, match=r"different run \(settings \['record_layers'\] differ\)"):
        ncedu.train(mlp(depth=2), mixture(), checkpoint=ckpt, **{**kw, "record_layers": ["body.2"]})


def test_bad_record_layers_are_refused_before_training():
    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.steps = mlp(), 0

        def forward(self, x):
            if self.training:
                self.steps += 1
            return self.inner(x)

    spy = Spy()
    with pytest.raises(ValueError, match=r"record_layers: 'body.2' is not a module name of the Spy; its modules are "
                                         r"'inner', 'inner.body', 'inner.body.0'"):
        ncedu.train(spy, mixture(), epochs=1, record_layers=["body.2"], progress=False)
    with pytest.raises(ValueError, match="record_layers names the layer 'inner.body.2' twice"):
        ncedu.train(spy, mixture(), epochs=1, record_layers=["inner.body.2", "inner.body.2"], progress=False)
    assert spy.steps == 0
    odd = Odd()
    odd.classifier = odd.head
    x, y = torch.randn(30, 5), torch.arange(30) % 3
    with pytest.raises(ValueError, match=r"record_layers: the layer 'transpose' returns shape \(4, 2\) for a batch of 2"):
        ncedu.train(odd, (x, y), epochs=1, record_layers=["transpose"], progress=False)
    with pytest.raises(TypeError, match="record_layers must hold module names"):
        ncedu.train(mlp(), mixture(), epochs=1, record_layers=[1], progress=False)


def test_layer_fields_are_checked_by_the_history():
    h = History(layers=["a", "b"])
    with pytest.raises(ValueError, match=r"layer_nc1 must have one value per layer, shape \(2,\), got shape \(3,\)"):
        h.append(epoch=1, layer_nc1=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="layer_nc1 was given but this History has no layers"):
        History().append(epoch=1, layer_nc1=[0.1])
    with pytest.raises(ValueError, match="layers must be distinct layer names"):
        History(layers=["a", "a"])
    with pytest.raises(KeyError, match="train with record_layers"):
        History()["layer_nc1"]


def test_a_file_with_layer_fields_but_no_layer_names_is_refused(tmp_path):
    h = History(layers=["a"])
    h.append(epoch=1, nc1=0.5, layer_nc1=[0.5])
    path = h.save(tmp_path / "h.npz")
    with np.load(path, allow_pickle=False) as f:
        contents = {k: f[k] for k in f.files if k != "layer_names"}
    np.savez(path, **contents)
    with pytest.raises(HistoryFormatError, match="layer fields .* do not have one value per layer name"):
        History.load(path)
