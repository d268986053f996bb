"""OpenAPI links: what a client (and the stateful fuzzer) calls next with an answer's values."""

from __future__ import annotations

from typing import Any


def bearer_link(operation_id: str, description: str) -> dict[str, Any]:
    """An OpenAPI link that calls `operation_id` with this response's `data.accessToken`."""
    return {"operationId": operation_id, "description": description, "parameters": {
        "header.Authorization": "Bearer {$response.body#/data/accessToken}"}}


REGISTER_LINKS = {
    "login": {"operationId": "login", "description": "Sign in with the same credentials",
              "requestBody": {"email": "$request.body#/email",
                              "password": "$request.body#/password"}},
    "getMe": bearer_link("get_me", "Read the new account with its access token"),
    "listSessions": bearer_link("list_sessions", "See the session register started"),
}
LOGIN_LINKS = {
    "getMe": bearer_link("get_me", "Read the signed-in user's profile"),
    "listSessions": bearer_link("list_sessions", "List the user's sessions"),
    "updateMe": bearer_link("update_me", "Change the signed-in user's profile"),
}
