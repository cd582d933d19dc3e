"""`patient_command`: a use case of GuardianApp (guardian/application.py) declared by its
signature alone, which loads the patient, runs the Patient command of the same name and
saves what it recorded (`GuardianApp.update_patient`)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardian.application import GuardianApp


def patient_command(declared: Callable[..., int | None]) -> Callable[..., int | None]:
    """A use case that runs the Patient command of the same name (`update_patient`).

    The declared method's signature is the use case's; its body is not run. Its arguments
    go to the command by name, with `on` defaulting to today, or, where it takes `at` (a
    message), `at` to now and `on` to that moment's local date.
    """
    signature = inspect.signature(declared)
    name = declared.__name__

    @functools.wraps(declared)
    def use_case(self: GuardianApp, *args: Any, **kwargs: Any) -> int | None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["self"]
        patient_id = arguments.pop("patient_id")
        if "at" in arguments:
            arguments["at"] = arguments["at"] or self.now()
            arguments["on"] = arguments["at"].astimezone(self.settings.zone).date()
        elif "on" in arguments:
            arguments["on"] = arguments["on"] or self.today()
        return self.update_patient(patient_id, lambda p: getattr(p, name)(**arguments))

    return use_case
