"""(to be written)"""


class Tags:
    def __init__(self, driver, name) -> None:
        self.driver = driver
        self.name = name
