"""The builder: a parsed Dockerfile and a context in, an image in the store out.

Stages are resolved first: only those the target needs (through FROM,
``COPY --from`` and ``RUN --mount=from=``) are built, each as an asyncio
task that waits for the stages it needs, so independent stages build
concurrently. Within a stage, each step is expanded with the stage's
variables (``dockerfile.scope``), keyed for the cache, and either found in
the cache or executed: metadata steps change the config, COPY/ADD stage
files into a fresh directory, RUN runs a container; a directory of changes
becomes one reproducible layer blob, and is then moved into the layer store
as that layer's unpacked files (nothing is unpacked again). Other stages'
and images' files are read through an overlay view of their layers
(``rootview``); everything temporary lives in the build's locked scratch
directory (``scratch``), which the next build sweeps if this one is killed.

Everything a build writes is held by a store lease until the image is
tagged, and nothing is tagged unless every stage succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runtime.mounts import secure_join

from ocispec import mediatypes
from ocispec.digest import Digest
from ocispec.manifest import Descriptor
from ocispec.reference import Reference

from ..errors import DockyardError
from ..layers.store import adopt_layer, chain_id
from ..store import ImageStore
from ..store.leases import AsyncLease
from . import container, git, rootview, transfer
from .agent import agent_proxy
from .cache import BuildCache, CachedLayer, step_key
from .cachemounts import cache_directory
from .context import BuildContext, stage_sources
from .dockerfile import instructions as ins
from .dockerfile import parse
from .dockerignore import DockerIgnore
from .dockerfile.scope import StageScope, env_from_list, expand_from, global_args, platform_args
from .image import DEFAULT_PATH, ImageState, timestamp
from .layertar import LayerBlob, is_empty, write_layer
from .progress import PlainProgress, TtyProgress
from .runmounts import Forwarded, needs_private, oci_mounts, private_directory
from .scratch import Scratch

_METADATA = (ins.Env, ins.Label, ins.Cmd, ins.Entrypoint, ins.User, ins.Expose, ins.Volume,
             ins.StopSignal, ins.Shell, ins.Healthcheck, ins.Onbuild, ins.Maintainer)


Progress = PlainProgress | TtyProgress


@dataclass
class BuildOptions:
    tags: list[Reference] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    platform: str = "linux/amd64"
    labels: dict[str, str] = field(default_factory=dict)
    compression: str = "gzip"
    docker_format: bool = False
    epoch: int | None = None          # SOURCE_DATE_EPOCH
    network: str = "bridge"           # what RUN's --network=default means (network.MODES)
    forwarded: Forwarded = field(default_factory=Forwarded)  # --secret and --ssh
    allow: frozenset[str] = frozenset()  # entitlements (--allow): network.host
    contexts: dict[str, str] = field(default_factory=dict)  # --build-context NAME=VALUE


@dataclass
class StageResult:
    state: ImageState
    key: str                      # cache key of its last step
    chain: list[Digest]           # chain IDs of its layers, bottom first


class Builder:
    def __init__(self, store: ImageStore, dockerfile: ins.Dockerfile, context: BuildContext,
                 options: BuildOptions, progress: Progress | None = None,
                 pull: Callable[[Reference], Awaitable[None]] | None = None) -> None:
        """``pull`` fetches a base image the store lacks (or every one, with --pull);
        progress defaults to plain lines on stderr."""
        self.store = store
        self.dockerfile = dockerfile
        self.context = context
        self.options = options
        self.progress = progress or PlainProgress(sys.stderr)
        self.cache = BuildCache(store.root / "build-cache")
        context.remembered = self.cache.file_hashes(context.root)
        self.pull = pull
        self.globals = global_args(dockerfile, options.build_args,
                                   platform_args(options.platform, options.platform))
        self.tasks: dict[int, asyncio.Task[StageResult]] = {}
        self.lease: AsyncLease | None = None  # held while build() runs
        self.created = timestamp(options.epoch)
        self.scratch = Path()  # the build's locked scratch directory, while build() runs
        self.commits: dict[git.GitSource, str] = {}
        self.named = {name: _named_context(value) for name, value in options.contexts.items()}

    async def build(self) -> Descriptor:
        """Build the target stage, store the image, tag it; returns its manifest descriptor."""
        target = self._target()
        try:
            async with Scratch(self.store.root / "build-cache" / "tmp",
                               self.store.root) as scratch:
                self.scratch = scratch
                try:
                    async with self.store.lease() as lease:
                        self.lease = lease
                        self._start_dependencies(target, set())
                        result = await self._stage(target.index)
                        descriptor = await self._write_image(result.state)
                        for tag in self.options.tags:
                            await self.store.tag(tag, descriptor)
                finally:
                    for task in self.tasks.values():
                        task.cancel()
                    await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        finally:
            if self.context.remembered is not None:
                await asyncio.to_thread(self.context.remembered.save)
            self.progress.close()
        return descriptor

    def _target(self) -> ins.Stage:
        if self.options.target is None:
            return self.dockerfile.stages[-1]
        stage = self.dockerfile.stage(self.options.target)
        if stage is None:
            raise DockyardError(f"target stage {self.options.target!r} could not be found")
        return stage

    def _stage(self, index: int) -> asyncio.Task[StageResult]:
        """The task building stage ``index`` (started on first need, shared after)."""
        if index not in self.tasks:
            self.tasks[index] = asyncio.ensure_future(
                StageBuild(self, self.dockerfile.stages[index]).run())
        return self.tasks[index]

    def _start_dependencies(self, stage: ins.Stage, seen: set[int]) -> None:
        """Start every stage ``stage`` needs now, so that independent ones build concurrently.

        Names written with variables are found later, when the step expands them.
        """
        seen.add(stage.index)
        names = [stage.source.image]
        for instruction in stage.instructions:
            if isinstance(instruction, ins.Copy) and instruction.from_:
                names.append(instruction.from_)
            elif isinstance(instruction, ins.Run):
                names.extend(mount.from_ for mount in instruction.mounts if mount.from_)
        for name in names:
            needed = self.stage_named(name, stage.index)
            if needed is not None and needed.index not in seen:
                self._start_dependencies(needed, seen)
                self._stage(needed.index)

    def stage_named(self, name: str, before: int) -> ins.Stage | None:
        """The earlier stage ``name`` means (a named build context takes its place)."""
        stage = self.dockerfile.stage(name)
        if name in self.named or stage is None or stage.index >= before:
            return None
        return stage

    def local_context(self, name: str) -> BuildContext | None:
        """The directory a ``--build-context NAME=DIR`` gives, for ``--from=NAME``."""
        named = self.named.get(name)
        return named if isinstance(named, BuildContext) else None

    def image_name(self, name: str) -> str:
        """What FROM or ``--from`` name as an image: ``--build-context NAME=docker-image://``
        replaces it."""
        named = self.named.get(name)
        if isinstance(named, BuildContext):
            raise DockyardError(f"build context {name!r} is a directory: COPY --from and "
                                "RUN --mount=from= can read it, FROM cannot")
        return named or name

    async def _write_image(self, state: ImageState) -> Descriptor:
        state.labels(self.options.labels)
        state.finish(self.created)
        config_bytes = state.config_bytes()
        config_type = mediatypes.DOCKER_CONFIG if self.options.docker_format else \
            mediatypes.OCI_CONFIG
        config_digest = await self._put(config_bytes)
        config = Descriptor(config_type, config_digest, len(config_bytes))
        media_type, manifest = state.manifest_bytes(config, self.options.docker_format)
        digest = await self._put(manifest)
        return Descriptor(media_type, digest, len(manifest))

    async def _put(self, data: bytes) -> Digest:
        digest = Digest.of(data)
        await self.lease.add(digest)
        return await self.store.put_blob(data, digest)

    async def commit(self, source: git.GitSource) -> str:
        """The commit a git source names, asked once per build: the cache key and the
        checkout must agree even if the branch moves meanwhile."""
        if source not in self.commits:
            self.commits[source] = await git.resolve(source)
        return self.commits[source]

    def view(self, chain: list[Digest]) -> contextlib.AbstractContextManager[Path]:
        """The merged, read-only view of a chain's file system, while the block runs."""
        return rootview.merged(self.overlay_layers(chain), self.scratch)

    def overlay_layers(self, chain: list[Digest]) -> list[tuple[str, str]]:
        """The chain as ``mount_overlay`` takes it: bottom first, with xattr namespaces."""
        infos = [self.store.layers.get(cid) for cid in chain]
        return [(str(info.path), info.overlay_xattrs) for info in infos]

    async def adopt(self, chain: list[Digest], layer: LayerBlob, upper: Path) -> None:
        """Move a step's directory in as the unpacked layer written from it: COPY's
        staged files, or a RUN's upper directory once ``write_layer`` scrubbed overlayfs's
        private attributes from it. It holds exactly the layer's files; with
        ``SOURCE_DATE_EPOCH`` the blob's clamped times differ, and the blob is unpacked
        instead."""
        parent = chain[-1] if chain else None
        await self.lease.add(chain_id(parent, layer.diff_id))
        await asyncio.to_thread(adopt_layer, self.store.layers.root, upper, layer.diff_id,
                                parent, layer.content)

    async def unpack(self, chain: list[Digest], layer: Descriptor, diff_id: Digest) -> Digest:
        """Unpack a layer this build made or found cached; returns its chain ID."""
        parent = chain[-1] if chain else None
        await self.lease.add(layer.digest, chain_id(parent, diff_id))
        info = await self.store.layers.unpack(self.store.blobs.path(layer.digest), diff_id,
                                              parent)
        return info.chain_id


class StageBuild:
    """One stage, step by step."""

    def __init__(self, builder: Builder, stage: ins.Stage) -> None:
        self.b = builder
        self.stage = stage
        self.label = stage.name or f"stage-{stage.index}"
        self.total = len(stage.instructions) + 1

    async def run(self) -> StageResult:
        source = expand_from(self.stage, self.b.globals, self.b.dockerfile)
        step = self.b.progress.start(f"[{self.label} 1/{self.total}] FROM {source.image}")
        result = await self._base(source)
        self.b.progress.done(step)
        scope = StageScope(self.b.dockerfile, self.b.options.build_args, self.b.globals,
                           env=env_from_list(result.state.env))
        triggers = result.state.run_config.pop("OnBuild", None) or []
        steps = [*self._triggers(triggers), *self.stage.instructions]
        for number, instruction in enumerate(steps, 2):
            expanded, used = scope.step(instruction)
            result = await self._step(result, expanded, used, scope, number)
        return result

    def _triggers(self, expressions: list[str]) -> list[ins.Instruction]:
        if not expressions:
            return []
        parsed = parse("FROM scratch\n" + "\n".join(expressions) + "\n", "ONBUILD")
        return parsed.stages[0].instructions

    async def _base(self, source: ins.From) -> StageResult:
        if source.image.lower() == "scratch":
            platform = source.platform or self.b.options.platform
            return StageResult(ImageState.scratch(platform), step_key("scratch", platform), [])
        earlier = self.b.stage_named(source.image, self.stage.index)
        if earlier is not None:
            parent = await self.b._stage(earlier.index)
            return StageResult(parent.state.copy(), parent.key, list(parent.chain))
        return await self._image(self.b.image_name(source.image))

    async def _image(self, name: str) -> StageResult:
        from ..localimages import find, platform_manifest
        from ..platforms import Platform
        from ..store.errors import ImageNotFound

        reference = Reference.parse(name)
        try:
            if self.b.options.pull:
                raise ImageNotFound(name)
            _, entry = await find(self.b.store, name)
        except ImageNotFound:
            if self.b.pull is None:
                raise DockyardError(f"base image {name} is not in the local store") from None
            await self.b.pull(reference)
            _, entry = await find(self.b.store, name)
        descriptor = await platform_manifest(self.b.store, entry,
                                             Platform.parse(self.b.options.platform))
        await self.b.lease.add(descriptor.digest)
        manifest = await self.b.store.manifest(descriptor)
        config = await self.b.store.config(descriptor)
        infos = await self.b.store.unpack(descriptor)
        state = ImageState.from_base(config, list(manifest.layers))
        return StageResult(state, step_key("image", str(descriptor.digest)),
                           [info.chain_id for info in infos])

    async def _step(self, result: StageResult, instruction: ins.Instruction,
                    used: Mapping[str, str], scope: StageScope, number: int) -> StageResult:
        title = f"[{self.label} {number}/{self.total}] {instruction.text}"
        state = result.state
        if isinstance(instruction, ins.Arg):
            return StageResult(state, step_key(result.key, instruction.text, used), result.chain)
        if isinstance(instruction, _METADATA):
            state.apply(instruction)
            state.history(_created_by(instruction), None, empty_layer=True)
            return StageResult(state, step_key(result.key, repr(instruction), used),
                               result.chain)
        if isinstance(instruction, ins.Run):
            _check_allowed(instruction, self.b.options.allow)
        step = self.b.progress.start(title)
        if isinstance(instruction, ins.Workdir):
            state.apply(instruction)
        content = await self._sources_key(instruction)
        key = step_key(result.key, repr(instruction), used, content)
        cached = None if self.b.options.no_cache else self.b.cache.get(key)
        if cached is not None and (cached.layer is None
                                   or await self.b.store.has_blob(cached.layer.digest)):
            self.b.progress.cached(step)
        else:
            try:
                cached = await self._execute(result, instruction, scope, step)
            except Exception as err:
                self.b.progress.error(step, str(err))
                raise
            self.b.cache.put(key, cached)
            self.b.progress.done(step)
        chain = list(result.chain)
        if cached.layer is not None and cached.diff_id is not None:
            state.add_layer(LayerBlob(cached.layer.digest, cached.diff_id, cached.layer.size,
                                      cached.layer.media_type))
            chain.append(await self.b.unpack(result.chain, cached.layer, cached.diff_id))
        created = self.b.created if self.b.options.epoch is not None else \
            cached.created or self.b.created
        state.history(_created_by(instruction, used, state.shell), created,
                      empty_layer=cached.layer is None)
        return StageResult(state, key, chain)

    async def _sources_key(self, instruction: ins.Instruction) -> str | None:
        """What COPY/ADD read: the context's content hash, or the source stage's key."""
        context = self.b.context
        if isinstance(instruction, ins.Copy) and instruction.from_:
            context = self.b.local_context(instruction.from_)
            if context is None:
                return (await self._from(instruction.from_)).key
        if isinstance(instruction, ins.Copy | ins.Add):
            local = tuple(s for s in instruction.sources if not _is_url(s))
            matches = context.match(local, instruction.keyword)
            content = await asyncio.to_thread(context.content_digest, matches)
            commits = [await self.b.commit(git.GitSource.parse(s)) for s in instruction.sources
                       if isinstance(instruction, ins.Add) and git.is_git_url(s)]
            return step_key(content, *commits) if commits else content
        return None

    async def _execute(self, result: StageResult, instruction: ins.Instruction,
                       scope: StageScope, step: int) -> CachedLayer:
        work = Path(tempfile.mkdtemp(dir=self.b.scratch))
        try:
            if isinstance(instruction, ins.Run):
                upper = await self._run(result, instruction, scope, work, step)
            else:
                upper = work / "upper"
                upper.mkdir()
                await self._transfer(result, instruction, upper)
            if is_empty(upper):
                return CachedLayer(None, None, self.b.created)
            layer = await asyncio.to_thread(write_layer, upper, self.b.store.blobs,
                                            self.b.options.compression, self.b.options.epoch,
                                            isinstance(instruction, ins.Run))
            await self.b.lease.add(layer.digest)
            if self.b.options.epoch is None:
                await self.b.adopt(result.chain, layer, upper)
            return CachedLayer(Descriptor(layer.media_type, layer.digest, layer.size),
                               layer.diff_id, self.b.created)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _run(self, result: StageResult, run: ins.Run, scope: StageScope, work: Path,
                   step: int) -> Path:
        state = result.state
        workdir = state.run_config.get("WorkingDir") or "/"
        network = run.network if run.network not in (None, "default") else \
            self.b.options.network

        def show(chunk: bytes) -> None:
            for line in chunk.decode(errors="replace").splitlines():
                self.b.progress.log(step, line)

        async with contextlib.AsyncExitStack() as stack:
            views = {}
            for name in {mount.from_ for mount in run.mounts if mount.from_}:
                if self.b.local_context(name) is None:
                    views[name] = stack.enter_context(
                        self.b.view((await self._from(name)).chain))

            def bind_source(mount: ins.Mount) -> Path:
                relative = (mount.source or "").lstrip("/")
                context = self.b.local_context(mount.from_) if mount.from_ else self.b.context
                if context is not None:
                    return context.tree(relative, Path(tempfile.mkdtemp(dir=work)) / "tree")
                source = Path(secure_join(str(views[mount.from_]), relative))
                if not os.path.lexists(source):
                    raise DockyardError(f"--mount=type=bind: {mount.source or '/'} not found "
                                        f"in {mount.from_}")
                return source

            caches = {}
            for index, mount in enumerate(run.mounts):
                if mount.type == "cache":
                    caches[index] = await stack.enter_async_context(cache_directory(
                        self.b.cache, mount.id or posixpath.join(workdir, mount.target or ""),
                        mount.option("sharing", "shared") or "shared"))
            private = stack.enter_context(private_directory(work)) \
                if needs_private(run) else None
            mounts = oci_mounts(run, workdir, caches, bind_source,
                                self.b.options.forwarded, private)
            for relay in mounts.agents:
                await stack.enter_async_context(
                    agent_proxy(relay.agent, relay.socket, relay.uid, relay.gid, relay.mode))
            env = {**scope.run_environment(), **mounts.env}
            env.setdefault("PATH", DEFAULT_PATH)
            spec = container.RunSpec(
                argv=container.run_argv(run, state.shell), env=env, cwd=workdir,
                user=state.run_config.get("User") or "", network=network, mounts=mounts.mounts)
            return await container.run_step(work, self.b.overlay_layers(result.chain), spec,
                                            self.b.store.root, show)

    async def _from(self, name: str) -> StageResult:
        """What ``--from`` names: an earlier stage, else an image (pulled if missing)."""
        earlier = self.b.stage_named(name, self.stage.index)
        if earlier is not None:
            return await self.b._stage(earlier.index)
        return await self._image(self.b.image_name(name))

    async def _transfer(self, result: StageResult, instruction: ins.Instruction,
                        upper: Path) -> None:
        with self.b.view(result.chain) as root:
            if isinstance(instruction, ins.Workdir):
                stager = transfer.Stager(upper, root, 0, 0)
                path = stager.resolve(result.state.run_config.get("WorkingDir") or "/", True)
                if rootview.lstat(root, path) is None:
                    stager.parents(path)
                    stager.directory(path, None)
                return
            assert isinstance(instruction, ins.Copy | ins.Add)
            uid, gid = transfer.owner(instruction.chown, root)
            chmod = int(instruction.chmod, 8) if instruction.chmod else None
            await self._place(result.state, instruction,
                              transfer.Stager(upper, root, uid, gid, chmod))

    async def _place(self, state: ImageState, instruction: ins.Copy | ins.Add,
                     stager: transfer.Stager) -> None:
        """COPY/ADD's sources, staged: heredocs, downloads, git trees, archives, files."""
        dest = transfer.destination(instruction.dest, state.run_config.get("WorkingDir"))
        count = len(instruction.sources) + len(instruction.heredocs)
        parents = isinstance(instruction, ins.Copy) and instruction.parents
        dest_is_dir = instruction.dest.endswith("/") or count > 1 or parents or \
            stager.is_dir(dest)
        dest = stager.resolve(dest, follow=dest_is_dir)
        for doc in instruction.heredocs:
            path = posixpath.join(dest, doc.name) if dest_is_dir else dest
            stager.data(doc.content.encode(), path, self.b.options.epoch)
        named = self.b.local_context(instruction.from_) \
            if isinstance(instruction, ins.Copy) and instruction.from_ else None
        if named is not None:
            sources = named.sources(instruction.sources, "COPY")
            await asyncio.to_thread(stager.copy, sources, dest, dest_is_dir,
                                    instruction.exclude, parents)
            return
        if isinstance(instruction, ins.Copy) and instruction.from_:
            with self.b.view((await self._from(instruction.from_)).chain) as source_root:
                sources = await asyncio.to_thread(stage_sources, source_root,
                                                  instruction.sources, "COPY")
                await asyncio.to_thread(stager.copy, sources, dest, dest_is_dir,
                                        instruction.exclude, parents)
            return
        local = tuple(s for s in instruction.sources if not _is_url(s))
        sources = self.b.context.sources(local, instruction.keyword) if local else []
        if isinstance(instruction, ins.Add):
            for url in (s for s in instruction.sources if _is_url(s)):
                if git.is_git_url(url):
                    await self._clone(url, instruction, stager, dest)
                else:
                    await self._download(url, instruction.checksum, stager, dest, dest_is_dir)
            archives = [s for s in sources
                        if not s.match.is_dir and transfer.is_archive(s.match.path)]
            for archive in archives:
                await asyncio.to_thread(stager.extract, archive.match.path, dest)
            sources = [s for s in sources if s not in archives]
        await asyncio.to_thread(stager.copy, sources, dest, dest_is_dir, instruction.exclude,
                                parents)

    async def _clone(self, url: str, add: ins.Add, stager: transfer.Stager,
                     dest: str) -> None:
        """ADD of a git repository; ``--checksum`` is then the commit it must be at."""
        source = git.GitSource.parse(url)
        commit = await self.b.commit(source)
        if add.checksum and not commit.startswith(add.checksum):
            raise DockyardError(f"ADD {url}: the ref is at commit {commit}, not "
                                f"{add.checksum} (--checksum)")
        into = Path(tempfile.mkdtemp(dir=self.b.scratch))
        try:
            tree = await git.checkout(source, commit, into / "repo", add.keep_git_dir)
            context = await asyncio.to_thread(BuildContext, tree, DockerIgnore([]))
            await asyncio.to_thread(stager.copy, context.sources((".",), "ADD"), dest, True)
        finally:
            await asyncio.to_thread(shutil.rmtree, into, True)

    async def _download(self, url: str, checksum: str | None, stager: transfer.Stager,
                        dest: str, dest_is_dir: bool) -> None:
        """ADD of a URL: streamed to a file beside the staged directory while it is
        hashed, checked against ``--checksum``, then moved into place."""
        import email.utils
        import hashlib

        import aiohttp

        fd, name = tempfile.mkstemp(dir=stager.upper.parent)
        download = Path(name)
        try:
            digest = hashlib.sha256()
            with open(fd, "wb") as out:
                async with aiohttp.ClientSession() as session, session.get(url) as response:
                    if response.status != 200:
                        raise DockyardError(f"ADD {url}: HTTP {response.status}")
                    modified = response.headers.get("Last-Modified")
                    async for chunk in response.content.iter_chunked(1 << 20):
                        digest.update(chunk)
                        await asyncio.to_thread(out.write, chunk)
            got = f"sha256:{digest.hexdigest()}"
            if checksum and got != checksum:
                raise DockyardError(f"ADD {url}: digest mismatch: expected {checksum}, "
                                    f"got {got}")
            base = posixpath.basename(url.split("?")[0].rstrip("/")) or "index.html"
            mtime = email.utils.parsedate_to_datetime(modified).timestamp() \
                if modified else None
            path = posixpath.join(dest, base) if dest_is_dir else dest
            await asyncio.to_thread(stager.place, download, path, mtime)
        finally:
            download.unlink(missing_ok=True)


def _named_context(value: str) -> BuildContext | str:
    """``--build-context`` values: ``docker-image://REF`` (an image name) or a directory
    (a context of its own, with its own .dockerignore)."""
    if value.startswith("docker-image://"):
        return value.removeprefix("docker-image://")
    if "://" in value or not Path(value).is_dir():
        raise DockyardError(f"--build-context {value!r}: expected a directory or "
                            "docker-image://IMAGE")
    return BuildContext.directory(Path(value))


def _check_allowed(run: ins.Run, allow: frozenset[str]) -> None:
    """BuildKit's entitlements, checked whether or not the step is cached."""
    if run.network == "host" and "network.host" not in allow:
        raise DockyardError("RUN --network=host is not allowed: it gives the step the "
                            "host's network; allow it with --allow network.host")
    if run.security not in (None, "sandbox"):
        raise DockyardError(f"RUN --security={run.security} is not supported: steps "
                            "always run sandboxed")


def _is_url(source: str) -> bool:
    """A remote source of ADD: a URL to download or a git repository."""
    return source.startswith(("http://", "https://")) or git.is_git_url(source)


def _created_by(instruction: ins.Instruction, used: Mapping[str, str] = {},
                shell: tuple[str, ...] = ()) -> str:
    """The history line Docker writes for a step."""
    if isinstance(instruction, ins.Run):
        args = f"|{len(used)} " + " ".join(f"{k}={v}" for k, v in used.items()) + " " \
            if used else ""
        return f"RUN {args}{' '.join(container.run_argv(instruction, shell))} # buildkit"
    if isinstance(instruction, ins.Copy | ins.Add):
        return f"{instruction.text} # buildkit"
    return instruction.text
