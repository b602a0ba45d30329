"""How many attempts a run needs: the default budget from a technique's expected yield, and an
early projection once the run has seen enough attempts, so that a user learns in the first minute,
not after six, that the budget cannot reach the target."""
from __future__ import annotations

import math

MIN_SLOTS = 8  # attempts seen before a projection is made
MIN_BUDGET_FACTOR = 1.5  # the default budget leaves this much room over the expected number of attempts


def default_attempts(count: int, expected_yield: float | None) -> int:
    """Attempts for ``count`` records: 5 per record plus 20, or more when the technique's measured
    yield (accepted per attempt on the bundled model) says that is not enough."""
    base = 5 * count + 20
    if not expected_yield or expected_yield <= 0:
        return base
    return max(base, math.ceil(MIN_BUDGET_FACTOR * count / min(expected_yield, 1.0)) + 20)


def attempt_budget(max_attempts: int | None, count: int, expected_yield: float | None) -> int:
    """The slots a run may try: ``engine.max_attempts`` when set, else `default_attempts`. The runner,
    the pilot of `synthloom estimate` and the estimate's budget warning all read it here."""
    return max_attempts or default_attempts(count, expected_yield)


def projection(accepted: int, slots: int, target: int, budget: int) -> str | None:
    """A one-line warning when, at the yield seen so far (``accepted`` of ``slots`` attempts in this
    run), the remaining budget is projected to fall short of ``target``; None otherwise."""
    if slots < MIN_SLOTS or accepted >= target or slots >= budget:
        return None
    rate = accepted / slots
    left = budget - slots
    if rate > 0 and accepted + rate * left >= target:
        return None
    need = slots + math.ceil((target - accepted) / rate) if rate > 0 else None
    reach = accepted + int(rate * left)
    if need is None:
        return (f"no record accepted in the first {slots} attempts: the budget of {budget} attempts is unlikely "
                f"to reach {target}; look at the rejection reasons (synthloom report) before spending it")
    return (f"yield so far {accepted}/{slots} attempts ({rate:.0%}): the budget of {budget} attempts is "
            f"projected to reach about {reach} of {target}; about {need} attempts would be needed "
            f"(engine.max_attempts in a recipe, --max-attempts on the command line)")
