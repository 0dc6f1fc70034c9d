# SPDX-License-Identifier: MIT
"""Quantized training recipes, each selected by name (see docs/architecture.md for the methods).

- ``nmnf`` (No Multiplication? No Floating Point?): uniform activation levels over the
  non-linearity's range; every ``cluster_every`` steps all weights and biases are hard-clustered
  to one K-value codebook (k-means, or Laplace with the maximum-likelihood scale), network-wide
  or per layer; training ends with a clustering step.
- ``tbnu`` (Table-Based Neural Units): everything quantized, the input and the last layer
  included; per-layer adaptive codebooks for weights (straight-through) and activations, each
  ``uniform``, ``laplace``, ``gaussian``, ``kmeans`` or ``quantile``, refit periodically.
- ``wage``: WAGE's uniform grid ``Q(x, k) = clip(s * round(x / s), -1 + s, 1 - s)``,
  ``s = 2**(1 - k)`` for weights (K = 2**k - 1 levels; other K use the centred K-point grid of
  the same power-of-two spacing) and activations, and a constant power-of-two scale per layer
  instead of batch normalization.
- ``pq`` (And the Bit Goes Down): float training with discretized activations for the first
  half, then product quantization of every layer's weights (sub-vectors of ``d`` consecutive
  inputs, K codewords, k-means weighted by the input second moments) and fine-tuning of the
  codewords with fixed assignments; exported with group ``d``.
"""

import math

import numpy as np

from ...errors import OptionsError
from ..nonlinearity import get_nonlinearity, uniform_levels
from ..spec import InputSpec
from .codebooks import assign, fit_codebook, fit_product_codebook, quantize
from .network import Activation

__all__ = ["RECIPES", "make_recipe", "wage_grid"]

CODEBOOK_METHODS = ("uniform", "laplace", "gaussian", "kmeans", "quantile")
MAX_PQ_ROWS = 4096


def wage_grid(levels):
    """``levels`` points centred on 0 with spacing ``2**(1-k)``, ``k = ceil(log2(levels+1))``.

    For ``levels = 2**k - 1`` this is exactly WAGE's grid ``-1+s .. 1-s``.
    """
    k = math.ceil(math.log2(levels + 1))
    step = 2.0 ** (1 - k)
    return (np.arange(levels) - (levels - 1) / 2) * step


class Recipe:
    """Hooks the trainer calls; the default is scalar weights with uniform activation levels."""

    calibrates_scale = True     # the trainer may widen activation ranges at the warm start

    def __init__(self, config, dataset, plans):
        self.config = config
        self.steps_per_epoch = math.ceil(len(dataset.y_train) / config.batch)
        self.total_steps = config.epochs * self.steps_per_epoch
        self.codebooks = {}

    def input_quantizer(self, spec, values, raw_train):
        """The model's input spec and the float value of each input index (identity)."""
        return spec, values

    def activation(self, layer):
        return Activation(self.config.nonlinearity,
                          uniform_levels(self.config.nonlinearity, self.config.act_levels))

    def attach(self, network, x_train):
        pass

    def on_step(self, network, step, x_train):
        pass

    def finish(self, network, x_train):
        pass

    def weight_codes(self, layer):
        """``(codebook, weight_index)`` of a trained layer for export."""
        codebook = self.codebooks[id(layer)]
        return codebook, assign(layer.weight, codebook)


class NMNF(Recipe):
    def _cluster(self, network):
        method = self.config.weight_method
        if method not in ("kmeans", "laplace"):
            raise OptionsError(f"nmnf clusters with kmeans or laplace, not {method!r}")
        layers = network.weighted
        if isinstance(self.config.weight_levels, tuple) and not self.config.per_layer:
            raise OptionsError("nmnf: one K per layer needs per_layer codebooks")
        groups = [[layer] for layer in layers] if self.config.per_layer else [layers]
        for position, members in enumerate(groups):
            values = np.concatenate([np.concatenate([m.weight.ravel(), m.bias]) for m in members])
            codebook = fit_codebook(values, self.config.codewords(position), method)
            for member in members:
                member.weight[...] = quantize(member.weight, codebook)
                member.bias[...] = quantize(member.bias, codebook)
                self.codebooks[id(member)] = codebook

    def on_step(self, network, step, x_train):
        if step % self.config.cluster_every == 0:
            self._cluster(network)

    def finish(self, network, x_train):
        self._cluster(network)


class TBNU(Recipe):
    def __init__(self, config, dataset, plans):
        super().__init__(config, dataset, plans)
        for name in (config.weight_method, config.act_method, config.input_codebook):
            if name not in CODEBOOK_METHODS:
                raise OptionsError(f"unknown codebook {name!r}; choose from "
                                   f"{', '.join(CODEBOOK_METHODS)}")
        self.warmup = self.steps_per_epoch

    def input_quantizer(self, spec, values, raw_train):
        """A thresholds quantizer with ``act_levels`` adaptive levels on the raw input; an
        input already quantized by thresholds (a data file's per-feature levels) is kept."""
        if spec.quantizer != "identity":
            return spec, values
        span = max(abs(spec.raw_min), abs(spec.raw_max), 1)
        codebook = fit_codebook(values[raw_train.ravel() - spec.raw_min],
                                self.config.input_levels or self.config.act_levels,
                                self.config.input_codebook)
        thresholds = np.ceil((codebook[:-1] + codebook[1:]) / 2 * span).astype(np.int64)
        quantized = InputSpec(shape=spec.shape, raw_min=spec.raw_min, raw_max=spec.raw_max,
                              quantizer="thresholds", thresholds=thresholds)
        return quantized, codebook

    def _view(self, layer):
        return quantize(layer.weight, self.codebooks[id(layer)])

    def _fit_weights(self, network):
        for position, layer in enumerate(network.weighted):
            self.codebooks[id(layer)] = fit_codebook(layer.weight.ravel(),
                                                     self.config.codewords(position),
                                                     self.config.weight_method)
            layer.weight_view = self._view

    def _fit_activations(self, network, x_sample):
        nonlinearity = get_nonlinearity(self.config.nonlinearity)
        x = x_sample
        for layer in network.layers:
            if isinstance(layer, Activation):
                outputs = nonlinearity.forward(layer.scale * x).ravel()
                values = fit_codebook(outputs, self.config.act_levels, self.config.act_method)
                values = np.clip(values, nonlinearity.lo, nonlinearity.hi)
                if np.all(np.diff(values) > 0):
                    layer.set_values(values)
            x = layer.forward(x)

    def attach(self, network, x_train):
        self._fit_weights(network)

    def on_step(self, network, step, x_train):
        if step % self.config.cluster_every:
            return
        self._fit_weights(network)
        if step >= self.warmup and step < 0.8 * self.total_steps:
            self._fit_activations(network, x_train[:512])


class WAGE(Recipe):
    calibrates_scale = False    # WAGE's scale is its own constant power of two

    def activation(self, layer):
        scale = 2.0 ** -round(math.log2(max(1.0, math.sqrt(layer.fan_in) * 0.5)))
        grid = wage_grid(self.config.act_levels)
        return Activation("hard_tanh", grid, scale=scale)

    def _view(self, layer):
        return quantize(layer.weight, self.codebooks[id(layer)])

    def attach(self, network, x_train):
        for position, layer in enumerate(network.weighted):
            layer.weight[...] = np.clip(layer.weight, -1, 1)
            layer.weight_view = self._view
            self.codebooks[id(layer)] = wage_grid(self.config.codewords(position))

    def on_step(self, network, step, x_train):
        for layer in network.weighted:
            np.clip(layer.weight, -1, 1, out=layer.weight)


class PQ(Recipe):
    def __init__(self, config, dataset, plans):
        super().__init__(config, dataset, plans)
        self.switch = max(1, self.total_steps // 2)
        self.assignments, self.metrics = {}, {}
        levels = dataset.input.levels
        for plan in plans:
            if plan.kind in ("dense", "conv"):
                if plan.fan_in % config.group:
                    raise OptionsError(f"group {config.group} does not divide the fan-in "
                                       f"{plan.fan_in} of a {plan.kind} layer")
                if plan.kind == "conv" and any(plan.padding) and \
                        plan.in_shape[0] % config.group:
                    raise OptionsError(f"group {config.group} must divide the "
                                       f"{plan.in_shape[0]} channels of a padded convolution")
                if levels ** config.group > MAX_PQ_ROWS:
                    raise OptionsError(f"group {config.group} makes a table of "
                                       f"{levels}**{config.group} rows (limit {MAX_PQ_ROWS}); "
                                       f"use a smaller group")
                levels = config.act_levels

    def _subvectors(self, layer):
        return layer.weight.reshape(-1, self.config.group)

    def _view(self, layer):
        codebook = self.codebooks[id(layer)]
        return codebook[self.assignments[id(layer)]].reshape(layer.weight.shape)

    def _quantize(self, network, x_train):
        d = self.config.group
        for position, (layer, x) in enumerate(zip(
                network.weighted, network.trace_inputs(x_train[:1024]), strict=True)):
            codewords = self.config.codewords(position)
            second = np.mean(layer.inputs_matrix(x) ** 2, axis=0) + 1e-6    # (fan_in,)
            metric = np.broadcast_to(second.reshape(1, -1, d),
                                     (layer.outputs, layer.fan_in // d, d)).reshape(-1, d)
            subvectors = self._subvectors(layer)
            if len(subvectors) < codewords:
                raise OptionsError(f"a layer has {len(subvectors)} sub-vectors, fewer than "
                                   f"K = {codewords} codewords")
            codebook, assignment = fit_product_codebook(
                subvectors, codewords, metric_weights=metric,
                seed=self.config.seed)
            self.codebooks[id(layer)] = codebook
            self.assignments[id(layer)] = assignment
            self.metrics[id(layer)] = np.ascontiguousarray(metric)
            layer.weight_view = self._view

    def _update_codewords(self, network):
        """Codeword = metric-weighted centroid of the float sub-vectors assigned to it."""
        for layer in network.weighted:
            codebook = self.codebooks[id(layer)]
            assignment, metric = self.assignments[id(layer)], self.metrics[id(layer)]
            subvectors = self._subvectors(layer)
            for k in range(len(codebook)):
                members = assignment == k
                weight = metric[members].sum(axis=0)
                if np.all(weight > 0):
                    codebook[k] = (metric[members] * subvectors[members]).sum(axis=0) / weight

    def on_step(self, network, step, x_train):
        if step == self.switch:
            self._quantize(network, x_train)
        elif step > self.switch:
            self._update_codewords(network)

    def finish(self, network, x_train):
        if not self.assignments:
            self._quantize(network, x_train)

    def weight_codes(self, layer):
        assignment = self.assignments[id(layer)]
        return self.codebooks[id(layer)], assignment.reshape(layer.outputs, -1)


RECIPES = {"nmnf": NMNF, "tbnu": TBNU, "wage": WAGE, "pq": PQ}


def make_recipe(config, dataset, plans):
    return RECIPES[config.recipe](config, dataset, plans)

