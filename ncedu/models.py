"""The classifiers the book trains: an MLP, a small CNN and a CIFAR-style ResNet-18.

Every model is a :class:`FeatureClassifier`: a feature extractor followed by one linear
layer, exposed in the same way so that metrics, plots and theory read any model alike:

- ``model.features(x)`` returns the penultimate activations ``h`` of shape (B, p), the
  input of the last layer, flattened;
- ``model.classifier`` is that last layer, an ``nn.Linear(p, C)`` with weight ``W`` of
  shape (C, p) and bias ``b`` of shape (C,);
- ``model(x) == model.classifier(model.features(x))`` gives the logits (B, C);
- ``model.feature_dim`` is p and ``model.num_classes`` is C.

========================  ============================  ====================================
model                     inputs                        use
========================  ============================  ====================================
:class:`MLP`              (B, 784) or (B, 1, 28, 28)    the CPU workhorse of the book
:class:`ConvNet`          (B, C, S, S), any S >= 8      small CNN: MNIST, CIFAR-10, digits
:class:`ResNet18`         (B, 3, 32, 32)                the paper's architecture, for GPUs
========================  ============================  ====================================

All construction is deterministic given ``torch.manual_seed``. :func:`build` makes a
model by name and :func:`count_parameters` counts its parameters.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import nn

from ._validation import check_bool, check_int
from ._fixed import fix_classifier

__all__ = [
    "ACTIVATIONS",
    "MODELS",
    "ConvNet",
    "FeatureClassifier",
    "MLP",
    "ResNet18",
    "build",
    "count_parameters",
    "fix_classifier",
]

#: Activation functions accepted by :class:`MLP`, by name.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------


def _check_int(value: Any, name: str, minimum: int = 1) -> int:
    """An integer of at least ``minimum``; a TypeError or ValueError naming ``name`` otherwise."""
    return check_int(value, name, minimum=minimum)


_check_bool = check_bool


def _check_input(x: Any, model: str, module: nn.Module) -> torch.Tensor:
    """A floating-point tensor with a batch dimension, in the model's dtype (numpy's float64 arrays
    and tensors become the model's float32); anything else fails with a clear message."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} input x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{model} input x must be floating point, got dtype {x.dtype} "
            "(convert images first, e.g. x.float() / 255)"
        )
    weight = module.classifier.weight
    return x.to(weight.dtype) if x.dtype != weight.dtype else x


# ----------------------------------------------------------------------------------------------
# The common interface
# ----------------------------------------------------------------------------------------------


class FeatureClassifier(nn.Module):
    """A feature extractor followed by a linear classifier: ``forward(x) = classifier(features(x))``.

    Subclasses set ``self.classifier`` (an ``nn.Linear(p, C)``) and implement
    :meth:`features`. This is the interface that :func:`ncedu.measure_model` and the
    book's plots rely on.

    Attributes
    ----------
    classifier : torch.nn.Linear
        The last layer: weight ``W`` of shape (C, p), bias ``b`` of shape (C,).
    feature_dim : int
        ``p`` (a property).
    num_classes : int
        ``C`` (a property).

    Examples
    --------
    >>> class Tiny(FeatureClassifier):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.body, self.classifier = nn.Linear(4, 3), nn.Linear(3, 2)
    ...     def features(self, x):
    ...         return torch.relu(self.body(x))
    >>> model = Tiny()
    >>> x = torch.randn(5, 4)
    >>> model.feature_dim, model.num_classes, torch.equal(model(x), model.classifier(model.features(x)))
    (3, 2, True)
    """

    classifier: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations: the input of :attr:`classifier`, flattened.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs, batch dimension first.

        Returns
        -------
        torch.Tensor of shape (B, p)
        """
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits ``classifier(features(x)) = h W^T + b`` of a batch.

        Parameters
        ----------
        x : torch.Tensor
            A batch of inputs, batch dimension first.

        Returns
        -------
        torch.Tensor of shape (B, C)
        """
        return self.classifier(self.features(x))

    @property
    def feature_dim(self) -> int:
        """p, the dimension of the features (``classifier.in_features``)."""
        return self.classifier.in_features

    @property
    def num_classes(self) -> int:
        """C, the number of classes (``classifier.out_features``)."""
        return self.classifier.out_features


# ----------------------------------------------------------------------------------------------
# MLP
# ----------------------------------------------------------------------------------------------


class MLP(FeatureClassifier):
    """A multilayer perceptron: ``depth`` hidden blocks Linear -> BatchNorm1d -> activation.

    Parameters
    ----------
    in_features : int, default 784
        Values per input sample. Inputs of shape (B, in_features) or any (B, ...) with
        ``in_features`` values per sample (e.g. images (B, 1, 28, 28)) are flattened.
    num_classes : int, default 10
        C, the number of outputs of the classifier.
    width : int, default 256
        Units per hidden layer; also the feature dimension p unless ``feature_dim`` is given.
    depth : int, default 3
        Number of hidden blocks (at least 1).
    batch_norm : bool, default True
        Put a ``BatchNorm1d`` between each hidden Linear and its activation (the hidden
        Linears then have no bias, which the batch norm would cancel).
    activation : str, default "relu"
        One of :data:`ACTIVATIONS`.
    feature_dim : int, optional
        Units of the last hidden block, the feature dimension p (default: ``width``). A small
        value makes a bottleneck in front of the classifier, e.g. ``p < C - 1``, where no simplex
        ETF of the ``C`` class means fits.
    feature_activation : bool, default True
        Apply the activation in the last hidden block too. With False the features are the output
        of that block's batch norm (or Linear), which can take any sign: after a ReLU they would lie
        in the non-negative orthant, a strong constraint when ``p`` is small.

    Attributes
    ----------
    body : nn.Sequential
        The hidden blocks; its output is :meth:`features`.
    classifier : nn.Linear
        The last layer, weight (C, p) and bias (C,).

    Examples
    --------
    >>> model = MLP(width=64, depth=2)
    >>> model(torch.randn(5, 1, 28, 28)).shape
    torch.Size([5, 10])
    >>> model.features(torch.randn(5, 784)).shape
    torch.Size([5, 64])
    >>> narrow = MLP(width=64, depth=2, feature_dim=2, feature_activation=False)
    >>> narrow.feature_dim, type(narrow.body[-1]).__name__
    (2, 'BatchNorm1d')
    """

    def __init__(
        self,
        in_features: int = 784,
        num_classes: int = 10,
        width: int = 256,
        depth: int = 3,
        batch_norm: bool = True,
        activation: str = "relu",
        feature_dim: Optional[int] = None,
        feature_activation: bool = True,
    ) -> None:
        super().__init__()
        self.in_features = _check_int(in_features, "in_features")
        num_classes = _check_int(num_classes, "num_classes")
        width = _check_int(width, "width")
        depth = _check_int(depth, "depth")
        batch_norm = _check_bool(batch_norm, "batch_norm")
        feature_dim = width if feature_dim is None else _check_int(feature_dim, "feature_dim")
        feature_activation = _check_bool(feature_activation, "feature_activation")
        if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
            )
        make_activation = ACTIVATIONS[activation.lower()]

        layers: list[nn.Module] = []
        n_in = self.in_features
        for k in range(depth):
            last = k == depth - 1
            n_out = feature_dim if last else width
            layers.append(nn.Linear(n_in, n_out, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            if feature_activation or not last:
                layers.append(make_activation())
            n_in = n_out
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last hidden block.

        Parameters
        ----------
        x : Tensor (B, in_features) or (B, ...) with ``in_features`` values per sample

        Returns
        -------
        Tensor (B, p), p = ``feature_dim`` (``width`` by default)
        """
        x = _check_input(x, "MLP", self)
        if x.ndim < 2 or x[0].numel() != self.in_features:
            raise ValueError(
                f"MLP expects input of shape (batch, {self.in_features}) or (batch, ...) with "
                f"{self.in_features} values per sample, e.g. (batch, 1, 28, 28) for in_features=784; "
                f"got shape {tuple(x.shape)}"
            )
        return self.body(x.reshape(x.shape[0], -1))


# ----------------------------------------------------------------------------------------------
# ConvNet
# ----------------------------------------------------------------------------------------------


class ConvNet(FeatureClassifier):
    """A small CNN, quick on a CPU: two conv blocks, pooling and a fully connected feature layer.

    Layers: [conv3x3(width) -> BN -> ReLU -> maxpool2] -> [conv3x3(2 width) -> BN -> ReLU
    -> maxpool2] -> adaptive average pool to 2x2 -> flatten -> Linear -> BN -> ReLU
    (these are the features, of dimension ``feature_dim``) -> classifier. The adaptive pool
    makes the same layers work for any ``image_size`` >= 8: 28x28 (MNIST), 32x32 (CIFAR-10)
    or 8x8 (scikit-learn digits).

    Parameters
    ----------
    in_channels : int, default 1
        Channels of the input images (1 grey, 3 colour).
    num_classes : int, default 10
        C, the number of outputs of the classifier.
    width : int, default 32
        Channels of the first conv block (the second has ``2 * width``).
    feature_dim : int, default 128
        p, the dimension of the features.
    image_size : int, default 28
        Side S of the square input images (at least 8). Inputs must be (B, in_channels, S, S)
        or flat (B, in_channels * S * S), which is reshaped.
    batch_norm : bool, default True
        Use batch norm after each conv and after the feature Linear.

    Attributes
    ----------
    body : nn.Sequential
        Everything before the classifier; its output is :meth:`features`.
    classifier : nn.Linear
        The last layer, weight (C, feature_dim) and bias (C,).

    Examples
    --------
    >>> ConvNet(in_channels=3, image_size=32)(torch.randn(4, 3, 32, 32)).shape
    torch.Size([4, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 32,
        feature_dim: int = 128,
        image_size: int = 28,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = _check_int(in_channels, "in_channels")
        num_classes = _check_int(num_classes, "num_classes")
        width = _check_int(width, "width")
        feature_dim = _check_int(feature_dim, "feature_dim")
        self.image_size = _check_int(image_size, "image_size", minimum=8)
        batch_norm = _check_bool(batch_norm, "batch_norm")

        def conv_block(c_in: int, c_out: int) -> list[nn.Module]:
            block: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                block.append(nn.BatchNorm2d(c_out))
            return block + [nn.ReLU(), nn.MaxPool2d(2)]

        head: list[nn.Module] = [nn.Linear(2 * width * 4, feature_dim, bias=not batch_norm)]
        if batch_norm:
            head.append(nn.BatchNorm1d(feature_dim))
        self.body = nn.Sequential(
            *conv_block(self.in_channels, width),
            *conv_block(width, 2 * width),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            *head,
            nn.ReLU(),
        )
        self.classifier = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the fully connected feature layer (after its ReLU).

        Parameters
        ----------
        x : Tensor (B, in_channels, image_size, image_size) or (B, in_channels * image_size**2)

        Returns
        -------
        Tensor (B, feature_dim)
        """
        x = _check_input(x, "ConvNet", self)
        c, s = self.in_channels, self.image_size
        if x.ndim == 2 and x.shape[1] == c * s * s:
            x = x.reshape(x.shape[0], c, s, s)
        elif x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(
                f"ConvNet expects input of shape (batch, {c}, {s}, {s}) or (batch, {c * s * s}); "
                f"got shape {tuple(x.shape)} (set in_channels and image_size to match the data)"
            )
        return self.body(x)


# ----------------------------------------------------------------------------------------------
# ResNet-18
# ----------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """The residual block of ResNet-18: two 3x3 convs with batch norm, plus a shortcut.

    The shortcut is the identity, or a strided 1x1 conv with batch norm when the block
    changes the resolution or the number of channels (torchvision's ``downsample``).
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_planes, H, W) -> (B, planes, H / stride, W / stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(FeatureClassifier):
    """CIFAR-style ResNet-18, the network of the paper's authors' notebook, in plain torch.

    torchvision's ``resnet18`` with the 7x7 stride-2 stem replaced by a 3x3 stride-1 conv and
    the max-pool removed: stem conv3x3(64) -> BN -> ReLU, four stages of two
    :class:`BasicBlock` (64, 128, 256, 512 channels; stride 2 from the second stage on),
    global average pooling, and the classifier. About 11.17 million parameters for 10
    classes. Submodule names follow torchvision (``conv1``, ``bn1``, ``layer1`` .. ``layer4``,
    ``avgpool``) except that its ``fc`` is called ``classifier`` here, and the initialisation
    is torchvision's (Kaiming-normal convs, BN weights 1 and biases 0).

    Parameters
    ----------
    in_channels : int, default 3
        Channels of the input images (3 for CIFAR-10, 1 for MNIST-like data).
    num_classes : int, default 10
        C, the number of outputs of the classifier.

    Attributes
    ----------
    classifier : nn.Linear
        The last layer, weight (C, 512) and bias (C,).

    Notes
    -----
    Meant for a GPU; a forward pass on CPU works for any image size (tests use 8x8).

    Examples
    --------
    >>> ResNet18()(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.in_channels = _check_int(in_channels, "in_channels")
        num_classes = _check_int(num_classes, "num_classes")
        self.conv1 = nn.Conv2d(self.in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(64, 64, stride=1)
        self.layer2 = self._stage(64, 128, stride=2)
        self.layer3 = self._stage(128, 256, stride=2)
        self.layer4 = self._stage(256, 512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _stage(in_planes: int, planes: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled output of the last stage.

        Parameters
        ----------
        x : Tensor (B, in_channels, H, W)

        Returns
        -------
        Tensor (B, 512)
        """
        x = _check_input(x, "ResNet18", self)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ResNet18 expects input of shape (batch, {self.in_channels}, height, width); "
                f"got shape {tuple(x.shape)}"
            )
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

#: The models :func:`build` knows, by name.
MODELS: dict[str, type[FeatureClassifier]] = {"mlp": MLP, "convnet": ConvNet, "resnet18": ResNet18}


def build(name: str, **kwargs: Any) -> FeatureClassifier:
    """Construct a model by name.

    Parameters
    ----------
    name : {"mlp", "convnet", "resnet18"}
        Case-insensitive name of the model class.
    **kwargs
        Passed to the model's constructor.

    Returns
    -------
    FeatureClassifier

    Examples
    --------
    >>> build("mlp", width=128).feature_dim
    128
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {sorted(MODELS)}; got {type(name).__name__}")
    key = name.lower()
    if key not in MODELS:
        raise ValueError(f"unknown model name {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[key](**kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (shared parameters counted once).

    Parameters
    ----------
    model : nn.Module
        Any torch module.
    trainable_only : bool, default False
        Count only the parameters with ``requires_grad``.

    Returns
    -------
    int

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 2))          # a 2 x 3 weight and 2 biases
    8
    >>> count_parameters(MLP(784, 10, width=32, depth=1))   # 784*32, batch norm 2*32, 32*10 + 10
    25482
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
