"""The `format` field: Markdown rendered and sanitised into the inbox item's `html`; pushes carry its words."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from messaging.delivery import render
from messaging.markdown import to_html, to_plain
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.helpers import status_of

pytestmark = pytest.mark.django_db

HOSTILE = (
    "**Firing**: <script>alert(1)</script>\n\n"
    "[click](javascript:alert(2)) [jump](JaVaScRiPt:alert(3)) [data](data:text/html,<b>x</b>)\n\n"
    '<img src=x onerror="alert(4)"> <a href="https://evil.example" onclick="alert(5)">raw</a>\n\n'
    "<iframe src=https://evil.example></iframe>\n\n"
    "![pic](https://evil.example/p.png)"
)


def inbox_item(person, message_id):
    [item] = [m for m in call(Client(), "GET", "/v1/app/messages", person).json()["messages"] if m["id"] == message_id]
    return item


def sent_id(response):
    assert status_of(response) == 200, response.content
    return int(response.json()["response"]["id"])


def test_a_markdown_message_has_html_and_keeps_its_message_as_sent(send, valid_fields, bob):
    text = "**Firing** for `db1`\n\n- disk *full*\n- [runbook](https://wiki.example/disk)"
    item = inbox_item(bob, sent_id(send({**valid_fields, "message": text, "format": "markdown"})))
    assert (item["message"], item["format"]) == (text, "markdown")
    assert item["html"] == (
        "<p><strong>Firing</strong> for <code>db1</code></p>\n<ul>\n<li>disk <em>full</em></li>\n"
        '<li><a href="https://wiki.example/disk" rel="noopener noreferrer">runbook</a></li>\n</ul>\n'
    )


def test_a_text_message_has_format_text_and_no_html(send, valid_fields, bob):
    item = inbox_item(bob, sent_id(send({**valid_fields, "message": "**not bold**"})))
    assert (item["format"], item["html"], item["message"]) == ("text", None, "**not bold**")


def test_the_format_is_taken_from_forms_and_multipart_too(send, client, valid_fields):
    assert Message.objects.get(pk=sent_id(send({**valid_fields, "format": "markdown"}, form=True))).format == "markdown"
    response = client.post("/v1/messages/send", {**valid_fields, "format": "markdown"})
    assert Message.objects.get(pk=sent_id(response)).format == "markdown"
    assert Message.objects.get(pk=sent_id(send({**valid_fields, "format": ""}))).format == "text"


@pytest.mark.parametrize("value", ["html", "Markdown", "md", 1, True, ["markdown"]])
def test_any_other_format_is_4005(send, valid_fields, value):
    response = send({**valid_fields, "format": value})
    assert status_of(response) == 4005 and "format must be text or markdown" in response.json()["response"]["message"]
    assert not Message.objects.exists()


def elements(html):
    """[(tag, {attribute: value})] of every element in html, as a browser's parser sees them."""
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


def test_script_javascript_links_raw_html_and_images_never_reach_the_html(send, valid_fields, bob):
    html = inbox_item(bob, sent_id(send({**valid_fields, "message": HOSTILE, "format": "markdown"})))["html"]
    found = elements(html)
    assert {tag for tag, _ in found} <= {"p", "br", "em", "strong", "code", "pre", "ul", "ol", "li", "blockquote", "a"}
    assert ("strong", {}) in found
    for tag, attributes in found:
        if tag == "a":
            assert set(attributes) == {"href", "rel"} and attributes["rel"] == "noopener noreferrer"
            assert attributes["href"].split(":")[0] in ("https", "http", "mailto"), attributes
        else:
            assert not attributes, (tag, attributes)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, never run
    assert "&lt;img src=x" in html


def test_headings_quotes_code_blocks_and_line_breaks(send, valid_fields, bob):
    text = "# Down\nline two\n\n> quoted\n\n```\nx < y\n```\n\n1. one\n2. two"
    html = inbox_item(bob, sent_id(send({**valid_fields, "message": text, "format": "markdown"})))["html"]
    assert "<p><strong>Down</strong></p>" in html and "<p>line two</p>" in html
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in html
    assert "<pre><code>x &lt; y\n</code></pre>" in html and "<ol>\n<li>one</li>" in html


def test_pushes_carry_the_markdown_as_plain_words(send, valid_fields):
    text = "**Firing** for `db1`\n\n- disk *full*\n- [runbook](https://wiki.example/disk)"
    message_id = sent_id(send({**valid_fields, "message": text, "format": "markdown"}))
    push = render(Delivery.objects.select_related("message__channel", "device").get(message_id=message_id))
    assert push.body == "Firing for db1\ndisk full\nrunbook"


def test_a_text_messages_push_keeps_its_asterisks(send, valid_fields):
    message_id = sent_id(send({**valid_fields, "message": "**as typed**"}))
    push = render(Delivery.objects.select_related("message__channel", "device").get(message_id=message_id))
    assert push.body == "**as typed**"


@pytest.mark.parametrize(
    "text, words",
    [("**bold** and _em_", "bold and em"), ("# Title\n\nbody", "Title\nbody"), ("> quote", "quote"),
     ("```\ncode\n```", "code"), ("a  \nb", "a\nb"), ("<b>raw</b>", "<b>raw</b>"), ("***", "***")],
)
def test_plain_words(text, words):
    assert to_plain(text) == words


def test_the_html_of_an_empty_message_is_empty():
    assert to_html("") == ""


def test_a_deleted_markdown_message_has_no_html(send, valid_fields, bob):
    from messaging.services import inbox_delete

    message_id = sent_id(send({**valid_fields, "message": "**x**", "format": "markdown"}))
    inbox_delete(user=bob.user, message_id=message_id)
    assert Message.objects.get(pk=message_id).text == ""
