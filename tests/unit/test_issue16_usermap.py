"""Issue 16: which user namespace a container runs in, and whether its user owns the workspace.

The maps below are what the kernel showed in this machine's containers: Docker's default
(no remap), Docker's `userns-remap=default` with one subordinate range, and the same
with the owner's uid passed through (the lines `up`'s hint gives).
"""

from __future__ import annotations

import pytest

from tazpod.engines import usermap
from tazpod.errors import EngineError

IDENTITY = "         0          0 4294967295\n"
REMAPPED = "         0     300000      65536\n"
PASSED = (
    "         0     300000       1000\n"
    "      1000       1000          1\n"
    "      1001     301001      64535\n"
)
PASSWD = "root:x:0:0:root:/root:/bin/bash\ntazpod:x:1000:1000::/home/tazpod:/bin/bash\n"


def _probe(uids: str, gids: str | None = None) -> str:
    return f"{uids}--\n{gids or uids}--\n{PASSWD}"


def test_no_remap_says_container_root_is_host_root() -> None:
    found = usermap.parse(_probe(IDENTITY), "tazpod")
    assert not found.remapped
    assert found.describe().startswith("none: container root is host root")
    assert found.workspace_problem(0, 0) is None  # not checked: nothing moves


def test_a_remapped_user_is_named_and_the_workspace_mismatch_explained() -> None:
    found = usermap.parse(_probe(REMAPPED), "tazpod")
    assert found.remapped and (found.uid, found.gid) == (1000, 1000)
    assert usermap.to_host(found.uids, 0) == 300000
    assert (
        found.describe()
        == "container root is host uid 300000; tazpod (uid 1000) is host uid 301000"
    )
    problem = found.workspace_problem(1000, 1000)
    assert problem is not None and "is host uid 301000" in problem
    assert "belongs to host uid 1000" in problem
    assert found.subordinate_lines(1000) == [
        "dockremap:300000:1000",
        "dockremap:1000:1",
        "dockremap:301001:64535",
    ]


def test_the_hints_lines_give_a_map_where_the_user_owns_the_workspace() -> None:
    found = usermap.parse(_probe(PASSED), "tazpod")
    assert usermap.to_host(found.uids, 0) == 300000
    assert usermap.to_host(found.uids, 1000) == 1000
    assert usermap.to_host(found.uids, 1001) == 301001
    assert found.workspace_problem(1000, 1000) is None
    assert found.workspace_problem(1001, 1001) is not None
    assert found.describe().endswith("tazpod (uid 1000) is host uid 1000")


def test_unmapped_user_and_missing_user() -> None:
    found = usermap.parse(_probe("0 300000 1000\n"), "tazpod")
    assert found.describe().endswith("is unmapped")
    assert "no host uid" in (found.workspace_problem(1000, 1000) or "")
    with pytest.raises(EngineError, match="no user 'nobody-here'"):
        usermap.parse(_probe(REMAPPED), "nobody-here")
    with pytest.raises(EngineError, match="unexpected output"):
        usermap.parse("garbage", "tazpod")


def test_the_subgid_lines_split_around_the_users_gid() -> None:
    """Code review: a user of uid 1001 and gid 100 got uid-split gid lines."""
    passwd = "tazpod:x:1001:100::/home/tazpod:/bin/bash\n"
    found = usermap.parse(f"{REMAPPED}--\n{REMAPPED}--\n{passwd}", "tazpod")
    assert found.subordinate_lines(1000) == [
        "dockremap:300000:1001",
        "dockremap:1000:1",
        "dockremap:301002:64534",
    ]
    assert found.subordinate_gid_lines(1000) == [
        "dockremap:300000:100",
        "dockremap:1000:1",
        "dockremap:300101:65435",
    ]
