"""Finding the system programs (sox, espeak-ng, ...) that some tests drive.

A missing program skips the test on a developer's machine, but fails it when
``PARLEY_REQUIRE_SYSTEM_TOOLS=1`` (set in CI), so a machine that lost a tool
cannot pass by skipping the tests that need it.
"""

import os
import shutil

import pytest

REQUIRE_ENV = "PARLEY_REQUIRE_SYSTEM_TOOLS"


def require_tool(name: str) -> str:
    """Returns the path of program ``name``, or skips (or fails) the calling test.

    Args:
        name: the program, as typed in a shell (e.g. ``"sox"``).

    Returns:
        The absolute path of the program found on ``PATH``.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"system tool {name!r} is not installed (not found on PATH)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(message)
