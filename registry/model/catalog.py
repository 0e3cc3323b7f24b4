"""(to be written)"""


class Catalog:
    def __init__(self, driver) -> None:
        self.driver = driver
