"""A pytest port of the OCI Distribution Specification v1.1 conformance suite.

The Go suite (opencontainers/distribution-spec, ``conformance/``) runs four
workflows against a registry at a URL: pull, push, content discovery and content
management. Each ``test_0N_*.py`` module here is one workflow, with the same
requests, the same expectations and the same order (set-up pushes, checks,
tear-down), so its tests depend on the ones before them and run as a module.
By default they run against a Dockyard server the session starts; see
``settings.py`` to point them at another registry (such as CNCF distribution).
"""
