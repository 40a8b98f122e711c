"""Only the project's input errors become one-line exits; every other exception keeps its traceback."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException

from sdegan.errors import ConfigurationError, DataError, MissingFileError, exit_on_input_error


@pytest.mark.parametrize("error", [ConfigurationError("bad dt"), DataError("bad row"), MissingFileError("no file")])
def test_input_errors_exit_with_one_line(error: Exception) -> None:
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_input_error("sdegan-train"):
            raise error
    assert str(exit_info.value.code) == f"sdegan-train: {error}"


def test_wrapped_input_error_prints_the_project_message_alone() -> None:
    with pytest.raises(SystemExit) as exit_info:
        with exit_on_input_error("sdegan-train"):
            try:
                raise DataError("series 3 row 7 is inf")
            except DataError as cause:
                raise InstantiationException("Error in call to target 'x':\nDataError(...)") from cause
    assert exit_info.value.code == "sdegan-train: series 3 row 7 is inf"


@pytest.mark.parametrize("error", [ValueError("a bug"), FileNotFoundError("a bug"), RuntimeError("a bug")])
def test_other_errors_keep_their_traceback(error: Exception) -> None:
    with pytest.raises(type(error)):
        with exit_on_input_error("sdegan-train"):
            raise error


def test_input_errors_are_still_value_and_file_errors() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(DataError, ConfigurationError)
    assert issubclass(MissingFileError, FileNotFoundError)
