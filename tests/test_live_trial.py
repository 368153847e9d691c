"""What a user's trial of the live view found: a robotics engineer who serves a camera's overlay to a browser on
another machine of the network (here: loopback only; nothing is sent anywhere else)."""

import logging

import pytest

import roadseg.pipeline.sinks.server as server
from roadseg.pipeline.sinks.server import ServeSink


@pytest.mark.timeout(30)
@pytest.mark.parametrize("host,here", [("0.0.0.0", "127.0.0.1"), ("::", "[::1]")])
def test_a_view_served_on_every_address_says_which_url_another_machine_opens(monkeypatch, caplog, host, here):
    """``--serve 0.0.0.0:8080`` said 'serving the live view at http://0.0.0.0:8080/': no address a browser on
    another machine can open (nor, on Windows, this one's)."""
    monkeypatch.setattr(server, "lan_address", lambda: "192.0.2.7", raising=False)  # (the test sends nothing)
    with caplog.at_level(logging.WARNING, "roadseg"):
        sink = ServeSink(host, 0, ["Road"], [(128, 64, 128)], dict)
        port = sink.server.port
        sink.close()
    said = caplog.text
    assert f"open http://192.0.2.7:{port}/ from another machine" in said and f"http://{here}:{port}/ on this one" in said
    assert "0.0.0.0" not in said and "[::]" not in said


def test_this_machines_address_is_found_by_its_routing_table_or_is_none():
    """Without a route out (a machine with loopback only) there is no address to give, and none is made up."""
    found = server.lan_address()
    assert found is None or (found.count(".") == 3 and not found.startswith(("127.", "0.")))
