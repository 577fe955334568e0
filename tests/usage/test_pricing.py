"""The pure cost function: exact, non-negative, monotone, None for unpriced."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unillm.usage.pricing import NANO_DOLLAR, Price, cost_usd

GPT4O = Price(input_per_1k=Decimal("0.0025"), output_per_1k=Decimal("0.01"),
              cached_input_per_1k=Decimal("0.00125"))

prices = st.builds(
    Price,
    input_per_1k=st.decimals(min_value=0, max_value=1, places=9),
    output_per_1k=st.decimals(min_value=0, max_value=1, places=9),
    cached_input_per_1k=st.none() | st.decimals(min_value=0, max_value=1, places=9),
)
tokens = st.integers(min_value=0, max_value=2_000_000)


def test_unpriced_model_costs_none_not_zero() -> None:
    assert cost_usd(None, prompt_tokens=10, cached_prompt_tokens=0, completion_tokens=5) is None


def test_cached_tokens_are_part_of_the_prompt_and_billed_at_the_cached_price() -> None:
    cost = cost_usd(GPT4O, prompt_tokens=1000, cached_prompt_tokens=400, completion_tokens=200)
    assert cost == Decimal("0.0015") + Decimal("0.0005") + Decimal("0.002")


def test_cached_tokens_fall_back_to_the_input_price() -> None:
    price = Price(input_per_1k=Decimal("0.001"), output_per_1k=Decimal("0.002"), cached_input_per_1k=None)
    cost = cost_usd(price, prompt_tokens=1000, cached_prompt_tokens=1000, completion_tokens=0)
    assert cost == Decimal("0.001")


def test_a_single_cheap_token_keeps_its_cost() -> None:
    price = Price(input_per_1k=Decimal("0.000004"), output_per_1k=Decimal("0.000004"))
    thousand = cost_usd(price, prompt_tokens=1000, cached_prompt_tokens=0, completion_tokens=0)
    one = cost_usd(price, prompt_tokens=1, cached_prompt_tokens=0, completion_tokens=0)
    assert (thousand, one) == (Decimal("0.000004"), Decimal("0.000000004"))


def test_negative_tokens_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        cost_usd(GPT4O, prompt_tokens=-1, cached_prompt_tokens=0, completion_tokens=0)


@given(prices, tokens, tokens, tokens)
def test_cost_is_exact_non_negative_and_nano_dollar_quantised(price: Price, prompt: int, cached: int,
                                                               completion: int) -> None:
    cost = cost_usd(price, prompt_tokens=prompt, cached_prompt_tokens=cached, completion_tokens=completion)
    assert cost is not None and cost >= 0
    assert cost == cost.quantize(NANO_DOLLAR)
    cached = min(cached, prompt)
    rate = price.cached_input_per_1k if price.cached_input_per_1k is not None else price.input_per_1k
    exact = ((prompt - cached) * price.input_per_1k + cached * rate
             + completion * price.output_per_1k) / 1000
    assert abs(cost - exact) <= NANO_DOLLAR / 2


@given(prices, tokens, tokens, tokens, st.integers(min_value=0, max_value=10_000))
def test_cost_is_monotone_in_every_token_count(price: Price, prompt: int, cached: int, completion: int,
                                               extra: int) -> None:
    cached = min(cached, prompt)
    base = cost_usd(price, prompt_tokens=prompt, cached_prompt_tokens=cached, completion_tokens=completion)
    more_prompt = cost_usd(price, prompt_tokens=prompt + extra, cached_prompt_tokens=cached,
                           completion_tokens=completion)
    more_completion = cost_usd(price, prompt_tokens=prompt, cached_prompt_tokens=cached,
                               completion_tokens=completion + extra)
    assert base is not None and more_prompt is not None and more_completion is not None
    assert more_prompt >= base and more_completion >= base
