"""ncedu under hostile input, saved files: Histories and checkpoints written, killed mid-save, truncated, foreign or malicious.

A correct result, a warning with NaN, or an error naming the argument, before any work is done.
Inputs are built here (``tests/bad_input_data.py``) independently of the code under test; errors
are checked for their exact class and for naming the argument, silent wrong results against an
independent float64 computation (``tests/reference.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

import ncedu
from ncedu.history import History, HistoryFormatError

from .bad_input_data import small_mlp, torch_data


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
