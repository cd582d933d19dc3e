"""Input adapters: the waiting-list extract importer (`ptl`, its column table shared with the
API and the demo) and one referral in the extract's row shape for `POST /api/v1/referrals`
(`referral_api`), both through the application's use cases; later, FHIR."""
