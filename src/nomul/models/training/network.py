# SPDX-License-Identifier: MIT
"""A small numpy network with discretized activations and straight-through gradients.

Layers hold float weights; a recipe decides what the forward pass sees (``weight_view``: the
float weights, or their codebook quantization with a straight-through gradient). Activations
are discretized in the forward pass to ``levels`` values of a bounded non-linearity with the
integer reference's tie rule (index = count of boundaries met, ties go up); the backward pass
uses the non-linearity's derivative (straight-through estimator for the rounding).

Convolution inputs are ``(B, C, *spatial)``; the fan-in order of a conv weight row is
tap-major, channel-minor ``(ky, kx, c)``, exactly as the integer model expects.
"""

import math

import numpy as np
import scipy.sparse

from ..nonlinearity import boundaries, get_nonlinearity

__all__ = ["Dense", "Conv", "MaxPool", "Flatten", "Activation", "Continuous", "Network", "Adam"]


class Dense:
    """``z = x @ W.T + b`` with ``W`` ``(M, N)``."""

    kind = "dense"

    def __init__(self, fan_in, outputs, rng):
        self.weight = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(outputs, fan_in))
        self.bias = np.zeros(outputs)
        self.fan_in, self.outputs = fan_in, outputs
        self.weight_view = None          # set by the recipe: W -> what the forward pass uses

    def effective_weight(self):
        return self.weight if self.weight_view is None else self.weight_view(self)

    def forward(self, x, train=False):
        self._x = x if train else None
        return x @ self.effective_weight().T + self.bias

    def backward(self, grad):
        self.grad_weight = grad.T @ self._x
        self.grad_bias = grad.sum(axis=0)
        return grad @ self.effective_weight()

    def inputs_matrix(self, x):
        """The ``(rows, fan_in)`` matrix the weights multiply (for input statistics)."""
        return x


class Conv(Dense):
    """1-D or 2-D convolution as im2col (a sparse gather matrix) + dense; zero padding."""

    kind = "conv"

    def __init__(self, in_shape, outputs, kernel, stride, padding, rng):
        self.in_shape = tuple(in_shape)
        self.kernel, self.stride, self.padding = tuple(kernel), tuple(stride), tuple(padding)
        channels, spatial = in_shape[0], in_shape[1:]
        self.out_spatial = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in
                                 zip(spatial, kernel, stride, padding, strict=True))
        super().__init__(channels * math.prod(kernel), outputs, rng)
        self._gather = self._gather_matrix()

    def _gather_matrix(self):
        """Sparse ``(N_in, P * fan_in)``: flat input -> patches, padded taps all-zero."""
        spatial = self.in_shape[1:]
        flat = np.arange(math.prod(self.in_shape)).reshape(self.in_shape)
        padded = np.pad(flat, [(0, 0)] + [(p, p) for p in self.padding], constant_values=-1)
        windows = np.lib.stride_tricks.sliding_window_view(
            padded, self.kernel, axis=tuple(range(1, 1 + len(spatial))))
        windows = windows[(slice(None),) + tuple(slice(None, None, s) for s in self.stride)]
        dims = len(spatial)
        order = [*range(1, 1 + 2 * dims), 0]        # (C, *out, *k) -> (*out, *k, C)
        source = windows.transpose(order).reshape(-1)
        columns = np.nonzero(source >= 0)[0]
        return scipy.sparse.csr_matrix(
            (np.ones(columns.size), (source[columns], columns)),
            shape=(math.prod(self.in_shape), source.size))

    @property
    def positions(self):
        return math.prod(self.out_spatial)

    def _patches(self, x):
        batch = x.shape[0]
        cols = (self._gather.T @ x.reshape(batch, -1).T).T        # (B, P * fan_in)
        return cols.reshape(batch * self.positions, self.fan_in)

    def forward(self, x, train=False):
        patches = self._patches(x)
        self._x = patches if train else None
        z = patches @ self.effective_weight().T + self.bias       # (B*P, M)
        batch = x.shape[0]
        z = z.reshape(batch, *self.out_spatial, self.outputs)
        return np.moveaxis(z, -1, 1)

    def backward(self, grad):
        batch = grad.shape[0]
        grad = np.moveaxis(grad, 1, -1).reshape(batch * self.positions, self.outputs)
        self.grad_weight = grad.T @ self._x
        self.grad_bias = grad.sum(axis=0)
        grad_patches = (grad @ self.effective_weight()).reshape(batch, -1)
        return (self._gather @ grad_patches.T).T.reshape(batch, *self.in_shape)

    def inputs_matrix(self, x):
        return self._patches(x)


class MaxPool:
    """Max over windows (floor mode); the gradient goes to the first maximum of each window."""

    kind = "maxpool"

    def __init__(self, kernel, stride):
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x, train=False):
        dims = len(self.kernel)
        windows = np.lib.stride_tricks.sliding_window_view(x, self.kernel,
                                                           axis=tuple(range(2, 2 + dims)))
        windows = windows[(slice(None), slice(None)) + tuple(slice(None, None, s)
                                                             for s in self.stride)]
        flat = windows.reshape(*windows.shape[:2 + dims], -1)
        if train:
            self._shape, self._choice = x.shape, flat.argmax(axis=-1)
        return flat.max(axis=-1)

    def backward(self, grad):
        dims = len(self.kernel)
        out = np.zeros(self._shape)
        taps = np.array(np.unravel_index(self._choice, self.kernel))   # (dims, B, C, *out)
        grid = np.indices(self._choice.shape)                         # (2 + dims, B, C, *out)
        where = [grid[0], grid[1]] + [grid[2 + i] * self.stride[i] + taps[i] for i in range(dims)]
        np.add.at(out, tuple(where), grad)
        return out


class Flatten:
    kind = "flatten"

    def forward(self, x, train=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad):
        return grad.reshape(self._shape)


class Activation:
    """Discretized non-linearity: ``values[count(scale * z >= boundaries)]``.

    ``values`` are the ascending output levels; ``scale`` a constant positive factor (WAGE's
    power-of-two scale; 1 otherwise). Backward: ``grad * scale * f'(scale * z)`` (STE).
    """

    kind = "activation"

    def __init__(self, nonlinearity, values, scale=1.0):
        self.nonlinearity = get_nonlinearity(nonlinearity)
        self.scale = float(scale)
        self.set_values(values)

    def set_values(self, values):
        self.values = np.asarray(values, dtype=np.float64)
        self.boundaries = boundaries(self.nonlinearity.name, self.values)

    def indices(self, z):
        return np.searchsorted(self.boundaries, self.scale * z, side="right")

    def forward(self, z, train=False):
        if train:
            self._z = z
        return self.values[self.indices(z)]

    def backward(self, grad):
        return grad * self.scale * self.nonlinearity.derivative(self.scale * self._z)


class Continuous:
    """The non-linearity itself, undiscretized (the float baseline): ``f(scale * z)``."""

    kind = "activation"

    def __init__(self, nonlinearity, scale=1.0):
        self.nonlinearity = get_nonlinearity(nonlinearity)
        self.scale = float(scale)

    def forward(self, z, train=False):
        if train:
            self._z = z
        return self.nonlinearity.forward(self.scale * z)

    def backward(self, grad):
        return grad * self.scale * self.nonlinearity.derivative(self.scale * self._z)


class Network:
    """A chain of layers; ``forward`` returns the last layer's pre-activations (logits)."""

    def __init__(self, layers):
        self.layers = list(layers)

    @property
    def weighted(self):
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def forward(self, x, train=False):
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def trace_inputs(self, x):
        """The input each weighted layer sees (for statistics), in order."""
        seen = []
        for layer in self.layers:
            if isinstance(layer, Dense):
                seen.append(x)
            x = layer.forward(x)
        return seen


class Adam:
    """Adam over the weights and biases of the weighted layers (optional weight decay)."""

    def __init__(self, layers, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.layers, self.lr, self.betas, self.eps = layers, lr, betas, eps
        self.weight_decay = weight_decay
        self.state = [[np.zeros_like(p) for p in (lay.weight, lay.bias) for _ in range(2)]
                      for lay in layers]
        self.steps = 0

    def step(self):
        self.steps += 1
        b1, b2 = self.betas
        correction1, correction2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        for layer, state in zip(self.layers, self.state, strict=True):
            grads = (layer.grad_weight + self.weight_decay * layer.weight, layer.grad_bias)
            for i, (param, grad) in enumerate(zip((layer.weight, layer.bias), grads,
                                                  strict=True)):
                m, v = state[2 * i], state[2 * i + 1]
                m *= b1
                m += (1 - b1) * grad
                v *= b2
                v += (1 - b2) * grad * grad
                param -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)
