"""canonical_email, the one canonical form of an address (server/core/emails.py)."""

from __future__ import annotations

import pytest

from server.core.emails import InvalidEmail, canonical_email


class TestCanonicalForm:
    @pytest.mark.parametrize(("given", "canonical"), [
        (" Ada@Example.COM ", "ada@example.com"),
        ("\uff21\uff24\uff21\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f"
         "\uff4d", "ada@example.com"),  # fullwidth, the @ and the dot included
        ("\ufb01nn@example.com", "finn@example.com"),  # ligature
        ("\u212aate@example.com", "kate@example.com"),  # Kelvin sign
        ("o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"),
        ("ada@xn--bcher-kva.de", "ada@xn--bcher-kva.de"),  # an IDN in its ASCII form
        ("a@b.io", "a@b.io"),
    ])
    def test_forms(self, given: str, canonical: str) -> None:
        assert canonical_email(given) == canonical
        assert canonical_email(canonical) == canonical  # idempotent

    @pytest.mark.parametrize("given", [
        "", "   ", "ada", "@example.com", "ada@", '"ada"@example.com', "ada@[127.0.0.1]",
        "ada@localhost", "ada@example", "ada@1.2.3.4", "ada@example.c", "ada@-x.com",
        "ada@x-.com", "ada@example..com", ".ada@example.com", "ada.@example.com",
        "a\x00da@example.com", "ada@example.com\r\n", "\tada@example.com", "a\x85da@x.com",
        "a da@example.com", "\u0430da@example.com", "jos\u00e9@example.com",
        "ada@b\u00fccher.de", "a\u200dda@example.com", "a\u202eda@example.com",
        "x" * 65 + "@example.com", "a@" + "b" * 63 + "." + ("c" * 63 + ".") * 3 + "com",
        "a@b@example.com", "a\\b@example.com",
    ])
    def test_refused(self, given: str) -> None:
        with pytest.raises(InvalidEmail):
            canonical_email(given)

    def test_not_a_string(self) -> None:
        with pytest.raises(InvalidEmail):
            canonical_email(None)  # type: ignore[arg-type]
