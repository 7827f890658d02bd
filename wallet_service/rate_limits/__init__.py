"""Rate limits and sign-in lockout, on counters shared by every process when Redis is set."""
