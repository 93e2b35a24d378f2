"""Training checkpoints of :func:`ncedu.train`: written atomically, read without unpickling, resumed only
into the run that wrote them.

A checkpoint is a dict of plain containers and tensors (``torch.load(weights_only=True)`` reads it,
so a crafted file cannot run code): the epoch, the model's, optimiser's and scheduler's state, the
batch-order generator, torch's random state and the :class:`~ncedu.History` so far. A checkpoint is
resumed only when its run's settings (the History's config, the provenance aside) equal the new
run's, the training data's fingerprint included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._io import atomic_path
from .history import History

__all__ = ["CHECKPOINT_KEYS", "read_checkpoint", "resume", "save"]

#: What a checkpoint holds.
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "scheduler", "generator", "torch_rng", "history")


def read_checkpoint(path: Path) -> dict:
    """A checkpoint written by :func:`ncedu.train`, read without unpickling; a clear error for anything else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, foreign, or refused by weights_only (a crafted pickle)
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"checkpoint {path} cannot be read as an ncedu.train checkpoint ({type(err).__name__}: {first}); it is "
            "truncated, not a checkpoint, or holds objects that loading without unpickling refuses: delete it or "
            "pass another path"
        ) from None
    if not isinstance(state, dict) or not all(k in state for k in CHECKPOINT_KEYS):
        keys = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise ValueError(
            f"checkpoint {path} is not an ncedu.train checkpoint (it holds {keys}; a train checkpoint holds "
            f"{list(CHECKPOINT_KEYS)}); a plain model state_dict cannot be resumed: delete it or pass another path"
        )
    return state


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(value, default=str))


def resume(path: Path, run_config: dict, model: nn.Module, optimizer: Any, scheduler: Any,
           generator: torch.Generator) -> tuple[History, int]:
    """Load the checkpoint at ``path`` into the model, optimiser, scheduler, generator and torch's random
    state; return its History and the epoch to start from.

    Raises ``ValueError`` when the checkpoint belongs to another run (settings or data differ) or
    does not fit the model and optimiser.
    """
    state = read_checkpoint(path)
    saved = History.from_state(state["history"]).config
    differ = sorted(k for k in set(saved) | set(run_config)
                    if k != "provenance" and saved.get(k) != _jsonable(run_config.get(k)))
    if differ:
        what = "the training data differ (another dataset, subset or order); " if "data_fingerprint" in differ else ""
        raise ValueError(
            f"checkpoint {path} belongs to a different run ({what}settings {differ} differ); "
            "delete it or pass another checkpoint path"
        )
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise ValueError(f"checkpoint {path} does not fit this model and optimiser ({first}); "
                         "it was saved from another architecture or width: delete it or pass another path") from None
    return History.from_state(state["history"]), int(state["epoch"]) + 1


def save(path: Path, epoch: int, model: nn.Module, optimizer: Any, scheduler: Any, generator: torch.Generator,
         history: History) -> None:
    """Write the checkpoint of ``epoch`` to ``path`` atomically (a crash never leaves half a file)."""
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": history.state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
