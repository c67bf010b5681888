"""The constructors' fast paths build the same nodes as their general paths (issue 14).

``mul`` builds a product whose factors are already in normal form without its per-factor
rewrites (``expr._mul_plain``), ``transpose`` remembers a node's transpose, ``factors``
remembers a product's split, and a long argument list is hashed in closed form. Each is
checked here against the general path on random products: under a tracer the fast paths are
off, so ``mul`` there is the general path (its steps are recorded and thrown away).
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from matdiff.core import expr as E
from matdiff.core.shapes import dim_add, make_dim, sym
from matdiff.passes.trace import tracing

n, m = sym("n"), sym("m")
A, B, C = (E.var(v, (n, n)) for v in "ABC")
S = E.var("S", (n, n), symmetric=True)
M = E.var("M", (n, m))  # n x m: only where the chain allows
x, y = E.var("x", (n, 1)), E.var("y", (n, 1))
s, t = E.var("s", (1, 1)), E.var("t", (1, 1))

SQUARE = [A, B, C, S, E.transpose(A), E.transpose(B), E.inv(A), E.mpow(B, 2), E.eye(n), E.diagm(x),
          E.ones((n, n)), E.mul(A, B), E.mul(E.const(3), A, C), E.mul(s, B), E.transpose(E.inv(C)),
          E.mul(x, E.transpose(y)), E.zero((n, n))]
SCALARS = [s, t, E.const(2), E.const(-1), E.const(1), E.const(0), E.mul(E.transpose(x), y), E.power(s, E.const(-1))]


def general_mul(*args):
    with tracing():
        return E.mul(*args)


@st.composite
def products(draw):
    k = draw(st.integers(1, 9))
    chain = [draw(st.sampled_from(SQUARE)) for _ in range(k)]
    if draw(st.booleans()):
        chain.insert(0, draw(st.sampled_from([E.transpose(x), E.transpose(y), E.ones((1, n))])))
    if draw(st.booleans()):
        chain.append(draw(st.sampled_from([x, y, M, E.ones((n, 1))])))
    args = list(chain)
    for _ in range(draw(st.integers(0, 3))):
        args.insert(draw(st.integers(0, len(args))), draw(st.sampled_from(SCALARS)))
    return args


@settings(max_examples=600, deadline=None)
@given(products())
def test_mul_fast_path_builds_the_general_paths_node(args):
    assert E.mul(*args) is general_mul(*args)


@settings(max_examples=300, deadline=None)
@given(products())
def test_factors_and_transpose_of_a_product_are_those_of_the_general_path(args):
    p = general_mul(*args)
    assert E.factors(p) == E.factors(p)  # the cached split, asked twice, is the same
    c, sc, ch = E.factors(p)
    if p.op == "mul":
        assert (c != 1) + len(sc) + len(ch) == len(p.args)
        ch.append(A)  # the caller's own list: the cache is not changed
        assert E.factors(p)[2] != ch
    with tracing():
        slow = E.transpose(p)
    assert E.transpose(p) is slow and E.transpose(p) is slow


def test_long_products_take_the_fast_path_and_hash_as_the_loop_does():
    rng = random.Random(3)
    pool = [A, B, C, E.transpose(A), E.transpose(C)]
    for k in (9, 40, 300):
        chain = [rng.choice(pool) for _ in range(k)]
        chain = [f for i, f in enumerate(chain) if i == 0 or f is not chain[i - 1]]
        fast = E._mul_plain(tuple(chain))
        assert fast is not None and fast is general_mul(*chain)
        h = 0
        for a in chain:
            h = (h * 1000003 + a.key[2]) % E._HASH_MOD
        assert E._chain_poly(chain) == h


def test_shared_sizes_are_equal_sizes_and_sums_keep_their_written_order():
    assert make_dim(2, ("n", "m")) is make_dim(2, ("m", "n"))
    ab = dim_add(sym("a"), sym("b"))
    ba = dim_add(sym("b"), sym("a"))
    assert ab == ba and ab.names[0].order != ba.names[0].order  # equal sums, written differently
    # the written order guides block matching ([b; zeros]): rebuilding one never gives the other
    for d in (ab, ba, ab, ba):
        assert make_dim(1, d.names).names[0].order == d.names[0].order


# ---------------------------------------------------------------------------- whole derivations

def _derive(text, with_sym, i):
    import re

    from exprgen import shapes_for, variables_in

    import matdiff

    shapes = {k: v for k, v in shapes_for(with_sym).items() if re.search(rf"(?<![A-Za-z0-9_]){k}(?![A-Za-z0-9_])", text)}
    wrt = variables_in(text)[: 1 + i % 2]
    sym = ["S"] if with_sym and "S" in variables_in(text) else []
    d = matdiff.derive(text, wrt=wrt, shapes=shapes, symmetric=sym)
    return d, (d.gradients if d.expr.is_scalar else d.jacobians)


def test_random_derivations_are_the_same_with_the_fast_paths_off():
    """Derivations of random well-typed expressions (the project's generator, scalar and
    array-valued, symmetric variables) give the same nodes with the constructors' fast paths
    (no tracer) as with their general paths (under a tracer, as explanations derive)."""
    from exprgen import random_corpus

    corpus = random_corpus(80, seed=21) + random_corpus(30, seed=22, arrays=True)
    assert len(corpus) == 110
    for i, (text, with_sym) in enumerate(corpus):
        d, fast = _derive(text, with_sym, i)
        with tracing():
            d2, slow = _derive(text, with_sym, i)
        assert d.differential is d2.differential, text
        assert fast.keys() == slow.keys() and all(fast[k] is slow[k] for k in fast), text


PLAIN = [A, B, C, S, E.transpose(A), E.transpose(B)]


@st.composite
def spliced(draw):
    """Products of products: parts built by the fast path (plain chains, with or without a
    coefficient, vectors at their ends), single factors and constants, in any order."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["product", "plain", "plain", "plain", "factor", "scalar"]))
        if kind == "product":
            parts.append(E.mul(*draw(products())))
        elif kind == "plain":  # a chain the fast path builds: the splice's own input
            chain = [draw(st.sampled_from(PLAIN)) for _ in range(draw(st.integers(2, 12)))]
            chain = [f for i, f in enumerate(chain) if i == 0 or f is not chain[i - 1]]
            if draw(st.booleans()):
                chain.insert(0, draw(st.sampled_from([E.transpose(x), E.transpose(y)])))
            if draw(st.booleans()):
                chain.append(draw(st.sampled_from([x, y])))
            parts.append(E.mul(draw(st.sampled_from([E.const(1), E.const(2), E.const(-1)])), *chain))
        elif kind == "factor":
            parts.append(draw(st.sampled_from(SQUARE)))
        else:
            parts.append(draw(st.sampled_from(SCALARS)))
    return parts


def _loop_hash(node):
    h = E.zlib.crc32(f"{node.op}|{node.attr}|{node.shape}".encode())
    for a in node.args:
        h = (h * 1000003 + a.key[2]) % E._HASH_MOD
    return h


@settings(max_examples=600, deadline=None)
@given(spliced())
def test_a_product_of_products_is_the_general_paths_node_with_its_hash_and_depth(parts):
    try:
        general = general_mul(*parts)
    except AssertionError:  # the parts' sizes do not chain (n x n with a vector inside)
        return
    fast = E.mul(*parts)
    assert fast is general
    if fast.op == "mul":
        assert fast.key[2] == _loop_hash(fast)
        assert fast.depth == 1 + max(a.depth for a in fast.args)


def test_splicing_long_chains_checks_only_the_joints_and_keeps_the_general_paths_rewrites():
    rng = random.Random(5)
    pool = [A, B, C, E.transpose(A), E.transpose(C)]

    def chain(k):
        c = [rng.choice(pool) for _ in range(k)]
        return [f for i, f in enumerate(c) if i == 0 or f is not c[i - 1]]

    for k in (3, 12, 200):
        u, v = chain(k), chain(k)
        pu, pv = E.mul(*u), E.mul(E.const(2), *v)
        assert pu._plainchain and pv._plainchain
        for args in ((pu, pv), (pv, pu), (E.const(3), pu, pv), (pu, E.transpose(x)), (E.transpose(x), pu, x)):
            try:
                general = general_mul(*args)
            except AssertionError:
                continue
            assert E.mul(*args) is general
            assert general.key[2] == _loop_hash(general)
        # equal neighbours at the joint merge into a power; a vector inside makes a scalar stretch
        w = E.mul(pu, u[-1], pu)
        assert w is general_mul(pu, u[-1], pu)
        assert any(f.op == "mpow" for f in w.args) and len(w.args) < 2 * len(u) + 1
        assert E.mul(pu, x, E.transpose(y), pu) is general_mul(pu, x, E.transpose(y), pu)
