"""Staff accounts: owners, marketers and cashiers, optionally bound to one store."""
