"""ncedu.cost.step_cost: operation counts from closed forms, a measured time, the model left unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ncedu.cost import StepCost, step_cost
from ncedu.models import MLP


def test_a_two_layer_network_counts_the_closed_form_multiply_adds():
    # forward 2*(5*4 + 4*3) per sample; backward: both weight gradients, and the hidden input's gradient
    net = nn.Sequential(nn.Linear(5, 4, bias=False), nn.ReLU(), nn.Linear(4, 3, bias=False))
    c = step_cost(net, torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2]), repeats=2)
    forward = 2 * (5 * 4 + 4 * 3)
    assert c.forward_flops == forward
    assert c.step_flops == forward + 2 * (5 * 4 + 4 * 3) + 2 * (4 * 3)
    assert c.parameters == 5 * 4 + 4 * 3 and c.batch_size == 6 and c.seconds > 0


def test_the_model_is_left_as_it_was():
    torch.manual_seed(0)
    model = MLP(8, 3, width=6, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    step_cost(model, torch.randn(10, 8), torch.arange(10) % 3, repeats=3)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and not model.training


def test_the_thread_count_is_used_and_restored():
    previous = torch.get_num_threads()
    c = step_cost(nn.Linear(3, 2), torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), num_threads=1)
    assert c.threads == 1 and torch.get_num_threads() == previous


def test_the_counts_per_sample_do_not_depend_on_the_batch_size():
    net = nn.Sequential(nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 2))
    a = step_cost(net, torch.randn(4, 7), torch.tensor([0, 1, 0, 1]), repeats=1)
    b = step_cost(net, torch.randn(16, 7), torch.arange(16) % 2, repeats=1)
    assert (a.forward_flops, a.step_flops) == (b.forward_flops, b.step_flops)


@pytest.mark.parametrize("args,kwargs,error,match", [
    (("model", torch.randn(4, 3), torch.zeros(4, dtype=torch.long)), {}, TypeError, "model"),
    ((nn.Linear(3, 2), [[0.0] * 3] * 4, torch.zeros(4, dtype=torch.long)), {}, TypeError, "inputs"),
    ((nn.Linear(3, 2), torch.randn(1, 3), torch.zeros(1, dtype=torch.long)), {}, ValueError, "at least 2"),
    ((nn.Linear(3, 2), torch.randn(4, 3), torch.zeros(4)), {}, TypeError, "labels"),
    ((nn.Linear(3, 2), torch.randn(4, 3), torch.zeros(3, dtype=torch.long)), {}, ValueError, "labels"),
    ((nn.Linear(3, 2), torch.randn(4, 3), torch.zeros(4, dtype=torch.long)), {"repeats": 0}, ValueError, "repeats"),
    ((nn.Linear(3, 2), torch.randn(4, 3), torch.zeros(4, dtype=torch.long)), {"num_threads": 1.5}, TypeError,
     "num_threads"),
])
def test_bad_input_is_refused_by_name(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        step_cost(*args, **kwargs)


def test_step_cost_is_a_frozen_record():
    c = StepCost(parameters=1, forward_flops=2.0, step_flops=4.0, seconds=1.0, batch_size=2, threads=1)
    with pytest.raises(AttributeError):
        c.seconds = 0.0
