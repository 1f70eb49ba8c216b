"""Which cells of a window x category table may be published: k threshold with complementary
suppression, so no withheld cell can be worked out from the table and its line totals.

Pure arithmetic on a count matrix (rows: windows, columns: counter/direction/road user); the
database and the output format live elsewhere (junction.opendata.publication).

Rules, applied to a fixed point:
1. primary: a cell with 0 < count < k is withheld;
2. lines: in every row and column with withheld cells there are at least two, and their sum is
   at least k, else the next-smallest published cell of the line is withheld too (smallest
   positive first, zeros last: a zero adds no cover to the sum);
3. chains: the withheld cells, seen as edges between their row and column, lie on a cycle.
   A withheld cell on no cycle (a bridge) is fixed by the true row and column totals even when
   every line passes rule 2 (two blocks linked by one cell), so another cell is withheld to
   close a cycle through it.
Rules 2 and 3 matter even though the export's own totals are sums of published cells: true
row totals are known elsewhere (daily site totals cross regions under transfer rules).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import numpy.typing as npt

Table = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Cell = tuple[int, int]


def suppress(table: Table, k: int) -> Mask:
    """The withheld cells of `table` (a boolean mask of its shape) under threshold `k`."""
    table = np.asarray(table, dtype=np.int64)
    if table.ndim != 2:
        raise ValueError("a publication table has two dimensions: windows x categories")
    if (table < 0).any():
        raise ValueError("counts are never negative")
    hidden = (table > 0) & (table < k)
    while True:
        changed = _protect_lines(table, hidden, k)
        changed = _close_bridges(table, hidden) or changed
        if not changed:
            return hidden


def line_is_safe(counts: Table, hidden: Mask, k: int) -> bool:
    """No withheld cell, or at least two whose sum reaches k."""
    n = int(hidden.sum())
    return n == 0 or (n >= 2 and int(counts[hidden].sum()) >= k)


def _protect_lines(table: Table, hidden: Mask, k: int) -> bool:
    changed = False
    settled = False
    while not settled:  # rows change columns and back: repeat until neither changes
        settled = True
        for lines, masks in ((table, hidden), (table.T, hidden.T)):  # .T is a view: writes land
            for counts, mask in zip(lines, masks, strict=True):
                while mask.any() and not line_is_safe(counts, mask, k):
                    candidate = _next_smallest(counts, mask)
                    if candidate is None:
                        break  # the whole line is withheld: nothing of it is published
                    mask[candidate] = True
                    changed, settled = True, False
    return changed


def _next_smallest(counts: Table, mask: Mask) -> int | None:
    free = np.flatnonzero(~mask)
    if free.size == 0:
        return None
    # Smallest positive count first, zeros after them, ties by position (deterministic).
    order = np.lexsort((free, counts[free], counts[free] == 0))
    return int(free[order[0]])


def _close_bridges(table: Table, hidden: Mask) -> bool:
    changed = False
    while (bridge := _first_bridge(hidden)) is not None:
        cell = _cycle_closer(table, hidden, bridge)
        if cell is None:
            break  # cannot happen when every line holds two withheld cells; never loop
        hidden[cell] = True
        changed = True
    return changed


def _graph(hidden: Mask) -> dict[int, list[tuple[int, int]]]:
    """Bipartite graph of withheld cells: node r for row r, node n_rows + c for column c;
    each edge carries its cell's index so parallel edges cannot arise (one cell, one edge)."""
    n_rows = hidden.shape[0]
    graph: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for index, (row, col) in enumerate(zip(*np.nonzero(hidden), strict=True)):
        graph[int(row)].append((n_rows + int(col), index))
        graph[n_rows + int(col)].append((int(row), index))
    return graph


def _first_bridge(hidden: Mask) -> Cell | None:
    """A withheld cell on no cycle of the withheld-cell graph (iterative Tarjan), or None."""
    n_rows = hidden.shape[0]
    graph = _graph(hidden)
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    for root in graph:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack = [(root, -1, iter(graph[root]))]
        while stack:
            node, via, edges = stack[-1]
            advanced = False
            for neighbour, edge in edges:
                if edge == via:
                    continue
                if neighbour in order:
                    low[node] = min(low[node], order[neighbour])
                else:
                    order[neighbour] = low[neighbour] = len(order)
                    stack.append((neighbour, edge, iter(graph[neighbour])))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    row, col = sorted((parent, node))
                    return row, col - n_rows
    return None


def _cycle_closer(table: Table, hidden: Mask, bridge: Cell) -> Cell | None:
    """The smallest published cell joining the two sides of `bridge`, which puts it on a cycle."""
    n_rows = hidden.shape[0]
    graph = _graph(hidden)
    row, col = bridge
    side = {row}
    frontier = [row]
    while frontier:  # the bridge's row side, walking every withheld cell but the bridge
        node = frontier.pop()
        for neighbour, _ in graph[node]:
            if {node, neighbour} == {row, n_rows + col} or neighbour in side:
                continue
            side.add(neighbour)
            frontier.append(neighbour)
    rows_a = [n for n in side if n < n_rows]
    cols_a = [n - n_rows for n in side if n >= n_rows]
    other = _component(graph, n_rows + col) - side
    rows_b = [n for n in other if n < n_rows]
    cols_b = [n - n_rows for n in other if n >= n_rows]
    candidates = [(r, c) for r in rows_b for c in cols_a] + [(r, c) for r in rows_a for c in cols_b]
    candidates = [cell for cell in candidates if not hidden[cell]]
    if not candidates:
        return None
    return min(candidates, key=lambda cell: (table[cell] == 0, table[cell], cell))


def _component(graph: dict[int, list[tuple[int, int]]], start: int) -> set[int]:
    seen, frontier = {start}, [start]
    while frontier:
        for neighbour, _ in graph[frontier.pop()]:
            if neighbour not in seen:
                seen.add(neighbour)
                frontier.append(neighbour)
    return seen
