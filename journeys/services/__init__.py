"""What the CLI, the HTTP server and the simulators share: the definitions catalogue (`catalogue`), enrolment
(`enrolment`), event delivery (`delivery`), status (`status`), live control: cancel, move, migrate, pause
(`control`), consent set by people (`consent`), customer import (`importing`) and events import
(`events_import`), both reading files through `import_file`; `shared` holds what several of them use.

May import: `journeys.errors`, `journeys.settings`, `journeys.format`, `journeys.engine`, `journeys.templates`,
`journeys.store`; talks to Temporal only through a `temporalio.client.Client` it is given.
"""
