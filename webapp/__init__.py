"""What the web app does besides layout: sessions and their files, analyzers per weights source,
cancellation, and turning an ``Analysis`` into the files and values the page shows.

``app.py`` builds the Gradio page and wires its events to a ``WebApp``; this package is plain
Python over the library (``Analyzer``, ``words``, ``page``) and Gradio's public API only (its
``Error`` for the visitor's message, ``Request`` for the session, its upload folder's name). It
lives beside ``app.py``, outside the library: the product library never imports gradio.

- ``settings.py``: ``WebSettings`` and what visitors may name as weights;
- ``pool.py``: ``AnalyzerPool``, the analyzers by weights source;
- ``sessions.py``: ``Sessions``, each visitor's folder, its uploads and the sweeping;
- ``web.py``: ``WebApp``, the actions the page and ``/analyze`` call.

Settings come from the environment once, when ``WebSettings.from_env()`` is called (see README, "App"):

DFDEMO_WEIGHTS          weights folder or Hub repo id used for "bundled" (default: weights/detector)
DFDEMO_MAX_UPLOAD_MB    largest upload accepted, in MB (default 200)
DFDEMO_MAX_DURATION_S   longest video accepted, in seconds (default 600)
DFDEMO_CONCURRENCY      analyses running at once (default 1); the others wait in the queue
DFDEMO_QUEUE_SIZE       requests that may wait in the queue (default 32)
DFDEMO_EXAMPLES_DIR     where the example files are built on first use (default ~/.cache/dfdemo/examples)
DFDEMO_VISITOR_WEIGHTS  what visitors may name in Settings → Weights: bundled, any (any Hub repo id) or a
                        list (bundled,owner/a,owner/b@v2); default any, on a Space (SPACE_ID set) bundled only
DFDEMO_WEIGHT_LOADS     visitors' weights loading at once (default 1); a request for more is refused at once
HF_HUB_ETAG_TIMEOUT     seconds a Hub request may wait to connect or for an answer (default 10)
DFDEMO_UPLOAD_GRACE_S   an upload no request takes or names is deleted after this many seconds (default 60)

Privacy and disk: an upload is moved into its visitor's session folder as soon as it comes in
(the page's upload event, or the start of an /analyze request). A page's upload stays there while
it is selected, so Settings can be changed and the file analysed again; it is deleted when the page
chooses another file, clears the upload box or is closed, or when no request has named it for
DFDEMO_UPLOAD_GRACE_S. An /analyze upload is deleted as soon as its analysis ends (also on error or
cancel). An upload no request takes (queue full, cancelled while waiting, never asked for) is
deleted after DFDEMO_UPLOAD_GRACE_S; at shutdown every session folder is. The images and the JSON
report of a browser session live in its folder, replaced by its next analysis and removed when
the tab is closed.
"""
from .pool import AnalyzerPool
from .sessions import Sessions
from .settings import WebSettings, visitor_weights, weights_info, weights_source
from .web import Cancelled, PageView, WebApp, not_a_file, plain_error

__all__ = ["AnalyzerPool", "Cancelled", "PageView", "Sessions", "WebApp", "WebSettings", "not_a_file", "plain_error",
           "visitor_weights", "weights_info", "weights_source"]
