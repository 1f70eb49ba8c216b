"""The suppression rules on bare tables: primary (0 < count < k), complementary on rows and
columns, and no withheld cell that the true line totals would give away."""

from __future__ import annotations

import numpy as np
import pytest

from junction.opendata.suppression import line_is_safe, suppress

K = 5


def determined_cells(table: np.ndarray, hidden: np.ndarray) -> list[tuple[int, int]]:
    """Withheld cells a reader could solve for exactly, knowing every published cell and the
    true total of every row and column: those whose unit vector lies in the row space of the
    line-sum equations over the withheld cells."""
    cells = list(zip(*np.nonzero(hidden), strict=True))
    if not cells:
        return []
    n_rows, n_cols = table.shape
    equations = np.zeros((n_rows + n_cols, len(cells)))
    for j, (row, col) in enumerate(cells):
        equations[row, j] = equations[n_rows + col, j] = 1
    rank = np.linalg.matrix_rank(equations)
    return [
        cell
        for j, cell in enumerate(cells)
        if np.linalg.matrix_rank(np.vstack([equations, np.eye(len(cells))[j]])) == rank
    ]


def test_it_withholds_small_cells_but_publishes_zeros_and_counts_at_k():
    table = np.array([[0, 5, 40], [12, 30, 7]])
    assert not suppress(table, K).any()
    assert suppress(np.array([[3]]), K).tolist() == [[True]]


def test_it_hides_a_second_cell_of_the_row_so_the_small_one_cannot_be_subtracted():
    # Day total 63 is known (daily totals cross regions): 63 - 20 - 40 would give the 3.
    table = np.array([[3, 20, 40], [30, 25, 50]])
    hidden = suppress(table, K)
    assert hidden[0, 0] and hidden[0, 1] and not hidden[0, 2]  # the next-smallest, 20
    # ... and its columns in turn: each now has one withheld cell, so a second row joins.
    assert hidden[1, 0] and hidden[1, 1]
    assert determined_cells(table, hidden) == []


def test_it_hides_more_until_the_hidden_sum_reaches_k():
    # 1 + 2 = 3 < k: the two hidden cells together would still name a small count.
    table = np.array([[1, 2, 9, 40], [1, 2, 9, 40], [30, 30, 30, 30]])
    hidden = suppress(table, K)
    for row in range(2):
        assert line_is_safe(table[row], hidden[row], K)
        assert hidden[row, 2]  # 9 joined 1 and 2
    assert determined_cells(table, hidden) == []


def test_it_protects_columns_as_well_as_rows():
    table = np.array([[2, 50, 60], [40, 50, 60], [41, 52, 60]])
    hidden = suppress(table, K)
    assert hidden[:, 0].sum() >= 2 and table[:, 0][hidden[:, 0]].sum() >= K
    assert determined_cells(table, hidden) == []


def test_it_closes_a_chain_two_safe_blocks_joined_by_one_hidden_cell():
    # Two 2x2 blocks of small cells, each safe line by line, joined by the 3 at (1, 2): on its
    # own it lies on no cycle of hidden cells, so the true totals would fix it.
    table = np.array([[2, 3, 50, 50], [3, 2, 3, 50], [50, 50, 2, 3], [50, 50, 3, 2]])
    hidden = suppress(table, K)
    assert hidden[1, 2]
    assert determined_cells(table, hidden) == []


@pytest.mark.parametrize("seed", range(4))
def test_it_never_leaves_a_hidden_cell_recoverable_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        rows, cols = rng.integers(2, 9), rng.integers(2, 7)
        table = rng.choice([0, 0, 1, 2, 3, 4, 5, 8, 13, 40, 120], size=(rows, cols))
        k = int(rng.integers(2, 11))
        hidden = suppress(table, k)
        assert (hidden | ~((table > 0) & (table < k))).all()  # every small cell withheld
        for lines, masks in ((table, hidden), (table.T, hidden.T)):
            for counts, mask in zip(lines, masks, strict=True):
                # >= 2 withheld whose sum reaches k, unless the whole line is withheld
                assert line_is_safe(counts, mask, k) or mask.all()
        assert determined_cells(table, hidden) == []
        assert not ((table[~hidden] > 0) & (table[~hidden] < k)).any()


def test_it_refuses_negative_counts():
    with pytest.raises(ValueError, match="never negative"):
        suppress(np.array([[-1, 4]]), K)
