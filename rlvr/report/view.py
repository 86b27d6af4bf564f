"""``rlvr view``: open a run's report in a browser, building it first when it is missing or stale."""
from __future__ import annotations

import functools
import http.server
import webbrowser
from pathlib import Path

from . import build_report


def view(run: Path, rebuild: bool = False, no_browser: bool = False, serve: int | None = None, traces: int = 6) -> int:
    """Build RUN/report.html when missing or older than the run's files, then open it (or serve the run
    directory on 127.0.0.1:``serve``)."""
    if not run.is_dir():
        raise FileNotFoundError(f"{run} is not a run directory")
    page = run / "report.html"
    newest = max((f.stat().st_mtime for f in run.rglob("*") if f.is_file() and f.suffix in (".jsonl", ".json", ".yaml")
                  and f.name != "report.html"), default=0)
    if rebuild or not page.exists() or page.stat().st_mtime < newest:
        build_report([run], traces=traces)
    url = page.resolve().as_uri()
    if serve is not None:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(run.resolve()))
        with http.server.ThreadingHTTPServer(("127.0.0.1", serve), handler) as srv:
            print(f"serving http://127.0.0.1:{srv.server_address[1]}/report.html (Ctrl-C to stop)", flush=True)
            try:
                srv.serve_forever()
            except KeyboardInterrupt:
                pass
        return 0
    if no_browser or not webbrowser.open(url):
        print(f"report: {page}\nopen {url} in a browser, or run `rlvr view {run} --serve 8000`")
    else:
        print(f"opened {page}")
    return 0
