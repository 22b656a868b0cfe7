"""Closed sets of choices of the pipeline, free of numpy (the CLI's help reads them)."""

from __future__ import annotations

from convtool.kernels.choices import GRADIENT_OPERATORS

#: The operators of :func:`~convtool.pipeline.edges_job`: the gradient operators
#: (magnitude ``hypot(x, y)``), then the two Laplacians (absolute value).
EDGE_OPERATORS: tuple[str, ...] = (*GRADIENT_OPERATORS, "laplacian", "log")
