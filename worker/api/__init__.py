"""The HTTP API on `mjw web`'s public side: `/v1/` (jobs, tokens' tenants, idempotency,
problem+json, signed callbacks) and midjourney-proxy's `/mj/` routes.

`app` (FastAPI routes), `requests` (one model per job kind), `jobs` and `listing` (the jobs),
`views` (status), `tokens`, `idempotency`, `tenancy` (the tenant plumbing), `problems`
(RFC 9457), `limits` (body sizes), `callbacks` (Standard Webhooks), `mjproxy` and `mjshapes`.
"""
