"""Which inference log columns may lose a scoring job's values (no Spark needed): the
table's column when its type takes them all, else a column named for their type takes
the values that do not fit, so Spark never casts 0.37 to 0 for another model's integer
column."""

from __future__ import annotations

from lakeml.spark.inference_log import placement


def test_a_type_that_may_lose_values_gets_a_retyped_column() -> None:
    have = {"prediction": "bigint", "input_x": "double", "input_plan": "string"}
    assert placement("prediction", "double", have) == ("bigint", "prediction__double")
    assert placement("input_plan", "bigint", have) == ("string", "input_plan__int64")
    assert placement("input_x", "decimal(10,2)", have) == ("double", "input_x__decimal_10_2")


def test_same_types_widenings_and_new_columns_keep_their_name() -> None:
    have = {"prediction": "double", "input_n": "bigint", "input_odd": None}
    assert placement("prediction", "double", have) == ("double", None)
    assert placement("prediction", "bigint", have) == ("double", None)
    assert placement("input_n", "int", have) == ("bigint", None)
    assert placement("input_new", "string", have) == (None, None)
    assert placement("input_odd", "smallint", have) == (None, None)
