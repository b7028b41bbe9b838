"""A small service built on the chassis, for the chassis's own tests: one domain, `widgets`,
that exercises what a real domain does (scoped routes, the cache, a job, a webhook, ETags)."""
