"""One table of status codes (kilopush.errors.CODES) drives the docs of both APIs."""

from pathlib import Path

import pytest

from kilopush import errors


def _api_error_classes(cls=errors.ApiError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _api_error_classes(sub)


def test_every_error_class_has_a_documented_code():
    for cls in _api_error_classes():
        assert cls.status in errors.CODES, cls


def test_every_code_is_in_the_docs():
    docs = Path(errors.__file__).resolve().parent.parent / "docs"
    text = "".join(page.read_text(encoding="utf-8") for page in sorted(docs.glob("*.md")))
    for code in errors.CODES:
        assert f"\n| {code} |" in text, f"{code} has no row in a code table in docs/"


@pytest.mark.django_db
def test_both_schemas_describe_codes_from_the_table(client):
    schema = client.get("/v1/schema").json()
    send_400 = schema["paths"]["/v1/messages/send"]["post"]["responses"]["400"]["description"]
    assert send_400 == errors.describe_codes(4000, 4003, 4005, 4009, 4023, 4024, 4029)
    for path in ("/v1/messages/status", "/v1/messages/withdraw"):
        assert schema["paths"][path]["post"]["responses"]["400"]["description"] == errors.describe_codes(
            4000, 4003, 4005, 4029
        )
    register_400 = schema["paths"]["/v1/app/register"]["post"]["responses"]["400"]["description"]
    assert register_400 == errors.describe_codes(4000, 4005)
