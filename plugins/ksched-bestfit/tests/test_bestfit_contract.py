"""The ksched plugin contract, run on this package's plugin."""

from typing import Any

import ksched_bestfit.best_fit

from ksched.testing import parametrize_with_checks


@parametrize_with_checks([ksched_bestfit.best_fit])
def test_contract(plugin: Any, scenario: Any, check: Any) -> None:
    check(plugin, scenario)
