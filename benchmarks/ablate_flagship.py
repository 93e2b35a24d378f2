"""Which settings make neural collapse happen within a CPU budget? One change at a time.

Trains the flagship run (ncedu.experiments.FLAGSHIP) and variants that change one setting
(weight decay, batch norm, width, loss, learning-rate schedule, training-set size), and prints
for each: wall time, the epoch the terminal phase starts, final train/test accuracy, the NC1
fall since epoch 1, and the final NC3, NC4 and NC2 max-angle. About 2-3 minutes on 2 cores.

Run:  python benchmarks/ablate_flagship.py [--threads 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import time

import torch

import ncedu

VARIANTS = {
    "flagship": {},
    "weight decay 5e-4 (paper)": {"weight_decay": 5e-4},
    "weight decay 1e-2": {"weight_decay": 1e-2},
    "no batch norm": {"batch_norm": False},
    "width 128": {"width": 128},
    "width 512": {"width": 512},
    "MSE loss": {"loss": "mse"},
    "constant learning rate": {"lr_milestones": []},
    "500 images per class": {"per_class": 500},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="names of variants to run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    header = f"{'variant':28s} {'time':>6s} {'TPT':>5s} {'train':>6s} {'test':>6s} {'NC1 fall':>9s} {'NC3':>7s} {'NC4':>6s} {'max-angle':>9s}"
    print(header)
    print("-" * len(header))
    for name, change in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        h = ncedu.experiments.flagship(cache=False, progress=False, **change)
        dt = time.perf_counter() - t0
        tpt = h.terminal_phase_start()
        print(
            f"{name:28s} {dt:5.1f}s {str(tpt):>5s} {h['train_acc'][-1]:6.3f} {h['test_acc'][-1]:6.3f} "
            f"{h['nc1'][0] / h['nc1'][-1]:8.0f}x {h['nc3'][-1]:7.3f} {h['nc4'][-1]:6.3f} {h['nc2_maxangle_means'][-1]:9.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
