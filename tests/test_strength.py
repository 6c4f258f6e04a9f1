"""``strength_table`` on the tiny random engine: shape, and no edit at strength 0 means no hit."""

import pytest
import torch

from chatface_widgets.eval.strength import strength_table
from chatface_widgets.testing.tiny import tiny_engine
from chatface_widgets.toy.oracle import Oracle, OracleConfig
from chatface_widgets.train.judges import tiny_random_judges

pytestmark = pytest.mark.needs("open_clip")  # the tiny random judges are open_clip models


@pytest.fixture(scope="module")
def table():
    torch.manual_seed(0)
    engine = tiny_engine()
    oracle = Oracle(OracleConfig(image_size=48, stem=4, widths=(8, 8, 8), hidden=16, squeeze=4)).eval()
    judges = tiny_random_judges(image_size=engine.image_size)
    return strength_table(engine, [0.0, 1.0], faces=3, seed=0, judges=judges, oracle=oracle,
                          attributes=["smile", "eyeglasses"])


def test_rows_per_strength_and_attribute(table):
    assert list(table["table"]) == ["0.0", "1.0"] and table["sms"] is True and table["faces"] == 3
    for row in table["table"].values():
        assert list(row) == ["smile", "eyeglasses"]
        for v in row.values():
            assert set(v) == {"hit_rate", "id", "eligible_faces"} and 0 <= v["eligible_faces"] <= 3


def test_strength_zero_is_the_reconstruction(table):
    for v in table["table"]["0.0"].values():
        assert v["hit_rate"] in (0.0, None)  # nothing moved, so nothing rose by the margin
        assert v["id"] == pytest.approx(1.0, abs=1e-5)
