"""Kronecker products and their two adjoints (the transpose rules of kron in each argument).

``kronadj1(C, B)`` is the adjoint of ``M -> kron(M, B)`` applied to C, ``kronadj2(A, C)`` the
adjoint of ``M -> kron(A, M)``; both are bilinear, so their own rules close the family.
"""

from __future__ import annotations

from ..core import expr as E
from ..core.facts import STRUCTURE, Facts, imul, interval, sign_of_sums
from ..core.shapes import dim_mul
from .base import Example, OpDef, rule, zero_sum


def _size(e):
    return dim_mul(e.rows, e.cols)


def kron_perm(A_shape, B_shape):
    """P with vec(kron(A, B)) = P (vec(A) (x) vec(B)): I_n (x) K(q,m) (x) I_p."""
    (m, nn), (p, q) = A_shape, B_shape
    return E.kron(E.kron(E.eye(nn), E.commutation(q, m)), E.eye(p))


def kron_block(A_shape, B, A):
    """The Jacobian of M -> vec(kron(M, B)) (A None) or of M -> vec(kron(A, M)) (B None)."""
    if A is None:  # vec(kron(dA, B)) = P (I_mn (x) vec(B)) vec(dA)
        return E.mul(kron_perm(A_shape, B.shape), E.kron(E.eye(dim_mul(*A_shape)), E.vec(B)))
    # vec(kron(A, dB)) = P (vec(A) (x) I_pq) vec(dB)
    return E.mul(kron_perm(A.shape, A_shape), E.kron(E.vec(A), E.eye(dim_mul(*A_shape))))


def _bilinear_jvp(build):
    def jvp(n, d):
        a, b = n.args
        return zero_sum([None if d(0) is None else build(d(0), b),
                         None if d(1) is None else build(a, d(1))])
    return jvp


@rule("d.kron", "d kron(A, B) = kron(dA, B) + kron(A, dB)",
      r"\mathrm{d}(A \otimes B) = \mathrm{d}A \otimes B + A \otimes \mathrm{d}B", "Matrix Cookbook (39)")
def _kron_jvp(n, d):
    return _bilinear_jvp(E.kron)(n, d)


@rule("T.kron", "<C, kron(M, B)> = <kronadj1(C, B), M> ; <C, kron(A, M)> = <kronadj2(A, C), M>",
      r"\langle C, M \otimes B\rangle = \langle \operatorname{kronadj}_1(C, B), M\rangle",
      "definition of kronadj1, kronadj2")
def _kron_transpose(n, C, i):
    A, B = n.args
    return E.kronadj1(C, B) if i == 0 else E.kronadj2(A, C)


@rule("vec.kron", "vec(kron(A, B)) = (I_n (x) K(q,m) (x) I_p)*(vec(A) (x) vec(B)) (A m x n, B p x q)",
      r"\operatorname{vec}(A \otimes B) = (I_n \otimes K_{q,m} \otimes I_p)"
      r"(\operatorname{vec}A \otimes \operatorname{vec}B)", "definitions of kron and K (Magnus & Neudecker (1979), Ann. Statist. 7(2))")
def _kron_vec(n, i, J):
    A, B = n.args
    if i == 0:
        return E.mul(kron_block(A.shape, B, None), J)
    return E.mul(kron_block(B.shape, None, A), J)


@rule("d.kronadj1", "d kronadj1(C, B) = kronadj1(dC, B) + kronadj1(C, dB)",
      r"\mathrm{d}\operatorname{kronadj}_1(C, B) = \operatorname{kronadj}_1(\mathrm{d}C, B) + "
      r"\operatorname{kronadj}_1(C, \mathrm{d}B)", "calculus: bilinearity")
def _kronadj1_jvp(n, d):
    return _bilinear_jvp(E.kronadj1)(n, d)


@rule("d.kronadj2", "d kronadj2(A, C) = kronadj2(dA, C) + kronadj2(A, dC)",
      r"\mathrm{d}\operatorname{kronadj}_2(A, C) = \operatorname{kronadj}_2(\mathrm{d}A, C) + "
      r"\operatorname{kronadj}_2(A, \mathrm{d}C)", "calculus: bilinearity")
def _kronadj2_jvp(n, d):
    return _bilinear_jvp(E.kronadj2)(n, d)


@rule("T.kronadj1", "<G, kronadj1(M, B)> = <kron(G, B), M> ; <G, kronadj1(C, M)> = <kronadj2(G, C), M>",
      r"\langle G, \operatorname{kronadj}_1(M, B)\rangle = \langle G \otimes B, M\rangle",
      "definition of kronadj1")
def _kronadj1_transpose(n, C, i):
    return E.kron(C, n.args[1]) if i == 0 else E.kronadj2(C, n.args[0])


@rule("T.kronadj2", "<G, kronadj2(M, C)> = <kronadj1(C, G), M> ; <G, kronadj2(A, M)> = <kron(A, G), M>",
      r"\langle G, \operatorname{kronadj}_2(A, M)\rangle = \langle A \otimes G, M\rangle",
      "definition of kronadj2")
def _kronadj2_transpose(n, C, i):
    return E.kronadj1(n.args[1], C) if i == 0 else E.kron(n.args[0], C)


@rule("vec.kronadj1", "vec(kronadj1(M, B)) = J_kron(., B)'*vec(M) ; "
      "vec(kronadj1(C, M)) = unvec(P'*vec(C), pq)'*vec(M)",
      r"\operatorname{vec}\operatorname{kronadj}_1(M, B) = J_{\cdot \otimes B}^T\operatorname{vec}M",
      "the adjoint of vec.kron")
def _kronadj1_vec(n, i, J):
    C, B = n.args
    if i == 0:
        # kronadj1(., B) is the adjoint of M -> kron(M, B): its Jacobian is that one's transpose
        return E.mul(E.transpose(kron_block(n.shape, B, None)), J)
    # by B: vec(kronadj1(C, B)) = (I_mn (x) vec(B))' P' vec(C) = unvec(P' vec(C), pq)' vec(B)
    # (<kronadj1(C, B), M> = vec(C)' P (vec(M) (x) vec(B)), M m x n, B p x q)
    Y = E.unvec(E.mul(E.transpose(kron_perm(n.shape, B.shape)), E.vec(C)), _size(B), _size(n))
    return E.mul(E.transpose(Y), J)


@rule("vec.kronadj2", "vec(kronadj2(A, M)) = J_kron(A, .)'*vec(M) ; "
      "vec(kronadj2(M, C)) = unvec(P'*vec(C), pq)*vec(M)",
      r"\operatorname{vec}\operatorname{kronadj}_2(A, M) = J_{A \otimes \cdot}^T\operatorname{vec}M",
      "the adjoint of vec.kron")
def _kronadj2_vec(n, i, J):
    A, C = n.args
    if i == 1:
        # kronadj2(A, .) is the adjoint of M -> kron(A, M): its Jacobian is that one's transpose
        return E.mul(E.transpose(kron_block(n.shape, None, A)), J)
    # by A: vec(kronadj2(A, C)) = (vec(A) (x) I_pq)' P' vec(C) = unvec(P' vec(C), pq) vec(A)
    # (<kronadj2(A, C), M> = vec(C)' P (vec(A) (x) vec(M)), A m x n, M p x q)
    Y = E.unvec(E.mul(E.transpose(kron_perm(A.shape, n.shape)), E.vec(C)), _size(n), _size(A))
    return E.mul(Y, J)


def _kron_facts(n, fs):
    # kron keeps what both factors have (its eigenvalues are products: psd, pd), and its
    # entries are products of entries
    a, b = fs
    r = imul(interval(a), interval(b))
    both = {k: getattr(a, k) and getattr(b, k) for k in STRUCTURE}
    return Facts(**both, lo=r[0], hi=r[1])


def _kronadj_facts(n, fs):
    r = sign_of_sums(imul(interval(fs[0]), interval(fs[1])))
    return Facts(lo=r[0], hi=r[1])


KRON = [
    OpDef("kron", rank=17, jvp=_kron_jvp, build=E.kron, transpose=_kron_transpose, vec=_kron_vec,
          aliases=("kronecker",), language=("kron",), arity=2, shape="kron", keeps_name=True, text="kron({0}, {1})",
          latex="{0} \\otimes {1}", facts=_kron_facts,
          examples=(Example("sum(kron(X, A) .* kron(A, X))", shapes={"X": "n,n", "A": "n,n"},
                            square_only=True),
                    Example("sum(kron(X, B) .* C)", shapes={"X": "n,m", "B": "k,m"})),
          meaning="the Kronecker product of {0} and {1}"),
    OpDef("kronadj1", rank=18, jvp=_kronadj1_jvp, build=E.kronadj1, transpose=_kronadj1_transpose,
          vec=_kronadj1_vec, language=("kronadj1",), arity=2, shape="kronadj1",
          facts=_kronadj_facts, text="kronadj1({0}, {1})", latex="\\operatorname{{kronadj}}_1\\left({0}, {1}\\right)",
          examples=(Example("sum(kronadj1(kron(X, A) + kron(A, X), A) .* X)",
                            shapes={"X": "n,n", "A": "n,n"}, square_only=True),
                    Example("sum(kronadj1(C, X) .* D)", shapes={"C": "n*k,m*m", "X": "k,m", "D": "n,m"})),
          meaning="the adjoint of M -> kron(M, {1}) applied to {0} (in gradients through kron)", params=("C", "B")),
    OpDef("kronadj2", rank=18, jvp=_kronadj2_jvp, build=E.kronadj2, transpose=_kronadj2_transpose,
          vec=_kronadj2_vec, language=("kronadj2",), arity=2, shape="kronadj2",
          facts=_kronadj_facts, text="kronadj2({0}, {1})", latex="\\operatorname{{kronadj}}_2\\left({0}, {1}\\right)",
          examples=(Example("sum(kronadj2(A, kron(X, A) + kron(A, X)) .* X)",
                            shapes={"X": "n,n", "A": "n,n"}, square_only=True),
                    Example("sum(kronadj2(X, C) .* D)", shapes={"C": "k*n,m*m", "X": "k,m", "D": "n,m"})),
          meaning="the adjoint of M -> kron({0}, M) applied to {1} (in gradients through kron)", params=("A", "C")),
]
