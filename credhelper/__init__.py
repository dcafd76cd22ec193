"""ecrpy: a Docker credential helper for Amazon ECR with an IAM permission pre-flight.

Nothing is imported here: the helper's hot path must stay cheap.
"""

__version__ = "0.1.0"
