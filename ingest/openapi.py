"""The OpenAPI description of the ingest API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from ioc import catalog

_READING: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["group", "source", "metric", "ts", "district"],
    "properties": {
        "group": {"type": "string", "enum": list(catalog.GROUP_SLUGS)},
        "source": {"type": "string", "minLength": 1, "maxLength": 128},
        "metric": {"type": "string", "description": "a metric of the group (GET /api/catalog "
                                                    "on the dashboard lists them)"},
        "ts": {"oneOf": [{"type": "number", "description": "epoch seconds"},
                         {"type": "string", "format": "date-time",
                          "description": "RFC 3339 with a UTC offset"}]},
        "district": {"type": "string", "enum": [d.name for d in catalog.DISTRICTS]},
        "value": {"type": "number", "description": "a measured metric's value"},
        "kind": {"type": "string", "description": "a counted metric's event kind"},
        "unit": {"type": "string"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "attrs": {"type": "object",
                  "additionalProperties": {"type": ["string", "number", "boolean"]}},
    },
}
_ERROR = {"type": "object", "properties": {"error": {"type": "string"},
                                           "reason": {"type": "string"}}}


def _answer(text: str, schema: dict[str, Any] | None = None,
            headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": text,
                           "content": {"application/json": {"schema": schema or _ERROR}}}
    if headers:
        out["headers"] = headers
    return out


def openapi(max_body_bytes: int, max_batch: int) -> dict[str, Any]:
    """The document (OpenAPI 3.1)."""
    accepted = {"type": "object", "properties": {
        "accepted": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "index": {"type": "integer"}, "field": {"type": "string"},
            "reason": {"type": "string"}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ioc-monitor ingest API", "version": "1",
                 "description": "Post sensor readings into ioc-monitor. Authenticate with an "
                                "API key of role `ingest` (`ioc keys add NAME --role ingest "
                                "[--districts ...] [--groups ...]`)."},
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Reading": _READING},
        },
        "security": [{"apiKey": []}],
        "paths": {"/api/v1/readings": {"post": {
            "summary": "Post one reading or a batch",
            "description": f"One reading (an object) or a batch (an array of up to "
                           f"{max_batch}); bodies up to {max_body_bytes} bytes. The "
                           "readings are in Kafka when the answer is 202; invalid items and "
                           "items outside the key's districts or groups are listed in "
                           "`errors` and the rest go through.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [{"$ref": "#/components/schemas/Reading"},
                          {"type": "array", "maxItems": max_batch,
                           "items": {"$ref": "#/components/schemas/Reading"}}]}}}},
            "responses": {
                "202": _answer("accepted (all, or all but the items in `errors`)", accepted),
                "400": _answer("the body is not a reading or a batch (or every item is "
                               "invalid)", accepted),
                "401": _answer("no key, or an unknown or revoked key"),
                "403": _answer("the key is not an ingest key, or every item is outside its "
                               "districts or groups"),
                "413": _answer(f"the body is over {max_body_bytes} bytes, or the batch over "
                               f"{max_batch} readings (split it)"),
                "429": _answer("the key posted more readings than its rate allows",
                               headers={"Retry-After": {"schema": {"type": "integer"},
                                                        "description": "seconds"}}),
                "503": _answer("Kafka or the accounts database cannot be reached"),
            }}}},
    }
