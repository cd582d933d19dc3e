"""Read models: what coordinators, GPs and place leads look at, rebuildable from the events.
The read models (`worklist`, `bottlenecks`, `search`, listed in `registry`) build their
rows per patient (`readmodel`, `tables`); one runner keeps them current (`runner`: batches
and rebuild; `tracking`: positions; `follow`: LISTEN/NOTIFY or polling; `pacing`: imports
keeping pace with a follower). The rest reads them: the `*_queries` modules, `rtt` (the
RTT export), `status` and `timeline` (a referral's status), `suppression` (the small-number
rule), `search_terms` (what a patient search asks)."""
