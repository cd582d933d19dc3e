"""The synthetic Mid and South Essex demo (`guardian demo`, `make run`).

Everything here is invented: organisation codes `Y9xxxx`/`U9xxxx` from
`guardian/data/mse-orgs.csv`, NHS numbers from the 999 test range, made-up names and
Ofcom's drama telephone numbers. Nothing describes a real patient or practice.

Two layers:

* The **provider extract** (`cohort`): `generate_reports` streams the `ReferralReport`s a
  provider's waiting-list extract would give on `as_of` (`extract.write_extract` writes the
  same rows to a PTL CSV, as the import benchmark reads it).
* **Guardian's own history** (`care`) for a deterministic subset of pathways: workup,
  diagnostics, cancer diagnoses, deterioration flags, contacts, coordinators, support,
  messages and closures, recorded through the Patient aggregate's commands.

`loading.load_demo` puts both into a store once. Determinism (`chance`): each patient's facts
come from its own `random.Random` seeded with text (seeding from `str` hashes with SHA-512,
so it is the same in every process and does not depend on `PYTHONHASHSEED`); the wall clock
is read only through `app.today()` when no `as_of` is given. The cohort for N patients is a
prefix of the cohort for more patients.
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
