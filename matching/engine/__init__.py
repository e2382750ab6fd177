"""The matching engine: pure NumPy/SciPy, no Django (tests/matching/test_engine_is_pure.py).

from matching.engine import parse_instance, solve
result = solve(parse_instance(data))
result.to_json()
"""

from matching.engine.certificate import Certificate, certify
from matching.engine.instance import Instance, InvalidInstance, parse_instance
from matching.engine.result import REASONS, Assignment, Result, Unassigned
from matching.engine.solver import solve

__all__ = [
    "REASONS",
    "Assignment",
    "Certificate",
    "Instance",
    "InvalidInstance",
    "Result",
    "Unassigned",
    "certify",
    "parse_instance",
    "solve",
]
