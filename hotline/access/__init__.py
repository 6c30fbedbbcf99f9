"""Who may do what: staff accounts, API tokens, sessions and the access policy."""
