"""The quick readers of `parse_instance` (plain records, read inline) and the careful ones
(every field checked, errors named) must agree: the quick ones take an instance only when
they read it exactly as the careful ones would, and leave everything else to them."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from matching.engine import InvalidInstance, parse_instance
from matching.engine.instance import (
    _requests_checked,
    _requests_quick,
    _volunteers_checked,
    _volunteers_quick,
)
from tests.matching.data.engine_oracle import load_make_instance


@pytest.fixture(scope="module")
def generated() -> dict:
    make_instance = load_make_instance()
    return make_instance.add_version_2(make_instance.make(300, 200, 5, 2.5), 5)


def arrays_of(instance) -> dict:
    return {name: value for name, value in vars(instance).items()}


def assert_same_instance(left, right) -> None:
    left, right = arrays_of(left), arrays_of(right)
    assert left.keys() == right.keys()
    for name in left:
        if isinstance(left[name], np.ndarray):
            np.testing.assert_array_equal(left[name], right[name], err_msg=name)
        else:
            assert left[name] == right[name], name


def test_the_quick_readers_read_a_generated_version_2_instance_as_the_careful_ones_do(generated):
    requests, volunteers = generated["requests"], generated["volunteers"]
    quick_requests = _requests_quick(requests)
    quick_volunteers = _volunteers_quick(volunteers, len(requests))

    assert quick_requests is not None and quick_volunteers is not None
    assert quick_requests == _requests_checked(requests)
    assert quick_volunteers == _volunteers_checked(volunteers, len(requests))


@pytest.mark.parametrize(
    ("kind", "field", "legal_form", "plain_form"),
    [
        ("requests", "priority", 2.0, 2),
        ("requests", "needs", 3.0, 3),
        ("requests", "slots", [3.0, 5], [3, 5]),
        ("volunteers", "capacity", 2.0, 2),
        ("volunteers", "slots", [1.0], [1]),
    ],
)
def test_a_legal_form_the_quick_reader_leaves_out_gives_the_same_instance(
    generated, kind, field, legal_form, plain_form
):
    plain, legal = copy.deepcopy(generated), copy.deepcopy(generated)
    plain[kind][7][field] = plain_form
    legal[kind][7][field] = legal_form
    reader = _requests_quick if kind == "requests" else _volunteers_quick
    arguments = (legal[kind],) if kind == "requests" else (legal[kind], len(legal["requests"]))

    assert reader(*arguments) is None  # read by the careful reader instead
    assert_same_instance(parse_instance(legal), parse_instance(plain))


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("requests", "lat", True, 'requests[9] ("r9"): lat must be a number, got true'),
        ("requests", "priority", 0, 'requests[9] ("r9"): priority 0 must be >= 1'),
        ("requests", "slots", [1, False], 'requests[9] ("r9"): slots[1] must be an integer, got false'),
        ("volunteers", "max_km", 0, 'volunteers[9] ("v9"): max_km 0.0 must be > 0'),
        ("volunteers", "extra_km", float("nan"), 'volunteers[9] ("v9"): extra_km nan is not a finite number'),
        ("volunteers", "lon", 10**400, 'volunteers[9] ("v9"): lon is not a finite number'),
    ],
)
def test_a_record_the_quick_reader_refuses_is_named_by_the_careful_one(
    generated, kind, field, value, message
):
    broken = copy.deepcopy(generated)
    broken[kind][9][field] = value

    with pytest.raises(InvalidInstance) as refused:
        parse_instance(broken)
    assert str(refused.value).startswith(message)
