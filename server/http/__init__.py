"""HTTP plumbing shared by middlewares and handlers: request facts and the response shapes."""
