"""The demo: stories told on the project's stack running in the twin (`mlops local demo`).

Not part of the local cloud: everything here is a client of it, through the public AWS APIs.
"""
