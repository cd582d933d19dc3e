"""The pages' routes, one module per group of pages: the worklist (`worklist`), a patient's
page (`patient`) and its action forms (`actions`), the GP practice view (`gp`), place
reports and their downloads (`reports`), the admin pages (`admin`) and sign-in (`auth`).
Each module has its `router`; `guardian/web/app.py` includes them (sign-in and admin through
`guardian/web/auth.py` `install`). The JSON API is `guardian/web/api`.
"""
