"""The matrix-chain order: one dynamic program for every caller.

``chain_dp(dims, free)`` is the classic O(k^3) matrix-chain DP over a chain of k factors
with sizes ``dims[0] x dims[1] x ... x dims[k]``. ``free(i, j)`` (optional) says that the
sub-chain of factors i..j is computed anyway elsewhere, so it costs nothing (its split is
then -1). Ties keep the leftmost split (a split must beat the best so far by a relative
1e-9, so rounding in float sizes never flips an order).
"""

from __future__ import annotations


def chain_dp(dims, free=None):
    """(cost, split) tables: ``cost[i][j]`` the cheapest cost of factors i..j, ``split[i][j]``
    the last factor of its left part (-1 where ``free(i, j)``)."""
    k = len(dims) - 1
    cost = [[0.0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(2, k + 1):
        for i in range(k - length + 1):
            j = i + length - 1
            if free is not None and free(i, j):
                split[i][j] = -1
                continue
            best, arg = None, i
            for s in range(i, j):
                cst = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if best is None or cst < best * (1 - 1e-9):
                    best, arg = cst, s
            cost[i][j] = best
            split[i][j] = arg
    return cost, split


def best_parenthesization(dims) -> tuple:
    """The cheapest order for a chain with sizes dims[0] x dims[1] x ..., as a nested tuple
    of factor indexes (built without recursion)."""
    k = len(dims) - 1
    _, split = chain_dp(dims)
    done: dict = {}
    stack = [(0, k - 1)]
    while stack:
        i, j = stack[-1]
        if i == j:
            done[(i, j)] = i
            stack.pop()
            continue
        s = split[i][j]
        parts = [(i, s), (s + 1, j)]
        todo = [p for p in parts if p not in done]
        if todo:
            stack.extend(todo)
            continue
        done[(i, j)] = (done[parts[0]], done[parts[1]])
        stack.pop()
    return done[(0, k - 1)]
