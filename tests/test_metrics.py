"""Average accuracy and forgetting on hand-made accuracy matrices."""
import math

import pytest

from maskcl.metrics import accuracy_matrix, average_accuracy, forgetting


def test_average_accuracy_is_the_last_row_mean():
    a = accuracy_matrix([[90], [80, 70], [60, 50, 40]], 3)
    assert math.isnan(a[0][1]) and a[2] == [60.0, 50.0, 40.0]
    assert average_accuracy(a) == pytest.approx(50.0)


def test_forgetting_is_the_mean_drop_from_each_earlier_tasks_best():
    # task 0: best 90 (row 0), final 60 → 30; task 1: best 70 (row 1), final 50 → 20; the last task is excluded
    a = accuracy_matrix([[90], [80, 70], [60, 50, 40]], 3)
    assert forgetting(a) == pytest.approx(25.0)
    # no forgetting: task 0 stays at 90 (drop 0); task 1 rises from 80 to 85 (drop −5): F < 0 is backward transfer
    assert forgetting(accuracy_matrix([[90], [90, 80], [90, 85, 70]], 3)) == pytest.approx(-2.5)
    assert forgetting([[50.0]]) == 0.0


def test_unmeasured_rows_are_skipped_and_shapes_checked():
    full = [[90, 10, 12], [85, 70, 11], [80, 65, 60]]  # early rows measured on tasks not yet learned
    assert forgetting(full) == pytest.approx(((90 - 80) + (70 - 65)) / 2)
    with pytest.raises(ValueError, match="2 rows for 3 tasks"):
        accuracy_matrix([[1], [2, 3]], 3)
