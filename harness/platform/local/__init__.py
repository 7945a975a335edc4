"""The local platform: every component a real daemon on this host, grouped into
nodes by cgroups, bound to 127.0.0.1 on ports picked at ``up``."""
