"""Helpers of the chassis suite that the testing package does not ship: a JWKS server, moto."""
