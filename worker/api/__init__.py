"""The HTTP API on `mjw web`'s public side: `/v1/` (jobs, tokens' tenants, idempotency,
problem+json, signed callbacks) and midjourney-proxy's `/mj/` routes.

`app` (FastAPI routes), `requests` (one model per job kind); the jobs: `core` (what they
share), `jobs` (making one), `entries` (their entries in Redis), `reads`, `cancel`, `listing`;
`views` (status), `tokens`, `idempotency`, `tenancy` (the tenant plumbing), `problems`
(RFC 9457), `limits` (body sizes), `callbacks` (Standard Webhooks); midjourney-proxy's
`mjproxy` (routes), `mjmodels` (bodies) and `mjshapes` (codes, tasks, buttons).
"""
