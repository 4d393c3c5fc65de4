"""Image attachments and Markdown in pushes, checked at the FCM, APNs and Web Push stand-ins (issue 25).

A message sent through the API (an uploaded image, Markdown) is delivered in-process by the real
pipeline (queueing.deliver_batch) to the local stand-ins: the image's absolute URL rides in each
platform's field, and the body is the Markdown's words, never its markers.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging import queueing
from messaging.models import Delivery, Message
from tests.delivery.test_delivery_webpush import register_browser
from tests.helpers import status_of
from tests.send import images

pytestmark = pytest.mark.django_db

MARKDOWN = "**Motion** at the *front door*\n\n- camera `cam-1`\n- [live view](https://cam.example/live)"
WORDS = "Motion at the front door\ncamera cam-1\nlive view"
SITE = "https://kilo.example"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = SITE  # pushes need absolute URLs
    return tmp_path


def sent(client, person, channel, **fields):
    body = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": MARKDOWN,
            "format": "markdown", **fields}
    response = client.post("/v1/messages/send", body)  # multipart/form-data
    assert status_of(response) == 200, response.content
    message = Message.objects.get(pk=int(response.json()["response"]["id"]))
    queueing.deliver_batch(message.pk)
    assert set(Delivery.objects.filter(message=message).values_list("state", flat=True)) == {Delivery.ACCEPTED}
    return message


def jpeg():
    return SimpleUploadedFile("door.jpg", images.jpeg_with_gps(), "image/jpeg")


def uploaded_url(message):
    assert message.attachment_file
    return f"{SITE}/media/{message.attachment_file}"


def test_fcm_gets_the_image_as_notification_image_and_the_words_as_body(client, push_settings, fcm, bob, channel):
    message = sent(client, bob, channel, attachment=jpeg())
    [pushed] = fcm.script.pushes
    notification = pushed["message"]["notification"]
    assert notification["image"] == uploaded_url(message)
    assert notification["body"] == WORDS and "**" not in notification["body"]
    assert pushed["message"]["data"]["attachment_url"] == uploaded_url(message)


def test_apns_gets_mutable_content_and_the_image_url(client, push_settings, apns, charlie, channel):
    message = sent(client, charlie, channel, attachment=jpeg())
    [pushed] = apns.script.pushes
    payload = pushed["payload"]
    assert payload["aps"]["mutable-content"] == 1
    assert payload["attachment_url"] == uploaded_url(message)
    assert payload["aps"]["alert"]["body"] == WORDS


def test_web_push_gets_the_image_in_its_payload(client, webpush_settings, webpush, web_subscription, channel):
    browser = register_browser(client, web_subscription())
    message = sent(client, browser, channel, attachment=jpeg())
    [received] = webpush.script.accepted(browser.push_token)
    assert received["payload"]["image"] == uploaded_url(message)
    assert received["payload"]["message"] == WORDS


def test_a_linked_image_is_pushed_as_given(client, push_settings, fcm, apns, bob, charlie, channel):
    link = "https://cam.example/snap/1.jpg"
    sent(client, bob, channel, attachment_url=link)
    sent(client, charlie, channel, attachment_url=link)
    assert fcm.script.pushes[0]["message"]["notification"]["image"] == link
    assert apns.script.pushes[0]["payload"]["attachment_url"] == link


def test_without_an_attachment_fcm_keeps_the_logo_and_apns_adds_nothing(client, push_settings, fcm, apns, bob, charlie,
                                                                         channel):
    sent(client, bob, channel, format="text", message="**plain**")
    sent(client, charlie, channel, format="text", message="**plain**")
    fcm_message = fcm.script.pushes[0]["message"]
    assert "image" not in fcm_message["notification"] and "attachment_url" not in fcm_message["data"]
    assert fcm_message["notification"]["body"] == "**plain**"  # text is pushed as typed
    assert "attachment_url" not in apns.script.pushes[0]["payload"]


def test_a_silent_message_carries_the_image_in_its_data(client, push_settings, fcm, apns, bob, charlie, channel):
    message = sent(client, bob, channel, attachment=jpeg(), silent="1")
    assert fcm.script.pushes[0]["message"]["data"]["attachment_url"] == uploaded_url(message)
    assert fcm.script.pushes[0]["message"]["data"]["body"] == WORDS
    message = sent(client, charlie, channel, attachment=jpeg(), silent="1")
    assert apns.script.pushes[0]["payload"]["attachment_url"] == uploaded_url(message)
