"""Wait-time standards as Guardian applies them: one table of rules, pure functions over it.

docs/rules.md §2 (the standards table) is the source of every number here. The numbers live
in one table, `STANDARDS`; a deployment changes them with `load_standards(overrides)`, never
by editing code. By concern:

- `table.py`: the standards table and a deployment's overrides;
- `rtt.py`: days waited, RTT week bands, within 18 weeks, who counts as waiting;
- `working_days.py`: working days and England and Wales bank holidays;
- `deadline.py`: each standard applied to a pathway, with its dates;
- `assessment.py`: where a deadline stands on a date (breached, at risk, within);
- `findings.py`: what the wait-time sweep records (breaches, warnings, withdrawals);
- `stages.py`: the stage of a pathway.

Conventions (docs/rules.md §1, §3 and §4):

* All counting is in whole days on local dates; the clock's start date is day 0.
* "Last day within" is the last date on which the standard is still met; the breach is
  recorded on the day after it (for working-day standards: the next working day after).
* At-risk window of N days (N > 0): a deadline is at risk on the last N days up to and
  including its last day within, i.e. on dates `last_day_within - N < date <= last_day_within`
  (counted in working days for working-day standards). The first of those dates is
  `Deadline.at_risk_from`; it is never earlier than the clock's start. A window of 0 or
  None means the standard has no at-risk state.
* Working days exclude Saturdays, Sundays and England and Wales bank holidays. Every
  function that needs bank holidays takes them as a parameter; when it is None they are
  computed lazily (and cached) for the years needed from the `holidays` package.

Nothing here imports infrastructure: time always comes in as an argument.
"""

from guardian.domain.standards.assessment import (
    STATES,
    DeadlineStatus,
    assess,
    at_risk,
    at_risk_when,
    breached,
    breached_when,
    deadline_state,
    next_deadline,
    status_on,
)
from guardian.domain.standards.deadline import (
    Deadline,
    TrackedDeadline,
    deadlines,
    subject_words,
    tracked_deadlines,
)
from guardian.domain.standards.findings import (
    AT_ONCE,
    FINDING_KINDS,
    WaitFinding,
    sweep_due_on,
    wait_findings,
)
from guardian.domain.standards.rtt import (
    LONGEST_BAND_LAST_DAY,
    OVER_104_WEEKS_BAND,
    RTT_18_WEEKS_LAST_DAY,
    RTT_BAND_COLUMNS,
    is_rtt_waiting_on,
    waiting_days,
    week_band,
    within_18_weeks,
)
from guardian.domain.standards.stages import STAGE_LABELS, STAGES, stage
from guardian.domain.standards.table import (
    KINDS,
    OVERRIDABLE_FIELDS,
    STANDARDS,
    UNTRACKED_PROCEDURE_PRIORITIES,
    Standard,
    get_standard,
    load_standards,
)
from guardian.domain.standards.working_days import (
    BankHolidays,
    add_working_days,
    england_and_wales_bank_holidays,
    is_working_day,
)

__all__ = [  # by module, as imported above
    "STATES", "DeadlineStatus", "assess", "at_risk", "at_risk_when", "breached",
    "breached_when", "deadline_state", "next_deadline", "status_on",
    "Deadline", "TrackedDeadline", "deadlines", "subject_words", "tracked_deadlines",
    "AT_ONCE", "FINDING_KINDS", "WaitFinding", "sweep_due_on", "wait_findings",
    "LONGEST_BAND_LAST_DAY", "OVER_104_WEEKS_BAND", "RTT_18_WEEKS_LAST_DAY", "RTT_BAND_COLUMNS",
    "is_rtt_waiting_on", "waiting_days", "week_band", "within_18_weeks",
    "STAGE_LABELS", "STAGES", "stage",
    "KINDS", "OVERRIDABLE_FIELDS", "STANDARDS", "UNTRACKED_PROCEDURE_PRIORITIES", "Standard",
    "get_standard", "load_standards",
    "BankHolidays", "add_working_days", "england_and_wales_bank_holidays", "is_working_day",
]
