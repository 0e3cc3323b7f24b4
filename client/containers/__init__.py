"""Containers: records, the OCI bundle Docker's rules make of an image, the supervisor that
runs one, and the life cycle the ``run``/``ps``/``stop``/``rm``/... commands drive."""
