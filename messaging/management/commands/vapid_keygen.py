"""Prints a new VAPID key (PEM, EC P-256) for VAPID_PRIVATE_KEY, and the public key browsers will see."""

import base64

from django.core.management.base import BaseCommand

from messaging import vapid


class Command(BaseCommand):
    help = ("Prints a new VAPID private key (PEM, EC P-256) to set as VAPID_PRIVATE_KEY (or VAPID_PRIVATE_KEY_FILE) "
            "on every host of a deployment; its public key goes to stderr.")

    def handle(self, *args, **options):
        pem = vapid.generate_pem()
        point = vapid.public_key_point(vapid.load_pem(pem))
        self.stdout.write(pem, ending="")
        self.stderr.write("public key (applicationServerKey): " + base64.urlsafe_b64encode(point).rstrip(b"=").decode())
