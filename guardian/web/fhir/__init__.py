"""FHIR R4 under /fhir/R4 (docs/fhir.md): the referral as other NHS systems speak it."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/fhir/R4", tags=["fhir"])
