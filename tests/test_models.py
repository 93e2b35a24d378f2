"""Tests of ncedu.models: the shared features/classifier interface, shapes, errors, determinism."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ncedu.models import ConvNet, FeatureClassifier, MLP, ResNet18, build, count_parameters

# (constructor, input shape) for each model, small enough to run in milliseconds.
CASES = {
    "mlp": (lambda: MLP(width=32, depth=2), (5, 1, 28, 28)),
    "mlp_nobn": (lambda: MLP(width=16, depth=1, batch_norm=False, activation="tanh"), (5, 784)),
    "convnet": (lambda: ConvNet(width=8, feature_dim=24), (5, 1, 28, 28)),
    "resnet18": (lambda: ResNet18(num_classes=7), (2, 3, 8, 8)),
}
EXPECTED_DIMS = {"mlp": (32, 10), "mlp_nobn": (16, 10), "convnet": (24, 10), "resnet18": (512, 7)}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine two torch threads
    fighting another process for a core made 120 small Adam steps take 15 s instead of 0.15 s."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(params=sorted(CASES))
def case(request):
    torch.manual_seed(0)
    make, shape = CASES[request.param]
    return request.param, make().eval(), torch.randn(*shape)


def test_forward_is_classifier_of_features(case):
    name, model, x = case
    p, C = EXPECTED_DIMS[name]
    with torch.no_grad():
        h = model.features(x)
        logits = model(x)
    assert isinstance(model, FeatureClassifier)
    assert isinstance(model.classifier, nn.Linear)
    assert tuple(model.classifier.weight.shape) == (C, p)
    assert tuple(model.classifier.bias.shape) == (C,)
    assert (model.feature_dim, model.num_classes) == (p, C)
    assert tuple(h.shape) == (x.shape[0], p)
    assert tuple(logits.shape) == (x.shape[0], C)
    W, b = model.classifier.weight, model.classifier.bias
    torch.testing.assert_close(logits, h @ W.T + b)  # independent of nn.Linear's code path
    assert torch.equal(logits, model.classifier(h))


def test_features_are_the_input_of_the_last_layer(case):
    _, model, x = case
    seen = []
    handle = model.classifier.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model(x)
            h = model.features(x)
    finally:
        handle.remove()
    assert len(seen) == 1
    assert torch.equal(seen[0], h)


def test_feature_dim_is_read_only():
    model = MLP(width=8, depth=1)
    with pytest.raises(AttributeError):
        model.feature_dim = 3
    with pytest.raises(AttributeError):
        model.num_classes = 3


def test_mlp_accepts_image_and_flat_input():
    torch.manual_seed(0)
    model = MLP(width=16, depth=2).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), model(x.reshape(4, 784)))


def test_mlp_structure():
    model = MLP(in_features=20, num_classes=3, width=12, depth=4)
    linears = [m for m in model.body if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(20, 12)] + [(12, 12)] * 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.body) == 4
    assert sum(isinstance(m, nn.ReLU) for m in model.body) == 4
    assert isinstance(model.body[-1], nn.ReLU)  # features are taken after the activation
    plain = MLP(in_features=20, num_classes=3, width=12, depth=4, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
    # Linear layers: 20*12 + 3 * 12*12 weights, 4*12 biases, classifier 12*3 + 3.
    assert count_parameters(plain) == 20 * 12 + 3 * 12 * 12 + 4 * 12 + 12 * 3 + 3
    # With batch norm the hidden Linears drop their bias; BN adds 2 * 12 parameters per layer.
    assert count_parameters(model) == 20 * 12 + 3 * 12 * 12 + 4 * 2 * 12 + 12 * 3 + 3


def test_features_are_nonnegative_after_relu():
    torch.manual_seed(0)
    for model, x in [(MLP(width=16, depth=2), torch.randn(6, 784)), (ConvNet(width=4), torch.randn(6, 1, 28, 28))]:
        with torch.no_grad():
            assert bool((model.features(x) >= 0).all())


@pytest.mark.parametrize("shape", [(4, 1, 27, 28), (4, 3, 28, 28), (784,), (4, 785)])
def test_mlp_wrong_input_size_is_a_clear_error(shape):
    model = MLP(width=8, depth=1)
    with pytest.raises(ValueError, match=rf"MLP expects input of shape \(batch, 784\).*got shape \({shape[0]},"):
        model(torch.randn(*shape))


def test_non_float_input_is_a_clear_error():
    model = MLP(width=8, depth=1)
    with pytest.raises(TypeError, match="floating point"):
        model(torch.zeros(2, 784, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0] * 784])


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (1, 8), (3, 9)])
def test_convnet_image_sizes(channels, size):
    torch.manual_seed(0)
    model = ConvNet(in_channels=channels, num_classes=4, width=4, feature_dim=16, image_size=size)
    x = torch.randn(3, channels, size, size)
    logits = model(x)
    assert tuple(logits.shape) == (3, 4)
    assert tuple(model.features(x).shape) == (3, 16)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x.reshape(3, -1)))  # flat input is unflattened


def test_convnet_wrong_input_is_a_clear_error():
    model = ConvNet(in_channels=3, image_size=32, width=4)
    with pytest.raises(ValueError, match=r"ConvNet expects input of shape \(batch, 3, 32, 32\)"):
        model(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="image_size must be at least 8, got 7"):
        ConvNet(image_size=7)


def _resnet18_parameter_count(in_channels: int, num_classes: int) -> int:
    """Parameters of the CIFAR ResNet-18, by formula (conv weights, BN weight+bias, fc)."""

    def conv(c_in, c_out, k):
        return c_in * c_out * k * k

    def bn(c):
        return 2 * c

    total = conv(in_channels, 64, 3) + bn(64)
    c_in = 64
    for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            s = stride if block == 0 else 1
            total += conv(c_in, c_out, 3) + bn(c_out) + conv(c_out, c_out, 3) + bn(c_out)
            if s != 1 or c_in != c_out:
                total += conv(c_in, c_out, 1) + bn(c_out)
            c_in = c_out
    return total + 512 * num_classes + num_classes


def test_resnet18_parameter_count():
    assert _resnet18_parameter_count(3, 10) == 11_173_962  # the well-known CIFAR ResNet-18 figure
    model = ResNet18()
    assert count_parameters(model) == 11_173_962
    assert count_parameters(ResNet18(in_channels=1, num_classes=100)) == _resnet18_parameter_count(1, 100)
    for p in model.layer1.parameters():
        p.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 11_173_962 - 4 * (64 * 64 * 9 + 128)


def test_resnet18_cifar_forward():
    torch.manual_seed(0)
    model = ResNet18()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert tuple(model(x).shape) == (2, 10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    # Resolution 32 -> 32, 16, 8, 4 through the four stages (stride 1 stem, no max-pool).
    sizes = []
    hooks = [getattr(model, f"layer{i}").register_forward_hook(lambda m, a, out: sizes.append(tuple(out.shape)))
             for i in range(1, 5)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert sizes == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4)]
    # torchvision's initialisation: Kaiming-normal, fan_out, gain sqrt(2) -> std sqrt(2 / (512 * 9)).
    w = model.layer4[1].conv2.weight
    assert abs(w.std().item() / (2 / (512 * 9)) ** 0.5 - 1) < 0.02
    assert abs(w.mean().item()) < 1e-3
    with pytest.raises(ValueError, match=r"ResNet18 expects input of shape \(batch, 3, height, width\)"):
        model(torch.randn(2, 1, 32, 32))


@pytest.mark.parametrize("name", ["mlp", "convnet", "resnet18"])
def test_construction_is_deterministic(name):
    kwargs = {"mlp": {"width": 32}, "convnet": {"width": 8}, "resnet18": {}}[name]
    torch.manual_seed(123)
    a = build(name, **kwargs)
    torch.manual_seed(123)
    b = build(name, **kwargs)
    torch.manual_seed(124)
    c = build(name, **kwargs)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_build_by_name():
    assert type(build("mlp")) is MLP
    assert type(build("ConvNet", in_channels=3, image_size=32)) is ConvNet
    assert type(build("resnet18", num_classes=5)) is ResNet18
    assert build("mlp", width=17).feature_dim == 17
    with pytest.raises(ValueError, match=r"unknown model name 'vgg'.*'convnet', 'mlp', 'resnet18'"):
        build("vgg")
    with pytest.raises(TypeError, match="name must be a string"):
        build(MLP)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: MLP(width=0), ValueError, "width must be at least 1, got 0"),
        (lambda: MLP(depth=0), ValueError, "depth must be at least 1, got 0"),
        (lambda: MLP(num_classes=0), ValueError, "num_classes must be at least 1, got 0"),
        (lambda: MLP(in_features=-3), ValueError, "in_features must be at least 1, got -3"),
        (lambda: MLP(width=2.5), TypeError, "width must be an integer, got float"),
        (lambda: MLP(depth=True), TypeError, "depth must be an integer, got bool"),
        (lambda: MLP(activation="swish"), ValueError, r"activation must be one of \[.*'relu'.*\], got 'swish'"),
        (lambda: MLP(batch_norm="yes"), TypeError, "batch_norm must be True or False"),
        (lambda: ConvNet(width=0), ValueError, "width must be at least 1"),
        (lambda: ConvNet(feature_dim=0), ValueError, "feature_dim must be at least 1"),
        (lambda: ConvNet(in_channels=0), ValueError, "in_channels must be at least 1"),
        (lambda: ConvNet(num_classes=0), ValueError, "num_classes must be at least 1"),
        (lambda: ResNet18(num_classes=0), ValueError, "num_classes must be at least 1"),
        (lambda: ResNet18(in_channels="3"), TypeError, "in_channels must be an integer, got str"),
        (lambda: count_parameters("model"), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_bad_arguments_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_mlp_fits_random_labels():
    """Trainability: an MLP memorises 64 random points in 4-D with random labels.

    In 4 dimensions a linear classifier gets only about a third of them right, so this needs
    the hidden layers; the MLP gets there in 30-60 Adam steps (seeds 0-4).
    """
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = torch.randint(0, 10, (64,))
    model = MLP(in_features=4, num_classes=10, width=64, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy == 1.0
