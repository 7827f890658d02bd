"""Staff sign-in: the OAuth2 password flow issuing short-lived access tokens."""
