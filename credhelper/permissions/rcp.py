"""Which requests AWS Organizations resource control policies (RCPs) apply to.

AWS Organizations User Guide, "Resource control policies (RCPs)", section "List of AWS
services that support RCPs": "RCPs apply to actions for the following AWS services" -- the
service prefixes below (Amazon Elastic Container Registry, ``ecr``, is one of them). RCPs
"do not impact the effective permissions of any service-linked role".
"""

from __future__ import annotations

RCP_SERVICES = frozenset(
    {
        "aoss", "appconfig", "appstream", "autoscaling", "autoscaling-plans", "budgets",
        "clouddirectory", "cloudfront", "cloudsearch", "cloudtrail-data", "codeartifact",
        "codebuild", "codecommit", "codepipeline", "cognito-identity", "cognito-idp",
        "comprehend", "comprehendmedical", "compute-optimizer", "cost-optimization-hub",
        "dax", "dsql", "dynamodb", "ecr", "ecr-public", "events", "firehose", "fis", "fms",
        "gamelift", "health", "inspector-scan", "kendra", "kinesisvideo", "kms", "logs",
        "memorydb", "networkmonitor", "notifications", "opensearch", "pca-connector-ad",
        "personalize", "polly", "pricing", "resource-groups", "rolesanywhere", "s3",
        "secretsmanager", "servicediscovery", "signin", "sqs", "sts", "support", "swf",
        "textract", "timestream-influxdb", "transcribe", "transfer", "translate", "wafv2",
        "workspaces", "xray",
    }
)  # fmt: skip


def rcps_cover(action: str) -> bool:
    """Whether RCPs apply to ``action`` (``service:Name``) at all."""
    return action.partition(":")[0].lower() in RCP_SERVICES
