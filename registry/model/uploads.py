"""(to be written)"""


class Uploads:
    def __init__(self, driver, blobs) -> None:
        self.driver = driver
        self.blobs = blobs
