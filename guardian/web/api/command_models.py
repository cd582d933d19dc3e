"""The shapes of the JSON API's commands (docs/api.md "Commands on a pathway"): one request
model per patient-page action, made from the action's fields (`Input`, the table of
guardian/web/routes/actions.py) so the page's form and the API take the same values — a
choice of a domain vocabulary is an enum of its codes (guardian/domain/codes.py), several
choices a list of them, a date is YYYY-MM-DD — with the one text rule on every text
(guardian/domain/text.py) and an optional `expected_version`; and what the commands
answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator

from guardian.domain import codes, text
from guardian.web.inputs import kind_of, limit_of
from guardian.web.routes.actions import ACTIONS, Action, Input

EXPECTED_VERSION = Field(
    None, ge=0, le=2**31 - 1,
    description="The patient's version you last read (`version` of a previous answer): the "
                "command is refused with 409 if the patient changed since. Left out: no check.")


class CommandBase(BaseModel):
    """Unknown fields are refused (422 naming them): a misspelt optional field is not
    silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _one_text_rule(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and info.field_name:
            message = text.problem(value, kind_of(info.field_name))
            if message is not None:
                raise ValueError(message)
        return value


def _described(spec: Input) -> str:
    if not spec.choices:
        return spec.about
    return spec.about + ": " + "; ".join(f"`{code}` {label}"
                                         for code, label in spec.choices.items())


def _field(spec: Input) -> tuple[Any, Any]:
    kind: Any
    extra: dict[str, Any] = {}
    if spec.kind == "date":
        kind = dt.date
    elif spec.kind == "choices" and spec.choices:
        kind = list[Literal.__getitem__(tuple(spec.choices))]  # type: ignore[attr-defined,misc]
        extra = {"min_length": 1 if spec.required else 0, "max_length": len(spec.choices)}
    elif spec.choices:
        kind = Literal.__getitem__(tuple(spec.choices))  # type: ignore[attr-defined]
    else:
        kind = str
    if kind is str:
        extra = {"max_length": limit_of(spec.name)}
    if spec.required:
        return kind, Field(description=_described(spec), **extra)
    return kind | None, Field(None, description=_described(spec), **extra)


def title_of(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def command_model(action: Action) -> type[BaseModel]:
    """The request model of `action`: its fields, and `expected_version`."""
    return create_model(  # type: ignore[call-overload]
        f"{title_of(action.name)}Command", __base__=CommandBase,
        __doc__=f"The `{action.name}` action of the patient page, as JSON.",
        expected_version=(int | None, EXPECTED_VERSION),
        **{spec.name: _field(spec) for spec in action.fields})


MODELS: dict[str, type[BaseModel]] = {name: command_model(a) for name, a in ACTIONS.items()}


def as_form(body: BaseModel) -> dict[str, str]:
    """A command's values as the page's form has them (what the action's parser reads)."""
    form = {}
    for name, value in body.model_dump(exclude={"expected_version"}).items():
        if isinstance(value, list):  # several choices: as the page's form sends them
            form[name] = ",".join(str(v) for v in value)
        elif value is not None:
            form[name] = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
    return form


class ActionDone(BaseModel):
    """What a command on a pathway answers: where it was taken and what it recorded."""

    action: str
    patient_id: str
    provider: str
    provider_name: str = Field(description="The provider's name (its code when unnamed)")
    pathway_id: str
    version: int = Field(description="The patient's version now (for `expected_version`)")
    open: bool = Field(description="The pathway is still open: its clock runs (or a non-RTT "
                                   "wait) and it is not closed")
    coordinator: str | None = Field(description="The care coordinator it is assigned to")
    coordinator_name: str | None = Field(description="Their name")
    recorded: dict[str, str] = Field(
        description="The id of what the action recorded, by name (`item_id`, `test_id`, "
                    "`contact_id`, `flag_id`, `support_id` or `message_id`); empty when it "
                    "recorded nothing new")
    href: str = Field(description="The referral's status (`GET /api/v1/referrals/…`)")


class ContactPreference(CommandBase):

    preference: Literal.__getitem__(tuple(codes.CONTACT_PREFERENCES)) = Field(  # type: ignore
        description="How Guardian writes to the patient: `email`, `letter` or `none` (do "
                    "not contact); `email` needs an address on record")
    expected_version: int | None = EXPECTED_VERSION


class PreferenceRecorded(BaseModel):
    patient_id: str
    preference: str
    version: int


class PathwayRef(CommandBase):

    patient_id: str = Field(max_length=64)
    provider: str = Field(max_length=64)
    pathway_id: str = Field(max_length=64)


class BulkAssign(CommandBase):

    pathways: list[PathwayRef] = Field(
        max_length=500, description="The pathways to assign (at least one, at most 500), "
                                    "each in your worklist scope")
    coordinator: str = Field(max_length=254, description="The email of a care coordinator "
                                                         "of every pathway's PCN")


class Assigned(BaseModel):
    assigned: int
    coordinator: str
    coordinator_name: str
