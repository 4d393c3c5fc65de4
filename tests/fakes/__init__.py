"""Local stand-ins for FCM and APNs: real servers on loopback speaking the providers' wire protocols.

Run them for your own tests with `python -m tests.fakes.fcm` and `python -m tests.fakes.apns`
(see docs/delivery.md); in this suite they run in-process (FakeFCM, FakeAPNs).
"""
