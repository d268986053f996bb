"""Mail: the messages the service sends, and the outbox sender."""
