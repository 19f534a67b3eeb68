"""Hand-computed checks of GAE, the PPO loss and explained variance."""

from __future__ import annotations

import math

import pytest
import torch

from upir.errors import SettingsError
from upir.tuning.rl.ppo import (
    PPOConfig,
    compute_gae,
    explained_variance,
    ppo_loss,
    seed_everything,
)

T = torch.tensor


def test_gae_terminal_and_truncation_hand_computed() -> None:
    # gamma = 0.5, lambda = 0.5, so gamma * lambda = 0.25.
    # step 0: ordinary step into s1 (V(s1) = 1.0 = values[1])
    # step 1: TERMINAL: next value 10.0 must be ignored
    # step 2: TRUNCATED: bootstraps from the truncation state's value 4.0
    #         (NOT values[3] = 2.0, which belongs to the next episode), no carry
    # step 3: last step of the rollout: bootstraps from next_values[3] = 3.0
    rewards = T([1.0, 2.0, 3.0, 4.0])
    values = T([0.5, 1.0, 1.5, 2.0])
    next_values = T([1.0, 10.0, 4.0, 3.0])
    terminated = T([0.0, 1.0, 0.0, 0.0])
    truncated = T([0.0, 0.0, 1.0, 0.0])
    adv, ret = compute_gae(rewards, values, next_values, terminated, truncated, 0.5, 0.5)
    # delta3 = 4 + 0.5*3.0 - 2.0 = 3.5          adv3 = 3.5
    # delta2 = 3 + 0.5*4.0 - 1.5 = 3.5          adv2 = 3.5            (truncated: no carry)
    # delta1 = 2 + 0 (terminal) - 1.0 = 1.0     adv1 = 1.0            (terminal: no carry)
    # delta0 = 1 + 0.5*1.0 - 0.5 = 1.0          adv0 = 1.0 + 0.25*1.0 = 1.25
    # returns = adv + values = [1.75, 2.0, 5.0, 5.5]
    torch.testing.assert_close(adv, T([1.25, 1.0, 3.5, 3.5]))
    torch.testing.assert_close(ret, T([1.75, 2.0, 5.0, 5.5]))


def test_gae_continuing_chain_hand_computed() -> None:
    # No boundaries, gamma = 0.9, lambda = 0.8 (gamma*lambda = 0.72).
    # delta2 = 1 + 0.9*2.0 - 1.0 = 1.8                 adv2 = 1.8
    # delta1 = 0 + 0.9*1.0 - 0.5 = 0.4                 adv1 = 0.4 + 0.72*1.8 = 1.696
    # delta0 = 2 + 0.9*0.5 - 0.0 = 2.45                adv0 = 2.45 + 0.72*1.696 = 3.67112
    rewards = T([2.0, 0.0, 1.0])
    values = T([0.0, 0.5, 1.0])
    next_values = T([0.5, 1.0, 2.0])
    zeros = torch.zeros(3)
    adv, ret = compute_gae(rewards, values, next_values, zeros, zeros, 0.9, 0.8)
    torch.testing.assert_close(adv, T([3.67112, 1.696, 1.8]))
    torch.testing.assert_close(ret, T([3.67112, 2.196, 2.8]))


def test_gae_lambda_extremes() -> None:
    rewards = T([1.0, 1.0, 1.0])
    values = T([0.3, 0.2, 0.1])
    next_values = T([0.2, 0.1, 0.7])
    zeros = torch.zeros(3)
    # lambda = 0: one-step TD errors r + gamma V' - V.
    adv0, _ = compute_gae(rewards, values, next_values, zeros, zeros, 1.0, 0.0)
    torch.testing.assert_close(adv0, T([0.9, 0.9, 1.6]))
    # lambda = 1, gamma = 1: Monte Carlo return-to-go + bootstrap 0.7, minus V.
    adv1, ret1 = compute_gae(rewards, values, next_values, zeros, zeros, 1.0, 1.0)
    torch.testing.assert_close(ret1, T([3.7, 2.7, 1.7]))
    torch.testing.assert_close(adv1, T([3.4, 2.5, 1.6]))


def test_gae_terminated_wins_over_truncated() -> None:
    one = T([1.0])
    adv, _ = compute_gae(one, T([0.0]), T([5.0]), one, one, 0.9, 0.95)
    torch.testing.assert_close(adv, T([1.0]))


def test_gae_batched_envs_match_single_env() -> None:
    gen = torch.Generator().manual_seed(3)
    r, v, nv = (torch.rand(6, 3, generator=gen) for _ in range(3))
    term = (torch.rand(6, 3, generator=gen) > 0.7).float()
    trunc = (torch.rand(6, 3, generator=gen) > 0.7).float()
    adv, ret = compute_gae(r, v, nv, term, trunc, 0.99, 0.95)
    for e in range(3):
        a1, r1 = compute_gae(r[:, e], v[:, e], nv[:, e], term[:, e], trunc[:, e], 0.99, 0.95)
        torch.testing.assert_close(adv[:, e], a1)
        torch.testing.assert_close(ret[:, e], r1)


def test_gae_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="next_values"):
        compute_gae(
            torch.zeros(3), torch.zeros(3), torch.zeros(2), torch.zeros(3), torch.zeros(3), 1, 1
        )


PG_ONLY = PPOConfig(norm_adv=False, ent_coef=0.0, vf_coef=0.0, clip_coef=0.2)


def _pg(ratio: float, adv: float) -> tuple[float, float]:
    """(pg_loss, d pg_loss / d new_logprob) for one sample."""
    new = T([math.log(ratio)], requires_grad=True)
    loss, stats = ppo_loss(new, T([0.0]), T([adv]), T([0.0]), T([0.0]), T([0.0]), T([0.0]), PG_ONLY)
    loss.backward()  # type: ignore[no-untyped-call]
    assert new.grad is not None
    assert stats.pg_loss == pytest.approx(float(loss.detach()))
    return float(loss.detach()), float(new.grad[0])


@pytest.mark.parametrize(
    ("ratio", "adv", "loss", "has_grad"),
    [
        # inside [0.8, 1.2]: plain surrogate -A * r, gradient -A * r
        (1.1, 2.0, -2.2, True),
        (0.9, -2.0, 1.8, True),
        # A > 0, r above 1.2: clipped to -2 * 1.2 = -2.4, no gradient (no incentive
        # to push r further up)
        (1.5, 2.0, -2.4, False),
        # A > 0, r below 0.8: max(-1.0, -1.6) = -1.0 keeps the unclipped term (pessimistic)
        (0.5, 2.0, -1.0, True),
        # A < 0, r above 1.2: max(3.0, 2.4) = 3.0 unclipped, gradient pulls r down
        (1.5, -2.0, 3.0, True),
        # A < 0, r below 0.8: max(1.0, 1.6) = 1.6 clipped, no gradient
        (0.5, -2.0, 1.6, False),
    ],
)
def test_ppo_policy_clipping(ratio: float, adv: float, loss: float, has_grad: bool) -> None:
    value, grad = _pg(ratio, adv)
    assert value == pytest.approx(loss, abs=1e-6)
    if has_grad:
        # d(-A * exp(logr)) / d logr = -A * r
        assert grad == pytest.approx(-adv * ratio, abs=1e-6)
    else:
        assert grad == 0.0


def test_ppo_stats_kl_and_clipfrac() -> None:
    ratios = T([1.0, 1.1, 1.5, 0.5])
    new = ratios.log()
    _, stats = ppo_loss(
        new, torch.zeros(4), torch.ones(4), torch.zeros(4), torch.zeros(4), torch.zeros(4),
        torch.zeros(4), PG_ONLY,
    )  # fmt: skip
    # k3 = (r - 1) - log r: 0; 0.1 - 0.0953102; 0.5 - 0.4054651; -0.5 + 0.6931472
    expected_kl = (0.0 + 0.0046898 + 0.0945349 + 0.1931472) / 4
    assert stats.approx_kl == pytest.approx(expected_kl, abs=1e-6)
    # |r - 1| > 0.2 for r = 1.5 and 0.5 only
    assert stats.clipfrac == pytest.approx(0.5)


def test_value_loss_clipped_and_unclipped() -> None:
    clip = PPOConfig(norm_adv=False, ent_coef=0.0, vf_coef=1.0, clip_coef=0.2, clip_vloss=True)
    noclip = PPOConfig(norm_adv=False, ent_coef=0.0, vf_coef=1.0, clip_coef=0.2, clip_vloss=False)
    zeros = torch.zeros(3)
    new_v = T([2.0, 1.1, 2.9])
    old_v = T([1.0, 1.0, 1.0])
    ret = T([3.0, 3.0, 2.0])
    # sample 0: unclipped (2-3)^2 = 1;  clipped v = 1 + 0.2 = 1.2 -> (1.2-3)^2 = 3.24; max 3.24
    # sample 1: inside the range: both (1.1-3)^2 = 3.61
    # sample 2: unclipped (2.9-2)^2 = 0.81; clipped (1.2-2)^2 = 0.64; max 0.81
    # clipped:   0.5 * (3.24 + 3.61 + 0.81) / 3 = 1.2766667
    # unclipped: 0.5 * (1.00 + 3.61 + 0.81) / 3 = 0.9033333
    loss_c, stats_c = ppo_loss(zeros, zeros, zeros, new_v, old_v, ret, zeros, clip)
    loss_u, stats_u = ppo_loss(zeros, zeros, zeros, new_v, old_v, ret, zeros, noclip)
    assert stats_c.v_loss == pytest.approx(1.2766667, abs=1e-6)
    assert stats_u.v_loss == pytest.approx(0.9033333, abs=1e-6)
    # policy term is 0 (zero advantages), so the loss is vf_coef * v_loss
    assert float(loss_c) == pytest.approx(1.2766667, abs=1e-6)
    assert float(loss_u) == pytest.approx(0.9033333, abs=1e-6)


def test_total_loss_combines_terms_and_normalises_advantages() -> None:
    cfg = PPOConfig(norm_adv=True, ent_coef=0.1, vf_coef=0.5, clip_vloss=False)
    zeros = torch.zeros(3)
    # advantages [1, 2, 3]: mean 2, unbiased std 1 -> [-1, 0, 1]; ratio 1 -> pg = -mean = 0
    # v_loss = 0.5 * mean([1, 4, 0]) = 0.8333333 ; entropy mean = 2.0
    # loss = 0 - 0.1 * 2.0 + 0.5 * 0.8333333 = 0.2166667
    loss, stats = ppo_loss(
        zeros, zeros, T([1.0, 2.0, 3.0]), T([1.0, 2.0, 0.0]), zeros, zeros,
        T([1.0, 2.0, 3.0]), cfg,
    )  # fmt: skip
    assert stats.pg_loss == pytest.approx(0.0, abs=1e-6)
    assert stats.entropy == pytest.approx(2.0)
    assert float(loss) == pytest.approx(0.2166667, abs=1e-6)
    # without normalisation the same ratio-1 batch gives pg = -mean(A) = -2
    _, raw = ppo_loss(
        zeros, zeros, T([1.0, 2.0, 3.0]), zeros, zeros, zeros, zeros,
        PPOConfig(norm_adv=False),
    )  # fmt: skip
    assert raw.pg_loss == pytest.approx(-2.0)


def test_explained_variance_hand_computed() -> None:
    # target [1, 2, 4]: population variance 14/9; residual [0, 0, 1]: variance 2/9
    # EV = 1 - (2/9) / (14/9) = 6/7
    ev = explained_variance(T([1.0, 2.0, 3.0]), T([1.0, 2.0, 4.0]))
    assert ev == pytest.approx(6 / 7)
    assert explained_variance(T([1.0, 2.0, 4.0]), T([1.0, 2.0, 4.0])) == pytest.approx(1.0)
    # a constant offset is not penalised (variance of the residual), anti-correlation is
    assert explained_variance(T([7.0, 7.0, 7.0]), T([1.0, 2.0, 4.0])) == pytest.approx(0.0)
    assert explained_variance(T([4.0, 2.0, 1.0]), T([1.0, 2.0, 4.0])) < 0
    assert math.isnan(explained_variance(T([1.0, 2.0]), T([3.0, 3.0])))


def test_config_validation_uses_settings_error() -> None:
    with pytest.raises(SettingsError, match="gamma"):
        PPOConfig(gamma=1.5)
    with pytest.raises(SettingsError, match="anneal_lr"):
        PPOConfig(anneal_lr=True)
    with pytest.raises(SettingsError, match="hidden_sizes"):
        PPOConfig(hidden_sizes=())
    with pytest.raises(SettingsError, match="finite"):
        PPOConfig(learning_rate=float("nan"))
    with pytest.raises(SettingsError, match="unknown"):
        PPOConfig.from_dict({"bogus": 1})
    cfg = PPOConfig(hidden_sizes=(8,), target_kl=0.02)
    assert PPOConfig.from_dict(cfg.to_dict()) == cfg


def test_seed_everything_reproduces_draws() -> None:
    import random

    import numpy as np

    try:
        g1 = seed_everything(7)
        a = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g1))
        g2 = seed_everything(7)
        b = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g2))
        assert a == b
        with pytest.raises(SettingsError):
            seed_everything(-1)
    finally:
        torch.use_deterministic_algorithms(False)
