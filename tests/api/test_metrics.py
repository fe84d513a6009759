"""GET /metrics on a real server: what a task moves (with the right labels, route templates and no
ids), failures and cancels with their refunds, the token, the port of its own, turning it off, and
a database that is unreachable or locked (the scrape still answers, saying so).

These servers run inside the test process, which sets no PROMETHEUS_MULTIPROC_DIR: the process
figures are the test process's own, shared by the servers it runs one after another, so they are
checked by how much a test moved them. tests/scaleout/test_metrics_processes.py runs `taxiway serve`
itself, in multiprocess mode, with its worker processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import make_url

from support import Api, Scrape, Server, free_port, scrape
from taxiway.store.models import Asset

UPSCALE = {"operation": "videos/upscale", "engine": "classic-upscale"}


def _moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def _user(server: Server) -> Api:
    api = server.new_user()
    api.create_account()
    return api


def test_an_upscale_moves_its_metrics_with_route_templates_and_no_ids(
    make_server: Callable[..., Server], short_clip: Path
) -> None:
    server = make_server()
    api = _user(server)
    before = scrape(server.base_url + "/metrics")
    asset = api.upload(short_clip, "video/mp4")
    task = api.wait(api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()["taskId"])
    assert task["status"] == "SUCCEEDED", task
    stream = api.http.get(
        f"/tasks/{task['taskId']}/events"
    )  # a finished task's: its final state, then closed
    assert stream.status_code == 200 and '"status":"SUCCEEDED"' in stream.text
    unknown = task["taskId"].replace(task["id"], str(uuid.uuid4()))
    assert api.http.get(f"/tasks/{unknown}").status_code == 404
    assert httpx.get(f"{server.base_url}/no/such/{task['id']}").status_code == 404
    after = scrape(server.base_url + "/metrics")

    # What the database holds: this server's database has this one task (1 credit: 2/s for 0.5 s).
    assert after.value("taxiway_tasks", **UPSCALE, status="SUCCEEDED") == 1
    assert [labels for labels in after.labels("taxiway_tasks")] == [{**UPSCALE, "status": "SUCCEEDED"}]
    assert after.value("taxiway_credits_charged") == 1
    assert after.value("taxiway_credits_refunded") == 0
    assert after.value("taxiway_queue_depth", work="classic") == 0
    assert after.value("taxiway_queue_oldest_age_seconds", work="classic") == 0
    assert after.value("taxiway_webhook_deliveries", outcome="delivered", kind="terminal") == 0
    assert after.value("taxiway_metrics_collector_up", collector="database") == 1
    # What the server observed, by how much this task moved it.
    assert _moved(before, after, "taxiway_task_run_seconds_count", **UPSCALE, status="SUCCEEDED") == 1
    assert _moved(before, after, "taxiway_task_run_seconds_sum", **UPSCALE, status="SUCCEEDED") > 0
    assert _moved(before, after, "taxiway_task_output_seconds_count", **UPSCALE) == 1
    assert abs(_moved(before, after, "taxiway_task_output_seconds_sum", **UPSCALE) - 0.5) < 0.05
    assert _moved(before, after, "taxiway_queue_wait_seconds_count", work="classic") == 1
    assert _moved(before, after, "taxiway_queue_wait_seconds_bucket", work="classic", le="+Inf") == 1
    requests = "taxiway_http_requests_total"
    assert (
        _moved(before, after, requests, method="POST", route="/v1/runwayml/videos/upscale", status="200") == 1
    )
    assert _moved(before, after, requests, method="POST", route="/v1/runwayml/assets/", status="200") == 1
    assert (
        _moved(before, after, requests, method="GET", route="/v1/runwayml/tasks/{task_id}", status="200") >= 1
    )
    assert (
        _moved(before, after, requests, method="GET", route="/v1/runwayml/tasks/{task_id}", status="404") == 1
    )
    events = "/v1/runwayml/tasks/{task_id}/events"
    assert _moved(before, after, requests, method="GET", route=events, status="200") == 1
    assert _moved(before, after, requests, method="GET", route="unmatched", status="404") == 1
    assert _moved(before, after, requests, method="GET", route="/metrics", status="200") == 1  # `before`
    timed = "taxiway_http_request_duration_seconds_count"
    assert _moved(before, after, timed, method="POST", route="/v1/runwayml/videos/upscale") == 1
    # Requests go by their route's template: no task, asset or user id in any label.
    ids = (task["id"], asset["id"], asset["assetId"], task["taskId"], unknown)
    labels = [value for (_, pairs) in after.samples for _, value in pairs]
    assert not [value for value in labels if any(found in value for found in ids)]


def _remove_input_file(server: Server, asset: dict[str, str]) -> None:
    with server.ctx.db.read() as session:
        found = session.get(Asset, asset["id"])
        assert found is not None
        key = found.blob_key
    (server.ctx.settings.resolved_blob_dir / key).unlink()


def test_a_failed_and_a_cancelled_task_show_with_their_refunds(
    make_server: Callable[..., Server], short_clip: Path
) -> None:
    server = make_server()
    api = _user(server)
    before = scrape(server.base_url + "/metrics")
    lost = api.upload(short_clip, "video/mp4")
    _remove_input_file(server, lost)  # the worker cannot read its input: FAILED, INPUT_MISSING
    failed = api.wait(api.create("videos/upscale", {"videoAssetId": lost["assetId"]}).json()["taskId"])
    assert failed["status"] == "FAILED" and failed["error"]["reason"] == "INPUT_MISSING", failed
    asset = api.upload(short_clip, "video/mp4")
    created = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    cancelled = api.http.delete(f"/tasks/{created['taskId']}")  # waiting or running: cancelled either way
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    after = scrape(server.base_url + "/metrics")

    assert after.value("taxiway_tasks", **UPSCALE, status="FAILED") == 1
    assert after.value("taxiway_tasks", **UPSCALE, status="CANCELLED") == 1
    assert after.value("taxiway_credits_charged") == 2
    assert after.value("taxiway_credits_refunded") == 2  # both got nothing, both paid back
    assert after.value("taxiway_queue_depth", work="classic") == 0
    # A failure has a run time; a cancelled task has none, and neither an output.
    assert _moved(before, after, "taxiway_task_run_seconds_count", **UPSCALE, status="FAILED") == 1
    assert not after.has("taxiway_task_run_seconds_count", **UPSCALE, status="CANCELLED")
    assert _moved(before, after, "taxiway_task_output_seconds_count", **UPSCALE) == 0
    route = "/v1/runwayml/tasks/{task_id}"
    assert (
        _moved(before, after, "taxiway_http_requests_total", method="DELETE", route=route, status="200") == 1
    )


def test_a_metrics_token_is_required_when_set_and_event_streams_pass_through(
    make_server: Callable[..., Server], short_clip: Path
) -> None:
    server = make_server(workers=0, metrics_token="scrape-secret")  # no workers: tasks stay PENDING
    api = _user(server)
    url = server.base_url + "/metrics"
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {api.token}"},  # a user's API token is not the metrics token
        {"Authorization": "Basic scrape-secret"},
    ):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 401 and refused.json() == {"error": "Unauthorized", "code": 401}
        assert refused.headers["www-authenticate"] == "Bearer"
    before = scrape(url, token="scrape-secret")
    assert before.value("taxiway_metrics_collector_up", collector="database") == 1
    # What Prometheus itself asks for: OpenMetrics, gzipped.
    auth = {"Authorization": "Bearer scrape-secret"}
    accept = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}
    open_metrics = httpx.get(url, headers=auth | accept | {"Accept-Encoding": "gzip"})
    assert open_metrics.status_code == 200 and open_metrics.headers["content-encoding"] == "gzip"
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert open_metrics.text.endswith("# EOF\n") and "taxiway_credits_charged 0.0" in open_metrics.text

    # An event stream is counted when its response starts, and its events arrive while it is open.
    asset = api.upload(short_clip, "video/mp4")
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    with api.http.stream("GET", f"/tasks/{task['taskId']}/events") as stream:
        assert stream.status_code == 200
        first = next(line for line in stream.iter_lines() if line.startswith("data:"))
        assert '"status":"PENDING"' in first
        during = scrape(url, token="scrape-secret")
    route = "/v1/runwayml/tasks/{task_id}/events"
    assert _moved(before, during, "taxiway_http_requests_total", method="GET", route=route, status="200") == 1
    assert during.value("taxiway_tasks", **UPSCALE, status="PENDING") == 1
    assert during.value("taxiway_queue_depth", work="classic") == 1
    assert during.value("taxiway_queue_oldest_age_seconds", work="classic") > 0
    assert during.value("taxiway_credits_charged") == 1
    # Not part of the contract: the OpenAPI document does not name it.
    assert "/metrics" not in httpx.get(server.base_url + "/openapi.json").json()["paths"]


def test_metrics_on_a_port_of_their_own(make_server: Callable[..., Server]) -> None:
    port = free_port()
    server = make_server(workers=0, metrics_port=port, metrics_token="scrape-secret")
    on_api = httpx.get(server.base_url + "/metrics")
    assert on_api.status_code == 404 and on_api.json() == {"error": "Not found.", "code": 404}
    url = f"http://127.0.0.1:{port}/metrics"
    refused = httpx.get(url)
    assert refused.status_code == 401 and refused.json() == {"error": "Unauthorized", "code": 401}
    found = scrape(url, token="scrape-secret")
    assert found.value("taxiway_metrics_collector_up", collector="database") == 1
    assert found.value("taxiway_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404
    server.stop()
    try:
        httpx.get(url, timeout=5)
        raise AssertionError("the metrics port still answers after the server stopped")
    except httpx.ConnectError:
        pass


def test_metrics_can_be_turned_off(make_server: Callable[..., Server]) -> None:
    server = make_server(workers=0, metrics_enabled=False)
    response = httpx.get(server.base_url + "/metrics")
    assert response.status_code == 404 and response.json() == {"error": "Not found.", "code": 404}


def test_a_scrape_answers_while_the_database_is_unreachable_or_locked(
    postgres_url: str, make_server: Callable[..., Server]
) -> None:  # the database first, so that it outlives the server
    server = make_server(workers=0, database_url=postgres_url, metrics_database_timeout_seconds=1)
    url = server.base_url + "/metrics"
    before = scrape(url)
    assert before.value("taxiway_metrics_collector_up", collector="database") == 1
    url_parts = make_url(postgres_url)
    database = url_parts.database
    # From another database of the server: one cannot bar connections to the database it is in.
    other = url_parts.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(other, autocommit=True) as admin:
        # Unreachable: no new connections, and the server's are cut.
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
            )
            down = scrape(url)
        finally:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert down.value("taxiway_metrics_collector_up", collector="database") == 0
        assert _moved(before, down, "taxiway_metrics_collector_errors_total", collector="database") == 1
        assert not down.family("taxiway_tasks") and not down.family("taxiway_queue_depth")
        assert not down.family("taxiway_credits_")
        assert down.value("taxiway_http_requests_total", method="GET", route="/metrics", status="200") >= 1
        assert scrape(url).value("taxiway_metrics_collector_up", collector="database") == 1

    # Locked: the reading waits on the lock, the scrape at most its second.
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as owner, owner.transaction():
        owner.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        locked = scrape(url)
    assert locked.value("taxiway_metrics_collector_up", collector="database") == 0
    assert _moved(down, locked, "taxiway_metrics_collector_errors_total", collector="database") == 1
    assert scrape(url).value("taxiway_metrics_collector_up", collector="database") == 1
