"""Softmax regression (multinomial logistic regression) trained with matdiff's gradient.

    loss(W) = sum(log(exp(X*W)*ones(k))) - sum(Y .* (X*W)) + 0.5*lambda*sum(W .* W)

X holds n samples of d features, Y the one-hot labels of k classes, W the d x k weights:
the first term is the sum over samples of log(sum_j exp((X*W)_ij)), the second picks the
logit of the true class. matdiff derives the gradient in closed form,
X'*(softmax of each row of X*W - Y) + lambda*W, and compiles it to NumPy; plain gradient
descent then trains on synthetic data and prints the loss falling. The generated code
shifts each row of X*W by its largest entry before exp, so logits of +-1000 neither overflow
nor lose the gradient.
Run: python examples/softmax_regression.py
"""

import numpy as np

import matdiff

LOSS = "sum(log(exp(X*W)*ones(k))) - sum(Y .* (X*W)) + 0.5*lambda*sum(W .* W)"
SHAPES = {"X": "n,d", "W": "d,k", "Y": "n,k", "lambda": ""}


def main():
    d = matdiff.derive(LOSS, wrt="W", shapes=SHAPES)
    print(f"loss      {d.expr}")
    print(f"gradient  {d.gradient}")
    print()
    value_grad = d.to_numpy()  # (loss, gradient)

    # synthetic data: three Gaussian clouds in 4 dimensions, one per class
    rng = np.random.default_rng(0)
    n, dim, k, lam = 600, 4, 3, 0.1
    centers = 2.0 * rng.standard_normal((k, dim))
    labels = rng.integers(0, k, size=n)
    X = centers[labels] + rng.standard_normal((n, dim))
    Y = np.eye(k)[labels]
    data = {"X": X, "Y": Y, "lambda": lam}  # 'lambda' is a Python keyword: pass a dict

    # step 1/L with L = ||X||_2^2 / 2 + lambda, a bound on the Hessian's norm
    step = 1.0 / (np.linalg.norm(X, 2) ** 2 / 2 + lam)
    W = np.zeros((dim, k))
    losses = []
    for it in range(201):
        loss, grad = value_grad(W=W, **data)
        losses.append(loss)
        if it % 40 == 0:
            accuracy = np.mean(np.argmax(X @ W, axis=1) == labels)
            print(f"iteration {it:3d}   loss {loss:10.4f}   training accuracy {accuracy:.3f}")
        W = W - step * grad

    assert losses[-1] < 0.5 * losses[0], "the loss should fall"
    assert all(b <= a + 1e-9 for a, b in zip(losses, losses[1:])), "gradient descent at 1/L is monotone"
    print(f"\nloss fell from {losses[0]:.4f} to {losses[-1]:.4f}")


if __name__ == "__main__":
    main()
