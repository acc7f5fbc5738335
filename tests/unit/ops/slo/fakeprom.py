"""A Prometheus stand-in for the SLO review's unit tests: answers PromQL by substring."""

NOW = 1_800_000_000.0


class FakePrometheus:
    """Answers the report's PromQL by substring; records what was asked."""

    def __init__(self, instant: dict[str, list], ranges: dict[str, list] | None = None):
        self.instant = instant
        self.ranges = ranges or {}
        self.asked: list[str] = []

    def query(self, expr, at=None):
        self.asked.append(expr)
        for needle, result in self.instant.items():
            if needle in expr:
                return result
        return []

    def query_range(self, expr, start, end, step):
        self.asked.append(expr)
        for needle, result in self.ranges.items():
            if needle in expr:
                return [
                    {"metric": {}, "values": [[start + i * step, v] for i, v in enumerate(result)]}
                ]
        return []


def vec(value, **labels):
    return [{"metric": labels, "value": [NOW, str(value)]}]
