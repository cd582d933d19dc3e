"""The read models Guardian keeps, in the order they are brought up to date."""

from __future__ import annotations

from guardian.projections.bottlenecks import BottleneckProjection
from guardian.projections.readmodel import ReadModel
from guardian.projections.runner import ProjectionRunner
from guardian.projections.search import SearchProjection
from guardian.projections.worklist import WorklistProjection


def all_projections() -> list[ReadModel]:
    return [WorklistProjection(), BottleneckProjection(), SearchProjection()]


def named(names: list[str] | None) -> list[ReadModel]:
    """The read models called `names` (all of them for None), in their usual order; an
    unknown name is refused with the known ones (a deployment may run one projector per
    group of read models, docs/deployment.md)."""
    every = all_projections()
    if names is None:
        return every
    known = {p.name for p in every}
    unknown = sorted(set(names) - known)
    if unknown or not names:
        raise ValueError(f"unknown read model {', '.join(unknown) or '(none given)'}; "
                         f"known: {', '.join(sorted(known))}")
    return [p for p in every if p.name in names]


def runner_for(app, batch_size: int = 1000, names: list[str] | None = None
               ) -> ProjectionRunner:
    return ProjectionRunner(app, named(names), batch_size=batch_size)
