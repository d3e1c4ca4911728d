"""The lake's layout and its one write rule: build a partition aside, then publish it whole.

Layout under the lake root (a local folder, or ``s3://bucket/prefix``)::

    landing/2019-Oct.csv.gz                      monthly dumps as delivered (.csv or .csv.gz; .zip locally)
    raw/events/week=2019-10-28/part-*.csv.gz     the week's lines, unchanged, several parts
    raw/events/week=2019-10-28/part-*.lines.gz   beside each part, its line map: where its lines are in
                                                 the landing file (one row per run of consecutive lines)
    clean/events/week=2019-10-28/*.parquet       Spark-cleaned events
    quarantine/events/week=2019-10-28/*.parquet  rows Spark rejected, with reject_reason, the raw part
                                                 (source_file) and the landing file and line they came from
    quarantine/unroutable/month=2019-10/         lines whose event_time cannot place them in a week, with
                                                 their landing file and line

Partitions are named by keys relative to the root (``raw/events/week=2019-10-28``). Every partition
carries a ``_manifest.json`` with its counts and the ``generation`` that published it (fresh each time, so a
reader can tell that a partition was published again while it read); Spark and DuckDB skip files
starting with ``_``.

Output is always built in a local staging folder (or, for Spark on a cluster, an S3 staging prefix)
and published whole. A local lake swaps folders by rename. S3 has no rename, so a partition's objects
get a fresh generation prefix in their names and the manifest, written last in one PUT, lists the
current generation's files: readers go through the manifest and see the old week or the new one,
never a mix; objects of older or abandoned generations are deleted after the switch. Two runs may
publish the same partition at once (overlapping backfills): a marker object names each generation's
writer while it publishes, and the clean-up after a switch leaves a generation alone until its writer
has finished or is gone, so the last manifest written never names objects another run deleted.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ecommerce_assets.lib.kaggle import file_stem, month_of_name
from ecommerce_assets.lib.settings import split_s3_url

MANIFEST = "_manifest.json"
LANDING_SUFFIXES = (".csv.gz", ".csv")
RAW_SUFFIX = ".csv.gz"
# A raw part's line map, ``part-2019-10-00000.lines.gz`` beside ``part-2019-10-00000.csv.gz`` (gzip CSV
# with a header). One row per run of consecutive landing lines: the run's first line is line
# ``part_line`` of the part (its header is line 1) and line ``landing_line`` of ``landing_file`` (the
# dump's name as delivered, ``archive.zip:member.csv`` for a zip member; its header is line 1 too).
# Not ``.csv.gz``: listing a week's parts by that suffix must not find it. On S3 it gets the same
# generation prefix as its part, so the part's name minus RAW_SUFFIX plus LINE_MAP_SUFFIX finds it.
LINE_MAP_SUFFIX = ".lines.gz"
LINE_MAP_COLUMNS = ("part_line", "landing_file", "landing_line")
# In a raw week's manifest: when its parts were dropped after the week was cleaned (raw retention).
PARTS_DROPPED = "parts_dropped_at"
# On S3, ``<partition>/_publishing.<generation>`` exists while a writer publishes that generation (objects
# ``g<generation>-*``); it holds the writer's host and process id.
PUBLISHING = "_publishing."
_GENERATION = re.compile(r"^g(?P<generation>[0-9a-f]{12})-")
# A writer on another host is taken as gone once its marker is this old: no publish takes a day.
FOREIGN_WRITER_SECONDS = 24 * 3600


_LANDED_HINT = ("Landed: {landed}. Land the month (`ecommerce land`), or bound the months with ECOMMERCE_FIRST_MONTH / "
                "ECOMMERCE_LAST_MONTH and the weeks with ECOMMERCE_FIRST_WEEK / ECOMMERCE_LAST_WEEK.")


class MissingLandingFile(FileNotFoundError):
    """A month expected in the landing zone is not there."""


class MissingPartition(FileNotFoundError):
    """A partition an asset reads has not been materialized."""


class PartitionReplaced(RuntimeError):
    """A partition a run read was published again meanwhile: the run's output could mix both versions."""


class S3RequestFailed(OSError):
    """A request of the S3 lake still failing after the client's own retries, said with the object or prefix it
    was for (botocore's error names only the operation)."""


@dataclass(frozen=True)
class LandingFile:
    """A month's dump: a local file, a CSV inside a local zip (the Kaggle download as is), or an S3 object."""

    path: Path | str  # a local path, or s3://bucket/key
    member: str | None = None
    client: Any = field(default=None, compare=False, repr=False)  # boto3 S3 client for s3:// paths
    object_size: int | None = field(default=None, compare=False)
    etag: str | None = field(default=None, compare=False)  # an S3 object's: changes with its content
    metadata: dict[str, str] = field(default_factory=dict, compare=False)  # an S3 object's user metadata

    @property
    def name(self) -> str:
        base = Path(str(self.path)).name
        return f"{base}:{self.member}" if self.member else base

    @property
    def size(self) -> int:
        if self.object_size is not None:
            return self.object_size
        if self.member:
            with zipfile.ZipFile(self.path) as archive:
                return archive.getinfo(self.member).file_size
        return Path(self.path).stat().st_size

    @contextmanager
    def open_stored(self) -> Iterator[IO[bytes]]:
        """The bytes as stored (a .gz still compressed): what the file's checksum is taken over."""
        if self.client is not None:
            bucket, key = split_s3_url(str(self.path))
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                yield body
            finally:
                body.close()
        elif self.member:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as raw:
                yield raw
        else:
            with open(self.path, "rb") as handle:
                yield handle

    @contextmanager
    def open_binary(self) -> Iterator[IO[bytes]]:
        """The dump's bytes, decompressed if it is a .gz; streamed, never loaded whole."""
        with self.open_stored() as stored:
            yield gzip.GzipFile(fileobj=stored) if str(self.path).endswith(".gz") else stored


def _data_files(folder: Path, suffix: str | tuple[str, ...]) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.name.endswith(suffix) and p.is_file() and not p.name.startswith(("_", "."))
    )


class LakeStore(ABC):
    """What assets need from the lake, whatever it is stored on."""

    # -- layout ---------------------------------------------------------------------------------
    @staticmethod
    def raw_week(week: dt.date) -> str:
        return f"raw/events/week={week.isoformat()}"

    @staticmethod
    def clean_week(week: dt.date) -> str:
        return f"clean/events/week={week.isoformat()}"

    @staticmethod
    def rejected_week(week: dt.date) -> str:
        return f"quarantine/events/week={week.isoformat()}"

    @staticmethod
    def unroutable_month(month: dt.date) -> str:
        return f"quarantine/unroutable/month={month:%Y-%m}"

    @property
    @abstractmethod
    def url(self) -> str:
        """The lake root as a path or URL, for messages and metadata."""

    # -- reading ---------------------------------------------------------------------------------
    @abstractmethod
    def landing_file(self, month: dt.date) -> LandingFile: ...

    @abstractmethod
    def months_in_landing(self) -> list[dt.date]:
        """The months with a dump in the landing zone (first days, sorted), without reading any."""

    @abstractmethod
    def read_manifest(self, key: str) -> dict[str, Any]: ...

    @abstractmethod
    def files(self, key: str, suffix: str | tuple[str, ...]) -> list[str]:
        """The published data files of a partition whose names end in ``suffix`` (one, or a tuple of them):
        paths or s3:// URLs, empty if none."""

    @abstractmethod
    def partition_bytes(self, key: str) -> int: ...

    @abstractmethod
    @contextmanager
    def local_files(self, keys: list[str], suffix: str | tuple[str, ...]) -> Iterator[dict[str, list[str]]]:
        """Local paths of the partitions' data files, per key (an S3 lake downloads them for the block)."""

    # -- writing ---------------------------------------------------------------------------------
    @abstractmethod
    def staging(self, name: str) -> Path:
        """A fresh local folder for building output before it is published."""

    @abstractmethod
    def publish(self, staged: Path, key: str, manifest: dict[str, Any]) -> None:
        """Make ``staged`` (a folder of files) the partition ``key``, with its manifest, all at once."""

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    # -- raw retention ---------------------------------------------------------------------------
    def raw_parts_dropped(self, week: dt.date) -> bool:
        """Whether the week's raw parts were dropped once it was clean (its manifest stays); False for a
        week never split (reading it then fails as a missing partition)."""
        try:
            return bool(self.read_manifest(self.raw_week(week)).get(PARTS_DROPPED))
        except MissingPartition:
            return False

    def drop_raw_parts(self, week: dt.date, rows: int) -> bool:
        """Publish the raw week as its manifest alone, if it still holds the ``rows`` that were cleaned (a
        week published again meanwhile keeps its new parts). The landing file is where the lines come
        back from: the clean step splits a dropped week again before it reads it."""
        manifest = self.read_manifest(self.raw_week(week))
        if manifest.get(PARTS_DROPPED) or int(manifest["rows"]) != rows:
            return False
        kept = {k: v for k, v in manifest.items() if k not in ("generation", "files")}
        empty = self.staging(f"raw-dropped-{week}")
        try:
            self.publish(empty, self.raw_week(week), {**kept, PARTS_DROPPED: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
        finally:
            self.discard(empty)
        return True


@dataclass(frozen=True)
class Lake(LakeStore):
    """A lake in a local folder (the embedded default)."""

    root: Path

    @property
    def url(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        return self.root / key

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def landing_file(self, month: dt.date) -> LandingFile:
        """``YYYY-Mon.csv.gz``, ``YYYY-Mon.csv``, or ``YYYY-Mon.csv`` inside a ``.zip`` in the landing zone;
        a clear error names what was expected if none is there."""
        stem = file_stem(month)
        for suffix in LANDING_SUFFIXES:
            candidate = self.landing / f"{stem}{suffix}"
            if candidate.is_file():
                return LandingFile(candidate)
        unreadable = []
        for archive in sorted(self.landing.glob("*.zip")):
            try:  # one damaged archive must not hide the months of the others
                with zipfile.ZipFile(archive) as opened:
                    names = opened.namelist()
            except (zipfile.BadZipFile, OSError) as error:
                unreadable.append(f"{archive.name} ({error})")
                continue
            for member in names:
                if Path(member).name == f"{stem}.csv":
                    return LandingFile(archive, member)
        expected = " or ".join(str(self.landing / f"{stem}{s}") for s in LANDING_SUFFIXES)
        damaged = f"; unreadable zip archive(s) there, which may hold it: {', '.join(unreadable)}" if unreadable else ""
        landed = sorted(p.name for p in self.landing.glob("*") if p.is_file() and not p.name.endswith((".sha256", ".partial")))
        raise MissingLandingFile(
            f"landing file for month {month:%Y-%m} not found: expected {expected}, or {stem}.csv in a .zip there{damaged}. "
            + _LANDED_HINT.format(landed=", ".join(landed) or "nothing")
        )

    def months_in_landing(self) -> list[dt.date]:
        if not self.landing.is_dir():
            return []
        names = [p.name for p in self.landing.iterdir() if p.is_file()]
        for archive in self.landing.glob("*.zip"):
            with suppress(zipfile.BadZipFile, OSError):  # a damaged archive is named when its month is read
                with zipfile.ZipFile(archive) as opened:
                    names += [Path(member).name for member in opened.namelist()]
        return sorted({month for month in map(month_of_name, names) if month is not None})

    def read_manifest(self, key: str) -> dict[str, Any]:
        return read_manifest(self.path(key))

    def files(self, key: str, suffix: str | tuple[str, ...]) -> list[str]:
        folder = self.path(key)
        return [str(p) for p in _data_files(folder, suffix)] if folder.is_dir() else []

    def partition_bytes(self, key: str) -> int:
        return folder_bytes(self.path(key))

    @contextmanager
    def local_files(self, keys: list[str], suffix: str | tuple[str, ...]) -> Iterator[dict[str, list[str]]]:
        yield {key: self.files(key, suffix) for key in keys}

    @property
    def staging_root(self) -> Path:
        # Beside the data, on the same filesystem, so publishing is a rename.
        return self.root / "_staging"

    def staging(self, name: str) -> Path:
        return make_staging(self.staging_root, name)

    def publish(self, staged: Path, key: str, manifest: dict[str, Any]) -> None:
        write_manifest(staged, {**manifest, "generation": uuid.uuid4().hex[:12]})
        publish(staged, self.path(key))


class S3Lake(LakeStore):
    """A lake in an S3 bucket (or MinIO), through a boto3 client from dagster-aws's S3 resource."""

    def __init__(self, client: Any, bucket: str, prefix: str, staging_root: Path) -> None:
        self.client, self.bucket, self.prefix, self.staging_root = client, bucket, prefix.strip("/"), staging_root

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _request(self, action: str, object_key: str) -> Iterator[None]:
        """Name the object (or prefix) of a request that still fails after the client's own retries (dagster-aws's
        client retries 500s, SlowDown and connection errors with backoff: botocore's standard mode)."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error) as error:
            raise S3RequestFailed(f"{action} s3://{self.bucket}/{object_key} failed: {error}") from error

    def _list(self, key: str) -> list[dict[str, Any]]:
        prefix = self.object_key(key) + "/"
        with self._request("listing", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [item for page in pages for item in page.get("Contents", [])]

    def _head(self, key: str) -> dict[str, Any] | None:
        with self._request("reading", self.object_key(key)):
            try:
                return self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
            except self.client.exceptions.ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

    def stat(self, key: str) -> tuple[int, dict[str, str]] | None:
        """Size and user metadata of the object at ``key``; None where there is none."""
        head = self._head(key)
        return None if head is None else (head["ContentLength"], head.get("Metadata", {}))

    def sha256(self, key: str) -> str:
        """SHA-256 of the object's bytes, streamed (an object another tool wrote carries no checksum)."""
        digest = hashlib.sha256()
        with self._request("reading", self.object_key(key)):
            body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
            for chunk in iter(lambda: body.read(8 * 1024 * 1024), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def copy(self, key: str, to_key: str, metadata: dict[str, str]) -> None:
        """Server-side copy (managed: any size), with the given user metadata."""
        with self._request("copying", self.object_key(key)):
            self.client.copy({"Bucket": self.bucket, "Key": self.object_key(key)}, self.bucket, self.object_key(to_key),
                             ExtraArgs={"Metadata": metadata, "MetadataDirective": "REPLACE"})

    def landing_file(self, month: dt.date) -> LandingFile:
        stem = file_stem(month)
        for suffix in LANDING_SUFFIXES:
            key = f"landing/{stem}{suffix}"
            head = self._head(key)
            if head is not None:
                return LandingFile(
                    f"s3://{self.bucket}/{self.object_key(key)}", client=self.client, object_size=head["ContentLength"],
                    etag=head.get("ETag", "").strip('"'), metadata=head.get("Metadata", {}),
                )
        expected = " or ".join(f"{self.url}/landing/{stem}{s}" for s in LANDING_SUFFIXES)
        landed = sorted(Path(o["Key"]).name for o in self._list("landing") if not o["Key"].endswith(".sha256")
                        and "/_replaced/" not in o["Key"])
        raise MissingLandingFile(
            f"landing file for month {month:%Y-%m} not found: expected {expected} (zip archives are read from a local lake only). "
            + _LANDED_HINT.format(landed=", ".join(landed) or "nothing")
        )

    def months_in_landing(self) -> list[dt.date]:
        prefix = self.object_key("landing") + "/"
        names = [o["Key"][len(prefix):] for o in self._list("landing")]  # under landing/ itself, not _replaced/
        return sorted({month for month in map(month_of_name, names) if month is not None})

    def read_manifest(self, key: str) -> dict[str, Any]:
        with self._request("reading", self.object_key(f"{key}/{MANIFEST}")):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(f"{key}/{MANIFEST}"))["Body"]
            except self.client.exceptions.NoSuchKey:
                raise MissingPartition(f"{self.url}/{key}/{MANIFEST} not found: materialize this partition first") from None
            with body:
                return json.loads(body.read())

    def files(self, key: str, suffix: str | tuple[str, ...]) -> list[str]:
        try:
            listed = self.read_manifest(key).get("files", [])
        except MissingPartition:
            return []
        return [f"s3://{self.bucket}/{self.object_key(f'{key}/{name}')}" for name in listed if name.endswith(suffix)]

    def partition_bytes(self, key: str) -> int:
        try:
            current = set(self.read_manifest(key).get("files", []))
        except MissingPartition:
            return 0
        return sum(item["Size"] for item in self._list(key) if item["Key"].rsplit("/", 1)[-1] in current)

    @contextmanager
    def local_files(self, keys: list[str], suffix: str | tuple[str, ...]) -> Iterator[dict[str, list[str]]]:
        folder = self.staging("read")
        try:
            local: dict[str, list[str]] = {}
            for key in keys:
                local[key] = []
                for url in self.files(key, suffix):
                    # Keep the key's folders (week=...) so hive partitioning still sees them.
                    target = folder / key / url.rsplit("/", 1)[-1]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with self._request("downloading", split_s3_url(url)[1]):
                        self.client.download_file(self.bucket, split_s3_url(url)[1], str(target))
                    local[key].append(str(target))
            yield local
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def staging(self, name: str) -> Path:
        return make_staging(self.staging_root, name)

    def publish(self, staged: Path, key: str, manifest: dict[str, Any]) -> None:
        with self._generation(key) as generation:
            names = []
            for path in _data_files(staged, ""):
                name = f"g{generation}-{path.relative_to(staged).as_posix().replace('/', '-')}"
                self.upload(path, f"{key}/{name}")
                names.append(name)
            self._switch(key, names, {**manifest, "generation": generation})
        shutil.rmtree(staged, ignore_errors=True)

    def publish_objects(self, staged_prefix: str, key: str, manifest: dict[str, Any]) -> None:
        """Publish objects Spark wrote under an S3 staging prefix (cluster with s3a), by server-side copy."""
        with self._generation(key) as generation:
            names = []
            for item in self._list(staged_prefix):
                base = item["Key"].rsplit("/", 1)[-1]
                if base.startswith(("_", ".")):
                    continue
                name = f"g{generation}-{base}"
                with self._request("copying to", self.object_key(f"{key}/{name}")):
                    self.client.copy_object(
                        Bucket=self.bucket, Key=self.object_key(f"{key}/{name}"),
                        CopySource={"Bucket": self.bucket, "Key": item["Key"]},
                    )
                names.append(name)
            self._switch(key, names, {**manifest, "generation": generation})

    @contextmanager
    def _generation(self, key: str) -> Iterator[str]:
        """A fresh generation of ``key``, marked as being written by this process. At the end the marker
        goes, then its objects go if the manifest no longer names them (this publish failed, or another
        run's switched in after it). In that order: a run that switched in after ours either listed our
        marker and left our objects (we then read its manifest, since we read after removing the marker)
        or did not and removed them itself. Best effort: what a failure leaves, the next publish removes
        once this process is gone."""
        generation = uuid.uuid4().hex[:12]
        marker = self.object_key(f"{key}/{PUBLISHING}{generation}")
        owner = json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
        with self._request("writing", marker):
            self.client.put_object(Bucket=self.bucket, Key=marker, Body=owner.encode())
        try:
            yield generation
        finally:
            with suppress(Exception):
                self.delete([marker])
                current = set(self._current(key))
                self.delete([item["Key"] for item in self._list(key)
                             if (found := _GENERATION.match(name := item["Key"].rsplit("/", 1)[-1]))
                             and found["generation"] == generation and name not in current])

    def _current(self, key: str) -> list[str]:
        try:
            return self.read_manifest(key).get("files", [])
        except MissingPartition:
            return []

    def upload(self, path: Path, key: str, metadata: dict[str, str] | None = None) -> None:
        """Upload, with user metadata if given; a multipart upload shows the object whole or not at all."""
        with self._request("uploading", self.object_key(key)):
            self.client.upload_file(str(path), self.bucket, self.object_key(key),
                                    ExtraArgs={"Metadata": metadata} if metadata else None)

    def _switch(self, key: str, names: list[str], manifest: dict[str, Any]) -> None:
        """The one PUT that makes the new generation current, then removal of what no manifest lists."""
        body = json.dumps({**manifest, "files": sorted(names)}, indent=2, sort_keys=True, default=str)
        with self._request("writing", self.object_key(f"{key}/{MANIFEST}")):
            self.client.put_object(
                Bucket=self.bucket, Key=self.object_key(f"{key}/{MANIFEST}"), Body=body.encode(), ContentType="application/json"
            )
        self.delete(self._stale(key))

    def _stale(self, key: str) -> list[str]:
        """The objects of ``key`` that no reader will see again: not named by the current manifest, of a
        generation whose writer has finished or is gone (its marker too). The listing comes before the
        manifest is read: a writer that finished after the listing had switched in before that read, so
        what the current manifest names is never removed."""
        listed = self._list(key)
        running = {
            name[len(PUBLISHING):] for item in listed
            if (name := item["Key"].rsplit("/", 1)[-1]).startswith(PUBLISHING) and self._writer_running(item)
        }
        keep = {MANIFEST, *self._current(key)}
        stale = []
        for item in listed:
            name = item["Key"].rsplit("/", 1)[-1]
            if name in keep:
                continue
            if name.startswith(PUBLISHING):
                generation = name[len(PUBLISHING):]
            else:
                found = _GENERATION.match(name)
                generation = found["generation"] if found else None
            if generation not in running:
                stale.append(item["Key"])
        return stale

    def _writer_running(self, marker: dict[str, Any]) -> bool:
        """Whether the writer a marker names may still be publishing: its process on this host runs, or,
        on another host, the marker is younger than FOREIGN_WRITER_SECONDS."""
        try:
            owner = json.loads(self.client.get_object(Bucket=self.bucket, Key=marker["Key"])["Body"].read())
            host, pid = owner["host"], int(owner["pid"])
        except self.client.exceptions.NoSuchKey:
            return False  # the writer finished since the listing
        except Exception:  # noqa: BLE001 (any failure to read it: keep its generation)
            return True  # unreadable just now: leave its generation to a later publish
        if host == socket.gethostname():
            return pid > 0 and _running(pid)
        age = dt.datetime.now(dt.UTC) - marker["LastModified"]
        return age.total_seconds() < FOREIGN_WRITER_SECONDS

    def delete_prefix(self, key: str) -> None:
        self.delete([item["Key"] for item in self._list(key)])

    def delete(self, object_keys: list[str]) -> None:
        for start in range(0, len(object_keys), 1000):
            chunk = object_keys[start : start + 1000]
            with self._request(f"deleting {len(chunk)} object(s) from", chunk[0]):
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})


def publish(staged: Path, final: Path) -> None:
    """Replace ``final`` with ``staged``: readers see the old folder or the new one, never a half-written one.

    Both live on the same filesystem. An existing ``final`` is swapped with ``staged`` in one atomic
    exchange, so a run killed at any point leaves a whole week at ``final``; the old copy, now at the
    staging path, is deleted after. Where the filesystem cannot exchange, two renames: the old copy is
    moved into the staging folder first (never beside the published weeks, where a ``week=*`` glob
    would read it), and a crash between the renames leaves it there rather than losing it.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and _exchange(staged, final):
        shutil.rmtree(staged, ignore_errors=True)
        return
    if final.exists():
        old = staged.parent / _owned("old")
        final.rename(old)
    else:
        old = None
    staged.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # filesystem or kernel without exchange
    raise OSError(code, os.strerror(code), str(second))


# A staging folder's name ends with the host and process that made it (``raw-2019-10-14.host.1234.<id>``):
# a later run removes what a killed run left there (a full-scale raw week is gigabytes; the kill skipped
# the run's own cleanup) and never a folder of a run still going, on this host or another sharing the lake.
_STAGING_OWNER = re.compile(r"^[^.]+\.(?P<host>.+)\.(?P<pid>\d+)\.[0-9a-f]{12}$")


def _owned(name: str) -> str:
    return f"{name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:12]}"


def make_staging(parent: Path, name: str) -> Path:
    """A fresh folder under ``parent``, after removing the folders there of processes on this host that
    no longer run."""
    parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    for entry in parent.iterdir():
        owner = _STAGING_OWNER.match(entry.name)
        if owner and owner["host"] == host and not _running(int(owner["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
    path = parent / _owned(name)
    path.mkdir()
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def write_manifest(folder: Path, content: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps(content, indent=2, sort_keys=True, default=str))


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise MissingPartition(f"{path} not found: materialize this partition first")
    return json.loads(path.read_text())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
