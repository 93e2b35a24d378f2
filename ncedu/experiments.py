"""Named, cached experiments that the book's chapters share.

:func:`run` trains the model a configuration describes and returns its :class:`~ncedu.History`,
caching it on disk under a key made from the whole configuration, so that every chapter of a
book build reuses one training run, and a notebook run alone (e.g. in Colab) trains it when the
cache is empty.

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
from .history import FORMAT_VERSION, History, HistoryFormatError
from .training import train

__all__ = ["FLAGSHIP", "TEASER", "run", "flagship", "teaser", "cache_dir", "cache_path"]

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

_KNOWN_KEYS = set(FLAGSHIP) | {"classes", "num_classes", "dim", "separation", "feature_dim", "lr_milestones", "measure_epochs",
                                  "samples_per_class", "record_layers"}


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
    name = cfg["model"]
    torch.manual_seed(cfg.get("init_seed", 0))
    if name == "mlp":
        return models.MLP(
            in_features=int(torch.tensor(in_shape[1:]).prod()),
            num_classes=num_classes,
            width=cfg.get("width", 256),
            depth=cfg.get("depth", 3),
            batch_norm=cfg.get("batch_norm", True),
        )
    if name == "convnet":
        return models.ConvNet(
            in_channels=in_shape[1], num_classes=num_classes, width=cfg.get("width", 32),
            feature_dim=cfg.get("feature_dim", 128), image_size=in_shape[-1], batch_norm=cfg.get("batch_norm", True),
        )
    if name == "resnet18":
        return models.ResNet18(in_channels=in_shape[1], num_classes=num_classes)
    raise ValueError(f"config['model'] must be 'mlp', 'convnet' or 'resnet18', got {name!r}")


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
    the ConvNet, and ``lr_milestones``/``measure_epochs``/``samples_per_class``/``record_layers`` passed to
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
    history = train(
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
    if cache:
        history.save(path)
    return history


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
