"""The read models Guardian keeps, in the order they are brought up to date."""

from __future__ import annotations

from guardian.projections.bottlenecks import BottleneckProjection
from guardian.projections.readmodel import ReadModel
from guardian.projections.runner import ProjectionRunner
from guardian.projections.search import SearchProjection
from guardian.projections.worklist import WorklistProjection


def all_projections() -> list[ReadModel]:
    return [WorklistProjection(), BottleneckProjection(), SearchProjection()]


def runner_for(app, batch_size: int = 1000) -> ProjectionRunner:
    return ProjectionRunner(app, all_projections(), batch_size=batch_size)
