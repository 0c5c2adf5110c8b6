"""`journeys users`: the people who sign in to the console, added with a password from standard input (or one
generated and printed once), listed without passwords, removed; every mistake one line and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

from journeys.store import Store
from tests.support.cli import data_in, run_script


def _store(folder: Path) -> Store:
    return Store.open(data_in(folder)["JOURNEYS_DATABASE_URL"])


def test_a_user_added_with_a_password_on_stdin_signs_in_with_it_and_is_listed_without_it(tmp_path: Path) -> None:
    env = data_in(tmp_path)

    added = run_script("users", "add", "sam", "--role", "support", "--by", "ops", env=env, stdin="s3cret pass\n")
    listed = run_script("users", "list", "--json", env=env)

    assert added.returncode == 0, added.stderr
    assert "s3cret" not in added.stdout
    assert [(u["name"], u["role"], u["created_by"]) for u in json.loads(listed.stdout)] == [("sam", "support", "ops")]
    assert "s3cret" not in listed.stdout and "hash" not in listed.stdout
    store = _store(tmp_path)
    try:
        assert store.signed_in("sam", "s3cret pass") is not None
        assert store.signed_in("sam", "s3cret") is None
        assert store.user("sam").password_hash.startswith("$argon2id$")  # type: ignore[union-attr]
    finally:
        store.close()


def test_without_a_password_on_stdin_one_is_generated_and_printed_once(tmp_path: Path) -> None:
    env = data_in(tmp_path)

    added = run_script("users", "add", "mia", "--role", "marketer", env=env, stdin="")
    listed = run_script("users", "list", env=env)

    assert added.returncode == 0, added.stderr
    password = added.stdout.splitlines()[0].strip()
    assert len(password) >= 12
    assert "mia" in listed.stdout and "marketer" in listed.stdout and password not in listed.stdout
    store = _store(tmp_path)
    try:
        assert store.signed_in("mia", password) is not None
    finally:
        store.close()


def test_removing_a_user_takes_them_off_the_list(tmp_path: Path) -> None:
    env = data_in(tmp_path)
    run_script("users", "add", "sam", "--role", "viewer", env=env, stdin="pw\n")

    removed = run_script("users", "remove", "sam", env=env)

    assert removed.returncode == 0, removed.stderr
    assert json.loads(run_script("users", "list", "--json", env=env).stdout) == []


def test_an_unknown_role_an_existing_user_and_an_unknown_user_are_one_line_errors(tmp_path: Path) -> None:
    env = data_in(tmp_path)
    run_script("users", "add", "sam", "--role", "viewer", env=env, stdin="pw\n")

    role = run_script("users", "add", "kim", "--role", "owner", env=env, stdin="pw\n")
    again = run_script("users", "add", "sam", "--role", "admin", env=env, stdin="pw\n")
    unknown = run_script("users", "remove", "nobody", env=env)

    for result, words in (
        (role, "--role 'owner': expected one of viewer, support, marketer, admin"),
        (again, "a user named 'sam' exists"),
        (unknown, "no user named 'nobody'"),
    ):
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and words in result.stderr and "Traceback" not in result.stderr
    assert [u["role"] for u in json.loads(run_script("users", "list", "--json", env=env).stdout)] == ["viewer"]
