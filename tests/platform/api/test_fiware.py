"""GET /api/v1/sites/{slug}/fiware: a site's counts as FIWARE TrafficFlowObserved entities,
valid against the model's published JSON schema (vendored in fiware_schemas/, resolved
offline), for the site's region staff only, and audited as an export."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from rest_framework.test import APIClient

from junction.residency.models import AuditEvent
from tests.platform.staff import counts_add, staff

SCHEMAS = Path(__file__).parent / "fiware_schemas"
T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
WINDOW = {"start": "2026-11-27T06:00:00Z", "end": "2026-11-27T08:00:00Z"}


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def _validator() -> Draft7Validator:
    """The published TrafficFlowObserved schema with every $ref it makes served from the
    vendored files: nothing is fetched. Each is registered under the URL that refers to it
    (the common schema names GeoJSON's over http, the GeoJSON package its $id over https)."""
    geometry = _schema("Geometry.json")
    registry = Registry().with_resources(
        [
            (
                "https://fiware.github.io/dataModels/common-schema.json",
                Resource.from_contents(_schema("common-schema.json"), default_specification=DRAFT7),
            ),
            ("http://geojson.org/schema/Geometry.json", Resource.from_contents(geometry)),
            (geometry["$id"], Resource.from_contents(geometry)),
        ]
    )
    # "$schema": "http://json-schema.org/schema#" names no draft; draft 7 is the latest the
    # vendored files were written against (GeoJSON's says so).
    return Draft7Validator(
        _schema("TrafficFlowObserved.schema.json"),
        registry=registry,
        format_checker=FormatChecker(),
    )


def schema_errors(entity: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator().iter_errors(entity)
    ]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def located_site(eu_site):
    eu_site.latitude, eu_site.longitude = 52.3702, 4.8952
    eu_site.save()
    hour = 3600  # one bucket per hour: each hour analysed completely
    counts_add(
        eu_site,
        T0,
        [
            ("north-stopline", "in", "car", 17),
            ("north-stopline", "out", "truck", 3),
            ("N>E", None, "bicycle", 1),
            ("north-stopline", "in", "person", 40),
        ],
        seconds=hour,
    )
    counts_add(eu_site, T0 + timedelta(hours=1), [("north-stopline", "in", "car", 7)], seconds=hour)
    counts_add(
        eu_site, T0 + timedelta(hours=3), [("north-stopline", "in", "car", 99)], seconds=hour
    )
    return eu_site


def fiware(api, user, site, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:site-fiware", kwargs={"slug": site.slug}), params)


def test_the_vendored_schemas_are_the_recorded_ones():
    sources = json.loads((SCHEMAS / "SOURCES.json").read_text())["files"]
    for name, source in sources.items():
        assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == source["sha256"]


def test_the_validator_refuses_what_the_model_refuses():
    # The test below can fail: an entity the published schema refuses is seen as refused.
    entity = {
        "id": "urn:ngsi-ld:TrafficFlowObserved:x",
        "type": "TrafficFlowObserved",
        "dateObserved": "2026-11-27T06:00:00Z/2026-11-27T07:00:00Z",
        "location": {"type": "Point", "coordinates": [4.9, 52.4]},
    }
    assert schema_errors(entity) == []
    assert (
        schema_errors(
            {
                **entity,
                "vehicleType": "truck",
                "laneDirection": "in",
                "dateObservedFrom": "06:00",
                "location": {"type": "Point"},
            }
        )
        != []
    )
    without_place = {k: v for k, v in entity.items() if k != "location"}
    assert schema_errors(without_place) != []  # this version wants a location, address or road


def test_it_exports_one_valid_entity_per_counter_direction_class_and_hour(
    api, eu_analyst, located_site
):
    answer = fiware(api, eu_analyst, located_site, **WINDOW)
    assert answer.status_code == 200
    entities = answer.json()
    for entity in entities:
        assert schema_errors(entity) == [], entity["id"]
    assert [
        (
            e["dateObservedFrom"][11:16],
            e["name"],
            e.get("laneDirection"),
            e["vehicleType"],
            e["intensity"],
        )
        for e in entities
    ] == [
        ("06:00", "Main St & 5th Ave: N>E", None, "bicycle", 1),
        ("06:00", "Main St & 5th Ave: north-stopline", "forward", "car", 17),
        ("06:00", "Main St & 5th Ave: north-stopline", "backward", "lorry", 3),
        ("07:00", "Main St & 5th Ave: north-stopline", "forward", "car", 7),
    ]  # people are no vehicle type of the model: left out; 09:00 is outside the range
    first = entities[1]
    assert first == {
        "id": "urn:ngsi-ld:TrafficFlowObserved:main-and-5th:north-stopline:in:car:20261127T060000Z",
        "type": "TrafficFlowObserved",
        "name": "Main St & 5th Ave: north-stopline",
        "dateObserved": "2026-11-27T06:00:00Z/2026-11-27T07:00:00Z",
        "dateObservedFrom": "2026-11-27T06:00:00Z",
        "dateObservedTo": "2026-11-27T07:00:00Z",
        "intensity": 17,
        "vehicleType": "car",
        "laneDirection": "forward",
        "location": {"type": "Point", "coordinates": [4.8952, 52.3702]},
        "@context": [
            "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/"
            "master/context.jsonld",
            "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        ],
    }
    assert entities[0]["id"].endswith(":N%3EE:movement:bicycle:20261127T060000Z")
    assert len({e["id"] for e in entities}) == len(entities)


def test_it_leaves_location_out_for_a_site_without_coordinates(api, eu_analyst, eu_site):
    counts_add(eu_site, T0, [("north-stopline", "in", "car", 2)], seconds=3600)
    (entity,) = fiware(api, eu_analyst, eu_site, **WINDOW).json()
    assert "location" not in entity
    # The schema of record asks for a place (location, address or road segment): without
    # coordinates there is none to give, and that is the only thing it finds missing.
    assert schema_errors({**entity, "location": {"type": "Point", "coordinates": [0, 0]}}) == []


def test_it_leaves_out_a_window_that_was_not_analysed_completely(api, eu_analyst, located_site):
    # 08:00: one minute analysed, a car counted in it; as the hour's intensity it would read
    # as a collapse of traffic. 10:00: an announced outage.
    counts_add(located_site, T0 + timedelta(hours=2), [("north-stopline", "in", "car", 1)])
    counts_add(located_site, T0 + timedelta(hours=4), [], seconds=3600, uptime=0.0)
    answer = fiware(
        api,
        eu_analyst,
        located_site,
        start="2026-11-27T06:00:00Z",
        end="2026-11-27T11:00:00Z",
        road_user="car",
    )
    assert [(e["dateObservedFrom"][11:16], e["intensity"]) for e in answer.json()] == [
        ("06:00", 17),
        ("07:00", 7),
        ("09:00", 99),
    ]
    (event,) = AuditEvent.objects.in_region("eu-west").filter(action="export")
    assert (event.detail["entities"], event.detail["windows_left_out"]) == (3, 2)


@pytest.mark.parametrize(
    ("start", "intensity"),
    [
        ("2026-11-28T00:00:00Z", 48),
        ("2026-11-28T12:00:00Z", 24),  # the day cut to the range: its second half
    ],
    ids=["whole day", "cut to the range"],
)
def test_it_sums_local_days_and_cuts_windows_to_the_range(
    api, eu_analyst, located_site, start, intensity
):
    day = datetime(2026, 11, 28, tzinfo=UTC)
    for hour in range(24):
        counts_add(
            located_site,
            day + timedelta(hours=hour),
            [("north-stopline", "in", "car", 2)],
            seconds=3600,
        )
    answer = fiware(
        api,
        eu_analyst,
        located_site,
        interval="day",
        counter="north-stopline",
        road_user="car",
        start=start,
        end="2026-11-29T00:00:00Z",
    )
    (entity,) = answer.json()
    assert schema_errors(entity) == []
    assert (entity["intensity"], entity["dateObservedFrom"], entity["dateObservedTo"]) == (
        intensity,
        start,
        "2026-11-29T00:00:00Z",
    )


def test_it_serves_json_ld_on_request(api, eu_analyst, located_site):
    api.force_authenticate(eu_analyst)
    answer = api.get(
        reverse("api:site-fiware", kwargs={"slug": located_site.slug}),
        WINDOW,
        HTTP_ACCEPT="application/ld+json",
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/ld+json")
    assert len(json.loads(answer.content)) == 4


def test_it_answers_an_error_as_json_even_to_a_json_ld_client(api, eu_analyst, eu_site):
    api.force_authenticate(eu_analyst)
    answer = api.get(
        reverse("api:site-fiware", kwargs={"slug": "nowhere"}), {**WINDOW, "format": "jsonld"}
    )
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "no site 'nowhere'"}


def test_it_audits_each_export_in_the_sites_region(api, eu_analyst, located_site):
    fiware(api, eu_analyst, located_site, **WINDOW)
    (event,) = AuditEvent.objects.in_region("eu-west").filter(action="export")
    assert (event.actor, event.detail) == (
        "eu-analyst",
        {
            "kind": "fiware",
            "site": "main-and-5th",
            "start": "2026-11-27T06:00:00Z",
            "end": "2026-11-27T08:00:00Z",
            "interval": "hour",
            "entities": 4,
            "windows_left_out": 0,
        },
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({**WINDOW, "interval": "bucket"}, "interval", "not a valid choice"),
        ({**WINDOW, "road_user": "person"}, "road_user", "not a valid choice"),
        ({**WINDOW, "counter": "nowhere"}, "counter", "has no counter"),
        (
            {"start": "2026-11-27T06:00:00Z", "end": "2026-11-27T06:00:00Z"},
            "start",
            "must be before end",
        ),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "end", "at most 93"),
    ],
    ids=["bucket", "people", "unknown counter", "empty range", "too long"],
)
def test_it_refuses_a_bad_query_naming_the_field(api, eu_analyst, eu_site, params, field, message):
    answer = fiware(api, eu_analyst, eu_site, **params)
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])
    assert not AuditEvent.objects.in_region("eu-west").filter(action="export").exists()


def test_it_refuses_another_regions_site_with_the_reason(api, eu_analyst, us_site):
    answer = fiware(api, eu_analyst, us_site, **WINDOW)
    assert answer.status_code == 403
    assert "not 'us-east'" in answer.json()["detail"]
    assert not AuditEvent.objects.in_region("us-east").filter(action="export").exists()


def test_it_sends_a_pinned_node_reader_to_the_sites_own_region(api, us_site, eu_west):
    both = staff("both", eu_west="analyst", us_east="analyst")
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        answer = fiware(api, both, us_site, **WINDOW)
    assert answer.status_code == 421


def test_it_is_in_the_schema_with_every_answer(api, admin_user):
    api.force_authenticate(admin_user)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/sites/{slug}/fiware"]["get"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "421", "429", "503"}
    assert "application/ld+json" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "start",
        "end",
        "interval",
        "counter",
        "road_user",
    }
