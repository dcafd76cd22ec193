"""aws_errors: the accessors for botocore failures and the one translating context manager."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from credhelper import aws_errors
from credhelper.errors import ConfigError, CredentialsError, EcrpyError, TokenError


def _client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    response: dict[str, object] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetAuthorizationToken")  # type: ignore[arg-type]


MOTO_403 = (
    "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/u is not"
    " authorized</Message></Error></ErrorResponse>"
)


def test_accessors_read_json_errors_moto_xml_403_and_plain_exceptions() -> None:
    assert aws_errors.error_code(_client_error("RepositoryNotFoundException")) == (
        "RepositoryNotFoundException"
    )
    assert aws_errors.error_details(_client_error("403", MOTO_403, 403)) == (
        "AccessDenied",
        "User: arn:aws:iam::1:user/u is not authorized",
    )
    assert aws_errors.error_code(_client_error("403", MOTO_403, 403)) == "AccessDenied"
    assert aws_errors.error_code(TimeoutError()) == "TimeoutError"
    assert aws_errors.http_status(_client_error("ThrottlingException", status=429)) == 429
    assert aws_errors.http_status(ValueError()) is None
    assert aws_errors.is_access_denied(_client_error("AccessDeniedException"))
    assert aws_errors.is_access_denied(_client_error("403", MOTO_403, 403))
    assert not aws_errors.is_access_denied(_client_error("ThrottlingException"))


def test_translated_turns_aws_failures_into_one_cause_without_the_original() -> None:
    with pytest.raises(TokenError) as caught:
        with aws_errors.translated(None, "dev", service="STS"):
            raise _client_error("AccessDenied", "secret-looking text", 403)
    assert caught.value.one_line() == "profile 'dev' was denied by STS (AccessDenied)"
    assert caught.value.__suppress_context__  # the original (its text) is not chained
    with pytest.raises(CredentialsError, match="no AWS credentials found"):
        with aws_errors.translated(None, None):
            raise NoCredentialsError()


def test_translated_passes_ecrpy_errors_and_leaves_what_it_does_not_catch() -> None:
    mine = ConfigError("already explained")
    with pytest.raises(ConfigError) as caught:
        with aws_errors.translated(None, None):
            raise mine
    assert caught.value is mine
    with pytest.raises(KeyError):  # not in ``catch``: a bug stays a bug
        with aws_errors.translated(None, None, catch=(ClientError,)):
            raise KeyError("x")
    with pytest.raises(KeyboardInterrupt):
        with aws_errors.translated(None, None):
            raise KeyboardInterrupt
    with aws_errors.translated(None, None):
        value = 1
    assert value == 1


def test_translated_errors_are_ecrpy_errors() -> None:
    with pytest.raises(EcrpyError):
        with aws_errors.translated(None, None):
            raise OSError("boom")
