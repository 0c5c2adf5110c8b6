"""The HTTP API through an outage of Temporal: real processes (the `temporal` dev server on its database file,
`journeys worker`, `journeys serve`) and the documented way in, a bearer key made by `journeys keys create`.
An event posted while Temporal is down is recorded and answered 202; once the server is back the worker's
deliverer brings it to the run, with no one posting it again, and the run ends on it."""

from __future__ import annotations

from pathlib import Path

import httpx

from journeys.store import Store
from tests.support.faultkit import HOST, Journeys, TemporalServer, free_port
from tests.support.polling import until

JOURNEY = """id: await-stop
name: Waits for go, ends at once on stop
exit_on: [stop]
steps:
  - {id: hold, wait_for: go, timeout: 30d}
  - {id: done, end: done}
"""


def test_an_event_posted_while_temporal_is_down_is_answered_202_and_ends_its_run_once_temporal_is_back(
    tmp_path: Path,
) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "await-stop.yaml").write_text(JOURNEY, encoding="utf-8")
    temporal = TemporalServer(tmp_path)
    journeys = Journeys(tmp_path, temporal, definitions)
    customers = tmp_path / "customers.csv"
    customers.write_text("id,email\nc1,c1@example.com\nc2,c2@example.com\n", encoding="utf-8")
    http_port = free_port()
    try:
        temporal.start()
        assert journeys.run("customers", "import", str(customers)).returncode == 0
        journeys.start_worker()
        assert {e["status"] for e in journeys.json("enroll", "await-stop", "--all")["enrolments"]} == {"started"}
        key = journeys.json("keys", "create", "shop", "--scope", "events")["key"]
        journeys.start_server(http_port)
        api = httpx.Client(base_url=f"http://{HOST}:{http_port}", headers={"Authorization": f"Bearer {key}"})

        live = api.post("/v1/events", json={"customer": "c1", "event": "stop", "id": "stop-c1"}, timeout=60)
        assert live.status_code == 200, live.text
        assert [r["effect"] for r in live.json()["runs"]] == ["exited"]

        temporal.kill()
        down = api.post("/v1/events", json={"customer": "c2", "event": "stop", "id": "stop-c2"}, timeout=120)
        assert down.status_code == 202, down.text
        assert (down.json()["delivered"], down.json()["runs"]) == (False, [])
        temporal.start()

        store = Store.open(journeys.store_url)
        try:
            until(lambda: store.runs_of("c2")[0].outcome != "running", 60, "the owed event to end c2's run")
            (run,) = store.runs_of("c2")
            assert (run.outcome, run.exit_event) == ("exited", "stop")
            # the deliverer marks the event delivered once the run has answered that it took it in: just after
            until(lambda: store.pending_of("c2") == [], 10, "the event to be owed no more")
            assert [e.id for e in store.events_of("c2")] == ["stop-c2"]
        finally:
            store.close()
    finally:
        journeys.kill_all()
        temporal.kill()
