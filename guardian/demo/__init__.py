"""The synthetic Mid and South Essex demo (`guardian demo`, `make run`), all invented:
organisation codes `Y9xxxx`/`U9xxxx` from `guardian/data/mse-orgs.csv`, NHS numbers from the
999 test range, made-up names and Ofcom's drama telephone numbers; nothing describes a real
patient or practice. In two layers: the provider extract (`cohort`: the `ReferralReport`s a
provider's waiting-list extract would give on `as_of`; `extract` writes them as a PTL CSV)
and Guardian's own history of a deterministic subset of pathways (`care`), both put into a
store once by `loading.load_demo`, deterministically (`chance`).
"""

from guardian.demo.care import record_care_history
from guardian.demo.cohort import ORGS_FILE, DemoPatient, cohort, generate_reports, nhs_numbers
from guardian.demo.extract import extract_row, write_extract
from guardian.demo.loading import DEFAULT_PATIENTS, DEFAULT_SEED, load_demo, read_marker

__all__ = [
    "DEFAULT_PATIENTS", "DEFAULT_SEED", "ORGS_FILE", "DemoPatient", "cohort", "extract_row",
    "generate_reports", "load_demo", "nhs_numbers", "read_marker", "record_care_history",
    "write_extract",
]
