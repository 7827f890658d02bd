"""The merchant (tenant) itself: created by the operator CLI, read and renamed by its owner."""
