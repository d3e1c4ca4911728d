"""Load the code location's definitions again, through the webserver, as Deployment -> Reload in the UI does.

The partitions are read from the landing zone when the definitions load (``defs/partitions.py``), so a
month landed past them needs a reload, not a restart: the webserver asks the code server to load the code
again, and the daemon picks the new definitions up at its next workspace refresh (Dagster's is every 60 s).
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOCATION = "ecommerce_assets"  # workspace.yaml, config/workspace.compose.yaml and [tool.dg.project]


def reload_code_location(webserver_url: str) -> str | None:
    """None once the webserver has reloaded the location; else what went wrong, to log and retry."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus

    url = urlsplit(webserver_url)
    try:
        client = DagsterGraphQLClient(url.hostname or "", port_number=url.port, use_https=url.scheme == "https",
                                      timeout=120, path_prefix=url.path.rstrip("/"))
        info = client.reload_repository_location(LOCATION)
    except (DagsterGraphQLClientError, OSError) as error:
        cause = error.__cause__ or error  # the client's own message repeats the whole query
        return f"{webserver_url} did not answer: {str(cause).splitlines()[0][:300]}"
    if info.status != ReloadRepositoryLocationStatus.SUCCESS:
        return f"{webserver_url} could not reload {LOCATION}: {info.message or info.failure_type}"
    return None
