"""The masked multi-head policy, the agent's update plumbing and its checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from upir.errors import PermanentError
from upir.tuning.rl.agent import CheckpointError, PPOAgent, RolloutBuffer
from upir.tuning.rl.policy import DOWN, KEEP, UP, ActorCritic
from upir.tuning.rl.ppo import PPOConfig

torch.set_num_threads(1)


def _fill(agent: PPOAgent, steps: int, seed: int = 0) -> RolloutBuffer:
    """A buffer of random transitions of two environments (reward: sum of action indices)."""
    gen = torch.Generator().manual_seed(seed)
    buf = agent.new_buffer(num_envs=2, num_steps=steps)
    obs = torch.rand(2, agent.obs_dim, generator=gen)
    while not buf.full:
        action, logprob, value = agent.act(obs)
        nxt = torch.rand(2, agent.obs_dim, generator=gen)
        reward = action.float().sum(-1)  # something learnable
        buf.add(obs, None, action, logprob, value, reward, nxt, [False, False], [False, True])
        obs = nxt
    return buf


def test_mask_gives_zero_probability_and_is_never_sampled() -> None:
    net = ActorCritic(4, (3, 3), (16,), torch.Generator().manual_seed(0))
    obs = torch.rand(64, 4, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(64, 2, 3, dtype=torch.bool)
    mask[:, 0, UP] = False  # head 0 cannot go up
    mask[:, 1, DOWN] = False
    mask[:, 1, KEEP] = False  # head 1 must go up
    gen = torch.Generator().manual_seed(2)
    for _ in range(20):
        action, out = net.sample(obs, mask, gen)
        assert (action[:, 0] != UP).all()
        assert (action[:, 1] == UP).all()
        assert torch.isfinite(out.logprob).all()
        assert torch.isfinite(out.entropy).all()
    probs = net.masked_logits(obs, mask).exp()
    assert (probs[:, 0, UP] == 0).all()
    torch.testing.assert_close(probs[:, 1, UP], torch.ones(64))
    # head 1 is deterministic: zero entropy; head 0 has two live actions: <= log 2
    out = net.evaluate(obs, mask, action)
    assert (out.entropy <= math.log(2) + 1e-6).all()


def test_uneven_heads_are_padded_and_masked() -> None:
    net = ActorCritic(2, (5, 2), (8,), torch.Generator().manual_seed(0))
    obs = torch.zeros(3, 2)
    probs = net.masked_logits(obs, None).exp()
    assert probs.shape == (3, 2, 5)
    assert (probs[:, 1, 2:] == 0).all()  # head 1 has only 2 actions
    torch.testing.assert_close(probs.sum(-1), torch.ones(3, 2))
    # the initial policy is near uniform (small output gain)
    torch.testing.assert_close(probs[:, 0], torch.full((3, 5), 0.2), atol=0.02, rtol=0)
    # joint log-prob is the sum over heads
    action = torch.tensor([[4, 1], [0, 0], [2, 1]])
    out = net.evaluate(obs, None, action)
    lp = probs.log()
    expected = lp[torch.arange(3), 0, action[:, 0]] + lp[torch.arange(3), 1, action[:, 1]]
    torch.testing.assert_close(out.logprob, expected)


def test_mask_without_any_allowed_action_is_rejected() -> None:
    net = ActorCritic(2, (3,), (8,))
    mask = torch.zeros(1, 1, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="at least one allowed"):
        net.masked_logits(torch.zeros(1, 2), mask)


def test_same_seed_same_actions_regardless_of_global_rng() -> None:
    cfg = PPOConfig(hidden_sizes=(16,))
    a = PPOAgent(3, (3, 3, 3), cfg, seed=11)
    torch.manual_seed(999)  # global state must not matter
    b = PPOAgent(3, (3, 3, 3), cfg, seed=11)
    obs = torch.rand(5, 3)
    for _ in range(5):
        torch.testing.assert_close(a.act(obs)[0], b.act(obs)[0])


def test_update_changes_weights_and_reports_diagnostics() -> None:
    cfg = PPOConfig(hidden_sizes=(16,), num_minibatches=2, update_epochs=2)
    agent = PPOAgent(3, (3, 3), cfg, seed=0)
    before = [p.detach().clone() for p in agent.net.parameters()]
    buf = _fill(agent, 16)
    diag = agent.update(buf)
    assert set(diag) >= {
        "approx_kl", "clipfrac", "explained_variance", "pg_loss", "v_loss", "entropy", "lr",
    }  # fmt: skip
    assert diag["minibatches"] == 4 and diag["samples"] == 32 and diag["epochs"] == 2
    assert diag["entropy"] == pytest.approx(2 * math.log(3), rel=0.05)
    assert diag["approx_kl"] >= 0
    assert any(not torch.equal(x, p) for x, p in zip(before, agent.net.parameters(), strict=True))
    assert len(buf) == 0  # the update consumed the rollout


def test_zero_learning_rate_leaves_weights_untouched() -> None:
    agent = PPOAgent(3, (3,), PPOConfig(hidden_sizes=(16,), learning_rate=0.0), seed=0)
    before = [p.detach().clone() for p in agent.net.parameters()]
    agent.update(_fill(agent, 8))
    for x, p in zip(before, agent.net.parameters(), strict=True):
        assert torch.equal(x, p)


def test_learning_rate_annealing_and_target_kl_stop() -> None:
    cfg = PPOConfig(hidden_sizes=(16,), anneal_lr=True, total_updates=4, learning_rate=1e-3)
    agent = PPOAgent(3, (3,), cfg, seed=0)
    lrs = []
    for _ in range(3):
        lrs.append(agent.update(_fill(agent, 8))["lr"])
    assert lrs == pytest.approx([1e-3, 7.5e-4, 5e-4])
    # a huge learning rate moves the policy far in the first minibatches, so a
    # tight target KL stops the update before all epochs ran
    hot = PPOAgent(3, (3,), PPOConfig(hidden_sizes=(16,), learning_rate=0.5, target_kl=1e-4))
    diag = hot.update(_fill(hot, 32))
    assert diag["early_stop"] == 1.0
    assert diag["minibatches"] < hot.config.update_epochs * hot.config.num_minibatches
    assert diag["approx_kl"] > 0  # the stopping minibatch's KL is part of the report


def test_checkpoint_round_trip_gives_identical_actions() -> None:
    cfg = PPOConfig(hidden_sizes=(16, 16), num_minibatches=2)
    agent = PPOAgent(4, (3, 3), cfg, seed=5)
    agent.update(_fill(agent, 8))
    blob = agent.to_bytes()
    clone = PPOAgent.from_bytes(blob)
    assert clone.config == agent.config and clone.updates_done == 1
    obs = torch.rand(6, 4, generator=torch.Generator().manual_seed(3))
    for _ in range(5):  # sampled actions continue the same RNG stream
        a1, lp1, v1 = agent.act(obs)
        a2, lp2, v2 = clone.act(obs)
        assert torch.equal(a1, a2) and torch.equal(lp1, lp2) and torch.equal(v1, v2)
    # and the optimizer state came along: one more identical update, identical weights
    d1 = agent.update(_fill(agent, 8, seed=4))
    d2 = clone.update(_fill(clone, 8, seed=4))
    assert d1 == d2
    for p, q in zip(agent.net.parameters(), clone.net.parameters(), strict=True):
        assert torch.equal(p, q)


def test_bad_checkpoints_raise_checkpoint_error() -> None:
    with pytest.raises(CheckpointError):
        PPOAgent.from_bytes(b"not a checkpoint")
    agent = PPOAgent(4, (3,), PPOConfig(hidden_sizes=(8,)))
    other = PPOAgent(5, (3,), PPOConfig(hidden_sizes=(8,)))
    with pytest.raises(CheckpointError, match="obs_dim"):
        other.load_state_dict(agent.state_dict())
    assert issubclass(CheckpointError, PermanentError)


def test_rescore_takes_the_current_policy_and_critic() -> None:
    agent = PPOAgent(4, (3, 3), PPOConfig(hidden_sizes=(16,), num_minibatches=2), seed=7)
    buf = _fill(agent, 4)
    stored = (buf.logprobs.clone(), buf.values.clone())
    agent.update(_fill(agent, 8, seed=1))  # the policy moves on
    agent.rescore(buf)
    assert not torch.equal(buf.logprobs, stored[0]) and not torch.equal(buf.values, stored[1])
    out = agent.net.evaluate(
        buf.obs.reshape(-1, 4), buf.masks.reshape(-1, 2, 3), buf.actions.reshape(-1, 2)
    )
    assert torch.allclose(buf.logprobs.reshape(-1), out.logprob)
    assert torch.allclose(buf.values.reshape(-1), out.value)
    agent.rescore(agent.new_buffer())  # empty: nothing to do


def _confident(net: ActorCritic, keep_logit: float) -> None:
    """Make every head pick KEEP with a logit ``keep_logit`` above the others,
    whatever the observation (the last layer's weights zeroed, its bias set)."""
    last = net.actor[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        bias = torch.zeros(net.n_heads, net.max_actions)
        bias[:, KEEP] = keep_logit
        last.bias.copy_(bias.flatten())


def test_explore_samples_the_mixture_and_reports_its_logprob() -> None:
    net = ActorCritic(4, (3, 3), (8,), torch.Generator().manual_seed(0))
    _confident(net, 20.0)  # pi(KEEP) = 1 - 4e-9
    obs = torch.rand(4000, 4, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(4000, 2, 3, dtype=torch.bool)
    mask[:, 1, UP] = False  # head 1: DOWN or KEEP only
    plain, _ = net.sample(obs, mask, torch.Generator().manual_seed(2))
    assert (plain == KEEP).all()  # without exploring, nothing but KEEP
    action, out = net.sample(obs, mask, torch.Generator().manual_seed(2), explore=0.3)
    # behaviour = 0.7 pi + 0.3 uniform over the allowed moves of each head
    freq0 = torch.bincount(action[:, 0], minlength=3).float() / 4000
    freq1 = torch.bincount(action[:, 1], minlength=3).float() / 4000
    torch.testing.assert_close(freq0, torch.tensor([0.1, 0.8, 0.1]), atol=0.02, rtol=0)
    torch.testing.assert_close(freq1, torch.tensor([0.15, 0.85, 0.0]), atol=0.02, rtol=0)
    assert (action[:, 1] != UP).all()  # a masked move stays impossible
    # logprob is the behaviour's (what PPO's ratio must divide by), by hand:
    p_keep = 1.0 / (1.0 + 2.0 * math.exp(-20.0))
    head0 = {DOWN: 0.1, KEEP: 0.7 * p_keep + 0.1, UP: 0.1}
    head1 = {DOWN: 0.7 * (1 - p_keep) / 2 + 0.15, KEEP: 0.7 * p_keep + 0.15}
    want = torch.tensor(
        [math.log(head0[int(a)]) + math.log(head1[int(b)]) for a, b in action.tolist()]
    )
    torch.testing.assert_close(out.logprob, want, atol=1e-5, rtol=0)
    # the other outputs are the policy's own, not the mixture's
    torch.testing.assert_close(out.logits, net.masked_logits(obs, mask))
    # explore 0 is exactly the plain draw (same generator state, same actions, same logprobs)
    a0, o0 = net.sample(obs[:50], mask[:50], torch.Generator().manual_seed(3))
    a1, o1 = net.sample(obs[:50], mask[:50], torch.Generator().manual_seed(3), explore=0.0)
    assert torch.equal(a0, a1) and torch.equal(o0.logprob, o1.logprob)
    # deterministic takes pi's most likely move whatever explore says
    det, _ = net.sample(obs[:50], mask[:50], None, deterministic=True, explore=1.0)
    assert (det == KEEP).all()
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="explore"):
            net.sample(obs[:5], mask[:5], None, explore=bad)


def test_agent_act_passes_explore_through() -> None:
    agent = PPOAgent(3, (3, 3, 3), PPOConfig(hidden_sizes=(8,)), seed=4)
    _confident(agent.net, 30.0)
    obs = torch.rand(500, 3, generator=torch.Generator().manual_seed(5))
    assert (agent.act(obs)[0] == KEEP).all()
    action, logprob, _ = agent.act(obs, explore=1.0)  # uniform choice
    assert {int(a) for a in action.flatten()} == {DOWN, KEEP, UP}
    torch.testing.assert_close(logprob, torch.full((500,), 3 * math.log(1 / 3)))
