"""Members: the customers of a program, each carrying one card."""
