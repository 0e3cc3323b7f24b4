"""The Dockerfile parser over real-world constructs, and its errors on malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.build.dockerfile import DockerfileError, parse
from client.build.dockerfile import instructions as ins
from client.build.dockerfile.lexer import ShellLexer
from client.build.dockerfile.scope import (
    StageScope, expand_from, global_args, platform_args, unconsumed_build_args)

CORPUS = Path(__file__).parent / "dockerfiles"


def corpus(name: str) -> ins.Dockerfile:
    return parse((CORPUS / name).read_text(), name)


def expanded(dockerfile: ins.Dockerfile, stage: int = 0, build_args: dict | None = None,
             env: dict | None = None) -> list[ins.Instruction]:
    build_args = build_args or {}
    globals_ = global_args(dockerfile, build_args, platform_args("linux/amd64", "linux/amd64"))
    scope = StageScope(dockerfile, build_args, globals_, env=dict(env or {}))
    return [scope.step(instruction)[0] for instruction in dockerfile.stages[stage].instructions]


# --- real-world files -------------------------------------------------------------------------

def test_python_official_continuations_and_comments():
    dockerfile = corpus("python-official.Dockerfile")
    (stage,) = dockerfile.stages
    assert stage.source.image == "buildpack-deps:bookworm"
    env_path, env_lang, run, *_rest, cmd = stage.instructions
    assert env_path.pairs == (("PATH", "/usr/local/bin:$PATH"),)
    assert env_lang.pairs == (("LANG", "C.UTF-8"),)
    assert isinstance(run, ins.Run) and run.command.shell
    text = run.command.args[0]
    assert "# the next line" not in text          # comment lines inside continuations vanish
    assert "tk-dev \t\tuuid-dev" in text          # lines joined, their indentation kept
    assert text.startswith("set -eux; \tapt-get update;")
    assert run.line == 10
    assert cmd.command == ins.CommandLine(("python3",), shell=False)
    assert dockerfile.warnings == []


def test_python_official_empty_continuation_line_is_a_warning():
    dockerfile = corpus("python-official.Dockerfile")
    run = dockerfile.stages[0].instructions[5]
    assert "wget -O python.tar.xz" in run.command.args[0]
    # "\t\\" alone is a continuation of nothing, not an empty one: no warning
    assert not any("empty continuation" in w for w in dockerfile.warnings)
    with_gap = parse("FROM a\nRUN echo a \\\n\n    b\n")
    assert with_gap.stages[0].instructions[0].command.args == ("echo a     b",)
    assert with_gap.warnings == [
        "Dockerfile:2: empty continuation line (deprecated; a future Docker release will "
        "reject it)"]


def test_nginx_official():
    dockerfile = corpus("nginx-official.Dockerfile")
    kinds = [type(i).__name__ for i in dockerfile.stages[0].instructions]
    assert kinds == ["Label", "Env", "Env", "Env", "Run", "Copy", "Copy", "Entrypoint", "Expose",
                     "StopSignal", "Cmd"]
    label, env, *_ = dockerfile.stages[0].instructions
    assert label.pairs == (("maintainer", '"NGINX Docker Maintainers <docker-maint@nginx.com>"'),)
    assert env.pairs == (("NGINX_VERSION", "1.25.3"),)  # legacy form, extra spaces dropped
    out = expanded(dockerfile)
    assert out[0].pairs == (("maintainer", "NGINX Docker Maintainers <docker-maint@nginx.com>"),)
    assert out[-1].command.argv(("/bin/sh", "-c")) == ["nginx", "-g", "daemon off;"]
    assert out[-2].signal == "SIGQUIT"
    copy = out[5]
    assert (copy.sources, copy.dest) == (("docker-entrypoint.sh",), "/")


def test_multistage_args_flags_and_case_insensitive_keywords():
    dockerfile = corpus("multistage.Dockerfile")
    assert dockerfile.directives == {"syntax": "docker/dockerfile:1.6"}
    assert "noted and ignored" in dockerfile.warnings[0]
    assert [a.args for a in dockerfile.meta_args] == [(("GO_VERSION", "1.21"),),
                                                      (("ALPINE_VERSION", "3.19"),)]
    build, final, debug = dockerfile.stages
    assert (build.name, final.name, debug.name) == ("build", "final", "debug")
    globals_ = global_args(dockerfile, {"GO_VERSION": "1.22"},
                           platform_args("linux/arm64/v8", "linux/amd64"))
    source = expand_from(build, globals_, dockerfile)
    assert source.image == "golang:1.22-alpine3.19"
    assert source.platform == "linux/amd64"
    assert expand_from(debug, globals_, dockerfile).image == "final"
    assert dockerfile.stage("0") is build and dockerfile.stage("FINAL") is final

    mounts = build.instructions[3].mounts
    assert [(m.type, m.target, m.source) for m in mounts] == [
        ("cache", "/go/pkg/mod", None), ("bind", "go.sum", "go.sum")]
    scope = StageScope(dockerfile, {"GO_VERSION": "1.22"}, globals_)
    steps = [scope.step(i) for i in build.instructions]
    assert steps[1] == (build.instructions[1], {})
    run, used = steps[4]
    assert run.mounts[0].id == "gobuild-arm64"
    # RUN depends on every ARG in scope: they are its environment
    assert used == {"GO_VERSION": "1.22", "TARGETARCH": "arm64", "TARGETOS": "linux"}
    assert scope.run_environment()["TARGETARCH"] == "arm64"

    run_final, user, copy, *_ = final.instructions
    assert run_final.network == "none"
    assert user.user == "appuser"
    assert (copy.from_, copy.chown, copy.chmod) == ("build", "appuser:appuser", "0755")
    assert final.instructions[-1].command.args == ("/bin/server",)
    assert isinstance(debug.instructions[0], ins.Copy) and debug.instructions[0].from_ == "0"


def test_arg_scoping_before_and_after_from():
    dockerfile = parse(
        "ARG V=1\nARG G=$V-g\nFROM img:$V\nRUN echo\nLABEL a=x$V\nARG V\nLABEL b=$V c=$G\n"
        "ARG L=local\nENV L=env\nLABEL d=$L\n")
    globals_ = global_args(dockerfile, {})
    assert globals_ == {"V": "1", "G": "1-g"}
    assert expand_from(dockerfile.stages[0], globals_, dockerfile).image == "img:1"
    out = expanded(dockerfile)
    assert out[1].pairs == (("a", "x"),)              # global ARGs are not visible in the stage
    assert out[3].pairs == (("b", "1"), ("c", ""))    # until redeclared; G was not
    assert out[6].pairs == (("d", "env"),)             # ENV wins over ARG
    assert expanded(dockerfile, build_args={"V": "2"})[3].pairs == (("b", "2"), ("c", ""))
    assert unconsumed_build_args(dockerfile, {"V": "2", "NOPE": "x", "http_proxy": "p"}) == [
        "NOPE"]


def test_arg_without_value_and_build_arg_precedence():
    dockerfile = parse("FROM a\nARG A B=dflt C\nENV out=$A-$B-$C\n")
    assert dockerfile.stages[0].instructions[0].args == (("A", None), ("B", "dflt"), ("C", None))
    assert expanded(dockerfile, build_args={"B": "cli", "C": ""})[1].pairs == (
        ("out", "-cli-"),)


def test_base_image_env_is_visible_to_substitution():
    dockerfile = parse("FROM golang\nWORKDIR $GOPATH/src\n")
    assert expanded(dockerfile, env={"GOPATH": "/go"})[0].path == "/go/src"


# --- substitution rules ---------------------------------------------------------------------

def test_substitution_in_every_instruction_that_substitutes():
    dockerfile = corpus("substitution.Dockerfile")
    out = expanded(dockerfile)
    env = {}
    for instruction in out:
        if isinstance(instruction, ins.Env):
            env.update(instruction.pairs)
    assert env["def"] == "hello" and env["ghi"] == "bye"  # one ENV sees values from before it
    assert env["unquoted"] == "bye" and env["quoted"] == "bye there"
    assert env["single"] == "$abc" and env["escaped"] == "$abc"
    assert (env["dflt"], env["dflt2"], env["dflt3"]) == ("fallback", "fallback", "")
    assert (env["alt"], env["alt2"], env["alt3"], env["alt4"]) == ("alt", "", "alt", "")
    assert env["nested"] == "bye-x"
    assert (env["trim1"], env["trim2"], env["trim3"], env["trim4"]) == (
        "archive.tar", "archive", "tar.gz", "gz")
    assert env["swap"] == "archive.zip.gz"
    by_kind = {type(i).__name__: i for i in out}
    assert by_kind["Workdir"].path == "/srv/bye"
    assert by_kind["User"].user == "bye:bye"
    assert by_kind["Label"].pairs == (("com.example.bye", "v=bye"), ("other", "two words"))
    assert by_kind["Expose"].ports == ("80/",)  # unset variables are empty, then dropped
    assert by_kind["Volume"].paths == ("/data/bye",)
    assert by_kind["StopSignal"].signal == "SIGbye"
    add = by_kind["Add"]
    assert (add.chown, add.sources, add.dest) == ("bye:bye", ("file-bye.txt",), "/dst/bye/")
    # the shell does it for RUN and CMD; ONBUILD is kept as written for the child build
    assert by_kind["Run"].command.args == ("echo $abc ${abc}",)
    assert by_kind["Cmd"].command.args == ("echo $abc",)
    assert by_kind["Onbuild"].expression == "COPY $abc /x"


@pytest.mark.parametrize("text, env, result", [
    ("$a", {"a": "1"}, "1"),
    ("${a}b", {"a": "1"}, "1b"),
    ("$ab", {"a": "1"}, ""),
    ("\\$a", {"a": "1"}, "$a"),
    ("'$a'", {"a": "1"}, "$a"),
    ('"$a"', {"a": "1"}, "1"),
    ('"\\$a \\"q\\" \\n"', {"a": "1"}, '$a "q" \\n'),
    ("a\\ b", {}, "a b"),
    ("$", {}, "$"),
    ("a$", {}, "a$"),
    ("$1x", {"1": "one"}, "onex"),
    ("${a:-$b}", {"b": "B"}, "B"),
    ("${a:-'x y'}", {}, "x y"),
    ("${a:?}", {"a": "set"}, "set"),
    ("${a//o/0}", {"a": "foo boo"}, "f00 b00"),
    ("${a/o/0}", {"a": "foo"}, "f0o"),
    ("${a#*/}", {"a": "a/b/c"}, "b/c"),
    ("${a##*/}", {"a": "a/b/c"}, "c"),
    ("${a%/*}", {"a": "a/b/c"}, "a/b"),
    ("${a%%/*}", {"a": "a/b/c"}, "a"),
    ("trailing\\", {}, "trailing"),
])
def test_lexer_words(text, env, result):
    assert ShellLexer().word(text, env) == result


def test_lexer_backtick_escape_and_word_splitting():
    assert ShellLexer("`").word("a`$b `\\c", {"b": "x"}) == "a$b \\c"
    assert ShellLexer().words('$v "q r" s\\ t', {"v": "1 2"}) == ["1", "2", "q r", "s t"]
    expansion = ShellLexer().process("$a $b", {"a": "1"})
    assert (expansion.matched, expansion.unmatched) == ({"a"}, {"b"})


@pytest.mark.parametrize("text, message", [
    ("${a", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:-x}", "syntax error: bad substitution"),
    ("${a!x}", "unsupported modifier (!) in substitution"),
    ("${a:=x}", "unsupported modifier (:=) in substitution"),
    ("${a:?must be set}", "a: must be set"),
    ("${a?}", "a: is not allowed to be unset"),
    ("'open", "unexpected end of statement while looking for matching single-quote"),
    ('"open', "unexpected end of statement while looking for matching double-quote"),
    ("${a/x", "syntax error: missing '/' in ${}"),
])
def test_lexer_errors(text, message):
    with pytest.raises(DockerfileError) as err:
        ShellLexer().word(text, {})
    assert err.value.message == f"failed to process {json.dumps(text)}: {message}"


def test_substitution_error_names_file_and_line():
    dockerfile = parse("FROM a\n\nWORKDIR ${X:?is required}\n", "app/Dockerfile")
    with pytest.raises(DockerfileError) as err:
        expanded(dockerfile)
    assert str(err.value) == ('app/Dockerfile:3: failed to process "${X:?is required}": '
                              "X: is required")


# --- forms and heredocs ------------------------------------------------------------------------

def test_json_versus_shell_form():
    dockerfile = parse('FROM a\nCMD ["a", "b c"]\nCMD [ "a" , "b" ]  \nCMD ["unterminated"\n'
                       "CMD [\"single\", 'quotes']\nENTRYPOINT []\nRUN [\"a\"] && b\n"
                       'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n')
    cmds = [i.command if hasattr(i, "command") else i.argv
            for i in dockerfile.stages[0].instructions]
    assert cmds == [
        ins.CommandLine(("a", "b c"), False), ins.CommandLine(("a", "b"), False),
        ins.CommandLine(('["unterminated"',), True),
        ins.CommandLine(("[\"single\", 'quotes']",), True),
        ins.CommandLine((), False), ins.CommandLine(('["a"] && b',), True),
        ("/bin/bash", "-o", "pipefail", "-c")]
    assert cmds[2].argv(("/bin/sh", "-c")) == ["/bin/sh", "-c", '["unterminated"']


def test_heredocs():
    dockerfile = corpus("heredocs.Dockerfile")
    run1, run2, run3, copy, run4, run5, run6 = dockerfile.stages[0].instructions[1:]
    assert run1.command.args == ("<<EOF",)
    assert run1.heredocs == (ins.Heredoc("EOF", 'echo "hello $NAME"\n'),)
    assert run2.heredocs == (ins.Heredoc("EOT", "echo tabs are stripped\n", chomp=True),)
    assert run3.heredocs[0].expand is False
    assert [(d.name, d.content, d.expand) for d in copy.heredocs] == [
        ("greeting.txt", "hello $NAME\n", True), ("raw.txt", "raw $NAME\n", False)]
    assert copy.sources == () and copy.dest == "/etc/"
    assert [(d.name, d.fd, d.content) for d in run4.heredocs] == [
        ("CONFIG", 3, "fd three\n"), ("SCRIPT", None, "echo second heredoc\n")]
    assert run5.heredocs == () and run6.heredocs == ()
    assert run6.line == 23
    out = expanded(dockerfile)
    assert [d.content for d in out[4].heredocs] == ["hello world\n", "raw $NAME\n"]
    assert out[1].heredocs[0].content == 'echo "hello $NAME"\n'  # RUN: the shell expands


def test_onbuild_with_heredoc_keeps_the_body():
    dockerfile = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN true\n")
    onbuild, run = dockerfile.stages[0].instructions
    assert onbuild.expression == "RUN <<EOF\necho hi\nEOF"
    assert isinstance(onbuild.trigger, ins.Run)
    assert run.line == 5


def test_windows_escape_directive():
    dockerfile = corpus("windows.Dockerfile")
    assert dockerfile.escape == "`"
    shell, copy, run, env, workdir = dockerfile.stages[0].instructions
    assert shell.argv == ("powershell", "-Command", "$ErrorActionPreference = 'Stop';")
    assert (copy.sources, copy.dest) == (("testfile.txt",), "c:\\")
    assert run.command.args == ("dir c:\\ ;     Write-Host done",)
    assert env.pairs == (("DIR", "C:\\tools"), ("OTHER", "x"))
    out = expanded(dockerfile)
    assert out[3].pairs == (("DIR", "C:\\tools"), ("OTHER", "x"))
    assert out[4].path == "c:\\app"


def test_directives_only_at_the_top_and_case_insensitive():
    dockerfile = parse("# ESCAPE = `\n#check=skip=all\nFROM a\nRUN a `\n b\n")
    assert dockerfile.directives == {"escape": "`", "check": "skip=all"}
    assert dockerfile.stages[0].instructions[0].command.args == ("a  b",)
    late = parse("# comment\n# escape=`\nFROM a\nRUN a \\\n b\n")
    assert late.escape == "\\" and late.directives == {}
    unknown = parse("# foo=bar\n# escape=`\nFROM a\n")
    assert unknown.escape == "\\"
    assert parse("\ufeff# escape=`\nFROM a\n").escape == "`"


def test_escaped_escape_does_not_continue_and_crlf():
    dockerfile = parse("FROM a\r\nRUN echo \\\\\r\nRUN next\r\n")
    first, second = dockerfile.stages[0].instructions
    assert first.command.args == ("echo \\\\",)
    assert second.command.args == ("next",)


def test_env_and_label_forms():
    dockerfile = parse('FROM a\nENV A="x y" B=z\\ w C= D=""\nLABEL version=1.0 '
                       '"multi word"="v"\nenv legacy   spaced   value\n')
    env, label, legacy = expanded(dockerfile)
    assert env.pairs == (("A", "x y"), ("B", "z w"), ("C", ""), ("D", ""))
    assert label.pairs == (("version", "1.0"), ("multi word", "v"))
    assert legacy.pairs == (("legacy", "spaced   value"),)


def test_copy_add_flags():
    dockerfile = parse(
        "FROM a\nCOPY --link --parents --exclude=*.md --exclude=*.txt a b /d/\n"
        "ADD --checksum=sha256:abc --keep-git-dir=true --chmod=644 https://x/y.tgz /\n"
        'COPY ["a b", "/dest dir/"]\n')
    copy, add, copy_json = dockerfile.stages[0].instructions
    assert (copy.link, copy.parents, copy.exclude) == (True, True, ("*.md", "*.txt"))
    assert (add.checksum, add.keep_git_dir, add.chmod) == ("sha256:abc", True, "644")
    assert (copy_json.sources, copy_json.dest) == (("a b",), "/dest dir/")


def test_secret_and_ssh_mounts():
    dockerfile = parse(
        "FROM a\nRUN --mount=type=secret,id=tok,env=TOKEN,required --mount=type=ssh true\n")
    secret, ssh = dockerfile.stages[0].instructions[0].mounts
    assert (secret.type, secret.id, secret.target) == ("secret", "tok", None)
    assert (secret.option("env"), secret.option("required")) == ("TOKEN", "true")
    assert (ssh.type, ssh.id, ssh.target) == ("ssh", None, None)


def test_healthcheck():
    dockerfile = parse("FROM a\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 "
                       'CMD ["curl", "-f", "http://localhost/"]\nHEALTHCHECK NONE\n')
    check, none = dockerfile.stages[0].instructions
    assert check.test == ("CMD", "curl", "-f", "http://localhost/")
    assert (check.interval, check.timeout, check.retries) == (90 * 10**9, 5 * 10**8, 3)
    assert none.test == ("NONE",)


# --- malformed files ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, error", [
    ("", "Dockerfile: file with no instructions"),
    ("# only a comment\n\n", "Dockerfile:2: file with no instructions"),
    ("ARG A=1\n", "Dockerfile: no FROM instruction"),
    ("RUN echo\n", "Dockerfile:1: RUN before the first FROM: only ARG may come before it "
                   "(no build stage in current context)"),
    ("FROM a\nFORM b\n", "Dockerfile:2: unknown instruction: FORM (did you mean FROM?)"),
    ("FROM a\nfoo bar\n", "Dockerfile:2: unknown instruction: foo"),
    ("FROM a b\n", "Dockerfile:1: FROM requires either one argument (FROM image) or three "
                   "(FROM image AS name)"),
    ("FROM a AS 1st\n", "Dockerfile:1: invalid name for build stage: '1st', name can't start "
                        "with a number or contain symbols"),
    ("FROM a AS x\nFROM b AS X\n", "Dockerfile:2: duplicate stage name 'x'"),
    ("# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
    ("# escape=`\n# escape=\\\nFROM a\n",
     "Dockerfile:2: only one escape parser directive can be used"),
    ("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two arguments, but only 1 "
                               "was provided: sources then a destination"),
    ("FROM a\nADD\n", "Dockerfile:2: ADD requires at least two arguments, but only none were "
                      "provided: sources then a destination"),
    ("FROM a\nCOPY a <<EOF\nx\nEOF\n",
     "Dockerfile:2: COPY cannot take a heredoc as its destination"),
    ("FROM a\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc: no line 'EOF' after it"),
    ("FROM a\nCOPY --form=x a b\n",
     "Dockerfile:2: unknown flag: --form (not a flag of COPY)"),
    ("FROM a\nCOPY --from a b\n", "Dockerfile:2: missing a value on flag: --from"),
    ("FROM a\nCOPY --from=x --from=y a b\n",
     "Dockerfile:2: duplicate flag specified: --from"),
    ("FROM a\nCOPY --link=maybe a b\n",
     "Dockerfile:2: expecting boolean value for flag --link, not: maybe"),
    ("FROM a\nRUN\n", "Dockerfile:2: RUN requires at least one argument"),
    ("FROM a\nRUN --network=bridge true\n",
     "Dockerfile:2: unsupported --network=bridge: expected default, none or host"),
    ("FROM a\nRUN --mount=type=cache true\n",
     "Dockerfile:2: --mount=type=cache needs a target: --mount=type=cache,target=/path"),
    ("FROM a\nRUN --mount=type=nfs,target=/x true\n",
     "Dockerfile:2: unsupported mount type 'nfs': expected bind, cache, tmpfs, secret or ssh"),
    ('FROM a\nCMD ["a", 1]\n', "Dockerfile:2: when using JSON array syntax, arrays must be "
                               "comprised of strings only"),
    ("FROM a\nSHELL /bin/bash -c\n", 'Dockerfile:2: SHELL requires the arguments to be in JSON '
                                     'form: SHELL ["executable", "parameters"]'),
    ("FROM a\nENV\n", "Dockerfile:2: ENV requires at least one argument"),
    ("FROM a\nENV onlykey\n", "Dockerfile:2: ENV must have two arguments: ENV key value, or ENV "
                              "key=value ..."),
    ("FROM a\nENV a=1 b\n", "Dockerfile:2: Syntax error - can't find = in 'b'. Must be of the "
                            "form: name=value"),
    ("FROM a\nLABEL =x\n", "Dockerfile:2: LABEL names can not be blank"),
    ("FROM a\nARG =x\n", "Dockerfile:2: ARG names can not be blank"),
    ("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument"),
    ("FROM a\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument"),
    ('FROM a\nVOLUME [""]\n', "Dockerfile:2: VOLUME specified can not be an empty string"),
    ("FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2: missing command after HEALTHCHECK CMD"),
    ("FROM a\nHEALTHCHECK RUN x\n", "Dockerfile:2: unknown type 'RUN' in HEALTHCHECK (try CMD)"),
    ("FROM a\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
    ("FROM a\nHEALTHCHECK --interval=5 CMD x\n", "Dockerfile:2: invalid duration for "
                                                 "--interval: '5' (expected e.g. 30s, 1m30s, "
                                                 "500ms)"),
    ("FROM a\nHEALTHCHECK --retries=0 CMD x\n",
     "Dockerfile:2: --retries must be at least 1 (not 0)"),
    ("FROM a\nONBUILD ONBUILD RUN x\n",
     "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM a\nONBUILD FROM b\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
    ("FROM a\nONBUILD BOGUS x\n", "Dockerfile:2: unknown instruction: BOGUS"),
    ("FROM a\nUSER --x=1 bob\n", "Dockerfile:2: unknown flag: --x (not a flag of USER)"),
])
def test_malformed(text, error):
    with pytest.raises(DockerfileError) as err:
        parse(text)
    assert str(err.value) == error


def test_error_line_is_where_the_instruction_starts():
    text = "FROM a\nRUN echo a \\\n  b \\\n  c\nCOPY x\n"
    with pytest.raises(DockerfileError) as err:
        parse(text, "sub/Containerfile")
    assert str(err.value) == ("sub/Containerfile:5: COPY requires at least two arguments, but "
                              "only 1 was provided: sources then a destination")
