"""Named, cached experiments that the book's chapters share.

:func:`run` trains the model a configuration describes and returns its :class:`~ncedu.History`,
caching it on disk under a key made from the whole configuration, so that every chapter of a
book build reuses one training run, and a notebook run alone (e.g. in Colab) trains it when the
cache is empty. :func:`run_model` does the same and also caches the trained network, for
analyses that need features of inputs the History does not hold (new classes, for transfer).

The cache lives in ``$NCEDU_CACHE`` if set, else ``~/.cache/ncedu/runs`` (``$XDG_CACHE_HOME``
respected). Files are written atomically; a cached file of an older format is regenerated.

:data:`FLAGSHIP` is the book's main run: Fashion-MNIST (the paper's dataset), 200 training
images per class, a 3-hidden-layer MLP of width 256 with batch norm, the paper's SGD recipe with
weight decay 5e-3, 300 epochs. On 2 CPU cores it trains in about 15–25 s, reaches 100% training
accuracy near epoch 110–130 and keeps it, and NC1 falls by more than 100x
(``python benchmarks/bench_flagship.py`` measures all of this).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional

import torch

from . import data as datasets
from . import models
from ._io import atomic_path
from .geometry import simplex_etf
from .history import FORMAT_VERSION, History, HistoryFormatError
from .training import train

__all__ = ["FLAGSHIP", "TEASER", "CLASSIFIERS", "run", "run_model", "flagship", "teaser", "cache_dir", "cache_path"]

#: Bump when training code changes in a way that changes results, to invalidate cached runs.
TRAINING_REVISION = 2  # 2: train leaves a core free (one thread on 2 cores)

#: The book's main run (:func:`flagship`): Fashion-MNIST, 200 training and 100 test images per class,
#: an MLP of width 256 and depth 3 with batch norm, SGD with lr 0.05, momentum 0.9, weight decay 5e-3,
#: batch 128, 300 epochs measured at 30 log-spaced epochs. The keys are those :func:`run` accepts.
FLAGSHIP: dict[str, Any] = {
    "dataset": "fashion-mnist",
    "per_class": 200,
    "test_per_class": 100,
    "data_seed": 0,
    "model": "mlp",
    "width": 256,
    "depth": 3,
    "batch_norm": True,
    "init_seed": 0,
    "epochs": 300,
    "loss": "cross_entropy",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-3,
    "batch_size": 128,
    "seed": 0,
    "num_measurements": 30,
}

#: The paper's teaser in our setting: three Fashion-MNIST classes (T-shirt, trouser, bag), so the
#: class means span a plane and their simplex is a triangle that can be drawn as it is.
TEASER: dict[str, Any] = {**FLAGSHIP, "classes": [0, 1, 8]}

_KNOWN_KEYS = set(FLAGSHIP) | {"classes", "num_classes", "dim", "separation", "feature_dim", "feature_activation",
                                  "lr_milestones", "measure_epochs",
                                  "samples_per_class", "record_layers", "classifier"}

#: The values of the ``"classifier"`` setting: trained with the network (the default), or a simplex
#: ETF fixed before training (:func:`ncedu.models.fix_classifier`; Yang et al., NeurIPS 2022).
CLASSIFIERS = ("learned", "etf")


def cache_dir() -> Path:
    """Where cached runs live: ``$NCEDU_CACHE``, else the user cache directory.

    The user cache directory is ``$XDG_CACHE_HOME/ncedu/runs``, or ``~/.cache/ncedu/runs`` when
    ``XDG_CACHE_HOME`` is not set; read at every call, so a changed variable takes effect at once.

    Returns
    -------
    pathlib.Path
        Not created here (saving a run creates it).

    Examples
    --------
    >>> import os
    >>> old = os.environ.get("NCEDU_CACHE")
    >>> os.environ["NCEDU_CACHE"] = "/tmp/my-runs"
    >>> cache_dir() == Path("/tmp/my-runs")
    True
    >>> if old is None:
    ...     del os.environ["NCEDU_CACHE"]
    ... else:
    ...     os.environ["NCEDU_CACHE"] = old
    """
    if os.environ.get("NCEDU_CACHE"):
        return Path(os.environ["NCEDU_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ncedu" / "runs"


def _key(config: Mapping[str, Any]) -> str:
    text = json.dumps({"config": dict(config), "format": FORMAT_VERSION, "rev": TRAINING_REVISION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(config: Mapping[str, Any]) -> Path:
    """The file a configuration's run is cached in.

    ``cache_dir() / "{dataset}-{model}-{key}.npz"``, where ``key`` is the first 16 hex digits of
    the SHA-256 of the configuration (as sorted JSON) with the History :data:`~ncedu.history.FORMAT_VERSION`
    and the training revision: any change of setting, file format or training code gives a new
    file, and an old file is never read for a new run.

    Parameters
    ----------
    config : mapping
        A complete configuration, as :func:`run` builds it (``{**FLAGSHIP, **config}``).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> path = cache_path(FLAGSHIP)
    >>> path.parent == cache_dir(), path.name.startswith("fashion-mnist-mlp-"), path.suffix
    (True, True, '.npz')
    >>> cache_path({**FLAGSHIP, "epochs": 301}) == path
    False
    """
    name = f"{config.get('dataset', 'run')}-{config.get('model', 'model')}-{_key(config)}.npz"
    return cache_dir() / name


def _build_model(cfg: Mapping[str, Any], in_shape: torch.Size, num_classes: int) -> torch.nn.Module:
    classifier = cfg.get("classifier", "learned")
    if classifier not in CLASSIFIERS:
        raise ValueError(f"config['classifier'] must be one of {CLASSIFIERS}, got {classifier!r}")
    model = _build_network(cfg, in_shape, num_classes)
    if classifier == "etf":  # unit rows with pairwise cosines -1/(C-1), randomly rotated by init_seed; bias 0
        models.fix_classifier(model, simplex_etf(num_classes, model.classifier.in_features, seed=cfg.get("init_seed", 0)))
    return model


def _build_network(cfg: Mapping[str, Any], in_shape: torch.Size, num_classes: int) -> torch.nn.Module:
    """The network of a run config, built by :func:`ncedu.models.build` after seeding its initialisation."""
    name = cfg["model"]
    if name not in _MODEL_ARGUMENTS:
        raise ValueError(f"config['model'] must be one of {sorted(_MODEL_ARGUMENTS)}, got {name!r}")
    torch.manual_seed(cfg.get("init_seed", 0))
    return models.build(name, num_classes=num_classes, **_MODEL_ARGUMENTS[name](cfg, in_shape))


#: For each name of :data:`ncedu.models.MODELS`: the constructor's arguments from a run config and the
#: shape of a batch of inputs (the defaults are the ones every cached run was trained with).
_MODEL_ARGUMENTS: dict[str, Any] = {
    "mlp": lambda cfg, shape: dict(
        in_features=int(torch.tensor(shape[1:]).prod()), width=cfg.get("width", 256), depth=cfg.get("depth", 3),
        batch_norm=cfg.get("batch_norm", True),
        feature_dim=cfg.get("feature_dim"),                          # None: the width
        feature_activation=cfg.get("feature_activation", True)),
    "convnet": lambda cfg, shape: dict(
        in_channels=shape[1], width=cfg.get("width", 32), feature_dim=cfg.get("feature_dim", 128),
        image_size=shape[-1], batch_norm=cfg.get("batch_norm", True)),
    "resnet18": lambda cfg, shape: dict(in_channels=shape[1]),
}
assert set(_MODEL_ARGUMENTS) == set(models.MODELS), "every model of the registry can be built from a config"


def _load_data(cfg: Mapping[str, Any]):
    name = cfg["dataset"]
    if name == "gaussian":
        kwargs = {k: cfg[k] for k in ("num_classes", "dim", "separation") if k in cfg}
    else:
        kwargs = {"flatten": cfg["model"] == "mlp"}
    kwargs["classes"] = cfg.get("classes")  # data.load refuses it for the Gaussian mixture, never dropped silently
    common = {"seed": cfg.get("data_seed", 0), **kwargs}
    train_data = datasets.load(name, "train", per_class=cfg.get("per_class"), **common)
    test_data = None
    if cfg.get("test_per_class", None) != 0:
        test_data = datasets.load(name, "test", per_class=cfg.get("test_per_class"), **common)
    return train_data, test_data


def run(config: Mapping[str, Any], *, cache: bool = True, progress: bool = True, device: Optional[str] = None,
        num_threads: Optional[int] = None) -> History:
    """Train (or load from the cache) the run a configuration describes.

    ``config`` keys: those of :data:`FLAGSHIP` (any may be omitted to take its value there), plus
    ``num_classes``, ``dim``, ``separation`` for the Gaussian-mixture dataset, ``feature_dim`` for
    the ConvNet and the MLP (the width of the MLP's last hidden block; default its ``width``),
    ``feature_activation`` for the MLP (False: no activation after the last hidden block, see
    :class:`ncedu.models.MLP`), ``classifier`` (:data:`CLASSIFIERS`: ``"etf"`` fixes the last layer to a simplex ETF
    before training, :func:`ncedu.models.fix_classifier`), and
    ``lr_milestones``/``measure_epochs``/``samples_per_class``/``record_layers`` passed to
    :func:`ncedu.train` (``samples_per_class`` equal to ``per_class`` records every training
    feature at every measured epoch, for analyses that need the whole training set, such as the
    Webb–Lowe classifier of chapter 7).

    ``device`` and ``num_threads`` say where to train (see :func:`ncedu.train`); they are not part
    of the configuration, so a cached run is reused whatever they are (its History records them
    in ``config["provenance"]``).

    Parameters
    ----------
    config : mapping
        The settings that differ from :data:`FLAGSHIP` (unknown keys are refused).
    cache : bool, default True
        Read the run from :func:`cache_path` when it is there, and save it there after training.
        A cached file of an older format is regenerated, with a warning.
    progress : bool, default True
        Show :func:`ncedu.train`'s progress bar while training.
    device : str, optional
        Where to train (default: :func:`ncedu.training.default_device`).
    num_threads : int, optional
        CPU threads for training (default: :func:`ncedu.training.default_num_threads`).

    Returns
    -------
    History
        Its ``config["experiment"]`` is the complete configuration.

    Examples
    --------
    A run small enough for a doctest: a Gaussian mixture, a one-layer MLP, ten epochs.

    >>> tiny = {"dataset": "gaussian", "num_classes": 3, "dim": 8, "per_class": 20, "test_per_class": 0,
    ...         "width": 16, "depth": 1, "epochs": 10, "num_measurements": 3, "batch_size": 20}
    >>> history = run(tiny, cache=False, progress=False)
    >>> history["epoch"].tolist(), history.config["experiment"]["lr"] == FLAGSHIP["lr"]
    ([1, 3, 10], True)
    """
    unknown = set(config) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    cfg = {**FLAGSHIP, **dict(config)}
    path = cache_path(cfg)
    if cache and path.exists():
        try:
            return History.load(path)
        except HistoryFormatError as err:
            warnings.warn(f"regenerating the cached run: {err}", RuntimeWarning, stacklevel=2)
    (x, y), test_data = _load_data(cfg)
    model = _build_model(cfg, x.shape, int(y.max()) + 1)
    history = _train(cfg, model, (x, y), test_data, device=device, progress=progress, num_threads=num_threads)
    if cache:
        history.save(path)
    return history


def _train(cfg: Mapping[str, Any], model: torch.nn.Module, data, test_data, *, device: Optional[str],
           progress: bool, num_threads: Optional[int]) -> History:
    """:func:`ncedu.train` with the settings of a complete configuration (``model`` is trained in place)."""
    (x, y) = data
    return train(
        model,
        (x, y),
        test=test_data,
        epochs=cfg["epochs"],
        seed=cfg["seed"],
        loss=cfg["loss"],
        lr=cfg["lr"],
        momentum=cfg["momentum"],
        weight_decay=cfg["weight_decay"],
        batch_size=cfg["batch_size"],
        lr_milestones=cfg.get("lr_milestones"),
        measure_epochs=cfg.get("measure_epochs"),
        num_measurements=cfg["num_measurements"],
        samples_per_class=cfg.get("samples_per_class", 20),
        record_layers=cfg.get("record_layers"),
        device=device,
        progress=progress,
        config={"experiment": cfg},
        num_threads=num_threads,
    )


def run_model(config: Mapping[str, Any], *, cache: bool = True, progress: bool = True, device: Optional[str] = None,
              num_threads: Optional[int] = None) -> tuple[History, torch.nn.Module]:
    """Train (or load from the cache) a run and its trained network, for analyses that need the model.

    A :class:`~ncedu.History` keeps the class means, the classifier and a sample of training
    features, but not the network, so features of *new* inputs (other classes, perturbed images)
    need the model itself. :func:`run_model` trains the run of ``config`` exactly as :func:`run`
    does and also caches the trained network's parameters (its ``state_dict``, the values after
    the last epoch) beside the History, in ``cache_path(cfg).with_suffix(".pt")``, written
    atomically and read back with ``torch.load(weights_only=True)`` (a file from elsewhere cannot
    run code). The History is the same file :func:`run` reads, so ``run(config)`` afterwards
    returns the same record without training. A run that :func:`run` cached without its network
    is trained again (and its History rewritten); so is one whose network file is unreadable or
    does not fit the model of ``config`` (with a warning).

    Parameters
    ----------
    config, cache, progress, device, num_threads
        As :func:`run`.

    Returns
    -------
    history : History
        As :func:`run` returns it.
    model : torch.nn.Module
        The network of ``config`` (``ncedu.models.MLP``, ``ConvNet`` or ``ResNet18``) with the
        parameters of the last epoch, on the CPU and in eval mode (batch norm uses its running
        statistics); ``model.features(x)`` gives the penultimate features the History measured.

    Examples
    --------
    >>> tiny = {"dataset": "gaussian", "num_classes": 3, "dim": 8, "per_class": 20, "test_per_class": 0,
    ...         "width": 16, "depth": 1, "epochs": 10, "num_measurements": 3, "batch_size": 20}
    >>> history, model = run_model(tiny, cache=False, progress=False)
    >>> x, y = datasets.load("gaussian", "train", per_class=20, num_classes=3, dim=8)
    >>> with torch.no_grad():
    ...     means = [model.features(x[y == c]).double().mean(0) for c in range(3)]
    >>> bool(torch.allclose(torch.stack(means), torch.from_numpy(history["class_means"][-1]), atol=1e-5))
    True
    """
    unknown = set(config) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    cfg = {**FLAGSHIP, **dict(config)}
    path = cache_path(cfg)
    weights = path.with_suffix(".pt")
    (x, y), test_data = _load_data(cfg)
    model = _build_model(cfg, x.shape, int(y.max()) + 1)
    if cache and path.exists() and weights.exists():
        try:
            history = History.load(path)
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            return history, model.eval()
        except Exception as err:  # an older History, a truncated or foreign file, another architecture
            warnings.warn(f"regenerating the cached run and its network: {type(err).__name__}: {str(err)[:300]}",
                          RuntimeWarning, stacklevel=2)
            model = _build_model(cfg, x.shape, int(y.max()) + 1)  # a fresh initialisation, as run() trains
    history = _train(cfg, model, (x, y), test_data, device=device, progress=progress, num_threads=num_threads)
    model = model.cpu().eval()
    if cache:
        history.save(path)
        with atomic_path(weights, suffix=".pt") as tmp:
            torch.save(model.state_dict(), tmp)
    return history, model


def flagship(cache: bool = True, progress: bool = True, **overrides: Any) -> History:
    """The book's flagship run (:data:`FLAGSHIP`), optionally with some settings changed.

    Fashion-MNIST, 200 training images per class, an MLP of width 256 and depth 3 with batch norm,
    SGD (lr 0.05, momentum 0.9, weight decay 5e-3, batch 128, lr divided by 10 at epochs 100 and
    200), 300 epochs measured at 30 log-spaced epochs: the paper's recipe (Papyan, Han & Donoho
    2020) at a CPU's scale. Trained once and cached (about 15–25 s on 2 CPU cores), then loaded.

    Parameters
    ----------
    cache : bool, default True
        Use and fill the run cache (:func:`run`).
    progress : bool, default True
        Show a progress bar while training.
    **overrides
        Settings that replace those of :data:`FLAGSHIP` (e.g. ``weight_decay=5e-4``); a changed
        run is trained and cached under its own key.

    Returns
    -------
    History

    Examples
    --------
    Needs Fashion-MNIST (offline from Debian's ``dataset-fashion-mnist``, else downloaded) and
    trains for about 20 s when the cache is empty:

    >>> history = flagship(progress=False)  # doctest: +SKIP
    >>> history.terminal_phase_start(), history["nc1"][0] / history["nc1"][-1] > 100  # doctest: +SKIP
    (112, True)
    """
    return run({**FLAGSHIP, **overrides}, cache=cache, progress=progress)


def teaser(cache: bool = True, progress: bool = True, **overrides: Any) -> History:
    """The 3-class run (:data:`TEASER`) behind the book's reproduction of the paper's animation.

    The flagship's recipe on three Fashion-MNIST classes (T-shirt, trouser, bag), so that the
    centred class means span a plane and their simplex is a triangle drawn as it is.

    Parameters
    ----------
    cache : bool, default True
        Use and fill the run cache (:func:`run`).
    progress : bool, default True
        Show a progress bar while training.
    **overrides
        Settings that replace those of :data:`TEASER`.

    Returns
    -------
    History

    Examples
    --------
    Needs Fashion-MNIST and trains for several seconds when the cache is empty:

    >>> history = teaser(progress=False)  # doctest: +SKIP
    >>> history.num_classes  # doctest: +SKIP
    3
    """
    return run({**TEASER, **overrides}, cache=cache, progress=progress)
