"""Matching quality on the labelled data set: fails when precision or recall of "same matter" drops below target."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import repeats_quality  # noqa: E402  (bench/repeats_quality.py: the same code that writes docs/REPEATS.md)

from app.config import Repeats  # noqa: E402
from app.domain.repeats import Rules  # noqa: E402


@pytest.fixture(scope="module")
def result():
    return repeats_quality.measure()


def test_the_labelled_set_covers_every_scenario():
    scenarios = {s for _, _, s in repeats_quality.load()}
    assert scenarios == {"mass", "repeat", "village", "caller", "border"}


def test_domain_default_is_the_config_default():
    assert Rules().similarity == Repeats().similarity


def test_precision_at_the_default_threshold(result):
    assert result["precision"] >= repeats_quality.TARGET_PRECISION, result["precision"]


def test_recall_at_the_default_threshold(result):
    assert result["recall"] >= repeats_quality.TARGET_RECALL, result["recall"]


def test_no_pair_across_a_village_border_is_matched(result):
    for a, b in result["wrong"]:
        assert a.township_code == b.township_code
        assert a.territory_code == b.territory_code or a.territory_code == a.township_code or b.territory_code == b.township_code
