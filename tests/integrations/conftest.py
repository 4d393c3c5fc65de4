import pytest

from tests.integrations.support import PROTOCOLS, new_key


@pytest.fixture(params=PROTOCOLS, ids=lambda protocol: protocol.name)
def protocol(request):
    return request.param


@pytest.fixture
def key(channel, bob):
    """A send key of alice's channel to bob."""
    return new_key(channel, bob)
