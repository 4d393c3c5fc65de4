"""`?format=` that no renderer serves is the 404 envelope, not a 500 (issue 16, item 5)."""

import pytest

from tests.helpers import status_of


@pytest.mark.parametrize("path", ["/v1/app/me?format=x", "/v1/schema?format=yaml", "/v1/schema?format=x",
                                  "/v1/app/channels?format=api", "/v1/app/messages?format=html"])
def test_an_unknown_format_is_the_404_envelope(client, db, path):
    response = client.get(path)
    assert response.status_code == 404, response.content
    assert response["Content-Type"].startswith("application/json")
    assert status_of(response) == 4004


def test_an_unknown_format_on_a_post_is_the_404_envelope(client, db):
    response = client.post("/v1/app/register?format=x", {"platform": "web"}, content_type="application/json")
    assert (response.status_code, status_of(response)) == (404, 4004)
