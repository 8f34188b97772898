"""The ksched plugin contract, run on this package's plugin."""

from typing import Any

import ksched_dotprod.dot_product

from ksched.testing import parametrize_with_checks


@parametrize_with_checks([ksched_dotprod.dot_product])
def test_contract(plugin: Any, scenario: Any, check: Any) -> None:
    check(plugin, scenario)
