"""The Guardian domain: the referred patient, their pathways, and the wait-time rules.

Nothing here imports infrastructure (databases, web, scheduling); time comes in as arguments.
"""
