"""The original load tests against any base URL: Locust users with no wait time, each
searching the 14 terms in turn.

A plain run does exactly what its flags say:

    locust -f service/loadtest/locustfile.py --host http://<alb-dns> --headless -u 120 -r 10 -t 5m

The original experiment's sequence (5, 30, 100 and 120 users, two minutes each) runs
only when asked, because Locust lets any load shape in a locustfile override -u, -r
and -t:

    ORIGINAL_STEPS=1 locust -f service/loadtest/locustfile.py --host http://<alb-dns> --headless
"""

import itertools
import os

from locust import HttpUser, LoadTestShape, constant, task

TERMS = [
    "alpha", "beta", "gamma", "delta", "epsilon",
    "electronics", "books", "home", "sports", "toys",
    "product", "1", "2", "3",
]


class Searcher(HttpUser):
    # The original tests ran without wait time between requests.
    wait_time = constant(0)

    def on_start(self):
        self.terms = itertools.cycle(TERMS)

    @task
    def search(self):
        term = next(self.terms)
        with self.client.get(
            f"/products/search?q={term}", name="/products/search", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif "total" not in response.json():
                response.failure("no total in the answer")


if os.environ.get("ORIGINAL_STEPS", "") not in ("", "0"):

    class OriginalSteps(LoadTestShape):
        """5, 30, 100 and 120 users, two minutes each, then stop."""

        steps = [(120, 5), (240, 30), (360, 100), (480, 120)]

        def tick(self):
            elapsed = self.get_run_time()
            for until, users in self.steps:
                if elapsed < until:
                    return users, users
            return None
