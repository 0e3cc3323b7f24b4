"""(to be written)"""


class Manifests:
    def __init__(self, driver, blob_store, blobs, tags, referrers, name) -> None:
        self.driver = driver
        self.name = name
