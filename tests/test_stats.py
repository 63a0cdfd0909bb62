"""Estimate: formatting, unavailable values, JSON round trips, mean ± standard error."""

import itertools
import json
import math

import numpy as np
import pytest

from qgen.stats import Estimate, mean_estimate, mean_estimates


def test_format_two_significant_digits_of_the_error():
    assert str(Estimate(0.99341, 0.00123, 100)) == "0.9934 ± 0.0012"
    assert str(Estimate(1234.5, 15.2, 10)) == "1234 ± 15"
    assert str(Estimate(0.5, 0.2, 10, "wide")) == "0.50 ± 0.20 (wide)"
    assert str(Estimate(1.0, 0.0, 16, "exact")) == "1 (exact)"
    assert str(Estimate(math.inf, math.nan, 5, "q = 0")) == "inf (q = 0)"


def test_unavailable():
    e = Estimate.unavailable("target is mixed")
    assert not e.available and math.isnan(e.mean) and math.isnan(e.stderr) and e.n == 0
    assert e.note == "target is mixed"
    assert str(e) == "n/a (target is mixed)"
    assert Estimate(0.0, 0.1, 3).available


def test_frozen_and_coerced_to_python_types():
    e = Estimate(np.float32(0.5), np.float64(0.1), np.int64(7))
    assert type(e.mean) is float and type(e.n) is int
    with pytest.raises(AttributeError):
        e.mean = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("e", [
    Estimate(0.25, 0.01, 1000, "x"),
    Estimate.unavailable("no likelihood"),
    Estimate(2.0, math.nan, 1, "single sample: no error bar"),
    Estimate(1.0, 0.0, 64, "exact"),
])
def test_json_round_trip(e):
    text = json.dumps(e.to_dict(), allow_nan=False)  # strict JSON: no NaN literals
    assert Estimate.from_dict(json.loads(text)) == e


def test_infinite_mean_is_written_as_null_with_its_note():
    d = Estimate(math.inf, math.nan, 10, "KL is infinite").to_dict()
    assert d["mean"] is None and d["note"] == "KL is infinite"
    json.dumps(d, allow_nan=False)


def test_equality_is_nan_aware_and_hash_consistent():
    a, b = Estimate.unavailable("r"), Estimate(float("nan"), float("nan"), 0, "r")
    assert a == b and hash(a) == hash(b)
    assert Estimate(1.0, 0.1, 2) != Estimate(1.0, 0.2, 2)


def test_mean_estimate_matches_textbook_formula():
    v = np.random.default_rng(0).normal(3.0, 2.0, size=1000)
    e = mean_estimate(v, note="n")
    assert e.mean == pytest.approx(v.sum() / v.size)
    assert e.stderr == pytest.approx(np.sqrt(np.sum((v - v.mean()) ** 2) / (v.size - 1) / v.size))
    assert e.n == 1000 and e.note == "n"


def test_mean_estimate_edge_cases():
    one = mean_estimate(np.array([0.7]))
    assert one.mean == 0.7 and math.isnan(one.stderr) and "no error bar" in one.note
    assert not mean_estimate(np.array([])).available
    assert not mean_estimate(np.array([1.0, np.nan])).available
    inf = mean_estimate(np.array([1.0, np.inf]))
    assert inf.mean == math.inf and "infinite" in inf.note
    assert not mean_estimate(np.array([np.inf, -np.inf])).available


def test_mean_estimates_merges_chunks_like_the_whole_array():
    """Row-wise mean ± s/√n from uneven chunks (one empty) equals numpy on the joined
    array, also with a large common offset, where a naive Σv² − n·mean² would lose every
    digit of the variance."""
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(size=(2, 1001)), 1e8 + rng.normal(size=(1, 1001))])
    cuts = [0, 1, 400, 400, 999, 1001]
    got = mean_estimates((v[:, a:b] for a, b in itertools.pairwise(cuts)), 3)
    for e, row in zip(got, v):
        assert e.n == 1001 and e.mean == pytest.approx(row.mean(), rel=1e-14)
        assert e.stderr == pytest.approx(row.std(ddof=1) / math.sqrt(1001), rel=1e-9)
    naive = math.sqrt(max(0.0, (np.sum(v[2] ** 2) - 1001 * v[2].mean() ** 2) / 1000 / 1001))
    assert abs(naive - got[2].stderr) > 0.5 * got[2].stderr  # what the merge avoids


def test_mean_estimates_edge_cases():
    assert [e.note for e in mean_estimates([], 2)] == ["no samples"] * 2
    one = mean_estimates([np.array([[2.0], [3.0]])], 2)
    assert [e.mean for e in one] == [2.0, 3.0] and all(math.isnan(e.stderr) for e in one)
    assert mean_estimates([np.zeros((0, 4))], 0) == []
    with pytest.raises(ValueError, match="finite"):
        mean_estimates([np.array([[1.0, math.inf]])], 1)
    with pytest.raises(ValueError, match=r"shape \(2, S\)"):
        mean_estimates([np.zeros((3, 4))], 2)

