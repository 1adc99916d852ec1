"""Container-image runtimes: ``lithops runtime build -f Dockerfile NAME -b aws_lambda``."""

from __future__ import annotations

from collections.abc import Sequence

from lithops.errors import BackendUnavailableError
from lithops_aws.lambda_config import LambdaSettings

__all__ = ["build_and_push"]


def build_and_push(
    settings: LambdaSettings, name: str, file: str | None, extra_args: Sequence[str]
) -> str:
    raise BackendUnavailableError(
        "aws_lambda cannot build container-image runtimes yet; use the default runtime "
        "(no 'runtime' in the aws_lambda section)"
    )
