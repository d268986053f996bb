"""One module per MongoDB collection: document shape, indexes and queries."""
