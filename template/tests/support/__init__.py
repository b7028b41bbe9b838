"""Helpers of this suite only: the coverage gate and the figures report. Servers, databases,
tokens and processes come from `goldenpath_chassis.testing`."""
