"""The pure cost function: tokens and a price list entry in, exact US dollars out (no I/O).

Why Decimal quantised to nano-dollars: the ledger stores NUMERIC(20, 9) on PostgreSQL and integer
nano-dollars on SQLite, so a cost rounded here is stored identically on both and the daily roll-up
is the exact sum of the rows. `None` means "unpriced", which reports show as such, never as $0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

NANO_DOLLAR = Decimal("0.000000001")
_THOUSAND = Decimal(1000)


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per 1,000 tokens; `cached_input_per_1k` None bills cached tokens at the input price."""

    input_per_1k: Decimal
    output_per_1k: Decimal
    cached_input_per_1k: Decimal | None = None


def cost_usd(price: Price | None, *, prompt_tokens: int, cached_prompt_tokens: int,
             completion_tokens: int) -> Decimal | None:
    """Cost of one request, rounded half-up to the nano-dollar; None when the model has no price.

    Cached tokens are part of `prompt_tokens` (as OpenAI reports them); more cached than prompt
    tokens is clamped, since an upstream cannot cache what it was not sent.
    """
    if prompt_tokens < 0 or cached_prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError("token counts cannot be negative")
    if price is None:
        return None
    cached = min(cached_prompt_tokens, prompt_tokens)
    cached_rate = price.cached_input_per_1k if price.cached_input_per_1k is not None else price.input_per_1k
    total = (Decimal(prompt_tokens - cached) * price.input_per_1k
             + Decimal(cached) * cached_rate
             + Decimal(completion_tokens) * price.output_per_1k) / _THOUSAND
    return total.quantize(NANO_DOLLAR, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """Plain digits without trailing zeros ("0.000004", never "4E-6" or "0.000004000"), so an amount
    reads the same whichever database stored it."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text
