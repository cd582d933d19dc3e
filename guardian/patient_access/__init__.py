"""Patients signing in to see their own referrals (docs/patients.md), without a national
identity service: a one-time code sent by the notification channels (e-mail or letter),
bound to the NHS number and date of birth it was asked for, short-lived sessions, attempts
limited and audited (`codes.py`, `sessions.py`, `schema.py`); or NHS login, an OpenID
Connect provider, by configuration (`oidc.py`).
"""
