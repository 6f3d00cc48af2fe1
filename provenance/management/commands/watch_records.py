"""``manage.py watch_records [--namespace NS ...] [--kubeconfig PATH] [--cluster-name NAME]``.

Lists, then watches ``tekton.dev/v1`` pipelineruns and taskruns with the official client, one
stream per (resource, namespace). Each event is stored with the stream's new resourceVersion in
one transaction (``WatchState``), so a restart resumes right after the last stored event; a 410
Gone means that version is too old, and the stream lists again. Errors back off exponentially.
SIGTERM/SIGINT stop the watcher after the event being stored, if any. Every stored run records
its source: this cluster's name and the watcher's identity (``watch_source``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError, ReadTimeoutError

from provenance import metrics
from provenance.core.errors import ProvenanceError
from provenance.models import WatchState
from provenance.ops import serve_in_thread
from provenance.services import RecordSource, UidConflict, watch_event_ingest

logger = logging.getLogger("provenance.watch")
# The client's generated code is only partly typed; treat it as dynamic here.
k8s: Any = kubernetes

GROUP, VERSION = "tekton.dev", "v1"
PLURALS = {"pipelineruns": "PipelineRun", "taskruns": "TaskRun"}
LIST_PAGE = 500


@dataclass
class Stream:
    """One list/watch loop: a resource in one namespace (or all)."""

    plural: str
    namespace: str | None

    @property
    def key(self) -> str:
        return f"{self.plural}/{self.namespace or '*'}"


class Watcher:
    """The list/watch loops; ``run`` blocks until ``stop`` is set."""

    def __init__(
        self,
        api_client: Any,
        namespaces: list[str],
        *,
        timeout_seconds: int,
        read_timeout: float,
        backoff_max: float,
        source: RecordSource,
        backoff_base: float = 1.0,
    ) -> None:
        self.api = k8s.client.CustomObjectsApi(api_client)
        self.source = source
        scopes: list[str | None] = list(namespaces) or [None]
        self.streams = [Stream(p, ns) for p in PLURALS for ns in scopes]
        self.timeout_seconds = timeout_seconds
        self.read_timeout = read_timeout
        self.backoff_max = backoff_max
        self.backoff_base = backoff_base
        self.stop = threading.Event()
        # Held while an event is stored: shutdown waits for it, and never cuts one in half.
        self.store_lock = threading.Lock()
        self.stored = 0
        self._watches: set[Any] = set()
        self.threads: list[threading.Thread] = []

    # -- running ----------------------------------------------------------------------------

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._run_stream, args=(s,), name=s.key, daemon=True)
            for s in self.streams
        ]
        for thread in threads:
            thread.start()
        self.threads = threads
        return threads

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop after the event being stored, if any; True when every stream has ended."""
        self.stop.set()
        with self.store_lock:  # wait for the event being stored; none starts after this
            pass
        for w in list(self._watches):
            w.stop()  # also shuts the socket down, unblocking a read in progress
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def _run_stream(self, stream: Stream) -> None:
        try:
            self._loop(stream)
        finally:
            connection.close()

    def _loop(self, stream: Stream) -> None:
        version = self._stored_version(stream)
        failures = 0
        while not self.stop.is_set():
            try:
                if not version:
                    version = self._relist(stream)
                version = self._watch(stream, version)
                metrics.watch_reconnected(stream.key, "ended")
                failures = 0
            except (ApiException, HTTPError, OSError, DatabaseError) as exc:
                if self.stop.is_set():
                    return  # shutdown closed the socket under us: not an error
                if isinstance(exc, ApiException) and exc.status == 410:
                    logger.info(
                        "%s: resourceVersion %s is gone; listing again", stream.key, version
                    )
                    metrics.watch_reconnected(stream.key, "gone")
                    version = ""
                    continue
                if isinstance(exc, ReadTimeoutError):
                    metrics.watch_reconnected(stream.key, "timeout")
                    continue  # a quiet stream: reconnect from the same version
                metrics.watch_reconnected(stream.key, "error")
                failures += 1
                if isinstance(exc, ApiException):
                    why = f"API error {exc.status} {exc.reason}"
                elif isinstance(exc, DatabaseError):
                    close_old_connections()
                    why = f"database error: {exc}"
                else:
                    why = f"connection error: {exc}"
                self._back_off(stream, why, failures)

    def _back_off(self, stream: Stream, why: str, failures: int) -> None:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
        delay *= random.uniform(0.8, 1.2)
        logger.warning("%s: %s; retrying in %.1fs", stream.key, why.strip(), delay)
        self.stop.wait(delay)

    def _stored_version(self, stream: Stream) -> str:
        state = WatchState.objects.filter(key=stream.key).first()
        return state.resource_version if state else ""

    # -- list and watch -----------------------------------------------------------------------

    def _list_call(self, stream: Stream) -> Callable[..., Any]:
        if stream.namespace:
            ns = stream.namespace

            def namespaced(**kwargs: Any) -> Any:
                return self.api.list_namespaced_custom_object(
                    GROUP, VERSION, ns, stream.plural, **kwargs
                )

            namespaced.__doc__ = self.api.list_namespaced_custom_object.__doc__
            return namespaced

        def cluster(**kwargs: Any) -> Any:
            return self.api.list_cluster_custom_object(GROUP, VERSION, stream.plural, **kwargs)

        cluster.__doc__ = self.api.list_cluster_custom_object.__doc__
        return cluster

    def _relist(self, stream: Stream) -> str:
        metrics.watch_relisted(stream.key)
        call = self._list_call(stream)
        token: str | None = None
        version = ""
        count = 0
        while not self.stop.is_set():
            kwargs: dict[str, Any] = {"limit": LIST_PAGE, "_request_timeout": (10, 60)}
            if token:
                kwargs["_continue"] = token
            page = call(**kwargs)
            metadata = page.get("metadata") or {}
            version = str(metadata.get("resourceVersion") or "")
            for obj in page.get("items") or []:
                if self.stop.is_set():
                    return ""
                self._store(stream, obj, "")
                count += 1
            token = metadata.get("continue")
            if not token:
                break
        if self.stop.is_set():
            return ""
        # Only once every listed object is stored does the stream move past the list.
        self._store(stream, None, version)
        logger.info("%s: listed %d objects at resourceVersion %s", stream.key, count, version)
        return version

    def _watch(self, stream: Stream, version: str) -> str:
        w = k8s.watch.Watch()
        self._watches.add(w)
        try:
            return self._consume(stream, w, version)
        finally:
            self._watches.discard(w)

    def _consume(self, stream: Stream, w: Any, version: str) -> str:
        events = w.stream(
            self._list_call(stream),
            resource_version=version,
            timeout_seconds=self.timeout_seconds,
            allow_watch_bookmarks=True,
            _request_timeout=(10, self.read_timeout),
        )
        for event in events:
            if self.stop.is_set():
                w.stop()
                break
            kind = event.get("type")
            obj = event.get("object") or {}
            new_version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if kind in ("ADDED", "MODIFIED"):
                self._store(stream, obj, new_version)
            elif kind in ("BOOKMARK", "DELETED") and new_version:
                # Deleted runs stay in the store: their history and attestations are kept.
                self._store(stream, None, new_version)
            if new_version:
                version = new_version
        return version

    def _store(self, stream: Stream, obj: dict[str, Any] | None, version: str) -> None:
        with self.store_lock:
            if self.stop.is_set():
                return
            if obj is not None:
                obj.setdefault("apiVersion", f"{GROUP}/{VERSION}")
                obj.setdefault("kind", PLURALS[stream.plural])
            try:
                result = watch_event_ingest(
                    key=stream.key, obj=obj, resource_version=version, source=self.source
                )
                if obj is not None:
                    self.stored += 1
                if result is not None:
                    metrics.records_observed("watch", (r.outcome for r in result.records))
            except ProvenanceError as exc:
                metrics.records_rejected("watch")
                metadata = (obj or {}).get("metadata") or {}
                where = f"{metadata.get('namespace')}/{metadata.get('name')}"
                if isinstance(exc, UidConflict):
                    # Its uid belongs to a run of another namespace: refused, and the message
                    # names neither that namespace nor its run. Later versions are refused too.
                    logger.warning("%s: refused %s: %s", stream.key, where, exc)
                else:
                    # Not attestable (yet): e.g. a run with no status. Move past it; a later
                    # MODIFIED event brings the next version.
                    logger.info("%s: skipped %s: %s", stream.key, where, exc)
                watch_event_ingest(
                    key=stream.key, obj=None, resource_version=version, source=self.source
                )


def api_client_for(kubeconfig: str | None) -> Any:
    """The client for --kubeconfig, the in-cluster ServiceAccount, or ~/.kube/config."""
    try:
        if kubeconfig:
            return k8s.config.new_client_from_config(config_file=kubeconfig)
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s.config.load_incluster_config()
            return k8s.client.ApiClient()
        return k8s.config.new_client_from_config()
    except (ConfigException, OSError) as exc:
        raise CommandError(f"cannot load the Kubernetes configuration: {exc}") from None


def _token_subject(authorization: str) -> str | None:
    """The ``sub`` claim of a bearer token that is a JWT (a ServiceAccount token:
    ``system:serviceaccount:NS:NAME``), read without checking its signature: it only labels
    the records this watcher stores, and the API server has already accepted the token."""
    parts = authorization.removeprefix("Bearer ").strip().split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None


def watch_source(api_client: Any, kubeconfig: str | None, cluster_name: str) -> RecordSource:
    """The source of every run this watcher stores: the cluster's name (``--cluster-name``,
    else WATCH_CLUSTER_NAME, else the kubeconfig context's name, ``in-cluster`` in a pod) and
    the watcher's identity (its token's subject, else the kubeconfig context's user)."""
    context_name, context_user = "in-cluster", None
    if kubeconfig or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            _, active = k8s.config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError) as exc:
            raise CommandError(f"cannot load the Kubernetes configuration: {exc}") from None
        context_name = str(active.get("name") or "")
        context_user = (active.get("context") or {}).get("user")
    # Where the client keeps a bearer token, from a kubeconfig or the pod's ServiceAccount.
    api_key = getattr(api_client.configuration, "api_key", None) or {}
    watcher = _token_subject(str(api_key.get("BearerToken") or "")) or context_user
    return RecordSource.watch(
        cluster=cluster_name or settings.WATCH_CLUSTER_NAME or context_name or "unknown",
        watcher=str(watcher or "unknown"),
    )


class Command(BaseCommand):
    help = "Watch Tekton PipelineRuns and TaskRuns in a cluster and ingest them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--namespace",
            action="append",
            default=[],
            dest="namespaces",
            help="watch only this namespace (repeatable; default: all namespaces)",
        )
        parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster or ~)")
        parser.add_argument(
            "--cluster-name",
            default="",
            help="the cluster's name, recorded as the source of every run stored "
            "(default: WATCH_CLUSTER_NAME, else the kubeconfig context's name)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        api_client = api_client_for(options["kubeconfig"])
        source = watch_source(api_client, options["kubeconfig"], options["cluster_name"])
        watcher = Watcher(
            api_client,
            options["namespaces"],
            timeout_seconds=settings.WATCH_TIMEOUT_SECONDS,
            read_timeout=settings.WATCH_READ_TIMEOUT,
            backoff_max=settings.WATCH_BACKOFF_MAX,
            source=source,
        )
        stop_requested = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop_requested.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        scope = ", ".join(options["namespaces"]) or "all namespaces"
        details = source.detail()
        self.stdout.write(
            f"watching tekton.dev/v1 pipelineruns and taskruns in {scope} of cluster "
            f"{details['cluster']} as {details['watcher']}"
        )
        self.stdout.flush()
        threads = watcher.start()
        if settings.OPS_HTTP_PORT:
            serve_in_thread(
                settings.OPS_HTTP_PORT,
                role="watcher",
                alive=lambda: any(t.is_alive() for t in threads),
            )
        while not stop_requested.wait(0.5):
            if not any(t.is_alive() for t in threads):
                raise CommandError("every watch stream ended unexpectedly")
        ended = watcher.shutdown()
        self.stdout.write(f"stopped ({watcher.stored} objects stored)")
        if not ended:
            # A stream still waits on a slow list call; it stores nothing more (stop is set), so
            # end now rather than let interpreter shutdown trip over a daemon thread.
            self.stdout.flush()
            self.stderr.flush()
            os._exit(0)
