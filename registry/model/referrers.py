"""(to be written)"""


class Referrers:
    def __init__(self, driver, blob_store, name) -> None:
        self.driver = driver
        self.name = name
