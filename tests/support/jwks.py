"""An identity provider served by the test itself: RSA keys, a JWKS endpoint, signed tokens."""

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.intake.test"
AUDIENCE = "intake-api"


@dataclass
class SigningKey:
    kid: str = field(default_factory=lambda: f"k-{uuid.uuid4().hex[:8]}")
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def token(self, tenant_id: str, brand_ids: list[str], **claims: Any) -> str:
        now = int(time.time())
        body = {
            "sub": "user-1",
            "tenant_id": tenant_id,
            "brand_ids": brand_ids,
            "permissions": ["assets.upload"],
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        return jwt.encode(body, self.private, algorithm="RS256", headers={"kid": self.kid})


@dataclass
class Provider:
    """What the endpoint serves: `mode` is ok (the keys), fail (500) or hang (until released)."""

    keys: list[SigningKey]
    mode: str = "ok"
    requests: int = 0
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


@contextlib.contextmanager
def serve_jwks(provider: Provider) -> Iterator[Provider]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            if provider.mode == "hang":
                provider.hanging.set()
                provider.release.wait(60)
            if provider.mode == "fail":
                self.send_response(500)
                self.end_headers()
                return
            body = json.dumps({"keys": [key.jwk() for key in provider.keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield provider
    finally:
        provider.release.set()
        server.shutdown()
        server.server_close()
