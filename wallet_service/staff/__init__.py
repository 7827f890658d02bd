"""Staff accounts: owners, managers, marketers and cashiers, optionally bound to one store."""
