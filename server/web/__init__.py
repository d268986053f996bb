"""The web layer: app factory, the route table, CORS and aiohttp hardening."""
