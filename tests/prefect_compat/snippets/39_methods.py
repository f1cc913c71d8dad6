# Idiom: @flow and @task on instance methods, classmethods and staticmethods (Prefect 3).
from prefect import flow, task


class Pipeline:
    factor = 10

    def __init__(self, offset: int) -> None:
        self.offset = offset

    @task
    def shift(self, x: int) -> int:
        return x + self.offset

    @task
    @classmethod
    def scale(cls, x: int) -> int:
        return x * cls.factor

    @task
    @staticmethod
    def negate(x: int) -> int:
        return -x

    @flow
    def run(self, x: int) -> int:
        return self.negate(self.scale(self.shift(x)))

    @flow
    @classmethod
    def build(cls, x: int) -> int:
        return cls.scale(x)

    @flow
    @staticmethod
    def plain(x: int) -> int:
        return x


pipeline = Pipeline(offset=1)
assert pipeline.run(2) == -30
assert Pipeline.build(3) == 30 and Pipeline.plain(4) == 4
futures = []


@flow
def submitter() -> int:
    return pipeline.shift.submit(5).result()


assert submitter() == 6
print("SNIPPET OK")
