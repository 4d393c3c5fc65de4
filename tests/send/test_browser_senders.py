"""Browser senders (issue 10): the send API called from a page of another origin, in a real headless Chromium.

The author's examples: fetch, jQuery's $.ajax (an XMLHttpRequest with a form-encoded body)
and XMLHttpRequest with withCredentials = true, against gunicorn as the Procfile runs it.
"""

import json

import pytest

from tests.browser import browser_page, chromium, other_origin  # noqa: F401 (fixtures)
from tests.rawhttp import web  # noqa: F401 (fixture)

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>A sender's page</title>
<script>
// What the published examples do, in plain JavaScript (no library download in tests).
async function sendWithFetch(url, fields) {
  const response = await fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(fields),
  });
  return {http: response.status, body: await response.json(),
          remaining: response.headers.get("X-RateLimit-Remaining")};
}

function xhr(url, body, contentType, withCredentials) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.withCredentials = withCredentials;
    request.setRequestHeader("Content-Type", contentType);
    request.onload = () => resolve({http: request.status, body: JSON.parse(request.responseText),
                                    remaining: request.getResponseHeader("X-RateLimit-Remaining")});
    request.onerror = () => reject(new Error("blocked: status " + request.status));
    request.send(body);
  });
}

// jQuery's $.ajax({type: "POST", url, data: fields}): a form-encoded body, no preflight.
function sendLikeJquery(url, fields) {
  return xhr(url, new URLSearchParams(fields).toString(),
             "application/x-www-form-urlencoded; charset=UTF-8", false);
}

function sendWithCredentials(url, fields) {
  return xhr(url, JSON.stringify(fields), "application/json", true);
}
</script>
"""

SENDERS = ["sendWithFetch", "sendLikeJquery", "sendWithCredentials"]


@pytest.fixture
def sender_page(browser_page, other_origin, web):
    base, folder = other_origin
    (folder / "index.html").write_text(PAGE)
    browser_page.goto(base + "/index.html")
    assert browser_page.evaluate("location.origin") != web.url  # cross-origin for real
    return browser_page


def call(page, sender, url, fields):
    return page.evaluate(f"([url, fields]) => {sender}(url, fields)", [url, fields])


@pytest.mark.parametrize("sender", SENDERS)
def test_a_page_of_another_origin_sends_a_message(sender_page, web, transactional_db, valid_fields, sender):
    answer = call(sender_page, sender, web.url + "/v1/messages/send", valid_fields)
    assert (answer["http"], answer["body"]["response"]["status"]) == (200, 200), sender_page.console_messages
    assert answer["remaining"] is not None  # an exposed header the page may read


@pytest.mark.parametrize("sender", SENDERS)
def test_a_page_reads_4003_for_a_wrong_secret(sender_page, web, transactional_db, valid_fields, sender):
    answer = call(sender_page, sender, web.url + "/v1/messages/send", {**valid_fields, "secret": "wrong"})
    assert answer["body"]["response"]["status"] == 4003, sender_page.console_messages


def test_a_page_of_another_origin_cannot_read_the_app_api(sender_page, web, transactional_db, alice):
    script = """async ([url, token]) => {
      try {
        const response = await fetch(url, {headers: {"Authorization": "Bearer " + token}});
        return "read " + response.status;
      } catch (error) {
        return "blocked";
      }
    }"""
    assert sender_page.evaluate(script, [web.url + "/v1/app/me", alice.access_token]) == "blocked"
    # The same call from the API's own origin is answered: the block is CORS, not the token.
    sender_page.goto(web.url + "/healthz")
    assert sender_page.evaluate(script, [web.url + "/v1/app/me", alice.access_token]) == "read 200"


def test_the_wrong_secret_answer_is_the_envelope(sender_page, web, transactional_db, valid_fields):
    answer = call(sender_page, "sendWithFetch", web.url + "/v1/messages/send", {**valid_fields, "secret": "x"})
    assert set(json.loads(json.dumps(answer["body"]))["response"]) == {"status", "message"}
