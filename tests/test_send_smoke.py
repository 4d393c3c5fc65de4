from messaging.models import Delivery, Message


def test_it_accepts_a_json_message(send, valid_fields, bob):
    response = send(valid_fields)
    assert response.status_code == 200, response.content
    body = response.json()
    message = Message.objects.get(pk=int(body["response"]["id"]))
    assert message.recipient_id == bob.user.pk
    assert Delivery.objects.filter(message=message).count() == 1
