"""What the CLI, the HTTP server and the simulators share: the definitions catalogue, enrolment, event
delivery, status, live control (move, migrate, pause) and customer import.

May import: `journeys.errors`, `journeys.settings`, `journeys.format`, `journeys.engine`, `journeys.templates`,
`journeys.store`; talks to Temporal only through a `temporalio.client.Client` it is given.
"""
