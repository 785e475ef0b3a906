"""The priority score, pure: factors, weights, gates, bounds and monotonicity."""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal

import pytest

from backoffice.accounts.scoring import (
    AGE_CURVE,
    WEIGHTS,
    ScoreInputs,
    age_value,
    contactability_value,
    mid_rank,
    promise_value,
    rank_of,
    score,
    willingness_value,
)

BASE = ScoreInputs(
    status="pending_contact",
    pending_balance=Decimal("500.00"),
    balance_rank=0.5,
    days_past_due=60,
    valid_numbers=1,
)


def _points(inputs: ScoreInputs) -> int:
    return score(inputs).score


def test_weights_are_data_that_add_up_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100
    assert list(WEIGHTS) == [
        "balance",
        "days_past_due",
        "promise_history",
        "contactability",
        "willingness",
    ]
    with pytest.raises(ValueError, match="add up to 100"):
        score(BASE, {**WEIGHTS, "balance": 31})
    custom = score(BASE, {**WEIGHTS, "balance": 50, "willingness": 0, "contactability": 10})
    assert {f.name: f.weight for f in custom.factors}["balance"] == 50


def test_the_breakdown_adds_up_to_the_score() -> None:
    result = score(BASE)
    assert result.blocked_by is None
    assert [f.name for f in result.factors] == list(WEIGHTS)
    assert abs(sum(f.points for f in result.factors) - result.score) <= 0.5
    by_name = {f.name: f for f in result.factors}
    assert by_name["days_past_due"].detail == "60 days"
    assert by_name["willingness"].detail == "no recent signal"
    assert by_name["contactability"].detail == "1 valid, 0 bad numbers; no email"


def test_best_and_worst_accounts_hit_the_ends_of_the_scale() -> None:
    best = ScoreInputs(
        status="promise_overdue",
        pending_balance=Decimal("99999"),
        balance_rank=1.0,
        days_past_due=120,
        promises_kept=10_000,
        valid_numbers=2,
        has_email=True,
        willingness=(5, 5, 5),
    )
    worst = ScoreInputs(
        status="new",
        pending_balance=Decimal("0.01"),
        balance_rank=0.0,
        days_past_due=None,
        promises_broken=10_000,
        bad_numbers=3,
        willingness=(1,),
    )
    assert _points(best) == 100
    assert _points(worst) == 0


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        (dataclasses.replace(BASE, status="paid"), "status is paid"),
        (dataclasses.replace(BASE, status="closed"), "status is closed"),
        (dataclasses.replace(BASE, pending_balance=Decimal("0")), "nothing pending"),
        (dataclasses.replace(BASE, pending_balance=Decimal("-5")), "nothing pending"),
        (dataclasses.replace(BASE, opted_out=True), "contact opted out"),
    ],
)
def test_accounts_that_must_not_be_called_score_zero_but_keep_factors(
    inputs: ScoreInputs, reason: str
) -> None:
    result = score(inputs)
    assert result.score == 0
    assert result.blocked_by == reason
    assert len(result.factors) == 5


def test_score_is_bounded_over_a_grid_of_inputs() -> None:
    grid = itertools.product(
        (0.0, 0.3, 1.0),  # rank
        (None, -5, 0, 15, 90, 400, 5000),  # days past due
        ((0, 0), (3, 0), (0, 3)),  # kept, broken
        (False, True),  # promise pending
        ((0, 0), (1, 0), (1, 2), (0, 2)),  # valid, bad numbers
        (False, True),  # email
        ((), (1,), (5, 1), (3, 3, 3, 3)),  # willingness
    )
    for rank, days, (kept, broken), pending, (valid, bad), email, will in grid:
        inputs = ScoreInputs(
            "pending_contact",
            Decimal("10"),
            rank,
            days,
            kept,
            broken,
            pending,
            False,
            valid,
            bad,
            email,
            will,
        )
        result = score(inputs)
        assert 0 <= result.score <= 100
        assert all(0.0 <= f.value <= 1.0 for f in result.factors), inputs


def test_each_factor_raises_the_score_the_right_way() -> None:
    assert _points(dataclasses.replace(BASE, balance_rank=0.9)) > _points(BASE)
    assert _points(dataclasses.replace(BASE, days_past_due=90)) > _points(BASE)
    assert _points(dataclasses.replace(BASE, promises_kept=2)) > _points(BASE)
    assert _points(dataclasses.replace(BASE, promises_broken=2)) < _points(BASE)
    assert _points(dataclasses.replace(BASE, has_email=True)) > _points(BASE)
    assert _points(dataclasses.replace(BASE, bad_numbers=1)) < _points(BASE)
    assert _points(dataclasses.replace(BASE, willingness=(5,))) > _points(BASE)
    assert _points(dataclasses.replace(BASE, willingness=(1,))) < _points(BASE)


def test_age_curve() -> None:
    assert age_value(None) == 0.0
    assert age_value(-3) == 0.0
    assert age_value(0) == 0.0
    assert age_value(15) == pytest.approx(0.3)
    assert age_value(30) == pytest.approx(0.6)
    assert age_value(60) == pytest.approx(0.8)
    assert age_value(90) == age_value(180) == 1.0
    assert age_value(450) == pytest.approx(0.7)
    assert age_value(720) == age_value(10_000) == AGE_CURVE[-1][1]


def test_promise_history_is_smoothed_and_pending_promises_wait() -> None:
    assert promise_value(BASE) == 0.5
    assert promise_value(dataclasses.replace(BASE, promises_broken=1)) == pytest.approx(1 / 3)
    assert promise_value(dataclasses.replace(BASE, promises_kept=2)) == pytest.approx(0.75)
    assert promise_value(dataclasses.replace(BASE, promises_kept=9, promise_pending=True)) == 0.2


def test_contactability() -> None:
    assert contactability_value(dataclasses.replace(BASE, valid_numbers=0)) == 0.0
    assert contactability_value(BASE) == 0.75
    assert contactability_value(dataclasses.replace(BASE, bad_numbers=1)) == 0.375
    assert contactability_value(dataclasses.replace(BASE, has_email=True)) == 1.0
    only_email = dataclasses.replace(BASE, valid_numbers=0, bad_numbers=2, has_email=True)
    assert contactability_value(only_email) == 0.25
    assert contactability_value(dataclasses.replace(BASE, opted_out=True, has_email=True)) == 0


def test_willingness_weights_the_newest_most() -> None:
    assert willingness_value(()) == 0.5
    assert willingness_value((5,)) == 1.0
    assert willingness_value((1,)) == 0.0
    assert willingness_value((5, 1)) == pytest.approx((17 / 5 - 1) / 4)
    assert willingness_value((1, 5)) < willingness_value((5, 1))
    assert willingness_value((3, 3, 3, 1, 1)) == 0.5  # only the latest three count
    assert willingness_value((9, 0)) == willingness_value((5, 1))  # clamped to 1-5


def test_balance_rank_is_the_mid_rank_and_both_ways_agree() -> None:
    balances = [Decimal(x) for x in ("10", "20", "20", "50")]
    assert mid_rank(balances, Decimal("10")) == pytest.approx(0.125)
    assert mid_rank(balances, Decimal("20")) == pytest.approx(0.5)
    assert mid_rank(balances, Decimal("50")) == pytest.approx(0.875)
    assert mid_rank(balances, Decimal("30")) == pytest.approx(3.5 / 5)  # not among them
    assert mid_rank([], Decimal("1")) == 0.5
    assert mid_rank([Decimal("7")], Decimal("7")) == 0.5
    for value in ("5", "10", "20", "35", "50", "99"):
        x = Decimal(value)
        below = sum(1 for b in balances if b < x)
        equal = sum(1 for b in balances if b == x)
        assert rank_of(below, equal, len(balances)) == mid_rank(balances, x)
