"""The access rules: globs, groups, robots, anonymous pull, and the default without rules."""

from __future__ import annotations

from registry.auth.rules import ANONYMOUS, EVERYTHING_FOR_USERS, Identity, Policy, Rule
from registry.auth.scopes import Scope, parse_all

ALICE, BOB, CAROL, CI = Identity("alice"), Identity("bob"), Identity("carol"), Identity("robot+ci")

POLICY = Policy((
    Rule(("team-a/*",), frozenset({"pull", "push"}), groups=frozenset({"team-a"})),
    Rule(("team-a/*", "shared"), frozenset({"delete"}), users=frozenset({"alice"})),
    Rule(("*",), frozenset({"pull"}), users=frozenset({"*"})),
    Rule(("public/*",), frozenset({"pull"}), anonymous=True),
    Rule(("ci/*",), frozenset({"pull", "push"}), robots=frozenset({"ci"})),
), {"team-a": ("alice", "bob")})


def test_globs_and_groups():
    assert POLICY.actions(ALICE, "team-a/app") == {"pull", "push", "delete"}
    assert POLICY.actions(BOB, "team-a/app") == {"pull", "push"}
    assert POLICY.actions(BOB, "team-a/deep/nested") == {"pull", "push"}  # * crosses "/"
    assert POLICY.actions(BOB, "team-ab/app") == {"pull"}  # only through "*" for every user
    assert POLICY.actions(ALICE, "shared") == {"pull", "delete"}
    assert POLICY.actions(CAROL, "team-a/app") == {"pull"}


def test_anonymous_pull_only_where_a_rule_allows():
    assert POLICY.actions(ANONYMOUS, "public/base") == {"pull"}
    assert POLICY.actions(ANONYMOUS, "team-a/app") == set()
    assert POLICY.actions(CAROL, "public/base") == {"pull"}  # anonymous rules cover everyone


def test_robots_get_only_rules_naming_them():
    assert POLICY.actions(CI, "ci/tool") == {"pull", "push"}
    assert POLICY.actions(CI, "team-a/app") == set()  # not a user: "*" users is not for robots
    assert POLICY.actions(CI, "public/base") == {"pull"}
    assert POLICY.actions(Identity("robot+other"), "ci/tool") == set()


def test_a_user_named_like_a_group_member_of_no_group():
    policy = Policy(POLICY.rules, {})  # team-a undefined: nobody is in it
    assert policy.actions(BOB, "team-a/app") == {"pull"}


def test_without_rules_every_user_may_do_everything_and_robots_nothing():
    policy = Policy(EVERYTHING_FOR_USERS)
    assert policy.actions(CAROL, "any/thing") == {"pull", "push", "delete"}
    assert policy.actions(ANONYMOUS, "any/thing") == set()
    assert policy.actions(CI, "any/thing") == set()


def test_grant_is_the_intersection():
    requested = parse_all(["repository:team-a/app:pull,push,delete",
                           "repository:team-a/web:delete registry:catalog:*",
                           "registry:catalog:pull", "repository(plugin):ci/tool:push",
                           "somethingelse:x:pull", "junk"])
    assert [str(s) for s in POLICY.grant(BOB, requested)] == [
        "repository:team-a/app:pull,push", "registry:catalog:*"]
    assert [str(s) for s in POLICY.grant(CI, requested)] == [
        "registry:catalog:*", "repository:ci/tool:push"]


def test_scope_parsing():
    assert Scope.parse("repository:localhost:5000/app:pull,push") == Scope(
        "repository", "localhost:5000/app", ("pull", "push"))
    assert Scope.parse("repository:app:") == Scope("repository", "app", ())
    assert Scope.parse("repository:app") is None
    assert Scope.parse(":app:pull") is None
    assert str(Scope("repository", "a/b", ("pull", "push"))) == "repository:a/b:pull,push"
