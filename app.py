"""dfdemo in the browser: upload a clip or a photo, get a verdict, a timeline, heatmaps and words.

Layout and events only: ``webapp.WebApp`` runs analyses and owns the sessions' files (``webapp``'s docstring
lists the DFDEMO_* settings and the privacy rules); ``dfdemo.page`` and ``dfdemo.words`` turn a ``Report`` into
HTML and text. ``python app.py`` serves it (Gradio reads GRADIO_SERVER_NAME / GRADIO_SERVER_PORT); ``app.demo``
builds the page on first use, not at import."""
if __name__ == "__main__":  # where the process starts: threads and OpenMP spin before torch loads
    from dfdemo.runtime import configure_process
    configure_process()
import logging  # noqa: E402

import gradio as gr  # noqa: E402

from dfdemo.analyzer import MAX_FACES
from dfdemo.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from dfdemo.page import FACE_COLUMNS, colour_bar, heatmap_layout, message_card
from webapp import WebApp, weights_info, weights_source  # noqa: F401 (API of the app)

INTRO = """# dfdemo: is this face a deepfake?
Upload a short video or a photo. dfdemo finds each face, scores it with a detector trained to spot the traces
that blending a face into a picture leaves, and shows **where** in the face the evidence is. It runs on a CPU;
an analysis takes a few seconds."""
PLACEHOLDER = message_card("The result appears here.")
CANCELLED = message_card("Analysis cancelled. The file is still selected: press Analyse to run it again.")
# galleries and tables as tall as their rows (no inner scrollbar); headers break between words only
CSS = ("#heatmaps .grid-wrap, #face-crops .grid-wrap {max-height: none !important; overflow-y: visible !important} #faces th *,"
       " #heatmap-details th * {word-break: normal !important; overflow-wrap: normal !important; hyphens: none !important}")


def cleared() -> tuple:
    """The result area emptied (a new file, a new run, or an error: never a stale verdict)."""
    hidden = dict(value=None, visible=False)
    return (PLACEHOLDER, "", gr.Plot(value=None, visible=False), gr.HTML(visible=False), gr.Gallery(**hidden),
            gr.Dataframe(**hidden), gr.Dataframe(**hidden), gr.Gallery(**hidden), gr.DownloadButton(visible=False))


def settings_panel(web: WebApp, temporal_on: bool) -> list:
    """The Settings accordion: the page's inputs besides the file, in ``analyze_ui``'s order."""
    d = web.settings.defaults
    with gr.Accordion("Settings", open=False):
        return [gr.Slider(1, 64, value=d.frames, step=1, elem_id="frames", label="Frames to sample from a video"),
                gr.Slider(0, 12, value=d.heatmaps, step=1, elem_id="heatmaps-k", label="Heatmaps to compute",
                          info="first the face that decides the file, then one per face"),
                gr.Slider(1, MAX_FACES, value=d.max_faces, step=1, elem_id="max-faces", label="Faces to analyse",
                          info="per frame, the clearest first (a group photo: raise it)"),
                gr.Checkbox(value=True, label="Use the threshold calibrated with the weights"),
                gr.Slider(0.05, 0.95, value=0.5, step=0.01, label="Threshold", info="used when the box above is unticked"),
                gr.Textbox(value="bundled", label="Weights", info=weights_info(web.settings.visitor_weights)),
                gr.Checkbox(value=temporal_on, elem_id="temporal", label="Temporal check: also read short runs of consecutive frames",
                            info="for weights with a temporal head; checks whether the face flickers or drifts from frame to frame "
                                 "(slower)")]


def result_panel() -> list:
    """The result column, in the order ``cleared`` and the analysis fill it."""
    verdict_out = gr.HTML(PLACEHOLDER, elem_id="verdict")
    gr.Markdown("### In plain words")
    label, columns, widths = heatmap_layout(True)  # each analysis sets its own (``PageView.heatmap_layout``)
    return [verdict_out, gr.Markdown(elem_id="words"),
            gr.Plot(label="Timeline", show_label=False, elem_id="timeline", visible=False),
            gr.HTML(colour_bar(), visible=False, elem_id="colour-bar-box"),
            gr.Gallery(label=label, elem_id="heatmaps", columns=2, height="auto", object_fit="contain", allow_preview=True,
                       visible=False),
            gr.Dataframe(headers=columns, label="Heatmap details", visible=False, interactive=False, wrap=True,
                         elem_id="heatmap-details", column_widths=widths),
            gr.Dataframe(headers=FACE_COLUMNS, label="Faces", visible=False, interactive=False, wrap=True, elem_id="faces",
                         max_height=100000, column_widths=["12%", "11%", "9%", "15%", "11%", "42%"]),
            gr.Gallery(label="Face crops", visible=False, columns=4, height="auto", object_fit="contain", elem_id="face-crops"),
            gr.DownloadButton("Download the JSON report", visible=False, elem_id="download")]


def build_demo(web: WebApp) -> gr.Blocks:
    """The page: layout, then one line per event."""

    def analyze_ui(frames, heatmaps, faces, calibrated, threshold, weights, temporal, request: gr.Request,
                   progress=gr.Progress()):
        """The session's selected file analysed (after an upload, an example or Analyse): everything the page shows."""
        settings = web.page_settings(frames, heatmaps, faces, calibrated, threshold, temporal)  # checked: one line if wrong
        v = web.run_for_page(settings, weights, request, progress)
        label, columns, widths = v.heatmap_layout
        return (v.card, v.words, gr.Plot(value=v.timeline, visible=v.timeline is not None), gr.HTML(visible=bool(v.heatmaps)),
                gr.Gallery(value=v.heatmaps, visible=bool(v.heatmaps), label=label),
                gr.Dataframe(value=v.heatmap_rows, visible=bool(v.heatmaps), headers=columns, column_widths=widths),
                gr.Dataframe(value=v.face_rows, visible=v.several_faces), gr.Gallery(value=v.crops, visible=v.several_faces),
                gr.DownloadButton(value=str(v.json_path), visible=True))

    def take_upload(file, request: gr.Request) -> tuple:  # the upload is the session's from now on
        return web.select_upload(file, request) or cleared()
    def pick_example(index, request: gr.Request) -> tuple:  # an example is the session's selected file
        return web.select_example(index, request), *cleared()
    def show_failure(request: gr.Request) -> str:  # after a failed analysis the error stays in the card
        return message_card(message, "error") if (message := web.pop_error(request)) else gr.skip()
    def forget_upload(request: gr.Request) -> tuple:  # the upload box was cleared
        return web.forget_upload(request) or cleared()
    def request_cancel(request: gr.Request):
        return CANCELLED if web.request_cancel(request) else gr.skip()  # nothing running: keep the verdict

    temporal_on, how_it_works = web.page_defaults()  # from the default weights; no analytics below: the app runs offline
    with gr.Blocks(title="dfdemo: explainable deepfake detection", delete_cache=(1800, 3600), analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Analyse"):
                with gr.Row():
                    with gr.Column(scale=2, min_width=300):
                        file_in = gr.File(label="Video or photo", file_types=[*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS], elem_id="upload")
                        with gr.Row():
                            run_btn, cancel_btn = gr.Button("Analyse", variant="primary", elem_id="analyse"), gr.Button(
                                "Cancel", variant="stop", elem_id="cancel")
                        examples = gr.Dataset(components=[file_in], samples=[[p] for p in web.examples()], type="index",
                                              label="Examples (made offline from a photo)")
                        ui_inputs = settings_panel(web, temporal_on)
                    with gr.Column(scale=3):
                        ui_outputs = result_panel()
            with gr.Tab("How it works"):
                gr.Markdown(how_it_works)

        gr.api(web.analyze_api, api_name="analyze", concurrency_id="analysis")  # the API: one file in, the JSON report out

        verdict_out = ui_outputs[0]
        private = dict(queue=False, api_visibility="private")
        runs = []  # the previous result goes at once, before the analysis waits in the queue
        for first in (file_in.upload(take_upload, file_in, ui_outputs, preprocess=False, **private),
                      run_btn.click(cleared, None, ui_outputs, **private),
                      examples.click(pick_example, examples, [file_in, *ui_outputs], **private)):
            run = first.then(analyze_ui, ui_inputs, ui_outputs, api_visibility="private", concurrency_id="analysis",
                             show_progress_on=[verdict_out])
            run.failure(show_failure, None, verdict_out, **private)
            runs.append(run)
        file_in.clear(forget_upload, None, ui_outputs, **private)
        cancel_btn.click(request_cancel, None, verdict_out, cancels=runs, **private)
        demo.unload(web.end_session)
    demo.queue(default_concurrency_limit=web.settings.concurrency, max_size=web.settings.queue_size)
    return demo


def __getattr__(name: str):
    """``app.demo`` (tests, gradio's reload mode) builds the page on first use."""
    if name == "demo":
        globals()["demo"] = demo = build_demo(WebApp())
        return demo
    raise AttributeError(f"module 'app' has no attribute {name!r}")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    web = WebApp()
    web.warm_up()  # before the first visitor: load the weights and run one small analysis
    demo = build_demo(web)  # then the sweeper: Gradio's copies of the examples (made now) are Gradio's
    web.sessions.start_sweeper()
    demo.launch(max_file_size=f"{web.settings.max_upload_mb:g}mb", show_error=False, css=CSS)
