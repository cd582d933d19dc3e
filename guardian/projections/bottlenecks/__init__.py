"""Place-level pathway bottleneck analytics: where pathways stall, where queues grow.

The read model keeps, for every pathway (open or not), its *stage intervals* — each step
of the journey with the day it started and the day it ended (None while in progress):

| kind         | from                   | to                                   |
| ------------ | ---------------------- | ------------------------------------ |
| `workup`     | referral received      | agreed workup complete               |
| `diagnostic` | test ordered (each)    | test resulted                        |
| `first-seen` | referral received      | first attendance                     |
| `treatment`  | first attendance       | clock stop                           |
| `rtt`        | RTT clock start (each) | clock stop (each RTT period)         |
| `pathway`    | referral received      | off the list: clock stop, closed or left |

and every recorded breach (standard × subject, dated on its breach day). Rows carry the
dimensions reports group by (place, PCN, practice, provider, treatment function, priority,
age band at the interval's start) as at projection time, plus the day the pathway itself
ended, so that every query can be asked "as of" any past date: an interval that had not
ended by that day is in progress then.

Queries return exact figures; `suppress=True` passes every count and statistic through the
one small-number rule (`suppression.py`), as everything a place lead sees must. Nothing here
returns patient-level data.

The package, by concern: `model` (the tables, a patient's rows, the read model), `common`
(scope, "as of" conditions, percentiles), `stages` (step durations, top bottlenecks),
`flow` (weekly inflow and outflow, growing queues, trend), `outcomes` (breaches by
standard, equity, removals) and `dashboard` (the whole report). Every public name is
importable from here.
"""

from guardian.projections.bottlenecks.common import (
    DEFAULT_WINDOW_DAYS,
    ReportScope,
    percentile,
    week_of,
)
from guardian.projections.bottlenecks.dashboard import jsonable, places, report
from guardian.projections.bottlenecks.flow import queues_growing, trend, weekly_flow
from guardian.projections.bottlenecks.model import (
    AGE_BANDS,
    DIMENSION_LABELS,
    DIMENSIONS,
    KIND_LABELS,
    KINDS,
    NAME,
    STEP_KINDS,
    UNAFFECTED_BY,
    BottleneckProjection,
    age_band,
    breach_facts,
    intervals,
    rows_for,
)
from guardian.projections.bottlenecks.outcomes import breaches_by_standard, equity, removals
from guardian.projections.bottlenecks.stages import stage_durations, step_targets, top_bottlenecks

__all__ = [
    "AGE_BANDS", "DEFAULT_WINDOW_DAYS", "DIMENSIONS", "DIMENSION_LABELS", "KINDS", "KIND_LABELS",
    "NAME", "STEP_KINDS", "UNAFFECTED_BY", "BottleneckProjection", "ReportScope", "age_band",
    "breach_facts", "breaches_by_standard", "equity", "intervals", "jsonable", "percentile",
    "places", "queues_growing", "removals", "report", "rows_for", "stage_durations",
    "step_targets", "top_bottlenecks", "trend", "week_of", "weekly_flow",
]
