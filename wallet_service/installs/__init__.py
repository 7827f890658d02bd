"""Installs: which cards customers added to or removed from Apple Wallet and Google Wallet."""
