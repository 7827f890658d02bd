"""In-store scanning: the barcode token carried by passes, rotating TOTP codes, and the POS flow."""
