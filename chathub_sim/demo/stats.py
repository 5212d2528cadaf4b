"""Percentiles: of measured samples, and of a Prometheus histogram scraped from ``/metrics`` (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``samples``; None when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Histogram:
    """Cumulative buckets ``(upper bound, count)``, ascending, the last one ``+Inf``."""

    buckets: tuple[tuple[float, float], ...]

    @property
    def count(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile estimated as Prometheus' ``histogram_quantile`` does: linear within the bucket
        holding the rank; the highest finite bound when the rank falls in ``+Inf``."""
        if not self.buckets or self.count <= 0:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        for bound, count in self.buckets:
            if count >= rank:
                if math.isinf(bound):
                    return lower_bound
                if count == lower_count:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
            lower_bound, lower_count = bound, count
        return lower_bound


def histogram_from_metrics(text: str, name: str) -> Histogram:
    """The histogram ``name`` from Prometheus text exposition, summed over all its label sets."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                bound = float(sample.labels["le"])
                totals[bound] = totals.get(bound, 0.0) + sample.value
    return Histogram(tuple(sorted(totals.items())))
