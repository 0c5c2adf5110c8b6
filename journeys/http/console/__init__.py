"""The web console at `/console/`: server-rendered pages for marketers and support staff, on the services the
CLI and the API use (status, control, delivery, consent, reporting, simulation), signed in by name and
password (`journeys users`), each action allowed by role and kept in the audit trail under the signed-in name.

`auth` holds sessions, CSRF tokens and roles; `pages` the pages; `actions` the forms that change something;
`live` the counts and timeline the pages' script re-reads; `simulate` the simulation page; `access` users
and API keys (admin); `views` what the templates are given; `mount` puts it all on the app (called by
`journeys.http.app.create_app`), out of `/openapi.json`.
"""
