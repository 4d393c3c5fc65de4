"""messaging/providers/http1.py, the FCM provider's HTTP/1.1 client, against a raw local server that
answers each request with scripted bytes: framing (length, chunked, the connection's end), keep-alive,
closed and stuck connections, and answers that are not HTTP."""

import asyncio

import pytest

from messaging.providers import http1


class RawServer:
    """Accepts connections; for each request head it reads, sends the next scripted answer (bytes, a list of
    byte pieces sent one by one, "close" to close at once, or "hang" to never answer)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.connections = 0
        self.closed_by_client = 0
        self.requests = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1/send"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                self.requests.append((head, await reader.readexactly(length)))
                answer = self.answers.pop(0)
                if answer == "close":
                    break
                if answer == "hang":
                    await asyncio.sleep(30)
                pieces = answer if isinstance(answer, list) else [answer]
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    if len(pieces) > 1:
                        await asyncio.sleep(0.001)
                whole = b"".join(pieces)
                if b"Connection: close" in whole or (b"Content-Length" not in whole and b"chunked" not in whole):
                    break  # closed by the header, or a body framed by the connection's end
        except asyncio.IncompleteReadError:
            self.closed_by_client += 1
        except ConnectionError:
            pass
        writer.close()


def ok(body=b'{"name":"x"}', extra=b""):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def run(coroutine):
    return asyncio.run(coroutine)


async def post(pool, body=b"{}", timeout=2):
    return await pool.request("POST", "/v1/send", body, {"Content-Type": "application/json"}, timeout=timeout)


def test_kept_alive_connection_carries_one_request_after_another():
    async def go():
        async with RawServer([ok(), ok(b'{"name":"y"}')]) as server:
            pool = http1.Pool(server.url, limit=4, connect_timeout=2)
            first = await post(pool, b'{"a":1}')
            second = await post(pool, "é".encode())
            pool.close()
            return server, first, second

    server, first, second = run(go())
    assert first[0] == 200 and first[1] == b'{"name":"x"}' and second[1] == b'{"name":"y"}'
    assert server.connections == 1
    head, body = server.requests[1]
    assert head.startswith(b"POST /v1/send HTTP/1.1\r\n") and b"\r\nContent-Length: 2\r\n" in head and body == "é".encode()
    assert b"\r\nHost: 127.0.0.1:" in head


def test_a_chunked_answer_with_extensions_and_trailers_arrives_whole_even_a_byte_at_a_time():
    chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n" \
              b"5;ext=1\r\n{\"err\r\n6\r\nor\":1}\r\n0\r\nX-Trailer: t\r\n\r\n"

    async def go():
        async with RawServer([[bytes([b]) for b in chunked], ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            answers = [await post(pool), await post(pool)]
            pool.close()
            return server, answers

    server, (first, second) = run(go())
    assert first[0] == 503 and first[1] == b'{"error":1}'
    assert first[2].get("Retry-After") == "7"  # any case
    assert second[0] == 200 and server.connections == 1


def test_connection_close_and_a_body_framed_by_the_connections_end_open_a_new_connection_next():
    async def go():
        async with RawServer([ok(extra=b"Connection: close\r\n")]) as first_server:
            pool = http1.Pool(first_server.url, limit=1, connect_timeout=2)
            await post(pool)
            first_server.answers.append(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            unframed = await post(pool)
            first_server.answers.append(ok())
            await post(pool)
            pool.close()
            return first_server, unframed

    server, unframed = run(go())
    assert unframed[1] == b"until the end"
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_used_again():
    async def go():
        async with RawServer([ok(), "close", ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            await post(pool)
            with pytest.raises(ConnectionError):
                await post(pool)  # closed by the server after reading it, without an answer
            answer = await post(pool)
            pool.close()
            return server, answer

    server, answer = run(go())
    assert answer[0] == 200 and server.connections == 2


def test_a_request_that_times_out_gives_up_its_connection():
    async def go():
        async with RawServer(["hang", ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            with pytest.raises(asyncio.TimeoutError):
                await post(pool, timeout=0.2)
            answer = await post(pool)
            pool.close()
            return server, answer

    server, answer = run(go())
    assert answer[0] == 200 and server.connections == 2


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_an_answer_that_is_not_http_is_a_protocol_error(garbage):
    async def go():
        async with RawServer([garbage]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            with pytest.raises(http1.ProtocolError):
                await post(pool)
            pool.close()

    run(go())


def test_the_limit_bounds_the_open_connections():
    async def go():
        async with RawServer([[b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\nok"]] * 6) as server:
            pool = http1.Pool(server.url, limit=2, connect_timeout=2)
            answers = await asyncio.gather(*(post(pool) for _ in range(6)))
            pool.close()
            return server, answers

    server, answers = run(go())
    assert [a[1] for a in answers] == [b"ok"] * 6
    assert server.connections == 2


@pytest.mark.parametrize("framing", ["length", "chunked", "the connection's end"])
def test_an_answer_body_over_the_cap_is_a_protocol_error_and_its_connection_is_closed(framing):
    body = b"x" * 2000
    answer = {
        "length": ok(body),
        "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n%s\r\n0\r\n\r\n" % body,
        "the connection's end": b"HTTP/1.1 200 OK\r\n\r\n" + body,
    }[framing]

    async def go():
        async with RawServer([answer, ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2, max_body=1000)
            with pytest.raises(http1.ProtocolError, match="over 1000 bytes"):
                await post(pool)
            following = await post(pool)
            pool.close()
            return server, following

    server, following = run(go())
    assert following[0] == 200 and server.connections == 2


def test_an_answer_body_at_the_cap_is_read():
    async def go():
        async with RawServer([ok(b"x" * 1000)]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2, max_body=1000)
            answer = await post(pool)
            pool.close()
            return answer

    assert run(go())[1] == b"x" * 1000


def test_an_endless_answer_head_is_a_protocol_error():
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: %s\r\n" % (b"p" * 1000) * 70

    async def go():
        async with RawServer([head]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            with pytest.raises(http1.ProtocolError, match="head too long"):
                await post(pool)
            pool.close()

    run(go())


def test_a_connection_idle_past_the_idle_timeout_is_closed_and_not_used_again():
    async def go():
        async with RawServer([ok(), ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2, idle_timeout=0.2)
            await post(pool)
            await asyncio.sleep(0.6)  # the server keeps it open; the pool closes it
            closed_while_idle = server.closed_by_client
            answer = await post(pool)
            pool.close()
            return server, closed_while_idle, answer

    server, closed_while_idle, answer = run(go())
    assert closed_while_idle == 1
    assert answer[0] == 200 and server.connections == 2


def test_a_connection_used_within_the_idle_timeout_is_kept():
    async def go():
        async with RawServer([ok(), ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2, idle_timeout=30)
            await post(pool)
            await asyncio.sleep(0.2)
            await post(pool)
            pool.close()
            return server

    assert run(go()).connections == 1


def test_an_interim_100_continue_is_skipped_for_the_answer_after_it():
    async def go():
        async with RawServer([b"HTTP/1.1 100 Continue\r\n\r\n" + ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            answer = await post(pool)
            pool.close()
            return answer

    assert run(go())[:2] == (200, b'{"name":"x"}')


def test_bytes_after_a_whole_answer_close_the_connection():
    async def go():
        async with RawServer([ok() + b"HTTP/1.1 200 OK\r\n", ok()]) as server:
            pool = http1.Pool(server.url, limit=1, connect_timeout=2)
            first = await post(pool)
            second = await post(pool)
            pool.close()
            return server, first, second

    server, first, second = run(go())
    assert first[0] == second[0] == 200 and server.connections == 2


def tls_server_context(tmp_path):
    import ssl

    from cryptography.hazmat.primitives import serialization

    from tests.fakes.apns import self_signed_certificate

    cert, key = self_signed_certificate()
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def test_https_verifies_the_servers_certificate_against_the_systems_trust(tmp_path, monkeypatch):
    context, cert_path = tls_server_context(tmp_path)

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(ok())
        await writer.drain()
        writer.close()

    async def go():
        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        try:
            pool = http1.Pool(f"https://localhost:{port}/v1/send", limit=1, connect_timeout=2)
            try:
                return await post(pool)
            finally:
                pool.close()
        finally:
            server.close()

    import ssl

    with pytest.raises(ssl.SSLCertVerificationError):  # an OSError: the FCM provider answers it with a retry
        run(go())
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # what the system trusts, here the stand-in's own
    assert run(go())[1] == b'{"name":"x"}'
