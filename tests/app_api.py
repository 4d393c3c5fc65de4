"""Helpers of the app API tests: every call's answer is checked against /v1/schema.

`call` validates each JSON answer against the response schema the OpenAPI document
gives for that path, method and HTTP status, with additionalProperties forbidden, so
the schema and the server cannot drift apart unnoticed.
"""

import copy
import functools
import io
import json

import jsonschema
from django.test import Client
from django.urls import resolve
from PIL import Image


@functools.cache
def openapi():
    response = Client().get("/v1/schema")
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _as_json_schema(node):
    """OpenAPI 3.0 -> JSON Schema: `nullable`, and closed objects (no undocumented keys)."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


@functools.cache
def _components():
    return _as_json_schema(copy.deepcopy(openapi()["components"]))


def schema_path(path):
    route = resolve(path.split("?")[0]).route
    route = route.replace("^", "").replace("$", "")
    for converter in ("int:", "str:"):
        route = route.replace("<" + converter, "{")
    return "/" + route.replace("<", "{").replace(">", "}")


def assert_matches_schema(method, path, response):
    operation = openapi()["paths"][schema_path(path)][method.lower()]
    documented = operation["responses"]
    assert str(response.status_code) in documented, f"{method} {path} answered {response.status_code}, undocumented"
    content = documented[str(response.status_code)].get("content")
    if content is None:
        assert response.content == b"", response.content
        return
    schema = _as_json_schema(copy.deepcopy(content["application/json"]["schema"]))
    jsonschema.validate(json.loads(response.content), {**schema, "components": _components()})


def call(client, method, path, person=None, body=None, *, raw=None, content_type="application/json", **extra):
    """Calls the API as `person` (None: no credential) and checks the answer against the schema."""
    if person is not None:
        extra.update(person.auth)
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body)
    else:
        data, content_type = "", None
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.generic(method, path, data, **kwargs, **extra)
    assert "json" in response.get("Content-Type", "") or response.status_code == 204, response.content
    if response.status_code != 405:
        assert_matches_schema(method, path, response)
    return response


def image_bytes(fmt="PNG", size=(300, 200), color=(200, 30, 30, 255), **save_kwargs):
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    image = Image.new(mode, size, color[: len(mode)])
    out = io.BytesIO()
    image.save(out, format=fmt, **save_kwargs)
    return out.getvalue()


def multipart(client, method, path, person, fields, files=None):
    """A multipart/form-data request like curl -F; files: {name: (filename, bytes, content_type)}."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    data = dict(fields)
    for name, (filename, content, file_type) in (files or {}).items():
        data[name] = SimpleUploadedFile(filename, content, content_type=file_type)
    body = encode_multipart(BOUNDARY, data)
    response = client.generic(method, path, body, content_type=MULTIPART_CONTENT, **person.auth)
    assert_matches_schema(method, path, response)
    return response
